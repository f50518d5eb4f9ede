"""RFM segmentation of a shop's customers, from commerce_customersummary.

Scores 1..5 are quintiles within the shop, computed in SQL:
- R on the last order date (most recent = 5), F on the number of orders, M on net revenue.
- score = 1 + floor(5 × (rank − 1) ÷ n) with rank() ordering by the value: the same as ntile(5) for
  distinct values, but customers with EQUAL values get the same score (ntile would split a block of
  equal values across quintiles arbitrarily; with most customers having one order that would give
  identical customers different F scores).
- FM = ⌈(F + M) ÷ 2⌉; the segment is looked up in SEGMENT_GRID by (R, FM).
Customers without a counted order have no summary and so no segment.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from django.db import connection

from shops.models import Shop


class Segment(StrEnum):
    CHAMPIONS = "champions"
    LOYAL = "loyal"
    POTENTIAL_LOYALISTS = "potential_loyalists"
    NEW = "new"
    PROMISING = "promising"
    NEED_ATTENTION = "need_attention"
    ABOUT_TO_SLEEP = "about_to_sleep"
    AT_RISK = "at_risk"
    CANT_LOSE = "cant_lose"
    HIBERNATING = "hibernating"
    LOST = "lost"


S = Segment
# Rows: R = 5 .. 1; columns: FM = 1 .. 5.
SEGMENT_GRID: dict[int, tuple[Segment, Segment, Segment, Segment, Segment]] = {
    5: (S.NEW, S.POTENTIAL_LOYALISTS, S.POTENTIAL_LOYALISTS, S.CHAMPIONS, S.CHAMPIONS),
    4: (S.PROMISING, S.POTENTIAL_LOYALISTS, S.POTENTIAL_LOYALISTS, S.LOYAL, S.CHAMPIONS),
    3: (S.ABOUT_TO_SLEEP, S.ABOUT_TO_SLEEP, S.NEED_ATTENTION, S.LOYAL, S.LOYAL),
    2: (S.HIBERNATING, S.HIBERNATING, S.AT_RISK, S.AT_RISK, S.CANT_LOSE),
    1: (S.LOST, S.LOST, S.AT_RISK, S.CANT_LOSE, S.CANT_LOSE),
}
SEGMENT_ORDER: tuple[Segment, ...] = tuple(Segment)


def segment_for(r: int, fm: int) -> Segment:
    return SEGMENT_GRID[r][fm - 1]


_GRID_VALUES = ", ".join(
    f"({r}, {fm}, '{segment.value}')" for r, row in SEGMENT_GRID.items() for fm, segment in enumerate(row, 1)
)

_SCORED_SQL = f"""
WITH base AS (
    SELECT customer_shopify_id, last_order_at, orders_count, net_revenue,
           count(*) OVER () AS n,
           rank() OVER (ORDER BY last_order_at) AS rr,
           rank() OVER (ORDER BY orders_count) AS fr,
           rank() OVER (ORDER BY net_revenue) AS mr
    FROM commerce_customersummary WHERE shop_id = %(shop)s
), scored AS (
    SELECT customer_shopify_id, last_order_at, orders_count, net_revenue,
           1 + (5 * (rr - 1)) / n AS r, 1 + (5 * (fr - 1)) / n AS f, 1 + (5 * (mr - 1)) / n AS m
    FROM base
)
SELECT sc.*, g.segment
FROM scored sc
JOIN (VALUES {_GRID_VALUES}) AS g(r, fm, segment) ON g.r = sc.r AND g.fm = (sc.f + sc.m + 1) / 2
"""


@dataclass(frozen=True, slots=True)
class SegmentSummary:
    segment: Segment
    customers: int
    net_revenue: Decimal
    share_of_customers: Decimal
    share_of_revenue: Decimal | None
    average_recency_days: Decimal | None
    average_orders: Decimal | None


@dataclass(frozen=True, slots=True)
class RfmOverview:
    currency: str
    customers: int
    net_revenue: Decimal
    segments: tuple[SegmentSummary, ...]
    # grid[(r, f)] = customers: the R × F heatmap
    grid: dict[tuple[int, int], int]


def rfm_overview(shop: Shop) -> RfmOverview:
    """Customers and revenue per segment, and the R × F grid."""
    with connection.cursor() as cur:
        cur.execute(
            f"""WITH s AS ({_SCORED_SQL})
                SELECT segment, NULL::int, NULL::int, count(*), sum(net_revenue), sum(orders_count),
                       avg(extract(epoch FROM now() - last_order_at) / 86400.0)
                FROM s GROUP BY segment
                UNION ALL
                SELECT NULL, r, f, count(*), NULL, NULL, NULL FROM s GROUP BY r, f""",
            {"shop": shop.pk},
        )
        rows = cur.fetchall()
    per_segment = {row[0]: row for row in rows if row[0] is not None}
    grid = {(row[1], row[2]): row[3] for row in rows if row[0] is None}
    customers = sum(row[3] for row in per_segment.values())
    revenue = sum((Decimal(row[4]) for row in per_segment.values()), Decimal(0))
    summaries = []
    for segment in SEGMENT_ORDER:
        row = per_segment.get(segment.value)
        n = row[3] if row else 0
        seg_revenue = Decimal(row[4]) if row else Decimal(0)
        summaries.append(SegmentSummary(
            segment=segment, customers=n, net_revenue=seg_revenue,
            share_of_customers=Decimal(n) / customers if customers else Decimal(0),
            share_of_revenue=seg_revenue / revenue if revenue else None,
            average_recency_days=Decimal(str(row[6])) if row and row[6] is not None else None,
            average_orders=Decimal(row[5]) / n if n else None,
        ))
    return RfmOverview(shop.currency, customers, revenue, tuple(summaries), grid)


@dataclass(frozen=True, slots=True)
class RfmCustomer:
    customer_shopify_id: int
    first_name: str
    last_name: str
    email: str
    last_order_at: dt.datetime
    orders: int
    net_revenue: Decimal
    recency_score: int
    frequency_score: int
    monetary_score: int
    segment: Segment


def rfm_segment_customers(shop: Shop, segment: Segment | str, *, limit: int | None = None,
                          offset: int = 0) -> list[RfmCustomer]:
    """The customers of one RFM segment of the shop, most valuable first (for the admin list, the CSV
    export and campaigns). Raises ValueError for an unknown segment name."""
    segment = Segment(segment)
    with connection.cursor() as cur:
        cur.execute(
            f"""WITH s AS ({_SCORED_SQL})
                SELECT s.customer_shopify_id, coalesce(c.first_name, ''), coalesce(c.last_name, ''),
                       coalesce(c.email, ''), s.last_order_at, s.orders_count, s.net_revenue, s.r, s.f, s.m
                FROM s LEFT JOIN commerce_customer c
                  ON c.shop_id = %(shop)s AND c.shopify_id = s.customer_shopify_id
                WHERE s.segment = %(segment)s
                ORDER BY s.net_revenue DESC, s.customer_shopify_id
                LIMIT %(limit)s OFFSET %(offset)s""",
            {"shop": shop.pk, "segment": segment.value, "limit": limit, "offset": offset},
        )
        rows = cur.fetchall()
    return [RfmCustomer(row[0], row[1], row[2], row[3], row[4], row[5], Decimal(row[6]), row[7], row[8], row[9],
                        segment) for row in rows]


def rfm_segment_customer_ids(shop: Shop, segment: Segment | str) -> list[int]:
    """Just the Shopify customer ids of a segment (what a campaign needs to target it)."""
    with connection.cursor() as cur:
        cur.execute(f"WITH s AS ({_SCORED_SQL}) SELECT customer_shopify_id FROM s WHERE segment = %(segment)s",
                    {"shop": shop.pk, "segment": Segment(segment).value})
        return [row[0] for row in cur.fetchall()]
