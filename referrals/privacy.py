"""What referrals holds about one customer, for customers/data_request and customers/redact (called
from shopify_sync.privacy's explicit lists)."""
from __future__ import annotations

from typing import Any

from django.db.models import Q

from .identity import email_normalize


def _as_friend(shop, customer):
    from .models import Referral

    match = Q(friend_customer_shopify_id=customer.shopify_id)
    if customer.email:
        match |= Q(friend_email_normalized=email_normalize(customer.email))
    return Referral.objects.for_shop(shop).filter(match)


def _signals(shop, customer):
    from .models import OrderSignals

    match = Q(customer_shopify_id=customer.shopify_id)
    if customer.order_ids:
        match |= Q(order_shopify_id__in=customer.order_ids)
    return OrderSignals.objects.for_shop(shop).filter(match)


def customer_data(shop, customer) -> dict[str, Any]:
    from .models import Referral, ReferralCode

    return {
        "referral_code": list(
            ReferralCode.objects.for_shop(shop).filter(customer_shopify_id=customer.shopify_id).values("code")),
        "referred_friends": Referral.objects.for_shop(shop).filter(
            referrer_customer_shopify_id=customer.shopify_id).count(),
        "referred_as_friend": list(_as_friend(shop, customer).values("friend_email", "friend_first_name", "status")),
    }


def customer_redact(shop, customer) -> int:
    """Blank the customer's e-mail and name where they were referred as a friend (the referral row stays
    for the referrer's history and the programme's numbers) and delete the keyed hashes of their orders'
    address, phone and IP used by the fraud checks."""
    count = _as_friend(shop, customer).update(friend_email="", friend_email_normalized=None, friend_first_name="")
    deleted, _ = _signals(shop, customer).delete()
    return count + deleted
