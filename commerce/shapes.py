"""Map Shopify's two shapes of the same resource to one record type.

GraphQL and bulk JSONL are camelCase with GID strings, UTC dates and `*Set { shopMoney }` money;
webhook bodies are REST: snake_case, numeric ids (beyond 2**53: parse with `json`/`orjson`, never via
float), money strings plus `*_set { shop_money }`, dates in the shop's UTC offset
(shopify-protocols.md, appendix "two shapes of the same order"). Both produce the same records, so the
same row results whichever way an order arrives.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

GID_PREFIX = "gid://shopify/"
ZERO = Decimal("0")


class ShapeError(ValueError):
    """A payload is missing something every version of it has (an id, updated_at)."""


@dataclass(slots=True)
class CustomerRecord:
    shopify_id: int
    first_name: str
    last_name: str
    email: str
    phone: str
    email_marketing_state: str
    tags: list[str]
    created_at: dt.datetime
    updated_at: dt.datetime
    birth_date: dt.date | None
    # False when the payload says nothing about the birthday metafield (a REST webhook without
    # `metafield_namespaces`): the stored birthday is then kept rather than erased.
    birth_date_known: bool


@dataclass(slots=True)
class LineItemRecord:
    shopify_id: int
    order_shopify_id: int
    product_shopify_id: int | None
    variant_shopify_id: int | None
    title: str
    sku: str
    quantity: int
    price: Decimal
    total_discount: Decimal
    gift_card: bool = False


@dataclass(slots=True)
class RefundRecord:
    shopify_id: int
    order_shopify_id: int
    created_at: dt.datetime
    processed_at: dt.datetime | None
    amount: Decimal
    currency: str
    updated_at: dt.datetime


@dataclass(slots=True)
class OrderRecord:
    shopify_id: int
    name: str
    customer_shopify_id: int | None
    email: str
    created_at: dt.datetime
    processed_at: dt.datetime
    updated_at: dt.datetime
    cancelled_at: dt.datetime | None
    cancel_reason: str
    financial_status: str
    fulfillment_status: str
    currency: str
    presentment_currency: str
    subtotal: Decimal
    total_discounts: Decimal
    total_shipping: Decimal
    total_tax: Decimal
    total: Decimal
    discount_codes: list[str]
    landing_site: str
    referring_site: str
    test: bool
    line_items: list[LineItemRecord] = field(default_factory=list)
    # True when the payload carried the order's complete line items (REST bodies, a GraphQL page with
    # lineItems): the stored lines are then replaced. Bulk JSONL lines arrive as separate rows.
    line_items_complete: bool = True
    refunds: list[RefundRecord] = field(default_factory=list)
    # The prices, and so `subtotal`, include `total_tax` (Order.taxesIncluded / REST taxes_included).
    taxes_included: bool = False


# ---------------------------------------------------------------------------------------------- scalars


def gid_to_id(value: Any) -> int | None:
    """`gid://shopify/Order/820982911946154508` or 820982911946154508 -> 820982911946154508 (exact)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ShapeError(f"not an id: {value!r}")
    if isinstance(value, int):
        return value
    text = str(value)
    if text.startswith(GID_PREFIX):
        text = text.rsplit("/", 1)[-1].split("?", 1)[0]
    if not text.isdigit():
        raise ShapeError(f"not a Shopify id: {value!r}")
    return int(text)


def parse_datetime(value: Any) -> dt.datetime | None:
    """ISO 8601 with `Z` (GraphQL) or a shop offset (REST) -> aware UTC datetime."""
    if value in (None, ""):
        return None
    parsed = dt.datetime.fromisoformat(str(value))
    if parsed.tzinfo is None:
        # Shopify always sends an offset; a naive value would be a bug upstream, read as UTC.
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def parse_decimal(value: Any) -> Decimal:
    if value in (None, ""):
        return ZERO
    if isinstance(value, float):
        # Never through float: a float amount means the payload was mangled somewhere.
        raise ShapeError(f"money as float: {value!r}")
    return Decimal(str(value))


