"""Shopify's wire formats for ids, money and dates, shared by GraphQL, bulk JSONL and REST payloads."""
import base64
import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

GID_PREFIX = "gid://shopify/"


def gid(type_name: str, pk: int) -> str:
    return f"{GID_PREFIX}{type_name}/{pk}"


class InvalidGid(ValueError):
    pass


def parse_gid(value: str, expected_type: str | None = None) -> tuple[str, int]:
    """`gid://shopify/Order/123` -> ("Order", 123). Raises InvalidGid for anything else."""
    if not isinstance(value, str) or not value.startswith(GID_PREFIX):
        raise InvalidGid(f"Invalid global id '{value}'")
    rest = value[len(GID_PREFIX):].split("?", 1)[0]
    parts = rest.split("/")
    if len(parts) != 2 or not parts[1].isdigit():
        raise InvalidGid(f"Invalid global id '{value}'")
    type_name, pk = parts[0], int(parts[1])
    if pk >= 2**63:
        raise InvalidGid(f"Invalid global id '{value}'")
    if expected_type is not None and type_name != expected_type:
        raise InvalidGid(f"Invalid global id '{value}' (expected a {expected_type})")
    return type_name, pk


def decimal_str(value: Decimal | int | None) -> str | None:
    """Shopify's GraphQL `Decimal`: no trailing zeros beyond one decimal place ("10.0", "24.99")."""
    if value is None:
        return None
    d = Decimal(value)
    text = format(d.normalize(), "f") if d != 0 else "0"
    return text if "." in text else text + ".0"


def money_str(value: Decimal | int | None) -> str | None:
    """REST money string with two decimals ("403.00"), as in webhook bodies."""
    if value is None:
        return None
    return str(Decimal(value).quantize(Decimal("0.01")))


def iso_utc(value: dt.datetime | None) -> str | None:
    """GraphQL DateTime: UTC with a Z and whole seconds ("2019-06-04T17:53:06Z")."""
    if value is None:
        return None
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_shop(value: dt.datetime | None, tz: str) -> str | None:
    """REST date in the shop's offset ("2019-06-04T13:53:06-04:00"), as in webhook bodies."""
    if value is None:
        return None
    return value.astimezone(ZoneInfo(tz)).replace(microsecond=0).isoformat()


def money_v2(amount, currency: str) -> dict:
    return {"amount": decimal_str(amount), "currencyCode": currency}


def money_bag(shop_amount, shop_currency: str, pres_amount, pres_currency: str) -> dict:
    return {"shopMoney": money_v2(shop_amount, shop_currency), "presentmentMoney": money_v2(pres_amount, pres_currency)}


def encode_cursor(values: list) -> str:
    import json

    return base64.urlsafe_b64encode(json.dumps(values, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> list:
    import json

    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except Exception as exc:  # noqa: BLE001 - any garbage is the same client error
        raise ValueError("Invalid cursor") from exc
    if not isinstance(value, list) or len(value) != 2:
        raise ValueError("Invalid cursor")
    return value
