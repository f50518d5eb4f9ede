"""Rewarding the referrer once the friend's paid first order has survived the holding period.

`referral_settle` is the one path: the periodic task (`referrals_reward_due`), an order sync that finds
the period over, and the merchant's approval of a flagged referral all call it. Under the referral's
lock it re-checks the order (a refund or cancellation inside the period that a lost webhook did not
report still cancels), then under the referrer's lock (their ReferralCode row) counts the month's
rewards against the cap, and writes the ReferrerReward — unique per referral, so nothing is paid twice.

Points are credited through loyalty's ledger (idempotency key `referral:<id>:reward`); a discount code is
made in Shopify after commit (never inside a transaction) and retried by `rewards_issue_pending`.
"""
from __future__ import annotations

import datetime as dt
import logging
import zoneinfo

from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from core.money import Money
from discounts import services as discounts
from discounts.codes import code_generate
from discounts.models import DiscountCode
from shops.models import Shop

from ..models import Referral, ReferralCode, ReferralEvent, ReferralProgramme, ReferrerReward
from .attribution import _voided
from .links import shop_language
from .programme import programme_get

log = logging.getLogger(__name__)
Kind = ReferralProgramme.ReferrerRewardKind
BATCH = 200


def _month(shop: Shop, now: dt.datetime) -> dt.date:
    try:
        zone = zoneinfo.ZoneInfo(shop.iana_timezone or "UTC")
    except zoneinfo.ZoneInfoNotFoundError:
        zone = zoneinfo.ZoneInfo("UTC")
    return now.astimezone(zone).date().replace(day=1)


def _points_credit(*, shop: Shop, referral: Referral, reward: ReferrerReward, now: dt.datetime) -> None:
    from loyalty.models import PointsEntry
    from loyalty.services.ledger import Posting, account_for_update, entry_post
    from loyalty.services.programme import programme_get as loyalty_programme_get
    from loyalty.services.tiers import tier_evaluate

    loyalty = loyalty_programme_get(shop)
    expires_at = now + dt.timedelta(days=loyalty.expiry_inactivity_days) if loyalty.expiry_inactivity_days else None
    account = account_for_update(shop=shop, customer_shopify_id=referral.referrer_customer_shopify_id)
    assert account is not None
    entry = entry_post(
        account=account,
        posting=Posting(
            # A bonus in loyalty's terms: available at once (the holding period has already passed here).
            delta=reward.points or 0, bucket=PointsEntry.Bucket.AVAILABLE, kind=PointsEntry.Kind.BONUS,
            source_type=PointsEntry.Source.BONUS, source_id=f"referral:{referral.pk}",
            idempotency_key=f"referral:{referral.pk}:reward",
            reason=f"Referral reward: friend's order {referral.order_name}".strip(),
            expires_at=expires_at, is_activity=True,
        ),
        now=now,
    )
    if entry is not None:
        reward.points_entry_id = entry.pk
        tier_evaluate(shop=shop, account=account, now=now)
    reward.status, reward.issued_at = ReferrerReward.Status.ISSUED, now


def referral_settle(*, shop: Shop, referral_id: int, now: dt.datetime | None = None) -> Referral | None:
    """Reward the referral's referrer if it is PENDING and its holding period is over; else leave it.
    Returns the referral (None when it does not exist in this shop)."""
    from commerce.models import Order

    now = now or timezone.now()
    programme = programme_get(shop)
    reward_id: int | None = None
    with transaction.atomic():
        referral = Referral.objects.select_for_update().filter(shop=shop, pk=referral_id).first()
        if referral is None or referral.status != Referral.Status.PENDING or not referral.hold_until or referral.hold_until > now:
            return referral
        order = Order.objects.filter(shop=shop, shopify_id=referral.order_shopify_id).first()
        if order is None or _voided(shop, order, referral.hold_until):
            referral.status, referral.updated_at = Referral.Status.CANCELLED, now
            referral.save(update_fields=["status", "updated_at"])
            ReferralEvent.objects.create(shop=shop, referral=referral, kind=ReferralEvent.Kind.CANCELLED,
                                         note="order missing" if order is None else "refunded or cancelled", created_at=now)
            return referral
        # The referrer's lock: two of their referrals maturing at once count the cap one after the other.
        ReferralCode.objects.select_for_update().get(shop=shop, pk=referral.referral_code_id)
        month = _month(shop, now)
        if programme.monthly_cap is not None and ReferrerReward.objects.filter(
            shop=shop, referrer_customer_shopify_id=referral.referrer_customer_shopify_id, month=month,
        ).count() >= programme.monthly_cap:
            referral.status, referral.updated_at = Referral.Status.CAPPED, now
            referral.save(update_fields=["status", "updated_at"])
            ReferralEvent.objects.create(shop=shop, referral=referral, kind=ReferralEvent.Kind.CAPPED, created_at=now)
            return referral
        reward = ReferrerReward(
            shop=shop, referral=referral, referrer_customer_shopify_id=referral.referrer_customer_shopify_id,
            kind=programme.referrer_reward_kind, month=month, created_at=now, currency=shop.currency,
        )
        if programme.referrer_reward_kind == Kind.POINTS:
            reward.points = programme.referrer_points
            reward.save()
            _points_credit(shop=shop, referral=referral, reward=reward, now=now)
        else:
            reward.value = programme.referrer_reward_value
            reward.code = code_generate("THANKS")
        reward.save()
        referral.status, referral.updated_at = Referral.Status.REWARDED, now
        referral.save(update_fields=["status", "updated_at"])
        ReferralEvent.objects.create(shop=shop, referral=referral, kind=ReferralEvent.Kind.REWARDED, created_at=now)
        reward_id = reward.pk
        if reward.status == ReferrerReward.Status.ISSUED:
            _send_after_commit(shop.pk, reward_id)
    if reward_id is not None and programme.referrer_reward_kind != Kind.POINTS:
        reward_code_issue(shop=shop, reward_id=reward_id, now=now, first_attempt=True)
    return referral


