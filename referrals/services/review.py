"""The merchant's decisions on flagged referrals. Each decision is an append-only ReferralEvent with the
staff member and their note; a decision is taken once (deciding again on a decided referral is refused)."""
from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from shops.models import Shop

from ..models import Referral, ReferralEvent
from .errors import ReferralRefused


def _decide(*, shop: Shop, referral_id: int, staff_name: str, note: str, approve: bool, now: dt.datetime) -> Referral:
    staff_name = (staff_name or "").strip()
    if not staff_name:
        raise ReferralRefused(_("The staff member taking the decision must be known."), code="no_staff")
    with transaction.atomic():
        referral = Referral.objects.select_for_update().filter(shop=shop, pk=referral_id).first()
        if referral is None:
            raise ReferralRefused(_("This referral does not exist."), code="not_found")
        if referral.status != Referral.Status.FLAGGED:
            raise ReferralRefused(_("Only flagged referrals wait for a decision."), code="not_flagged")
        if approve:
            referral.status, referral.approved_at = Referral.Status.PENDING, now
        else:
            referral.status = Referral.Status.REJECTED
        referral.updated_at = now
        referral.save(update_fields=["status", "approved_at", "updated_at"])
        ReferralEvent.objects.create(
            shop=shop, referral=referral, kind=ReferralEvent.Kind.APPROVED if approve else ReferralEvent.Kind.REJECTED,
            staff_name=staff_name[:255], note=(note or "").strip(), reasons=referral.fraud_reasons, created_at=now,
        )
    return referral


def referral_approve(*, shop: Shop, referral_id: int, staff_name: str, note: str = "",
                     now: dt.datetime | None = None) -> Referral:
    """Approve a flagged referral: it goes back to PENDING and is rewarded when its holding period is
    over (at once when it already is; a refund inside the period still cancels it).
    Raises ReferralRefused."""
    now = now or timezone.now()
    referral = _decide(shop=shop, referral_id=referral_id, staff_name=staff_name, note=note, approve=True, now=now)
    from .rewards import referral_settle

    return referral_settle(shop=shop, referral_id=referral.pk, now=now) or referral


def referral_reject(*, shop: Shop, referral_id: int, staff_name: str, note: str = "",
                    now: dt.datetime | None = None) -> Referral:
    """Reject a flagged referral: the referrer gets nothing for it. Raises ReferralRefused."""
    return _decide(shop=shop, referral_id=referral_id, staff_name=staff_name, note=note, approve=False,
                   now=now or timezone.now())
