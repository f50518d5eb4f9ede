"""What campaigns and coupons brought in, from the synced orders.

Campaign results (stated on the page): a recipient converts when the customer places an order that counts
(not test, not cancelled) within `attribution_days` after being selected (`assigned_at`); the same rule for
the control group, who got nothing. Revenue is net of refunds. Analysis is intention-to-treat: every
treatment recipient counts, also when the e-mail later failed or was suppressed, so the comparison with
the control group stays fair. Intervals: campaigns.stats.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db import connection

from shops.models import Shop

from .. import stats
from ..models import Campaign, Coupon


@dataclass(frozen=True, slots=True)
class GroupResult:
    recipients: int
    converted: int
    revenue: Decimal
    revenue_sq: Decimal

    @property
    def conversion(self) -> Decimal | None:
        return Decimal(self.converted) / self.recipients if self.recipients else None

    @property
    def revenue_per_recipient(self) -> Decimal | None:
        return self.revenue / self.recipients if self.recipients else None

    def sample(self) -> stats.Sample:
        return stats.Sample(self.recipients, float(self.revenue), float(self.revenue_sq))


@dataclass(frozen=True, slots=True)
class CampaignResults:
    treatment: GroupResult
    control: GroupResult
    sent: int
    attribution_days: int
    conversion_lift: stats.Interval | None  # treatment - control, proportions
    revenue_lift: stats.Interval | None  # treatment - control, per recipient
    windows_open: int  # recipients whose attribution window has not ended yet

    @property
    def incremental_revenue(self) -> Decimal | None:
        if self.revenue_lift is None:
            return None
        return Decimal(str(self.revenue_lift.estimate)) * self.treatment.recipients


_RESULTS_SQL = """
WITH r AS (
    SELECT id, "group", customer_shopify_id, assigned_at, status FROM campaigns_recipient
    WHERE shop_id = %(shop)s AND campaign_id = %(campaign)s
), per AS (
    SELECT r.id, r."group", r.status, r.assigned_at,
           count(o.id) > 0 AS converted, COALESCE(sum(o.total - o.total_refunded), 0) AS revenue
    FROM r LEFT JOIN commerce_order o
      ON o.shop_id = %(shop)s AND o.customer_shopify_id = r.customer_shopify_id
     AND NOT o.test AND o.cancelled_at IS NULL
     AND o.processed_at > r.assigned_at AND o.processed_at <= r.assigned_at + %(window)s * interval '1 day'
    GROUP BY r.id, r."group", r.status, r.assigned_at
)
SELECT "group", count(*), count(*) FILTER (WHERE converted), COALESCE(sum(revenue), 0),
       COALESCE(sum(revenue * revenue), 0), count(*) FILTER (WHERE status = 'sent'),
       count(*) FILTER (WHERE assigned_at + %(window)s * interval '1 day' > now())
FROM per GROUP BY "group"
"""


def campaign_results(shop: Shop, campaign: Campaign) -> CampaignResults:
    with connection.cursor() as cur:
        cur.execute(_RESULTS_SQL, {"shop": shop.pk, "campaign": campaign.pk, "window": campaign.attribution_days})
        rows = {row[0]: row for row in cur.fetchall()}
    empty = GroupResult(0, 0, Decimal(0), Decimal(0))

    def group(name: str) -> GroupResult:
        row = rows.get(name)
        return GroupResult(row[1], row[2], Decimal(row[3]), Decimal(row[4])) if row else empty

    treatment, control = group("treatment"), group("control")
    sent = rows["treatment"][5] if "treatment" in rows else 0
    open_windows = sum(row[6] for row in rows.values())
    return CampaignResults(
        treatment=treatment, control=control, sent=sent, attribution_days=campaign.attribution_days,
        conversion_lift=stats.newcombe_difference(treatment.converted, treatment.recipients,
                                                  control.converted, control.recipients),
        revenue_lift=stats.welch_difference(treatment.sample(), control.sample()),
        windows_open=open_windows,
    )


@dataclass(frozen=True, slots=True)
class CouponUsage:
    orders: int
    customers: int
    revenue: Decimal
    discounts: Decimal


_USAGE_SQL = """
WITH used AS (
    SELECT DISTINCT c.coupon_id, o.id AS order_id
    FROM commerce_order o
    CROSS JOIN LATERAL unnest(o.discount_codes) AS dc(code)
    JOIN campaigns_couponcode c ON c.shop_id = o.shop_id AND upper(c.code) = upper(dc.code)
    -- discount_codes <> '{{}}': only the orders with a code (the partial index commerce_order_shop_coded).
    WHERE o.shop_id = %(shop)s AND o.discount_codes <> '{{}}' AND NOT o.test AND o.cancelled_at IS NULL
      {coupon_filter}
)
SELECT u.coupon_id, count(*), count(DISTINCT o.customer_shopify_id),
       COALESCE(sum(o.total - o.total_refunded), 0), COALESCE(sum(o.total_discounts), 0)
FROM used u JOIN commerce_order o ON o.id = u.order_id
GROUP BY u.coupon_id
"""


def coupon_usage(shop: Shop, coupon_ids: list[int] | None = None) -> dict[int, CouponUsage]:
    """Times used (orders), customers, net revenue and discount given, per coupon, from synced orders."""
    params: dict = {"shop": shop.pk}
    coupon_filter = ""
    if coupon_ids is not None:
        coupon_filter = "AND c.coupon_id = ANY(%(ids)s)"
        params["ids"] = list(coupon_ids)
    with connection.cursor() as cur:
        cur.execute(_USAGE_SQL.format(coupon_filter=coupon_filter), params)
        return {row[0]: CouponUsage(row[1], row[2], Decimal(row[3]), Decimal(row[4])) for row in cur.fetchall()}


def coupon_list(shop: Shop) -> list[tuple[Coupon, CouponUsage | None]]:
    coupons = list(Coupon.objects.filter(shop=shop, for_campaign=False).order_by("-created_at"))
    usage = coupon_usage(shop, [c.pk for c in coupons])
    return [(c, usage.get(c.pk)) for c in coupons]