def _required_datetime(value: Any, what: str) -> dt.datetime:
    parsed = parse_datetime(value)
    if parsed is None:
        raise ShapeError(f"{what} is missing")
    return parsed


def _lower(value: Any) -> str:
    return str(value).lower() if value else ""


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _tags(value: Any) -> list[str]:
    """GraphQL sends a list; REST a comma-separated string ("vip, newsletter")."""
    if not value:
        return []
    items = value.split(",") if isinstance(value, str) else value
    return [t.strip() for t in items if t and t.strip()]


def _parse_birth_date(value: Any) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        # A merchant-typed metafield can hold anything; an unreadable birthday is no birthday.
        return None


def _shop_money(money_set: Mapping | None, *, camel: bool) -> tuple[Decimal, str | None]:
    if not money_set:
        return ZERO, None
    bag = money_set.get("shopMoney" if camel else "shop_money") or {}
    return parse_decimal(bag.get("amount")), bag.get("currencyCode" if camel else "currency_code")


BIRTH_DATE_NAMESPACE = "facts"
BIRTH_DATE_KEY = "birth_date"


# ---------------------------------------------------------------------------------------------- GraphQL


def customer_from_graphql(node: Mapping[str, Any]) -> CustomerRecord:
    """A Customer node of commerce/graphql/customers_*.graphql (bulk line or page node)."""
    shopify_id = gid_to_id(node.get("id"))
    if shopify_id is None:
        raise ShapeError("customer without id")
    # defaultEmailAddress / defaultPhoneNumber replace the deprecated email, phone and
    # *MarketingConsent fields (2026-10 schema deprecation notes).
    email_address = node.get("defaultEmailAddress") or {}
    phone_number = node.get("defaultPhoneNumber") or {}
    birth = node.get("birthDate")
    return CustomerRecord(
        shopify_id=shopify_id,
        first_name=_text(node.get("firstName")),
        last_name=_text(node.get("lastName")),
        email=_text(email_address.get("emailAddress")),
        phone=_text(phone_number.get("phoneNumber")),
        email_marketing_state=_lower(email_address.get("marketingState")),
        tags=_tags(node.get("tags")),
        created_at=_required_datetime(node.get("createdAt"), "customer createdAt"),
        updated_at=_required_datetime(node.get("updatedAt"), "customer updatedAt"),
        birth_date=_parse_birth_date(birth.get("value") if birth else None),
        # The documents always select the metafield: null means "the customer has none".
        birth_date_known="birthDate" in node,
    )


def line_item_from_graphql(node: Mapping[str, Any], order_shopify_id: int) -> LineItemRecord:
    shopify_id = gid_to_id(node.get("id"))
    if shopify_id is None:
        raise ShapeError("line item without id")
    price, _ = _shop_money(node.get("originalUnitPriceSet"), camel=True)
    discount, _ = _shop_money(node.get("totalDiscountSet"), camel=True)
    return LineItemRecord(
        shopify_id=shopify_id,
        order_shopify_id=order_shopify_id,
        product_shopify_id=gid_to_id((node.get("product") or {}).get("id")),
        variant_shopify_id=gid_to_id((node.get("variant") or {}).get("id")),
        title=_text(node.get("title")),
        sku=_text(node.get("sku")),
        quantity=int(node.get("quantity") or 0),
        price=price,
        total_discount=discount,
        gift_card=bool(node.get("isGiftCard")),
    )


