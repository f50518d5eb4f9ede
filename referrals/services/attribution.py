"""Which referral an order belongs to, and what the order's state means for it.

Attribution, in this order (the most certain first):
1. the order is already the referral's first order (a later webhook of the same order);
2. the order used a friend's discount code we issued;
3. the referral link recorded on the order: the landing site (`/apps/loyalty/r/CODE` or `?ref=CODE`, the
   first page of the visit that converted) or the `ref` cart attribute (note_attributes) the storefront
   widget sets when a friend arrives through a link.
Each friend counts once: a friend who already has a Referral (by e-mail or customer) keeps it and its
referrer, and only their first referred order counts (unique constraints on Referral).

`order_referral_sync` is idempotent: it brings the referral to what the order's current state says, so
duplicated or reordered webhooks (orders/create, orders/paid, orders/updated, refunds/create) converge.
"""
from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from discounts.codes import code_normalize
from shops.models import Shop

from ..codes import referral_code_clean
from ..identity import address_key, email_normalize, keyed_hash, phone_digits
from ..models import OrderSignals, Referral, ReferralCode, ReferralEvent, ReferralProgramme
from .fraud import fraud_reasons
from .programme import programme_get

log = logging.getLogger(__name__)

# Shopify financial statuses of an order whose money was received (as loyalty.services.earning).
PAID_STATUSES = frozenset({"paid", "partially_refunded", "refunded"})
REF_ATTRIBUTE_NAMES = frozenset({"ref", "referral", "referral_code", "_ref", "_referral_code"})
LANDING_PATH_RE = re.compile(r"/r/([A-Za-z0-9-]{6,40})(?:[/?#]|$)")
OPEN_STATUSES = (Referral.Status.CLICKED, Referral.Status.ORDERED, Referral.Status.PENDING, Referral.Status.FLAGGED)


# --- the webhook hook (called by commerce.services.webhooks inside the delivery's transaction) ---------


def _ref_from_attributes(payload: Mapping[str, Any]) -> str:
    for attribute in payload.get("note_attributes") or []:
        if isinstance(attribute, Mapping) and str(attribute.get("name", "")).lower() in REF_ATTRIBUTE_NAMES:
            return referral_code_clean(str(attribute.get("value") or ""))
    return ""


def ref_from_landing_site(landing_site: str) -> str:
    """The referral code in a landing site (`/apps/loyalty/r/CODE?…` or `…?ref=CODE`), else ""."""
    if not landing_site:
        return ""
    parts = urlsplit(landing_site)
    for value in parse_qs(parts.query).get("ref", []):
        if code := referral_code_clean(value):
            return code
    match = LANDING_PATH_RE.search(parts.path)
    return referral_code_clean(match.group(1)) if match else ""


def _customer_id(payload: Mapping[str, Any]) -> int | None:
    customer = payload.get("customer") or {}
    try:
        return int(customer["id"]) if customer.get("id") is not None else None
    except (TypeError, ValueError):
        return None


def order_webhook_received(*, shop: Shop, payload: Mapping[str, Any]) -> bool:
    """Hook for orders/* webhooks: keep the order's fraud signals and, when the order may concern a
    referral, sync it after commit. Cheap for shops without the programme (one indexed read).
    Returns True when a sync was scheduled."""
    if not ReferralProgramme.objects.filter(shop=shop, enabled=True).exists():
        return False
    try:
        order_id = int(payload["id"])
    except (KeyError, TypeError, ValueError):
        return False
    customer_id = _customer_id(payload)
    shipping = payload.get("shipping_address") or {}
    phone = payload.get("phone") or shipping.get("phone") or (payload.get("customer") or {}).get("phone") or ""
    ip = payload.get("browser_ip") or (payload.get("client_details") or {}).get("browser_ip") or ""
    ref_code = _ref_from_attributes(payload)
    OrderSignals.objects.bulk_create(
        [OrderSignals(
            shop=shop, order_shopify_id=order_id, customer_shopify_id=customer_id, ref_code=ref_code,
            address_hash=keyed_hash(shop.pk, "address", address_key(shipping)),
            phone_hash=keyed_hash(shop.pk, "phone", phone_digits(phone)),
            ip_hash=keyed_hash(shop.pk, "ip", str(ip).strip()), created_at=timezone.now(),
        )],
        update_conflicts=True, unique_fields=["shop", "order_shopify_id"],
        update_fields=["customer_shopify_id", "ref_code", "address_hash", "phone_hash", "ip_hash"],
    )
    codes = [code_normalize(str(d.get("code") or "")) for d in payload.get("discount_codes") or [] if isinstance(d, Mapping)]
    relevant = bool(ref_code or ref_from_landing_site(str(payload.get("landing_site") or ""))) or Referral.objects.filter(
        Q(order_shopify_id=order_id) | Q(friend_code__in=[c for c in codes if c]), shop=shop,
    ).exists()
    if relevant:
        _enqueue_sync(shop.pk, order_id)
    return relevant


