"""Bulk JSONL objects straight to COPY text rows: the backfill's fast path past commerce.shapes.

Why a second mapping: building `OrderRecord`s (datetime and Decimal objects) and formatting them back
into text cost ~100 µs per order in Python, five times the whole budget of a 20,000 orders/s backfill.
PostgreSQL parses ISO 8601 timestamps and decimal strings itself, so these functions hand Shopify's
strings through (checked, escaped) and keep Python's work per row to a few dictionary lookups.

The mapping MUST stay the one of `shapes.customer_from_graphql`, `order_from_graphql`,
`line_item_from_graphql` and `refund_from_graphql` (and of the `_*_row` tuples of services.upsert):
tests/commerce/test_bulk_rows.py loads the same files through both paths and compares the stored rows.
What differs is only where a malformed value is refused: a timestamp or amount Python would reject is
rejected by PostgreSQL's COPY instead; either way the batch fails and the run reports it.

Row format: PostgreSQL COPY text (tab-separated, `\\N` for NULL, backslash escapes). Every value that
comes from the payload goes through `_text`/`_opt`, which escapes the four characters COPY treats
specially, so no payload can add or shift a column or a row.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..shapes import ShapeError, _parse_birth_date, _tags, gid_to_id

NULL = "\\N"
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_EMPTY: Mapping[str, Any] = {}


def _text(value: Any) -> str:
    """A text column ("" for null, like shapes._text), escaped for COPY."""
    if value is None:
        return ""
    if type(value) is not str:
        value = str(value)
    # isprintable() is False for tab, newline and carriage return (and other controls): one C-level
    # scan instead of four `in` tests on the common, clean value.
    if "\\" in value or not value.isprintable():
        return value.translate(_ESCAPES)
    return value


def _clip(value: Any, length: int) -> str:
    """A text column cut to the model's max_length BEFORE escaping (shapes' `[:255]` on the raw value;
    cutting escaped text could split an escape sequence)."""
    if value is None:
        return ""
    return _text((value if type(value) is str else str(value))[:length])


def _opt(value: Any) -> str:
    """A nullable column: NULL for null or "" (shapes.parse_datetime's rule), else escaped text."""
    if value is None or value == "":
        return NULL
    return _text(value)


def _required(value: Any, what: str) -> str:
    if value is None or value == "":
        raise ShapeError(f"{what} is missing")
    return _text(value)


def _lower(value: Any) -> str:
    return _text(str(value).lower()) if value else ""


def copy_id(value: Any) -> str:
    """A GID or numeric id as the digits PostgreSQL reads into bigint; NULL when absent."""
    if type(value) is str:
        tail = value.rpartition("/")[2]
        if tail.isdigit() and tail.isascii():
            return tail
    parsed = gid_to_id(value)  # the rare shapes (query string suffix, plain int) and its errors
    return NULL if parsed is None else str(parsed)


def _required_id(value: Any, what: str) -> str:
    parsed = copy_id(value)
    if parsed == NULL:
        raise ShapeError(f"{what} without id")
    return parsed


def _money(money_set: Any) -> tuple[str, Any]:
    """(`shopMoney.amount` as text, its currency code) like shapes._shop_money; "0" when absent."""
    try:
        bag = money_set["shopMoney"]
        amount = bag["amount"]
        if type(amount) is str and amount and amount.isprintable() and "\\" not in amount:
            return amount, bag.get("currencyCode")  # the usual "12.50": nothing to check or escape
    except (KeyError, TypeError):
        pass
    if not money_set:
        return "0", None
    bag = money_set.get("shopMoney") or _EMPTY
    amount = bag.get("amount")
    if amount is None or amount == "":
        return "0", bag.get("currencyCode")
    if type(amount) is float:
        raise ShapeError(f"money as float: {amount!r}")  # never through float (shapes.parse_decimal)
    return _text(amount), bag.get("currencyCode")


def _array(values: Any) -> str:
    """A PostgreSQL array literal of strings, escaped for COPY (commerce.services.copy's format)."""
    items = ('"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values)
    return ("{" + ",".join(items) + "}").translate(_ESCAPES)


# Column orders: services.upsert._CUSTOMER_COLUMNS, _ORDER_COLUMNS, _LINE_COLUMNS, _REFUND_COLUMNS.


def customer_copy_row(node: Mapping[str, Any]) -> str:
    """One Customer bulk line -> a row of upsert._CUSTOMER_COLUMNS (shapes.customer_from_graphql)."""
    email_address = node.get("defaultEmailAddress") or _EMPTY
    phone_number = node.get("defaultPhoneNumber") or _EMPTY
    birth = node.get("birthDate")
    birth_date = _parse_birth_date(birth.get("value") if birth else None)
    tags = _tags(node.get("tags"))
    return "\t".join((
        _required_id(node.get("id"), "customer"),
        _clip(node.get("firstName"), 255),
        _clip(node.get("lastName"), 255),
        _clip(email_address.get("emailAddress"), 255),
        _clip(phone_number.get("phoneNumber"), 64),
        _lower(email_address.get("marketingState")),
        _array(tags) if tags else "{}",
        birth_date.isoformat() if birth_date else NULL,
        "t" if "birthDate" in node else "f",
        _required(node.get("createdAt"), "customer createdAt"),
        _required(node.get("updatedAt"), "customer updatedAt"),
    ))


def order_copy_rows(node: Mapping[str, Any], refunds_out: list[str]) -> tuple[str, str]:
    """One Order bulk line -> (its order_shopify_id, a row of upsert._ORDER_COLUMNS); its inline refunds
    are appended to `refunds_out` (shapes.order_from_graphql; line items come as their own lines)."""
    order_id = _required_id(node.get("id"), "order")
    subtotal, _ = _money(node.get("subtotalPriceSet"))
    discounts, _ = _money(node.get("totalDiscountsSet"))
    shipping, _ = _money(node.get("totalShippingPriceSet"))
    tax, _ = _money(node.get("totalTaxSet"))
    total, total_currency = _money(node.get("totalPriceSet"))
    currency = _text(node.get("currencyCode") or total_currency or "")
    created = _required(node.get("createdAt"), "order createdAt")
    processed = node.get("processedAt")
    last_visit = (node.get("customerJourneySummary") or _EMPTY).get("lastVisit") or _EMPTY
    codes = [c for c in node.get("discountCodes") or () if c]
    for refund in node.get("refunds") or ():
        refunds_out.append(refund_copy_row(refund, order_id, currency))
    row = "\t".join((
        order_id,
        _clip(node.get("name"), 64),
        copy_id((node.get("customer") or _EMPTY).get("id")),
        _clip(node.get("email"), 255),
        created,
        _text(processed) if processed else created,
        _required(node.get("updatedAt"), "order updatedAt"),
        _opt(node.get("cancelledAt")),
        _lower(node.get("cancelReason")),
        _lower(node.get("displayFinancialStatus")),
        _lower(node.get("displayFulfillmentStatus")),
        currency,
        _text(node.get("presentmentCurrencyCode")) or currency,
        subtotal, discounts, shipping, tax, total,
        _array(codes) if codes else "{}",
        _text(last_visit.get("landingPage")),
        _text(last_visit.get("referrerUrl")),
        "t" if node.get("test") else "f",
        # A bulk order line never lists its line items (they are lines of their own): never complete.
        "f",
        "t" if node.get("taxesIncluded") else "f",
    ))
    return order_id, row


def line_item_copy_row(node: Mapping[str, Any], order_shopify_id: str) -> str:
    """One LineItem child line -> a row of upsert._LINE_COLUMNS (shapes.line_item_from_graphql)."""
    price, _ = _money(node.get("originalUnitPriceSet"))
    discount, _ = _money(node.get("totalDiscountSet"))
    quantity = node.get("quantity")
    return "\t".join((
        _required_id(node.get("id"), "line item"),
        order_shopify_id,
        copy_id((node.get("product") or _EMPTY).get("id")),
        copy_id((node.get("variant") or _EMPTY).get("id")),
        _clip(node.get("title"), 255),
        _clip(node.get("sku"), 255),
        str(int(quantity)) if quantity else "0",
        price,
        discount,
        "t" if node.get("isGiftCard") else "f",
    ))


def refund_copy_row(node: Mapping[str, Any], order_shopify_id: str, order_currency: str) -> str:
    """One inline refund -> a row of upsert._REFUND_COLUMNS (shapes.refund_from_graphql)."""
    amount, currency = _money(node.get("totalRefundedSet"))
    created = _required(node.get("createdAt"), "refund createdAt")
    updated = node.get("updatedAt")
    return "\t".join((
        _required_id(node.get("id"), "refund"),
        order_shopify_id,
        created,
        _opt(node.get("processedAt")),
        amount,
        _text(currency) if currency else order_currency,
        _text(updated) if updated else created,
    ))
