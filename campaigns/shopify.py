"""How campaigns talks to Shopify: our GraphQL documents through shopify_sync's AdminClient, and Shopify's
`userErrors` turned into sentences a merchant can act on.

AdminClient owns tokens, throttling and transport errors; we only decide which of its errors are worth a
retry (`ShopifyUnavailable`) and which are an answer (`ShopifyRefused`).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from django.utils.translation import gettext as _

from shops.models import Shop

GRAPHQL_DIR = Path(__file__).resolve().parent / "graphql"


class ShopifyRefused(Exception):
    """Shopify answered with userErrors: `messages` are in the merchant's words, `codes` are Shopify's."""

    coupon_id: int | None = None  # set by coupon_push: the draft that Shopify refused

    def __init__(self, messages: list[str], codes: list[str] | None = None) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages
        self.codes = codes or []


class ShopifyUnavailable(Exception):
    """Shopify could not be asked right now (network, throttling, 5xx, token): try again later."""


@cache
def document(name: str) -> str:
    """The text of campaigns/graphql/<name>.graphql (validated against the schema by a test)."""
    return (GRAPHQL_DIR / f"{name}.graphql").read_text()


def _client(shop: Shop) -> Any:
    from shopify_sync.admin_api import AdminClient

    return AdminClient(shop)


def execute(shop: Shop, name: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run one of our documents; raise ShopifyUnavailable for anything that is not Shopify's answer.

    userErrors are returned in the data (AdminClient's `user_errors=False`) and read by `payload()`.
    """
    from shopify_sync.admin_api import AdminAPIError, ShopUnauthorized, Throttled

    try:
        data = _client(shop).execute(document(name), variables or {}, user_errors=False)
    except (ShopUnauthorized, Throttled) as exc:
        raise ShopifyUnavailable(str(exc) or type(exc).__name__) from exc
    except AdminAPIError as exc:
        if exc.errors and exc.status in (None, 200):
            # GraphQL errors in a 200 answer: Shopify understood and refused; asking again will not help.
            messages = [str(e.get("message") or e) for e in exc.errors if isinstance(e, Mapping)] or [str(exc)]
            raise ShopifyRefused([_("Shopify could not process this request: %(message)s") % {
                "message": "; ".join(messages)}], ["GRAPHQL"]) from exc
        raise ShopifyUnavailable(str(exc) or type(exc).__name__) from exc
    if not isinstance(data, Mapping):
        raise ShopifyUnavailable("Shopify returned no data")
    return dict(data)


def payload(data: Mapping[str, Any], field: str) -> dict[str, Any]:
    """The mutation's payload; raises ShopifyRefused when it carries userErrors."""
    result = data.get(field)
    if not isinstance(result, Mapping):
        raise ShopifyUnavailable(f"Shopify returned no {field}")
    errors = result.get("userErrors") or []
    if errors:
        raise ShopifyRefused(plain_errors(errors), [e.get("code") or "" for e in errors])
    return dict(result)


# Shopify's error codes (DiscountErrorCode) in words a merchant understands; the field says what to fix.
_CODE_MESSAGES = {
    "TAKEN": lambda: _("That code is already used by another discount in your store. Choose a different code."),
    "END_DATE_BEFORE_START_DATE": lambda: _("The end date must be after the start date."),
    "VALUE_OUTSIDE_RANGE": lambda: _("The percentage must be more than 0 and at most 100."),
    "GREATER_THAN": lambda: _("The amount must be greater than zero."),
    "TOO_MANY_ARGUMENTS": lambda: _("Shopify accepts at most 250 codes or customers in one request."),
    "BLANK": None,  # depends on the field, below
    "INVALID": None,
}
_FIELD_WORDS = {
    "code": lambda: _("the code"),
    "title": lambda: _("the title"),
    "context": lambda: _("who can use it"),
    "customerGets": lambda: _("the discount value"),
    "value": lambda: _("the discount value"),
    "usageLimit": lambda: _("the usage limit"),
    "endsAt": lambda: _("the end date"),
    "startsAt": lambda: _("the start date"),
    "minimumRequirement": lambda: _("the minimum purchase"),
    "codes": lambda: _("the codes"),
    "discountId": lambda: _("the discount"),
    "id": lambda: _("the discount"),
}


def _field_words(field: Sequence[str] | None) -> str | None:
    for part in reversed(list(field or [])):
        if part in _FIELD_WORDS:
            return _FIELD_WORDS[part]()
    return None


def plain_errors(errors: Sequence[Mapping[str, Any]]) -> list[str]:
    """userErrors -> sentences. Unknown codes keep Shopify's own message, which is already English prose."""
    out: list[str] = []
    for error in errors:
        code = (error.get("code") or "").upper()
        words = _field_words(error.get("field"))
        maker = _CODE_MESSAGES.get(code)
        if maker is not None:
            text = maker()
        elif code == "BLANK" and words:
            text = _("Please fill in %(what)s.") % {"what": words}
        elif words:
            text = _("Shopify did not accept %(what)s: %(message)s") % {
                "what": words, "message": error.get("message") or code}
        else:
            text = _("Shopify said: %(message)s") % {"message": error.get("message") or code}
        if text not in out:
            out.append(text)
    return out
