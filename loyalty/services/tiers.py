"""VIP tiers: members move up as soon as they qualify and down only when the period they hold ends.

Qualifying amount: money spent (orders' total less refunds; test and cancelled orders excluded) or
points earned (order points and bonuses less reversals; spending points never lowers it), over
- a rolling 12 months: a tier reached is held 12 months, then re-evaluated on the last 12 months;
- a calendar year (in the shop's time zone): a tier reached in year Y is held to the end of Y+1, then
  re-evaluated on the better of the year just ended and the current one.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db.models import DecimalField, ExpressionWrapper, F, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from shops.models import Shop

from ..models import PointsAccount, PointsEntry, Programme, Tier

ROLLING = dt.timedelta(days=365)


def _year_start(shop: Shop, year: int) -> dt.datetime:
    return dt.datetime(year, 1, 1, tzinfo=ZoneInfo(shop.iana_timezone or "UTC"))


def tier_qualifying_amount(
    *, shop: Shop, programme: Programme, customer_shopify_id: int, account: PointsAccount | None,
    start: dt.datetime, end: dt.datetime,
) -> Decimal:
    """What counts toward a tier between start (inclusive) and end (exclusive), computed by the database."""
    if programme.tier_basis == Programme.TierBasis.SPEND:
        from commerce.models import Order

        net = ExpressionWrapper(F("total") - F("total_refunded"), output_field=DecimalField(max_digits=20, decimal_places=3))
        return Order.objects.filter(
            shop=shop, customer_shopify_id=customer_shopify_id, test=False, cancelled_at__isnull=True,
            processed_at__gte=start, processed_at__lt=end,
        ).aggregate(v=Coalesce(Sum(net), Decimal("0")))["v"]
    if account is None:
        return Decimal("0")
    Kind = PointsEntry.Kind
    totals = PointsEntry.objects.filter(
        shop=shop, account=account, kind__in=[Kind.EARN_ORDER, Kind.BONUS, Kind.REVERSAL],
        created_at__gte=start, created_at__lt=end,
    ).aggregate(delta=Coalesce(Sum("delta"), 0), waived=Coalesce(Sum("points_waived", filter=Q(kind=Kind.REVERSAL)), 0))
    # A reversal the floor policy waived still lowers what the order earned.
    return Decimal(totals["delta"] - totals["waived"])


def tier_for_amount(tiers: list[Tier], amount: Decimal) -> Tier | None:
    """The highest tier whose threshold the amount reaches (tiers sorted by threshold)."""
    reached = None
    for tier in tiers:
        if amount >= tier.threshold:
            reached = tier
    return reached


def _rank(tier: Tier | None) -> Decimal:
    return tier.threshold if tier is not None else Decimal("-1")


def tier_evaluate(*, shop: Shop, account: PointsAccount, now: dt.datetime | None = None) -> bool:
    """Re-place one member (the caller holds the account locked and saves nothing else). Returns True
    when the tier changed."""
    now = now or timezone.now()
    programme = Programme.objects.get(shop=shop)
    tiers = list(Tier.objects.filter(shop=shop).order_by("threshold"))
    current = account.tier if account.tier_id and any(t.pk == account.tier_id for t in tiers) else None

    def amount(start: dt.datetime, end: dt.datetime) -> Decimal:
        return tier_qualifying_amount(
            shop=shop, programme=programme, customer_shopify_id=account.customer_shopify_id,
            account=account, start=start, end=end,
        )

    calendar = programme.tier_period == Programme.TierPeriod.CALENDAR_YEAR
    local_year = now.astimezone(ZoneInfo(shop.iana_timezone or "UTC")).year
    if calendar:
        this_year = _year_start(shop, local_year)
        qualified = tier_for_amount(tiers, amount(this_year, now + dt.timedelta(microseconds=1)))
        hold_for_current = _year_start(shop, local_year + 2)
    else:
        qualified = tier_for_amount(tiers, amount(now - ROLLING, now + dt.timedelta(microseconds=1)))
        hold_for_current = now + ROLLING

    held = account.tier_held_until is not None and now < account.tier_held_until and current is not None
    new_tier, held_until = current, account.tier_held_until
    if _rank(qualified) > _rank(current):
        new_tier, held_until = qualified, hold_for_current  # up at once
    elif not held:
        # The held period is over (or the tier vanished): place the member on what they qualify for now;
        # with a calendar year, last year's amount still earns this year.
        new_tier, held_until = qualified, hold_for_current if qualified else None
        if calendar:
            last_year = tier_for_amount(tiers, amount(_year_start(shop, local_year - 1), _year_start(shop, local_year)))
            if _rank(last_year) > _rank(qualified):
                new_tier, held_until = last_year, _year_start(shop, local_year + 1)
    changed = (new_tier.pk if new_tier else None) != account.tier_id
    if changed:
        account.tier = new_tier
        account.tier_achieved_at = now if new_tier else None
    account.tier_held_until = held_until
    account.save(update_fields=["tier", "tier_achieved_at", "tier_held_until"])
    return changed
