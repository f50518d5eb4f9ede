"""The discount-code service shared by loyalty, referrals and campaigns.

`discount_code_create` makes a unique, single-use code in Shopify, limited to one customer through the
discount's `context` (`customerSelection` is deprecated), with value, dates, minimum subtotal and
combination rules, and records it (DiscountCode). It talks to Shopify OUTSIDE any database transaction:
callers reserve what they need first (loyalty reserves points) and confirm or compensate afterwards.

Combination rules: Shopify applies at most five product or order discounts and one shipping discount to
an order (shopify-protocols.md 4.5). The flags say which other classes a code may combine with; the caller
picks them per reward.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.money import Money
from shops.models import Shop

from .codes import code_generate, code_normalize
from .models import DiscountCode

log = logging.getLogger(__name__)

MAX_CODE_ATTEMPTS = 5


class DiscountCodeError(Exception):
    """Base of the errors callers show to people. `message` is safe to show to a customer."""

    def __init__(self, message: str, *, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class DiscountCodeRefused(DiscountCodeError):
    """Shopify answered and refused the discount (userErrors other than a taken code)."""


class DiscountServiceUnavailable(DiscountCodeError):
    """Shopify could not be reached or failed (network, 5xx, throttled beyond retries, lost access).
    The code may or may not exist in Shopify: callers look it up before giving up (discount_code_lookup)."""


@dataclass(frozen=True, slots=True)
class CodeSpec:
    """What a code gives. Exactly one of `amount` (fixed amount off), `percentage` (percent off, 0-100),
    `free_shipping` is set; `product_variant_gid` limits an amount or percentage to one variant."""

    title: str
    prefix: str
    purpose: str
    source: str
    customer_shopify_id: int | None
    amount: Money | None = None
    percentage: Decimal | None = None
    free_shipping: bool = False
    product_variant_gid: str = ""
    max_shipping_price: Decimal | None = None
    minimum_subtotal: Decimal | None = None
    starts_at: dt.datetime | None = None
    ends_at: dt.datetime | None = None
    combines_with_order_discounts: bool = False
    combines_with_product_discounts: bool = False
    combines_with_shipping_discounts: bool = False
    code: str = ""  # a code chosen by the caller (tried first); generated when empty

    def __post_init__(self) -> None:
        chosen = [self.amount is not None, self.percentage is not None, self.free_shipping]
        if sum(chosen) != 1:
            raise ValueError("a code gives exactly one of an amount, a percentage or free shipping")
        if self.percentage is not None and not (Decimal("0") < self.percentage <= Decimal("100")):
            raise ValueError("percentage must be in (0, 100]")
        if self.amount is not None and self.amount.amount <= 0:
            raise ValueError("amount must be positive")

    @property
    def kind(self) -> str:
        if self.free_shipping:
            return DiscountCode.Kind.FREE_SHIPPING
        if self.product_variant_gid:
            return DiscountCode.Kind.FREE_PRODUCT
        if self.percentage is not None:
            return DiscountCode.Kind.PERCENTAGE
        return DiscountCode.Kind.FIXED_AMOUNT


def _customer_gid(customer_shopify_id: int) -> str:
    return f"gid://shopify/Customer/{customer_shopify_id}"


def _iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if value else None


def _decimal_str(value: Decimal) -> str:
    return format(value.quantize(Decimal("0.01")), "f")


def discount_input(spec: CodeSpec, code: str, starts_at: dt.datetime) -> dict[str, Any]:
    """The DiscountCodeBasicInput / DiscountCodeFreeShippingInput for `spec` (shapes per the 2026-10 schema)."""
    data: dict[str, Any] = {
        "title": spec.title[:255],
        "code": code,
        "startsAt": _iso(starts_at),
        "endsAt": _iso(spec.ends_at),
        # Single use, by that one customer: usageLimit caps total uses, appliesOncePerCustomer covers a
        # customer whose two carts are checked out at once.
        "usageLimit": 1,
        "appliesOncePerCustomer": True,
        "context": (
            {"customers": {"add": [_customer_gid(spec.customer_shopify_id)]}}
            if spec.customer_shopify_id is not None
            else {"all": "ALL"}
        ),
        "combinesWith": {
            "orderDiscounts": spec.combines_with_order_discounts,
            "productDiscounts": spec.combines_with_product_discounts,
            "shippingDiscounts": spec.combines_with_shipping_discounts,
        },
    }
    if spec.minimum_subtotal:
        data["minimumRequirement"] = {
            "subtotal": {"greaterThanOrEqualToSubtotal": _decimal_str(spec.minimum_subtotal)}
        }
    if spec.free_shipping:
        data["destination"] = {"all": True}
        if spec.max_shipping_price is not None:
            data["maximumShippingPrice"] = _decimal_str(spec.max_shipping_price)
        return data
    if spec.percentage is not None:
        # Shopify takes a fraction (0.2 = 20 %) as a Float.
        value: dict[str, Any] = {"percentage": float(spec.percentage / Decimal(100))}
    else:
        assert spec.amount is not None
        # appliesOnEachItem False: the amount is taken once from the entitled items, so a free-product
        # code worth one unit's price frees one unit whatever the quantity.
        value = {"discountAmount": {"amount": _decimal_str(spec.amount.amount), "appliesOnEachItem": False}}
    items: dict[str, Any] = (
        {"products": {"productVariantsToAdd": [spec.product_variant_gid]}}
        if spec.product_variant_gid
        else {"all": True}
    )
    data["customerGets"] = {"value": value, "items": items}
    return data


def _execute(
    shop: Shop, name: str, variables: dict[str, Any], *, attempts: int
) -> tuple[dict[str, Any] | None, list[dict]]:
    """(data, userErrors) of one Admin API call; DiscountServiceUnavailable when Shopify did not answer.

    `attempts`: creating a code is not idempotent, so it is sent once (attempts=1): had the client resent
    it after a lost answer, Shopify would say TAKEN about our own code and we would make a second one.
    A lost answer is settled by looking the code up instead, which may be retried.
    """
    from shopify_sync import admin_api

    try:
        data = admin_api.AdminClient(shop, max_attempts=attempts).execute(name, variables)
    except admin_api.UserErrors as exc:
        return None, [{"field": e.field, "code": e.code, "message": e.message} for e in exc.user_errors]
    except Exception as exc:  # AdminAPIError, ShopUnauthorized, network errors: Shopify gave no verdict
        log.warning("discount call %s for %s failed: %r", name, shop.domain, exc)
        raise DiscountServiceUnavailable(
            "We could not reach the shop to create your code. Your points have not been spent; please try again.",
            detail=repr(exc),
        ) from exc
    return data, []


def _payload_errors(data: dict[str, Any] | None, field: str) -> list[dict[str, Any]]:
    payload = (data or {}).get(field) or {}
    return list(payload.get("userErrors") or [])


def _is_taken(errors: list[dict[str, Any]]) -> bool:
    return any((e.get("code") or "").upper() == "TAKEN" for e in errors)


def discount_code_create(*, shop: Shop, spec: CodeSpec) -> DiscountCode:
    """Create one code in Shopify and record it.

    Retries with a fresh code when Shopify says the code is TAKEN (up to MAX_CODE_ATTEMPTS times).
    Raises DiscountCodeRefused (Shopify refused; nothing was created) and DiscountServiceUnavailable
    (no verdict; the code may exist: `discount_code_lookup` tells).
    """
    mutation, root, variable = (
        ("discounts_discount_code_free_shipping_create", "discountCodeFreeShippingCreate", "freeShippingCodeDiscount")
        if spec.free_shipping
        else ("discounts_discount_code_basic_create", "discountCodeBasicCreate", "basicCodeDiscount")
    )
    starts_at = spec.starts_at or timezone.now()
    code = code_normalize(spec.code) if spec.code else code_generate(spec.prefix)
    for attempt in range(1, MAX_CODE_ATTEMPTS + 1):
        data, errors = _execute(shop, mutation, {variable: discount_input(spec, code, starts_at)}, attempts=1)
        errors = errors or _payload_errors(data, root)
        node = ((data or {}).get(root) or {}).get("codeDiscountNode") or {}
        if not errors and node.get("id"):
            return _record(shop=shop, spec=spec, code=code, gid=node["id"], starts_at=starts_at)
        if _is_taken(errors) and attempt < MAX_CODE_ATTEMPTS:
            log.info("discount code taken in %s, retrying (%d)", shop.domain, attempt)
            code = code_generate(spec.prefix)
            continue
        messages = "; ".join(str(e.get("message") or e.get("code") or e) for e in errors) or "no discount returned"
        raise DiscountCodeRefused(
            "The shop could not create this reward right now. Your points have not been spent.", detail=messages
        )
    raise AssertionError("unreachable")  # pragma: no cover


def _record(*, shop: Shop, spec: CodeSpec, code: str, gid: str, starts_at: dt.datetime) -> DiscountCode:
    value: Decimal | None
    if spec.free_shipping:
        value = None
    elif spec.percentage is not None:
        value = spec.percentage
    else:
        assert spec.amount is not None
        value = spec.amount.amount
    currency = spec.amount.currency if spec.amount is not None else shop.currency
    with transaction.atomic():
        return DiscountCode.objects.create(
            shop=shop, code=code, shopify_gid=gid, kind=spec.kind, value=value, currency=currency,
            customer_shopify_id=spec.customer_shopify_id, purpose=spec.purpose, source=spec.source[:64],
            minimum_subtotal=spec.minimum_subtotal,
            combines_with_order_discounts=spec.combines_with_order_discounts,
            combines_with_product_discounts=spec.combines_with_product_discounts,
            combines_with_shipping_discounts=spec.combines_with_shipping_discounts,
            starts_at=starts_at, ends_at=spec.ends_at,
        )


def discount_code_lookup(*, shop: Shop, code: str) -> str | None:
    """The Shopify gid of the code discount with this code, or None when Shopify has none.
    Raises DiscountServiceUnavailable."""
    data, _errors = _execute(shop, "discounts_code_discount_node_by_code", {"code": code_normalize(code)}, attempts=3)
    node = (data or {}).get("codeDiscountNodeByCode") or {}
    return node.get("id") or None


def discount_code_delete(*, shop: Shop, shopify_gid: str) -> bool:
    """Delete a code discount in Shopify (a code we must not leave usable). True when Shopify deleted it."""
    data, errors = _execute(shop, "discounts_discount_code_delete", {"id": shopify_gid}, attempts=3)
    errors = errors or _payload_errors(data, "discountCodeDelete")
    return not errors and bool(((data or {}).get("discountCodeDelete") or {}).get("deletedCodeDiscountId"))


def discount_codes_mark_used(
    *, shop: Shop, codes: list[str], order_shopify_id: int, used_at: dt.datetime
) -> list[DiscountCode]:
    """Record that an order used some of our codes (called from loyalty's order sync; referrals and
    campaigns read the same rows). Idempotent: a code already marked keeps its first order."""
    normalized = sorted({code_normalize(c) for c in codes if c})
    if not normalized:
        return []
    with transaction.atomic():
        rows = list(DiscountCode.objects.select_for_update().filter(shop=shop, code__in=normalized))
        for row in rows:
            if row.order_shopify_id is None:
                row.order_shopify_id = order_shopify_id
                row.used_at = used_at
                row.save(update_fields=["order_shopify_id", "used_at"])
    return rows


def discount_code_record_existing(*, shop: Shop, spec: CodeSpec, code: str, gid: str) -> DiscountCode:
    """Record a code that Shopify already has (found by discount_code_lookup after an unanswered create)."""
    try:
        return _record(shop=shop, spec=spec, code=code_normalize(code), gid=gid, starts_at=spec.starts_at or timezone.now())
    except IntegrityError:
        return DiscountCode.objects.get(shop=shop, code=code_normalize(code))