def refund_webhook_received(*, shop: Shop, payload: Mapping[str, Any]) -> bool:
    """Hook for refunds/create: re-sync the referral whose first order was refunded."""
    try:
        order_id = int(payload["order_id"])
    except (KeyError, TypeError, ValueError):
        return False
    if not Referral.objects.filter(shop=shop, order_shopify_id=order_id).exists():
        return False
    _enqueue_sync(shop.pk, order_id)
    return True


def _enqueue_sync(shop_id: int, order_id: int) -> None:
    from ..tasks import order_referral_sync_task

    transaction.on_commit(lambda: order_referral_sync_task.apply_async((shop_id, order_id), queue="default"))


# --- the sync ------------------------------------------------------------------------------------------


def _find_referral(shop: Shop, order, signals: OrderSignals | None) -> tuple[Referral | None, str]:
    attached = Referral.objects.filter(shop=shop, order_shopify_id=order.shopify_id).first()
    if attached is not None:
        return attached, attached.attribution
    codes = [code_normalize(c) for c in order.discount_codes or [] if c]
    if codes:
        by_code = Referral.objects.filter(shop=shop, friend_code__in=codes).first()
        if by_code is not None:
            return by_code, Referral.Attribution.DISCOUNT_CODE
    code, how = ref_from_landing_site(order.landing_site), Referral.Attribution.LANDING_SITE
    if not code and signals is not None and signals.ref_code:
        code, how = signals.ref_code, Referral.Attribution.CART_ATTRIBUTE
    referral_code = ReferralCode.objects.filter(shop=shop, code=code, active=True).first() if code else None
    if referral_code is None:
        return None, ""
    return _referral_for_friend(shop, referral_code, order), how


def _referral_for_friend(shop: Shop, referral_code: ReferralCode, order) -> Referral | None:
    """The friend's Referral (existing by customer or e-mail: first referrer wins), else a new one."""
    normalized = email_normalize(order.email) or None
    who = Q(friend_customer_shopify_id=order.customer_shopify_id) if order.customer_shopify_id else Q(pk__in=[])
    if normalized:
        who |= Q(friend_email_normalized=normalized)
    existing = Referral.objects.filter(who, shop=shop).first()
    if existing is not None:
        return existing
    if normalized is None and order.customer_shopify_id is None:
        return None  # nobody to count: a friend is known by e-mail or account
    now = timezone.now()
    try:
        with transaction.atomic():
            return Referral.objects.create(
                shop=shop, referral_code=referral_code, referrer_customer_shopify_id=referral_code.customer_shopify_id,
                friend_email=order.email[:255], friend_email_normalized=normalized,
                friend_customer_shopify_id=order.customer_shopify_id, created_at=now, updated_at=now,
            )
    except IntegrityError:
        return Referral.objects.filter(who, shop=shop).first()  # a concurrent sync created it


def _voided(shop: Shop, order, hold_until: dt.datetime | None) -> bool:
    """Cancelled, or refunded before the holding period ended (a refund after it does not undo a reward)."""
    from commerce.models import Refund

    if order.test:
        return True
    if order.cancelled_at is not None and (hold_until is None or order.cancelled_at < hold_until):
        return True
    refunds = Refund.objects.filter(shop=shop, order_shopify_id=order.shopify_id, amount__gt=Decimal("0"))
    if hold_until is not None:
        refunds = refunds.filter(created_at__lt=hold_until)
    return refunds.exists()


