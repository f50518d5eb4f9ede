"""Reads of the referrals app: the admin's numbers, conversion, top referrers and lists; the storefront's
view of one customer's referrals. Every selector takes the shop first."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Count, DecimalField, Q, Sum, Value
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone

from shops.models import Shop

from .models import Referral, ReferralClick, ReferralCode, ReferrerReward

COUNTED = ~Q(status__in=[Referral.Status.CANCELLED, Referral.Status.REJECTED])
PAGE_SIZE = 50


def _zone(shop: Shop):
    import zoneinfo

    try:
        return zoneinfo.ZoneInfo(shop.iana_timezone or "UTC")
    except zoneinfo.ZoneInfoNotFoundError:
        return zoneinfo.ZoneInfo("UTC")


def programme_numbers(shop: Shop, *, since: dt.datetime | None = None) -> dict[str, Any]:
    """Headline numbers: clicks, codes, first orders, new customers and revenue from referrals (refunded,
    cancelled and rejected referrals are left out of revenue and customers), statuses, rewards."""
    clicks = ReferralClick.objects.filter(shop=shop)
    referrals = Referral.objects.filter(shop=shop)
    if since is not None:
        clicks, referrals = clicks.filter(created_at__gte=since), referrals.filter(created_at__gte=since)
    ordered = referrals.filter(order_shopify_id__isnull=False)
    money = ordered.filter(COUNTED).aggregate(
        revenue=Coalesce(Sum("order_total"), Value(Decimal("0")), output_field=DecimalField()),
        customers=Count("pk", filter=~Q(fraud_reasons__contains=["existing_customer"])),
    )
    by_status = dict(referrals.values_list("status").annotate(n=Count("pk")).order_by())
    click_count = clicks.count()
    orders = ordered.count()
    rewards = ReferrerReward.objects.filter(shop=shop, referral__in=referrals).aggregate(
        points=Coalesce(Sum("points"), 0), codes=Count("pk", filter=~Q(code="")))
    return {
        "clicks": click_count, "codes": referrals.exclude(friend_code="").count(), "orders": orders,
        "new_customers": money["customers"], "revenue": money["revenue"], "currency": shop.currency,
        "conversion": (orders / click_count) if click_count else None,
        "by_status": {status: by_status.get(status, 0) for status, _label in Referral.Status.choices},
        "reward_points": rewards["points"], "reward_codes": rewards["codes"],
    }


def conversion_by_month(shop: Shop, *, months: int = 12, now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Per calendar month of the shop's time zone: link clicks (one per visitor and day), friend codes,
    first orders, and orders / clicks. Oldest first, every month present (zeros included)."""
    zone = _zone(shop)
    now = (now or timezone.now()).astimezone(zone)
    first = now.date().replace(day=1)
    for _i in range(months - 1):
        first = (first - dt.timedelta(days=1)).replace(day=1)
    start = dt.datetime(first.year, first.month, 1, tzinfo=zone)
    clicks = dict(ReferralClick.objects.filter(shop=shop, created_at__gte=start)
                  .annotate(m=TruncMonth("created_at", tzinfo=zone)).values_list("m").annotate(n=Count("pk")).order_by())
    codes = dict(Referral.objects.filter(shop=shop, created_at__gte=start).exclude(friend_code="")
                 .annotate(m=TruncMonth("created_at", tzinfo=zone)).values_list("m").annotate(n=Count("pk")).order_by())
    orders = dict(Referral.objects.filter(shop=shop, ordered_at__gte=start, order_shopify_id__isnull=False)
                  .annotate(m=TruncMonth("ordered_at", tzinfo=zone)).values_list("m").annotate(n=Count("pk")).order_by())
    rows, month = [], first
    while month <= now.date():
        key = dt.datetime(month.year, month.month, 1, tzinfo=zone)
        c, k, o = (_lookup(d, key) for d in (clicks, codes, orders))
        rows.append({"month": month, "clicks": c, "codes": k, "orders": o, "conversion": (o / c) if c else None})
        month = (month + dt.timedelta(days=32)).replace(day=1)
    return rows


def _lookup(counts: dict, key: dt.datetime) -> int:
    for month, n in counts.items():
        if month is not None and month.date() == key.date():
            return n
    return 0


def top_referrers(shop: Shop, *, limit: int = 10) -> list[dict[str, Any]]:
    """Referrers by first orders brought (then revenue): clicks, friends, orders, revenue, rewards."""
    from commerce.models import Customer

    rows = list(
        ReferralCode.objects.filter(shop=shop)
        .annotate(
            friends=Count("referrals", distinct=True),
            orders=Count("referrals", filter=Q(referrals__order_shopify_id__isnull=False), distinct=True),
            revenue=Coalesce(Sum("referrals__order_total", filter=Q(referrals__order_shopify_id__isnull=False)
                                 & ~Q(referrals__status__in=["cancelled", "rejected"])), Value(Decimal("0")),
                             output_field=DecimalField()),
            rewarded=Count("referrals", filter=Q(referrals__status="rewarded"), distinct=True),
        )
        .filter(friends__gt=0).order_by("-orders", "-revenue", "pk")[:limit]
    )
    clicks = dict(ReferralClick.objects.filter(shop=shop, referral_code__in=rows).values_list("referral_code")
                  .annotate(n=Count("pk")).order_by())
    customers = {c.shopify_id: c for c in Customer.objects.filter(shop=shop, shopify_id__in=[r.customer_shopify_id for r in rows])}
    return [{
        "code": r.code, "customer_shopify_id": r.customer_shopify_id, "customer": customers.get(r.customer_shopify_id),
        "clicks": clicks.get(r.pk, 0), "friends": r.friends, "orders": r.orders, "revenue": r.revenue, "rewarded": r.rewarded,
    } for r in rows]


def referrals_page(shop: Shop, *, status: str = "", page: int | str = 1) -> Page:
    qs = Referral.objects.filter(shop=shop).select_related("referral_code").order_by("-created_at", "-pk")
    if status in Referral.Status.values:
        qs = qs.filter(status=status)
    return Paginator(qs, PAGE_SIZE).get_page(page)


def referral_get(shop: Shop, *, referral_id: int) -> Referral:
    """Raises Referral.DoesNotExist (also for another shop's referral)."""
    return Referral.objects.select_related("referral_code").prefetch_related("events").get(shop=shop, pk=referral_id)


def customer_referrals(shop: Shop, customer_shopify_id: int, *, limit: int = 50) -> list[dict[str, Any]]:
    """A referrer's friends for the storefront: first name or a masked e-mail, status, date. Never the
    friend's full e-mail (the referrer may not know it, and the page is the referrer's)."""
    out = []
    for r in (Referral.objects.filter(shop=shop, referrer_customer_shopify_id=customer_shopify_id)
              .order_by("-created_at")[:limit]):
        local, _sep, domain = (r.friend_email or "").partition("@")
        masked = f"{local[:1]}***@{domain}" if domain else ""
        out.append({"friend": r.friend_first_name or masked, "status": r.status,
                    "status_label": str(r.get_status_display()), "date": r.created_at.date().isoformat()})
    return out