def _send_after_commit(shop_id: int, reward_id: int) -> None:
    from ..tasks import reward_email_send_task

    transaction.on_commit(lambda: reward_email_send_task.apply_async((shop_id, reward_id), queue="mail"))


def _reward_spec(shop: Shop, programme: ReferralProgramme, reward: ReferrerReward, now: dt.datetime) -> discounts.CodeSpec:
    with translation.override(shop_language(shop)):
        title = _("Referral: thank-you reward")
    return discounts.CodeSpec(
        title=str(title), prefix="THANKS", purpose=DiscountCode.Purpose.REFERRAL,
        source=f"referral:{reward.referral_id}:referrer", customer_shopify_id=reward.referrer_customer_shopify_id,
        amount=Money(reward.value, reward.currency or shop.currency) if reward.kind == Kind.FIXED_AMOUNT else None,
        percentage=reward.value if reward.kind == Kind.PERCENTAGE else None,
        starts_at=reward.created_at, ends_at=reward.created_at + dt.timedelta(days=programme.referrer_code_valid_days),
        combines_with_product_discounts=True, combines_with_shipping_discounts=True, code=reward.code,
    )


def reward_code_issue(
    *, shop: Shop, reward_id: int, now: dt.datetime | None = None, first_attempt: bool = False
) -> ReferrerReward | None:
    """Make the referrer's discount code in Shopify (the reward row already exists). Idempotent: an
    ISSUED reward is left alone, and the chosen code is looked up before it is made again, so a lost
    answer never becomes two codes. Failures leave the reward ISSUING for the next attempt."""
    now = now or timezone.now()
    reward = ReferrerReward.objects.filter(shop=shop, pk=reward_id, status=ReferrerReward.Status.ISSUING).first()
    if reward is None:
        return None
    spec = _reward_spec(shop, programme_get(shop), reward, now)
    try:
        # Any attempt but the very first may follow one whose answer was lost (or a crash after it).
        gid = None if first_attempt else discounts.discount_code_lookup(shop=shop, code=reward.code)
        discount = (discounts.discount_code_record_existing(shop=shop, spec=spec, code=reward.code, gid=gid)
                    if gid else discounts.discount_code_create(shop=shop, spec=spec))
    except discounts.DiscountCodeError as exc:
        ReferrerReward.objects.filter(shop=shop, pk=reward.pk).update(error=f"{type(exc).__name__}: {exc.detail}"[:2000])
        log.warning("referrer code for reward %s of %s not made: %s", reward.pk, shop.domain, exc.detail)
        return reward
    with transaction.atomic():
        updated = ReferrerReward.objects.filter(shop=shop, pk=reward.pk, status=ReferrerReward.Status.ISSUING).update(
            status=ReferrerReward.Status.ISSUED, discount_code=discount, code=discount.code, issued_at=now, error="",
        )
        if updated:
            _send_after_commit(shop.pk, reward.pk)
    reward.refresh_from_db()
    return reward


def referrals_reward_due(*, shop: Shop, now: dt.datetime | None = None, limit: int = BATCH) -> int:
    """Settle PENDING referrals whose holding period is over, in a bounded batch. Returns how many were
    looked at (the next run picks up the rest)."""
    now = now or timezone.now()
    ids = list(Referral.objects.filter(shop=shop, status=Referral.Status.PENDING, hold_until__lte=now)
               .order_by("hold_until").values_list("pk", flat=True)[:limit])
    for referral_id in ids:
        referral_settle(shop=shop, referral_id=referral_id, now=now)
    return len(ids)


def rewards_issue_pending(*, shop: Shop, now: dt.datetime | None = None, limit: int = BATCH) -> int:
    """Retry referrer codes Shopify has not confirmed yet."""
    ids = list(ReferrerReward.objects.filter(shop=shop, status=ReferrerReward.Status.ISSUING)
               .order_by("pk").values_list("pk", flat=True)[:limit])
    for reward_id in ids:
        reward_code_issue(shop=shop, reward_id=reward_id, now=now)
    return len(ids)
