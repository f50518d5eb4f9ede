"""Periodic work, one shop at a time in bounded batches (tasks fan out per shop): pending points
maturing, inactivity expiry, birthday and anniversary bonuses, tier re-evaluation at period end, the
import of past orders at install, and the ledger reconciliation."""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.apps import apps
from django.db import transaction
from django.db.models import Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from shops.models import Shop

from ..models import OrderEarning, PointsAccount, PointsEntry, Programme, Redemption
from .earning import BonusUnavailable, bonus_award, order_points_sync
from .ledger import Posting, account_for_update, entry_post
from .programme import programme_get
from .tiers import tier_evaluate

log = logging.getLogger(__name__)
Kind, Bucket, Source = PointsEntry.Kind, PointsEntry.Bucket, PointsEntry.Source


def points_mature_due(*, shop: Shop, now: dt.datetime | None = None, limit: int = 1000) -> int:
    """Move the points of orders whose holding period ended from pending to available: a pair of
    entries (pending -N, available +N) per order. Returns the number of orders matured."""
    now = now or timezone.now()
    due = list(
        OrderEarning.objects.filter(shop=shop, pending_points__gt=0, available_at__lte=now)
        .order_by("available_at").values_list("pk", "account__customer_shopify_id")[:limit]
    )
    matured = 0
    for earning_id, customer_id in due:
        with transaction.atomic():
            account = account_for_update(shop=shop, customer_shopify_id=customer_id, create=False)
            earning = OrderEarning.objects.select_for_update().get(shop=shop, pk=earning_id)
            points = earning.pending_points
            if account is None or points <= 0:
                continue
            common = dict(kind=Kind.MATURE, source_type=Source.ORDER, source_id=str(earning.order_shopify_id),
                          reason="Points became available", available_at=earning.available_at)
            first = entry_post(account=account, now=now, posting=Posting(
                delta=-points, bucket=Bucket.PENDING,
                idempotency_key=f"order:{earning.order_shopify_id}:mature:pending", **common))
            if first is not None:
                entry_post(account=account, now=now, posting=Posting(
                    delta=points, bucket=Bucket.AVAILABLE,
                    idempotency_key=f"order:{earning.order_shopify_id}:mature:available", **common))
            earning.pending_points, earning.matured_at = 0, now
            earning.save(update_fields=["pending_points", "matured_at"])
            matured += 1
    return matured


def points_expire_inactive(*, shop: Shop, now: dt.datetime | None = None, limit: int = 1000) -> int:
    """Expire the available balance of members inactive for the programme's period (never, when unset).
    The key names the activity instant, so one period of inactivity expires once."""
    now = now or timezone.now()
    programme = programme_get(shop)
    if programme.expiry_inactivity_days is None:
        return 0
    cutoff = now - dt.timedelta(days=programme.expiry_inactivity_days)
    candidates = list(
        PointsAccount.objects.filter(shop=shop, last_activity_at__lte=cutoff, balance__gt=0)
        .order_by("last_activity_at").values_list("customer_shopify_id", flat=True)[:limit]
    )
    expired = 0
    for customer_id in candidates:
        with transaction.atomic():
            account = account_for_update(shop=shop, customer_shopify_id=customer_id, create=False)
            if account is None or account.balance <= 0 or account.last_activity_at > cutoff:
                continue
            entry = entry_post(account=account, now=now, posting=Posting(
                delta=-account.balance, bucket=Bucket.AVAILABLE, kind=Kind.EXPIRE, source_type=Source.SYSTEM,
                source_id="inactivity",
                idempotency_key=f"account:{account.pk}:expire:{account.last_activity_at.timestamp():.6f}",
                reason=f"No activity for {programme.expiry_inactivity_days} days"))
            expired += entry is not None
    return expired


def accounts_due_expiry_reminder(*, shop: Shop, now: dt.datetime | None = None, limit: int = 1000) -> list[PointsAccount]:
    """Members whose points expire within the reminder lead time and who were not reminded since their
    last activity (the e-mail task marks them with `expiry_reminded_at`)."""
    now = now or timezone.now()
    programme = programme_get(shop)
    if programme.expiry_inactivity_days is None:
        return []
    window_start = now - dt.timedelta(days=programme.expiry_inactivity_days)
    window_end = window_start + dt.timedelta(days=programme.expiry_reminder_days)
    return list(
        PointsAccount.objects.filter(
            shop=shop, balance__gt=0, expiry_reminded_at__isnull=True,
            last_activity_at__gt=window_start, last_activity_at__lte=window_end,
        ).order_by("last_activity_at")[:limit]
    )