def refund_from_graphql(node: Mapping[str, Any], order_shopify_id: int, shop_currency: str) -> RefundRecord:
    shopify_id = gid_to_id(node.get("id"))
    if shopify_id is None:
        raise ShapeError("refund without id")
    amount, currency = _shop_money(node.get("totalRefundedSet"), camel=True)
    created = _required_datetime(node.get("createdAt"), "refund createdAt")
    return RefundRecord(
        shopify_id=shopify_id,
        order_shopify_id=order_shopify_id,
        created_at=created,
        processed_at=parse_datetime(node.get("processedAt")),
        amount=amount,
        currency=currency or shop_currency,
        updated_at=parse_datetime(node.get("updatedAt")) or created,
    )


def order_from_graphql(node: Mapping[str, Any]) -> OrderRecord:
    """An Order node; its `lineItems` may be a connection (paged query) or absent (bulk JSONL, where
    line items come as separate `__parentId` lines and are attached by the caller)."""
    shopify_id = gid_to_id(node.get("id"))
    if shopify_id is None:
        raise ShapeError("order without id")
    currency = node.get("currencyCode") or ""
    subtotal, _ = _shop_money(node.get("subtotalPriceSet"), camel=True)
    discounts, _ = _shop_money(node.get("totalDiscountsSet"), camel=True)
    shipping, _ = _shop_money(node.get("totalShippingPriceSet"), camel=True)
    tax, _ = _shop_money(node.get("totalTaxSet"), camel=True)
    total, total_currency = _shop_money(node.get("totalPriceSet"), camel=True)
    currency = currency or total_currency or ""
    created = _required_datetime(node.get("createdAt"), "order createdAt")
    # landingPageUrl / referrerUrl are deprecated for customerJourneySummary.lastVisit (2026-10 schema),
    # which is also what REST landing_site / referring_site describe: the visit that converted.
    last_visit = (node.get("customerJourneySummary") or {}).get("lastVisit") or {}
    line_items: list[LineItemRecord] = []
    connection = node.get("lineItems")
    if connection is not None:
        nodes = connection.get("nodes")
        if nodes is None:
            nodes = [edge["node"] for edge in connection.get("edges") or []]
        line_items = [line_item_from_graphql(n, shopify_id) for n in nodes]
        page_info = connection.get("pageInfo") or {}
        complete = not page_info.get("hasNextPage", False)
    else:
        complete = False
    return OrderRecord(
        shopify_id=shopify_id,
        name=_text(node.get("name")),
        customer_shopify_id=gid_to_id((node.get("customer") or {}).get("id")),
        email=_text(node.get("email")),
        created_at=created,
        processed_at=parse_datetime(node.get("processedAt")) or created,
        updated_at=_required_datetime(node.get("updatedAt"), "order updatedAt"),
        cancelled_at=parse_datetime(node.get("cancelledAt")),
        cancel_reason=_lower(node.get("cancelReason")),
        financial_status=_lower(node.get("displayFinancialStatus")),
        fulfillment_status=_lower(node.get("displayFulfillmentStatus")),
        currency=currency,
        presentment_currency=node.get("presentmentCurrencyCode") or currency,
        subtotal=subtotal,
        total_discounts=discounts,
        total_shipping=shipping,
        total_tax=tax,
        total=total,
        discount_codes=[c for c in node.get("discountCodes") or [] if c],
        landing_site=_text(last_visit.get("landingPage")),
        referring_site=_text(last_visit.get("referrerUrl")),
        test=bool(node.get("test")),
        line_items=line_items,
        line_items_complete=complete,
        refunds=[refund_from_graphql(r, shopify_id, currency) for r in node.get("refunds") or []],
        taxes_included=bool(node.get("taxesIncluded")),
    )


# ---------------------------------------------------------------------------------------------- REST


def _rest_id(payload: Mapping[str, Any]) -> int:
    shopify_id = gid_to_id(payload.get("id")) or gid_to_id(payload.get("admin_graphql_api_id"))
    if shopify_id is None:
        raise ShapeError("payload without id")
    return shopify_id


