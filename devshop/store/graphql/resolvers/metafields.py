"""metafieldsSet and the Metafield type."""
import datetime as dt
import hashlib
import json
import re
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.utils import timezone

from ...formats import InvalidGid, gid, iso_utc, parse_gid
from ...models import Customer, Metafield, Order, Product
from ..registry import register
from .common import ctx_installation, ctx_shop, granted_scopes

MAX_METAFIELDS_PER_CALL = 25
OWNERS = {"Customer": (Customer, "write_customers"), "Order": (Order, "write_orders"),
          "Product": (Product, "write_products")}
KEY_RE = re.compile(r"^[A-Za-z0-9_-]{2,64}$")
NAMESPACE_RE = re.compile(r"^[A-Za-z0-9_$:-]{3,255}$")

# Shopify's standard definitions that devshop knows; a value of these keys gets the standard type.
STANDARD_DEFINITIONS = {("facts", "birth_date"): "date"}


def _valid_value(type_name: str, value: str) -> str | None:
    """None when value fits type_name, else the error message."""
    try:
        if type_name == "single_line_text_field":
            return "Value must be a single line of text." if "\n" in value else None
        if type_name in ("multi_line_text_field", "rich_text_field"):
            return None
        if type_name == "number_integer":
            int(value)
            return None if re.fullmatch(r"-?\d+", value.strip()) else "Value must be an integer."
        if type_name == "number_decimal":
            Decimal(value)
            return None
        if type_name == "boolean":
            return None if value in ("true", "false") else "Value must be true or false."
        if type_name == "date":
            dt.date.fromisoformat(value)
            return None if len(value) == 10 else "Value must be in YYYY-MM-DD format."
        if type_name == "date_time":
            dt.datetime.fromisoformat(value)
            return None
        if type_name == "json":
            json.loads(value)
            return None
        if type_name == "url":
            return None if re.match(r"^(https?|mailto|sms|tel)://?", value) else "Value must be a URL."
        if type_name == "color":
            return None if re.fullmatch(r"#[0-9A-Fa-f]{6}", value) else "Value must be a hex color code."
        if type_name == "money":
            parsed = json.loads(value)
            Decimal(parsed["amount"])
            return None if isinstance(parsed.get("currency_code"), str) else "Value must include currency_code."
        if type_name in ("list.single_line_text_field", "list.number_integer"):
            parsed = json.loads(value)
            return None if isinstance(parsed, list) else "Value must be a JSON array."
    except (ValueError, InvalidOperation, KeyError, TypeError):
        return f"Value is invalid for type {type_name}."
    return f"Type {type_name} is not supported by devshop."


SUPPORTED_TYPES = {
    "single_line_text_field", "multi_line_text_field", "rich_text_field", "number_integer", "number_decimal",
    "boolean", "date", "date_time", "json", "url", "color", "money", "list.single_line_text_field",
    "list.number_integer",
}


def compare_digest(mf: Metafield) -> str:
    return hashlib.sha256(f"{mf.type}\0{mf.value}\0{mf.updated_at.isoformat()}".encode()).hexdigest()


def _app_namespace(info, namespace: str | None) -> str:
    installation = ctx_installation(info)
    app = getattr(installation, "app", None)
    app_id = getattr(app, "id", None) or getattr(app, "client_id", "devshop")
    if namespace is None or namespace == "$app":
        return f"app--{app_id}"
    if namespace.startswith("$app:"):
        return f"app--{app_id}--{namespace[len('$app:'):]}"
    return namespace


def find_metafield(shop_id: int, owner_type: str, owner_id: int, namespace: str | None, key: str, info):
    if namespace is None and "." in key:
        namespace, _, key = key.rpartition(".")
    namespace = _app_namespace(info, namespace)
    return Metafield.objects.filter(shop_id=shop_id, owner_type=owner_type, owner_id=owner_id,
                                    namespace=namespace, key=key).first()


def _error(index: int, field: str, code: str, message: str) -> dict:
    return {"field": ["metafields", str(index), field], "code": code, "message": message, "elementIndex": index}


