"""Fraud rules, run when a referred order is paid (before any reward). Each returns a reason code; any
reason flags the referral for the merchant's review instead of rewarding it.

Rules (ReferralCandy's Fraud Center and Friendbuy's rules are the baseline; we also compare phones and
shipping addresses, and rate-limit per address and device, which they leave to manual review):
- self_referral: the friend is the referrer's own customer account;
- same_email / similar_email: the friend's e-mail is the referrer's, or the same mailbox once
  normalized (identity.email_normalize: a.b+x@gmail.com = ab@gmail.com);
- same_phone: the same phone line (last 9 digits) as the referrer;
- same_address: shipped to an address the referrer has shipped to;
- existing_customer: the friend had bought here before this order (the code is "new customers only");
- referrer_velocity: more referred orders from this referrer in the window than the programme allows;
- address_velocity: more referred orders to one shipping address, or from one device address (browser
  IP), in the window than the programme allows (several "friends" who are one person).
"""
from __future__ import annotations

import datetime as dt

from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from shops.models import Shop

from ..identity import email_normalize, keyed_hash, phone_digits
from ..models import OrderSignals, Referral, ReferralProgramme

REASONS = {
    "self_referral": _("The friend is the referrer's own customer account"),
    "same_email": _("Same e-mail address as the referrer"),
    "similar_email": _("Same mailbox as the referrer once normalized (dots, +tags)"),
    "same_phone": _("Same phone number as the referrer"),
    "same_address": _("Shipped to an address the referrer uses"),
    "existing_customer": _("The friend had ordered before"),
    "referrer_velocity": _("Too many referred orders from this referrer in a short time"),
    "address_velocity": _("Too many referred orders to one address or from one device in a short time"),
}


def reason_labels(reasons: list[str]) -> list[str]:
    return [str(REASONS.get(r, r)) for r in reasons]


def _customer(shop: Shop, shopify_id: int | None):
    from commerce.models import Customer

    return Customer.objects.filter(shop=shop, shopify_id=shopify_id).first() if shopify_id else None


def _phone_hashes(shop: Shop, customer, signals: list[OrderSignals]) -> set[str]:
    hashes = {s.phone_hash for s in signals}
    if customer is not None:
        hashes.add(keyed_hash(shop.pk, "phone", phone_digits(customer.phone)))
    return hashes - {""}


def fraud_reasons(
    *, shop: Shop, programme: ReferralProgramme, referral: Referral, order, signals: OrderSignals | None,
    now: dt.datetime,
) -> list[str]:
    """The reasons to hold this referral for review (empty: none). `order` is the friend's commerce Order."""
    from commerce.models import Order

    reasons: list[str] = []
    referrer_id = referral.referrer_customer_shopify_id
    friend_id = order.customer_shopify_id or referral.friend_customer_shopify_id
    referrer, friend = _customer(shop, referrer_id), _customer(shop, friend_id)
    if friend_id is not None and friend_id == referrer_id:
        reasons.append("self_referral")

    referrer_email = (referrer.email if referrer else "").strip().lower()
    friend_emails = {e.strip().lower() for e in (order.email, referral.friend_email, friend.email if friend else "") if e}
    if referrer_email and referrer_email in friend_emails:
        reasons.append("same_email")
    elif referrer_email and email_normalize(referrer_email) in {email_normalize(e) for e in friend_emails}:
        reasons.append("similar_email")

    referrer_signals = list(OrderSignals.objects.filter(shop=shop, customer_shopify_id=referrer_id))
    friend_phones = _phone_hashes(shop, friend, [signals] if signals else [])
    if friend_phones & _phone_hashes(shop, referrer, referrer_signals):
        reasons.append("same_phone")
    if signals and signals.address_hash and signals.address_hash in {s.address_hash for s in referrer_signals}:
        reasons.append("same_address")

    earlier = Order.objects.filter(shop=shop, test=False, cancelled_at__isnull=True,
                                   processed_at__lt=order.processed_at).exclude(shopify_id=order.shopify_id)
    who = Q(customer_shopify_id=friend_id) if friend_id else Q()
    if order.email:
        who |= Q(email__iexact=order.email)
    if who and earlier.filter(who).exists():
        reasons.append("existing_customer")

    since = now - dt.timedelta(hours=programme.velocity_window_hours)
    recent = Referral.objects.filter(shop=shop, ordered_at__gte=since, order_shopify_id__isnull=False)
    if recent.filter(referral_code_id=referral.referral_code_id).exclude(pk=referral.pk).count() + 1 > programme.velocity_max_per_referrer:
        reasons.append("referrer_velocity")
    if signals and (signals.address_hash or signals.ip_hash):
        recent_orders = recent.exclude(pk=referral.pk).values("order_shopify_id")
        same = Q()
        if signals.address_hash:
            same |= Q(address_hash=signals.address_hash)
        if signals.ip_hash:
            same |= Q(ip_hash=signals.ip_hash)
        if OrderSignals.objects.filter(same, shop=shop, order_shopify_id__in=recent_orders).count() + 1 > programme.velocity_max_per_address:
            reasons.append("address_velocity")
    return reasons
