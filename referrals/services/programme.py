"""The programme's settings and customers' personal referral codes."""
from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from shops.models import Shop

from ..codes import referral_code_generate
from ..models import ReferralCode, ReferralProgramme
from .errors import ReferralRefused

MAX_CODE_ATTEMPTS = 5


def programme_get(shop: Shop) -> ReferralProgramme:
    """The shop's programme, created with the defaults (switched off) on first use."""
    ReferralProgramme.objects.bulk_create([ReferralProgramme(shop=shop)], ignore_conflicts=True)
    return ReferralProgramme.objects.get(shop=shop)


def programme_update(*, shop: Shop, changes: dict[str, Any], staff_name: str) -> ReferralProgramme:
    """Save validated settings (a ModelForm's cleaned data). Changes apply to codes and rewards made
    from now on: codes already in customers' hands keep the value they were made with."""
    with transaction.atomic():
        programme = ReferralProgramme.objects.select_for_update().get(pk=programme_get(shop).pk)
        for name, value in changes.items():
            setattr(programme, name, value)
        programme.updated_by = staff_name[:255]
        programme.save()
    return programme


def _eligible(shop: Shop, programme: ReferralProgramme, customer_shopify_id: int) -> bool:
    if programme.eligibility == ReferralProgramme.Eligibility.ALL_CUSTOMERS:
        return True
    from loyalty.models import PointsAccount

    return PointsAccount.objects.filter(shop=shop, customer_shopify_id=customer_shopify_id).exists()


def referral_code_for_customer(
    *, shop: Shop, customer_shopify_id: int, first_name: str = "", now: dt.datetime | None = None
) -> ReferralCode:
    """The customer's referral code, made on first request (one per customer: a unique constraint, so two
    first requests at once end with one code).

    Raises ReferralRefused when the programme is off or the customer is not eligible (members only).
    """
    programme = programme_get(shop)
    if not programme.enabled:
        raise ReferralRefused(_("The referral programme is not active."), code="programme_off")
    existing = ReferralCode.objects.filter(shop=shop, customer_shopify_id=customer_shopify_id).first()
    if existing is not None:
        return existing
    if not _eligible(shop, programme, customer_shopify_id):
        raise ReferralRefused(_("Join our rewards programme to get your referral link."), code="not_member")
    if not first_name:
        from commerce.models import Customer

        first_name = (Customer.objects.filter(shop=shop, shopify_id=customer_shopify_id)
                      .values_list("first_name", flat=True).first() or "")
    now = now or timezone.now()
    for _attempt in range(MAX_CODE_ATTEMPTS):
        try:
            with transaction.atomic():
                return ReferralCode.objects.create(
                    shop=shop, customer_shopify_id=customer_shopify_id, code=referral_code_generate(first_name),
                    created_at=now,
                )
        except IntegrityError as exc:
            if "referrals_code_customer_uniq" in str(exc):
                return ReferralCode.objects.get(shop=shop, customer_shopify_id=customer_shopify_id)
            # The random part collided with another code (≈ never): draw again.
    raise RuntimeError("could not find a free referral code")