def resolve_metafields_set(obj, info, metafields):
    shop = ctx_shop(info)
    if len(metafields) > MAX_METAFIELDS_PER_CALL:
        return {"metafields": [], "userErrors": [{
            "field": ["metafields"], "code": "LESS_THAN_OR_EQUAL_TO", "elementIndex": None,
            "message": f"Exceeds the maximum input size of {MAX_METAFIELDS_PER_CALL} metafields.",
        }]}
    errors: list[dict] = []
    planned = []
    scopes = granted_scopes(info)
    for index, item in enumerate(metafields):
        try:
            owner_type, owner_id = parse_gid(item["ownerId"])
        except InvalidGid:
            errors.append(_error(index, "ownerId", "INVALID", "Owner id is invalid."))
            continue
        if owner_type not in OWNERS:
            errors.append(_error(index, "ownerId", "INVALID",
                                 f"devshop does not support metafields on {owner_type} owners."))
            continue
        model, scope = OWNERS[owner_type]
        if scope not in scopes:
            errors.append(_error(index, "ownerId", "APP_NOT_AUTHORIZED",
                                 f"Access denied: `{scope}` access scope is required."))
            continue
        if not model.objects.filter(shop=shop, pk=owner_id).exists():
            errors.append(_error(index, "ownerId", "INVALID", "Owner does not exist."))
            continue
        raw_namespace = item.get("namespace")
        namespace = _app_namespace(info, raw_namespace)
        key = item["key"]
        if not NAMESPACE_RE.match(namespace):
            errors.append(_error(index, "namespace", "INVALID" if len(namespace) >= 3 else "TOO_SHORT",
                                 "Namespace must be 3-255 characters of letters, digits, '-', '_' or '$app'."))
            continue
        if not KEY_RE.match(key):
            errors.append(_error(index, "key", "INVALID" if len(key) >= 2 else "TOO_SHORT",
                                 "Key must be 2-64 characters of letters, digits, '-' or '_'."))
            continue
        existing = Metafield.objects.filter(shop=shop, owner_type=owner_type, owner_id=owner_id,
                                            namespace=namespace, key=key).first()
        standard_type = STANDARD_DEFINITIONS.get((namespace, key))
        type_name = item.get("type") or (existing.type if existing else standard_type)
        if not type_name:
            errors.append(_error(index, "type", "BLANK", "Type can't be blank."))
            continue
        if standard_type and type_name != standard_type:
            errors.append(_error(index, "type", "INVALID_TYPE",
                                 f"Type must be {standard_type} for the standard definition {namespace}.{key}."))
            continue
        if type_name not in SUPPORTED_TYPES:
            errors.append(_error(index, "type", "INVALID_TYPE", f"Type '{type_name}' is not a valid type."))
            continue
        problem = _valid_value(type_name, item["value"])
        if problem:
            errors.append(_error(index, "value", "INVALID_VALUE", problem))
            continue
        digest = item.get("compareDigest")
        if digest is not None and (existing is None or compare_digest(existing) != digest):
            errors.append(_error(index, "compareDigest", "STALE_OBJECT",
                                 "The resource has been updated since it was loaded. Try again with an updated "
                                 "`compareDigest` value."))
            continue
        planned.append((owner_type, owner_id, namespace, key, type_name, item["value"]))
    if errors:
        # metafieldsSet is atomic: one bad input and nothing is written.
        return {"metafields": [], "userErrors": errors}
    saved = []
    now = timezone.now()
    with transaction.atomic():
        for owner_type, owner_id, namespace, key, type_name, value in planned:
            mf, created = Metafield.objects.select_for_update().get_or_create(
                shop=shop, owner_type=owner_type, owner_id=owner_id, namespace=namespace, key=key,
                defaults={"type": type_name, "value": value, "created_at": now, "updated_at": now},
            )
            if not created:
                mf.type, mf.value, mf.updated_at = type_name, value, now
                mf.save(update_fields=["type", "value", "updated_at"])
            saved.append(mf)
    return {"metafields": saved, "userErrors": []}


def _json_value(mf: Metafield):
    if mf.type in ("json", "money") or mf.type.startswith("list."):
        return json.loads(mf.value)
    if mf.type == "number_integer":
        return int(mf.value)
    if mf.type == "number_decimal":
        return mf.value
    if mf.type == "boolean":
        return mf.value == "true"
    return mf.value


METAFIELD_FIELDS = {
    "id": lambda m: gid("Metafield", m.id),
    "legacyResourceId": lambda m: str(m.id),
    "namespace": lambda m: m.namespace,
    "key": lambda m: m.key,
    "type": lambda m: m.type,
    "value": lambda m: m.value,
    "jsonValue": _json_value,
    "ownerType": lambda m: m.owner_type.upper(),
    "createdAt": lambda m: iso_utc(m.created_at),
    "updatedAt": lambda m: iso_utc(m.updated_at),
    "compareDigest": compare_digest,
    "sizeInBytes": lambda m: len(m.value.encode()),
    "definition": lambda m: None,
    "reference": lambda m: None,
}


def _owner(m: Metafield, info):
    model, _ = OWNERS.get(m.owner_type, (None, None))
    return model.objects.filter(shop_id=m.shop_id, pk=m.owner_id).first() if model else None


register("Mutation", "metafieldsSet", resolve_metafields_set)
for _name, _fn in METAFIELD_FIELDS.items():
    register("Metafield", _name, (lambda fn: lambda obj, info, **args: fn(obj))(_fn))
register("Metafield", "owner", _owner)