def _same_day(date_field: str, today: dt.date) -> Q:
    q = Q(**{f"{date_field}__month": today.month, f"{date_field}__day": today.day})
    if today.month == 2 and today.day == 28 and not _is_leap(today.year):
        q |= Q(**{f"{date_field}__month": 2, f"{date_field}__day": 29})  # 29 February celebrates on the 28th
    return q


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def bonuses_award_due(*, shop: Shop, now: dt.datetime | None = None) -> int:
    """Birthday and first-order anniversary bonuses for members whose day it is in the shop's time zone.
    Keys carry the year, so a rerun on the same day (or a late run the next day) credits once."""
    from commerce.models import Customer, CustomerSummary

    now = now or timezone.now()
    programme = programme_get(shop)
    if programme.paused:
        return 0
    today = now.astimezone(ZoneInfo(shop.iana_timezone or "UTC")).date()
    members = PointsAccount.objects.filter(shop=shop).values_list("customer_shopify_id", flat=True)
    awarded = 0
    if programme.bonus_points("birthday") is not None:
        ids = Customer.objects.filter(shop=shop, deleted_at__isnull=True, shopify_id__in=members).filter(
            _same_day("birth_date", today)).values_list("shopify_id", flat=True)
        for customer_id in ids.iterator():
            awarded += _bonus(shop, customer_id, "birthday", str(today.year))
    if programme.bonus_points("anniversary") is not None:
        ids = CustomerSummary.objects.filter(
            shop=shop, customer_shopify_id__in=members, first_order_at__year__lt=today.year
        ).filter(_same_day("first_order_at", today)).values_list("customer_shopify_id", flat=True)
        for customer_id in ids.iterator():
            awarded += _bonus(shop, customer_id, "anniversary", str(today.year))
    return awarded


def _bonus(shop: Shop, customer_id: int, kind: str, occasion: str) -> int:
    try:
        return int(bonus_award(shop=shop, customer_shopify_id=customer_id, kind=kind, occasion=occasion) is not None)
    except BonusUnavailable:
        return 0


def tiers_reevaluate_due(*, shop: Shop, now: dt.datetime | None = None, limit: int = 1000) -> int:
    """Members whose held tier period ended: re-place them (this is the only way down)."""
    now = now or timezone.now()
    changed = 0
    for customer_id in PointsAccount.objects.filter(shop=shop, tier_held_until__lte=now).values_list(
        "customer_shopify_id", flat=True
    )[:limit]:
        with transaction.atomic():
            account = account_for_update(shop=shop, customer_shopify_id=customer_id, create=False)
            if account is not None:
                changed += tier_evaluate(shop=shop, account=account, now=now)
    return changed


def past_orders_import(*, shop: Shop, after_order_id: int = 0, batch: int = 500) -> tuple[int, int | None]:
    """Install-time import: run past orders through order_points_sync, the path live orders take.
    Returns (orders processed, the id to continue after or None when done); the task re-enqueues."""
    from commerce.models import Order

    programme = programme_get(shop)
    if not programme.earn_past_orders:
        return 0, None
    orders = list(
        Order.objects.filter(shop=shop, shopify_id__gt=after_order_id, customer_shopify_id__isnull=False,
                             processed_at__lt=programme.launched_at).order_by("shopify_id")[:batch]
    )
    for order in orders:
        order_points_sync(shop=shop, order=order)
    return len(orders), (orders[-1].shopify_id if len(orders) == batch else None)


@dataclass(frozen=True, slots=True)
class Drift:
    account_id: int
    customer_shopify_id: int
    cached_net: int
    ledger_net: int
    cached_pending: int
    ledger_pending: int


def rewards_waiting_remind(*, shop: Shop, now: dt.datetime | None = None, limit: int = 1000) -> int:
    """Hand redeemed rewards still unused after the "Reward waiting" campaign's wait to that campaign,
    which mails each at most once (its unique window per redemption). Nothing when the campaign is off."""
    if not apps.is_installed("campaigns"):
        return 0
    from campaigns import kinds
    from campaigns.models import Campaign
    from campaigns.services.runs import campaign_reward_waiting

    campaign = Campaign.objects.filter(shop=shop, kind=Campaign.Kind.REWARD_WAITING, enabled=True).first()
    if campaign is None:
        return 0
    now = now or timezone.now()
    waited = now - dt.timedelta(days=kinds.campaign_settings(campaign)["wait_days"])
    due = (
        Redemption.objects.filter(shop=shop, status=Redemption.Status.ISSUED, created_at__lte=waited)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .select_related("account", "reward")
        .order_by("pk")[:limit]
    )
    handed = 0
    for redemption in due:
        if campaign_reward_waiting(shop=shop, customer_shopify_id=redemption.account.customer_shopify_id,
                                   redemption_id=str(redemption.pk), reward_name=redemption.reward.name,
                                   code=redemption.code) is not None:
            handed += 1
    return handed


def ledger_reconcile(*, shop: Shop) -> list[Drift]:
    """Compare each account's cached balance and pending with Sum(delta) of its ledger (Hordak's check).
    Reports drift (logged as an error and returned); it never rewrites the cache, a human looks first."""
    sums = (
        PointsEntry.objects.filter(shop=shop).values("account_id")
        .annotate(
            net=Coalesce(Sum("delta", filter=Q(bucket=Bucket.AVAILABLE)), 0),
            pending=Coalesce(Sum("delta", filter=Q(bucket=Bucket.PENDING)), 0),
        )
    )
    by_account = {row["account_id"]: row for row in sums}
    drift = []
    for account in PointsAccount.objects.filter(shop=shop).only("pk", "customer_shopify_id", "balance", "owed", "pending"):
        row = by_account.get(account.pk, {"net": 0, "pending": 0})
        if row["net"] != account.balance - account.owed or row["pending"] != account.pending:
            drift.append(Drift(account.pk, account.customer_shopify_id, account.balance - account.owed, row["net"],
                               account.pending, row["pending"]))
    for d in drift:
        log.error("loyalty ledger drift in %s: %s", shop.domain, d)
    return drift


def programme_active_shops() -> list[int]:
    return list(Programme.objects.filter(shop__uninstalled_at__isnull=True, shop__installed_at__isnull=False)
                .values_list("shop_id", flat=True))