def _rest_money(payload: Mapping[str, Any], name: str) -> Decimal:
    """Prefer `<name>_set.shop_money`: the bare string is shop money on orders but not everywhere."""
    money_set = payload.get(f"{name}_set")
    if money_set:
        amount, _ = _shop_money(money_set, camel=False)
        return amount
    return parse_decimal(payload.get(name))


def _consent_state(consent: Any) -> str:
    if isinstance(consent, Mapping):
        return _lower(consent.get("state"))
    return ""


def customer_from_rest(payload: Mapping[str, Any]) -> CustomerRecord:
    """A customers/create or customers/update body."""
    birth_known = False
    birth: dt.date | None = None
    # Present only when the subscription asked for the `facts` namespace (metafieldNamespaces).
    metafields = payload.get("metafields")
    if isinstance(metafields, list):
        birth_known = True
        for mf in metafields:
            if mf.get("namespace") == BIRTH_DATE_NAMESPACE and mf.get("key") == BIRTH_DATE_KEY:
                birth = _parse_birth_date(mf.get("value"))
    email_state = _consent_state(payload.get("email_marketing_consent"))
    if not email_state and "accepts_marketing" in payload:
        # Pre-2022 payload field; still sent by some API versions.
        email_state = "subscribed" if payload.get("accepts_marketing") else "not_subscribed"
    created = _required_datetime(payload.get("created_at"), "customer created_at")
    return CustomerRecord(
        shopify_id=_rest_id(payload),
        first_name=_text(payload.get("first_name")),
        last_name=_text(payload.get("last_name")),
        email=_text(payload.get("email")),
        phone=_text(payload.get("phone")),
        email_marketing_state=email_state,
        tags=_tags(payload.get("tags")),
        created_at=created,
        updated_at=parse_datetime(payload.get("updated_at")) or created,
        birth_date=birth,
        birth_date_known=birth_known,
    )


def _rest_line_item(item: Mapping[str, Any], order_shopify_id: int) -> LineItemRecord:
    discount = _rest_money(item, "total_discount")
    allocations = item.get("discount_allocations") or []
    if not discount and allocations:
        # Newer API versions report line discounts only as allocations (total_discount is "0.00").
        discount = sum((_rest_money(a, "amount") for a in allocations), ZERO)
    return LineItemRecord(
        shopify_id=_rest_id(item),
        order_shopify_id=order_shopify_id,
        product_shopify_id=gid_to_id(item.get("product_id")),
        variant_shopify_id=gid_to_id(item.get("variant_id")),
        title=_text(item.get("title")),
        sku=_text(item.get("sku")),
        quantity=int(item.get("quantity") or 0),
        price=_rest_money(item, "price"),
        total_discount=discount,
        gift_card=bool(item.get("gift_card")),
    )


def _rest_refund_amount(refund: Mapping[str, Any], shop_currency: str) -> Decimal:
    """What a REST refund gave back, in shop money.

    The REST Refund has no total. Its successful `refund` transactions are the money that moved, but a
    transaction's `amount` is in the PRESENTMENT currency (its `currency`); only some versions add
    `amount_set.shop_money`. So: transactions when they are in shop money (or say so), otherwise the
    refunded parts in shop money: line subtotals + their tax + refunded shipping. A refund without
    successful transactions (a restock-only refund) refunded nothing.
    """
    if refund.get("total_refunded_set"):
        amount, _ = _shop_money(refund["total_refunded_set"], camel=False)
        return amount
    transactions = [
        tx for tx in refund.get("transactions") or []
        if tx.get("kind") in (None, "refund") and tx.get("status") in (None, "success")
    ]
    if not transactions:
        return ZERO
    if all(tx.get("amount_set") or (tx.get("currency") or shop_currency) == shop_currency for tx in transactions):
        return sum((_rest_money(tx, "amount") for tx in transactions), ZERO)
    total = ZERO
    for line in refund.get("refund_line_items") or []:
        total += _rest_money(line, "subtotal") + _rest_money(line, "total_tax")
    for shipping in refund.get("refund_shipping_lines") or []:
        amount, _ = _shop_money(shipping.get("subtotal_amount_set"), camel=False)
        total += amount
    for adjustment in refund.get("order_adjustments") or []:
        if adjustment.get("kind") == "shipping_refund":
            # Shopify records a shipping refund as a negative adjustment.
            total -= _rest_money(adjustment, "amount")
    return total