def _event(shop: Shop, referral: Referral, kind: str, now: dt.datetime, **fields) -> None:
    ReferralEvent.objects.create(shop=shop, referral=referral, kind=kind, created_at=now, **fields)


def order_referral_sync(*, shop: Shop, order_shopify_id: int, now: dt.datetime | None = None) -> Referral | None:
    """Apply one commerce Order's current state to the referral it belongs to (if any); returns it.

    - First referred order of the friend: attached (ORDERED). Later orders of that friend are ignored.
    - Paid: the holding period starts (from the paid version's updated_at), the fraud rules run; any
      reason → FLAGGED, else PENDING.
    - Cancelled, or refunded inside the holding period → CANCELLED (the pending reward is gone).
    - PENDING with the holding period over → the referrer is rewarded (services.rewards).
    """
    from commerce.models import Order

    now = now or timezone.now()
    order = Order.objects.filter(shop=shop, shopify_id=order_shopify_id).first()
    if order is None or order.test:
        return None
    programme = programme_get(shop)
    signals = OrderSignals.objects.filter(shop=shop, order_shopify_id=order_shopify_id).first()
    found, attribution = _find_referral(shop, order, signals)
    if found is None:
        return None
    with transaction.atomic():
        referral = Referral.objects.select_for_update().get(shop=shop, pk=found.pk)
        if referral.order_shopify_id is not None and referral.order_shopify_id != order.shopify_id:
            return referral  # not the friend's first referred order
        changed: set[str] = set()
        if referral.order_shopify_id is None:
            if referral.status != Referral.Status.CLICKED:
                return referral
            referral.order_shopify_id, referral.order_name = order.shopify_id, order.name
            referral.ordered_at, referral.attribution = order.processed_at, attribution
            referral.order_total, referral.currency = order.total, order.currency or shop.currency
            if referral.friend_customer_shopify_id is None and order.customer_shopify_id is not None and not (
                Referral.objects.filter(shop=shop, friend_customer_shopify_id=order.customer_shopify_id).exists()
            ):
                referral.friend_customer_shopify_id = order.customer_shopify_id
            if not referral.friend_email and order.email:
                referral.friend_email = order.email[:255]
            referral.status = Referral.Status.ORDERED
            changed |= {"order_shopify_id", "order_name", "ordered_at", "attribution", "order_total", "currency",
                        "friend_customer_shopify_id", "friend_email", "status"}
            _event(shop, referral, ReferralEvent.Kind.ORDERED, now)
        if referral.order_total != order.total:
            referral.order_total = order.total
            changed.add("order_total")
        if referral.status in OPEN_STATUSES and _voided(shop, order, referral.hold_until):
            referral.status = Referral.Status.CANCELLED
            changed.add("status")
            _event(shop, referral, ReferralEvent.Kind.CANCELLED, now,
                   note="cancelled" if order.cancelled_at else "refunded")
        elif referral.status == Referral.Status.ORDERED and order.financial_status in PAID_STATUSES:
            referral.paid_at = max(order.updated_at, order.processed_at)
            referral.hold_until = referral.paid_at + dt.timedelta(days=programme.holding_days)
            changed |= {"paid_at", "hold_until", "status"}
            _event(shop, referral, ReferralEvent.Kind.PAID, now)
            reasons = [] if referral.approved_at else fraud_reasons(
                shop=shop, programme=programme, referral=referral, order=order, signals=signals, now=now)
            if reasons:
                referral.status, referral.fraud_reasons = Referral.Status.FLAGGED, reasons
                changed.add("fraud_reasons")
                _event(shop, referral, ReferralEvent.Kind.FLAGGED, now, reasons=reasons)
            else:
                referral.status = Referral.Status.PENDING
        if changed:
            referral.updated_at = now
            referral.save(update_fields=sorted(changed | {"updated_at"}))
    if referral.status == Referral.Status.PENDING and referral.hold_until and referral.hold_until <= now:
        from .rewards import referral_settle

        return referral_settle(shop=shop, referral_id=referral.pk, now=now)
    return referral
