"""Coupons: create, edit and delete code discounts in Shopify from the app.

The row is written first (a draft), then Shopify is asked, then the row records Shopify's answer: a crash
in between leaves a draft the merchant can save again, never a discount we do not know about (a unique
coupon's first code is random, so on a retry Shopify's TAKEN for it means "you already made it" and we
adopt that discount). Shopify's refusals come back as ShopifyRefused with plain-words messages, and the
last one is kept on the coupon for the page to show.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from shops.models import Shop

from .. import shopify
from ..models import Coupon, CouponCode
from ..selectors.segments import SegmentUnavailable, segment_customers
from . import codes as code_service

MAX_CONTEXT_CUSTOMERS = 250  # Shopify's limit on input arrays
MAX_UNIQUE_CODES = 100_000


class CouponInvalid(Exception):
    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages


@dataclass
class CouponSpec:
    """What the merchant asks for (validated by coupon_create / coupon_update)."""

    title: str
    kind: str
    value: Decimal | None = None
    audience: str = Coupon.Audience.ALL
    segment_key: str = ""
    customer_shopify_ids: list[int] = field(default_factory=list)
    minimum_subtotal: Decimal | None = None
    starts_at: dt.datetime | None = None
    ends_at: dt.datetime | None = None
    usage_limit: int | None = None
    once_per_customer: bool = True
    combines_with_order: bool = False
    combines_with_product: bool = False
    combines_with_shipping: bool = True
    code_mode: str = Coupon.CodeMode.SHARED
    code: str = ""
    code_prefix: str = ""
    codes_requested: int = 1


def _validate(shop: Shop, spec: CouponSpec, *, existing: Coupon | None = None) -> list[int]:
    """Check the spec; return the customers the discount is limited to (empty: everyone)."""
    errors: list[str] = []
    if not spec.title.strip():
        errors.append(_("Please give the coupon a title."))
    if spec.kind not in Coupon.Kind.values:
        errors.append(_("Choose what the coupon gives."))
    if spec.kind == Coupon.Kind.PERCENTAGE and not (spec.value and Decimal(0) < spec.value <= Decimal(100)):
        errors.append(_("The percentage must be more than 0 and at most 100."))
    if spec.kind == Coupon.Kind.FIXED_AMOUNT and not (spec.value and spec.value > 0):
        errors.append(_("The amount must be greater than zero."))
    if spec.minimum_subtotal is not None and spec.minimum_subtotal < 0:
        errors.append(_("The minimum purchase cannot be negative."))
    starts = spec.starts_at or (existing.starts_at if existing else timezone.now())
    if spec.ends_at and spec.ends_at <= starts:
        errors.append(_("The end date must be after the start date."))
    if spec.usage_limit is not None and spec.usage_limit <= 0:
        errors.append(_("The usage limit must be at least 1, or empty for no limit."))
    if existing is None:
        if spec.code_mode == Coupon.CodeMode.SHARED:
            code = spec.code.strip()
            if not code:
                errors.append(_("Please enter the code customers will type."))
            elif len(code) > 255 or any(c.isspace() for c in code):
                errors.append(_("A code has at most 255 characters and no spaces."))
        elif spec.code_mode == Coupon.CodeMode.UNIQUE:
            if not (1 <= spec.codes_requested <= MAX_UNIQUE_CODES):
                errors.append(_("Choose between 1 and %(max)s codes.") % {"max": f"{MAX_UNIQUE_CODES:,}"})
            if len(spec.code_prefix) > 20 or any(c.isspace() for c in spec.code_prefix):
                errors.append(_("A code prefix has at most 20 characters and no spaces."))
        else:
            errors.append(_("Choose one shared code or unique codes."))
    members: list[int] = []
    if spec.audience == Coupon.Audience.SEGMENT:
        try:
            members = list(segment_customers(shop, spec.segment_key).values_list("shopify_id", flat=True)
                           [: MAX_CONTEXT_CUSTOMERS + 1])
        except SegmentUnavailable as exc:
            errors.append(str(exc))
        except KeyError:
            errors.append(_("Choose a segment."))
        else:
            if not members:
                errors.append(_("That segment has no customers right now."))
    elif spec.audience == Coupon.Audience.CUSTOMERS:
        members = sorted(set(spec.customer_shopify_ids))
        if not members:
            errors.append(_("Choose at least one customer."))
    elif spec.audience != Coupon.Audience.ALL:
        errors.append(_("Choose who can use the coupon."))
    if len(members) > MAX_CONTEXT_CUSTOMERS:
        errors.append(_("Shopify can limit a discount to at most %(n)s named customers. For a larger audience, "
                        "use a campaign, which gives each customer a unique code.") % {"n": MAX_CONTEXT_CUSTOMERS})
    if errors:
        raise CouponInvalid(errors)
    return members


def discount_input(coupon: Coupon, *, code: str | None, previous_customers: list[int] | None = None) -> dict:
    """DiscountCodeBasicInput / DiscountCodeFreeShippingInput for the coupon (protocols 4.5)."""
    data: dict = {
        "title": coupon.title,
        "startsAt": coupon.starts_at.isoformat(),
        "endsAt": coupon.ends_at.isoformat() if coupon.ends_at else None,
        "usageLimit": coupon.usage_limit,
        "appliesOncePerCustomer": coupon.once_per_customer,
        "combinesWith": {
            "orderDiscounts": coupon.combines_with_order,
            "productDiscounts": coupon.combines_with_product,
            "shippingDiscounts": coupon.combines_with_shipping,
        },
    }
    if coupon.minimum_subtotal:
        data["minimumRequirement"] = {"subtotal": {"greaterThanOrEqualToSubtotal": str(coupon.minimum_subtotal)}}
    elif previous_customers is not None:
        # An edit that removes the minimum: an explicit null subtotal (a create simply leaves it out).
        data["minimumRequirement"] = {"subtotal": {"greaterThanOrEqualToSubtotal": None}}
    if code is not None:
        data["code"] = code
    if coupon.customer_shopify_ids:
        added = [f"gid://shopify/Customer/{i}" for i in coupon.customer_shopify_ids]
        removed = sorted(set(previous_customers or []) - set(coupon.customer_shopify_ids))
        customers: dict = {"add": added}
        if removed:
            customers["remove"] = [f"gid://shopify/Customer/{i}" for i in removed]
        data["context"] = {"customers": customers}
    else:
        data["context"] = {"all": "ALL"}
    if coupon.kind == Coupon.Kind.FREE_SHIPPING:
        data["destination"] = {"all": True}
    else:
        if coupon.kind == Coupon.Kind.PERCENTAGE:
            # Shopify wants a fraction (0.15); Decimal division is exact for our 3 decimal places.
            value: dict = {"percentage": float(coupon.value / Decimal(100))}
        else:
            value = {"discountAmount": {"amount": str(coupon.value), "appliesOnEachItem": False}}
        data["customerGets"] = {"value": value, "items": {"all": True}}
    return data


def _apply_spec(coupon: Coupon, spec: CouponSpec, members: list[int]) -> None:
    coupon.title = spec.title.strip()
    coupon.kind = spec.kind
    coupon.value = None if spec.kind == Coupon.Kind.FREE_SHIPPING else spec.value
    coupon.audience = spec.audience
    coupon.segment_key = spec.segment_key if spec.audience == Coupon.Audience.SEGMENT else ""
    coupon.customer_shopify_ids = members
    coupon.minimum_subtotal = spec.minimum_subtotal or None
    coupon.starts_at = spec.starts_at or coupon.starts_at or timezone.now()
    coupon.ends_at = spec.ends_at
    coupon.usage_limit = spec.usage_limit
    coupon.once_per_customer = spec.once_per_customer
    coupon.combines_with_order = spec.combines_with_order
    coupon.combines_with_product = spec.combines_with_product
    coupon.combines_with_shipping = spec.combines_with_shipping


def coupon_create(*, shop: Shop, spec: CouponSpec, for_campaign: bool = False) -> Coupon:
    """Create the coupon here and in Shopify; unique codes beyond the first are queued in batches of 250.

    Raises CouponInvalid (nothing written), ShopifyRefused (the coupon stays as a failed draft with the
    reason), ShopifyUnavailable (a draft; saving again retries).
    """
    members = _validate(shop, spec)
    coupon = Coupon(shop=shop, currency=shop.currency, for_campaign=for_campaign, code_mode=spec.code_mode,
                    code_prefix=spec.code_prefix.strip().upper(), starts_at=spec.starts_at or timezone.now())
    _apply_spec(coupon, spec, members)
    coupon.codes_requested = spec.codes_requested if spec.code_mode == Coupon.CodeMode.UNIQUE else 1
    try:
        with transaction.atomic():
            coupon.save()
            if spec.code_mode == Coupon.CodeMode.SHARED:
                CouponCode.objects.create(shop=shop, coupon=coupon, code=spec.code.strip())
            else:
                # The first code creates the discount; for a campaign it is never handed out.
                code_service.codes_insert(shop=shop, coupon=coupon, count=1, batched=False)
                if not for_campaign and coupon.codes_requested > 1:
                    code_service.coupon_codes_add(shop=shop, coupon=coupon, count=coupon.codes_requested - 1)
    except IntegrityError as exc:
        raise CouponInvalid([_("That code is already used by another coupon in this app.")]) from exc
    coupon_push(shop=shop, coupon_id=coupon.pk)
    coupon.refresh_from_db()
    return coupon


def _first_code(coupon: Coupon) -> CouponCode:
    return CouponCode.objects.filter(shop=coupon.shop, coupon=coupon, batch__isnull=True).order_by("id").first()


def coupon_push(*, shop: Shop, coupon_id: int) -> Coupon:
    """Create a draft coupon in Shopify (idempotent: an active coupon is left alone)."""
    coupon = Coupon.objects.get(shop=shop, pk=coupon_id)
    if coupon.status == Coupon.Status.ACTIVE and coupon.shopify_discount_gid:
        return coupon
    first = _first_code(coupon)
    mutation, root, variable = _create_names(coupon)
    try:
        data = shopify.execute(shop, mutation, {variable: discount_input(coupon, code=first.code)})
        gid = shopify.payload(data, root)["codeDiscountNode"]["id"]
    except shopify.ShopifyRefused as exc:
        adopted = _adopt_after_retry(shop, coupon, first, exc)
        if adopted is None:
            Coupon.objects.filter(pk=coupon.pk).update(status=Coupon.Status.FAILED, sync_error="\n".join(exc.messages))
            exc.coupon_id = coupon.pk
            raise
        gid = adopted
    with transaction.atomic():
        Coupon.objects.filter(pk=coupon.pk).update(shopify_discount_gid=gid, status=Coupon.Status.ACTIVE, sync_error="")
        CouponCode.objects.filter(pk=first.pk).update(status=CouponCode.Status.ACTIVE)
        if coupon.code_mode == Coupon.CodeMode.UNIQUE:
            code_service.codes_schedule(shop=shop, coupon_id=coupon.pk)
    coupon.refresh_from_db()
    return coupon


def _create_names(coupon: Coupon) -> tuple[str, str, str]:
    if coupon.kind == Coupon.Kind.FREE_SHIPPING:
        return "discount_code_free_shipping_create", "discountCodeFreeShippingCreate", "freeShippingCodeDiscount"
    return "discount_code_basic_create", "discountCodeBasicCreate", "basicCodeDiscount"


def _adopt_after_retry(shop: Shop, coupon: Coupon, first: CouponCode, exc: shopify.ShopifyRefused) -> str | None:
    """A random first code reported TAKEN: our own earlier attempt got through; find that discount."""
    if coupon.code_mode != Coupon.CodeMode.UNIQUE or exc.codes != ["TAKEN"]:
        return None
    node = shopify.execute(shop, "code_discount_node_by_code", {"code": first.code}).get("codeDiscountNodeByCode")
    return node["id"] if node else None


def coupon_update(*, shop: Shop, coupon_id: int, spec: CouponSpec) -> Coupon:
    """Change a coupon here and in Shopify. Shopify is asked first: a refusal changes nothing here.

    The code(s) of a coupon do not change (a shared code can, through `spec.code`). Raises CouponInvalid,
    ShopifyRefused, ShopifyUnavailable.
    """
    coupon = Coupon.objects.get(shop=shop, pk=coupon_id)
    if coupon.status == Coupon.Status.DELETED:
        raise CouponInvalid([_("This coupon was deleted.")])
    members = _validate(shop, spec, existing=coupon)
    previous = list(coupon.customer_shopify_ids)
    _apply_spec(coupon, spec, members)
    new_code = None
    if coupon.code_mode == Coupon.CodeMode.SHARED and spec.code.strip():
        first = _first_code(coupon)
        if first and first.code != spec.code.strip():
            new_code = spec.code.strip()
    if coupon.shopify_discount_gid:
        if coupon.kind == Coupon.Kind.FREE_SHIPPING:
            mutation, root, variable = ("discount_code_free_shipping_update", "discountCodeFreeShippingUpdate",
                                        "freeShippingCodeDiscount")
        else:
            mutation, root, variable = "discount_code_basic_update", "discountCodeBasicUpdate", "basicCodeDiscount"
        data = shopify.execute(shop, mutation, {
            "id": coupon.shopify_discount_gid,
            variable: discount_input(coupon, code=new_code, previous_customers=previous),
        })
        shopify.payload(data, root)
    with transaction.atomic():
        coupon.sync_error = ""
        coupon.save()
        if new_code:
            CouponCode.objects.filter(pk=_first_code(coupon).pk).update(code=new_code)
    if not coupon.shopify_discount_gid:
        return coupon_push(shop=shop, coupon_id=coupon.pk)
    return coupon


def coupon_delete(*, shop: Shop, coupon_id: int) -> Coupon:
    """Delete the discount in Shopify and mark the coupon deleted (its codes stay, for usage history)."""
    coupon = Coupon.objects.get(shop=shop, pk=coupon_id)
    if coupon.shopify_discount_gid and coupon.status != Coupon.Status.DELETED:
        data = shopify.execute(shop, "discount_code_delete", {"id": coupon.shopify_discount_gid})
        try:
            shopify.payload(data, "discountCodeDelete")
        except shopify.ShopifyRefused:
            # Already deleted in Shopify (by the merchant in the Shopify admin): that is what we wanted.
            if _exists_in_shopify(shop, coupon):
                raise
    Coupon.objects.filter(shop=shop, pk=coupon.pk).update(status=Coupon.Status.DELETED, updated_at=timezone.now())
    coupon.refresh_from_db()
    return coupon


def _exists_in_shopify(shop: Shop, coupon: Coupon) -> bool:
    first = _first_code(coupon)
    if first is None:
        return False
    node = shopify.execute(shop, "code_discount_node_by_code", {"code": first.code}).get("codeDiscountNodeByCode")
    return bool(node and node.get("id") == coupon.shopify_discount_gid)