def refund_from_rest(
    payload: Mapping[str, Any], shop_currency: str, order_shopify_id: int | None = None
) -> RefundRecord:
    """A refunds/create body, or one element of an order body's `refunds`."""
    order_id = gid_to_id(payload.get("order_id")) or order_shopify_id
    if order_id is None:
        raise ShapeError("refund without order_id")
    created = _required_datetime(payload.get("created_at"), "refund created_at")
    return RefundRecord(
        shopify_id=_rest_id(payload),
        order_shopify_id=order_id,
        created_at=created,
        processed_at=parse_datetime(payload.get("processed_at")),
        amount=_rest_refund_amount(payload, shop_currency),
        currency=shop_currency,
        # REST refunds have no updated_at; processed_at is when it last changed (GraphQL reports the same).
        updated_at=parse_datetime(payload.get("updated_at")) or parse_datetime(payload.get("processed_at")) or created,
    )


_REST_FULFILLMENT = {None: "unfulfilled", "": "unfulfilled", "partial": "partially_fulfilled"}


def _rest_discount_codes(codes: Iterable[Any]) -> list[str]:
    out = []
    for c in codes or []:
        code = c.get("code") if isinstance(c, Mapping) else c
        if code:
            out.append(str(code))
    return out


def order_from_rest(payload: Mapping[str, Any]) -> OrderRecord:
    """An orders/create|updated|paid|cancelled body."""
    shopify_id = _rest_id(payload)
    currency = payload.get("currency") or ""
    created = _required_datetime(payload.get("created_at"), "order created_at")
    customer = payload.get("customer") or {}
    fulfillment = payload.get("fulfillment_status")
    shipping_set = payload.get("total_shipping_price_set")
    if shipping_set:
        shipping, _ = _shop_money(shipping_set, camel=False)
    else:
        shipping = sum(
            (_rest_money(line, "price") for line in payload.get("shipping_lines") or []), ZERO
        )
    return OrderRecord(
        shopify_id=shopify_id,
        name=_text(payload.get("name")),
        customer_shopify_id=gid_to_id(customer.get("id")) if customer else None,
        email=_text(payload.get("email")),
        created_at=created,
        processed_at=parse_datetime(payload.get("processed_at")) or created,
        updated_at=parse_datetime(payload.get("updated_at")) or created,
        cancelled_at=parse_datetime(payload.get("cancelled_at")),
        cancel_reason=_lower(payload.get("cancel_reason")),
        financial_status=_lower(payload.get("financial_status")),
        fulfillment_status=_REST_FULFILLMENT.get(fulfillment, _lower(fulfillment)),
        currency=currency,
        presentment_currency=payload.get("presentment_currency") or currency,
        subtotal=_rest_money(payload, "subtotal_price"),
        total_discounts=_rest_money(payload, "total_discounts"),
        total_shipping=shipping,
        total_tax=_rest_money(payload, "total_tax"),
        total=_rest_money(payload, "total_price"),
        discount_codes=_rest_discount_codes(payload.get("discount_codes")),
        landing_site=_text(payload.get("landing_site")),
        referring_site=_text(payload.get("referring_site")),
        test=bool(payload.get("test")),
        line_items=[_rest_line_item(i, shopify_id) for i in payload.get("line_items") or []],
        line_items_complete="line_items" in payload,
        refunds=[refund_from_rest(r, currency, shopify_id) for r in payload.get("refunds") or []],
        taxes_included=bool(payload.get("taxes_included")),
    )
