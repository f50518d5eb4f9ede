"""RFM segmentation of a shop's customers, from commerce_customersummary.

Scores 1..5 are quintiles within the shop, computed in SQL:
- R on the last order date (most recent = 5), F on the number of orders, M on net revenue.
- score = 1 + floor(5 × (customers with a smaller value) ÷ n), i.e. 1 + floor(5 × (rank − 1) ÷ n) with
  SQL's rank(): the same as ntile(5) for distinct values, but customers with EQUAL values get the same
  score (ntile would split a block of equal values across quintiles arbitrarily; with most customers
  having one order that would give identical customers different F scores). Computed from four
  percentile thresholds per dimension (see _thresholds), not a window over every customer.
- FM = ⌈(F + M) ÷ 2⌉; the segment is looked up in SEGMENT_GRID by (R, FM).
Customers without a counted order have no summary and so no segment.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from shops.models import Shop

from .periods import report_cursor


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


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Per dimension, the values a customer's value must EXCEED to reach scores 2, 3, 4 and 5."""

    recency: tuple[dt.datetime, ...]
    frequency: tuple[int, ...]
    monetary: tuple[Decimal, ...]


def _thresholds(cur, shop: Shop) -> Thresholds | None:
    """score(v) = 1 + floor(5 × (customers with a smaller value) ÷ n) equals 1 + the number of k in 1..4
    with v > s[ceil(k·n/5)] (s = the sorted values, 1-based). percentile_disc(f) returns s[ceil(f·n)];
    asking for f = (m − ½) ÷ n with the integer m = ceil(k·n/5) makes that exact despite floating point.
    Three sorting aggregates instead of three window ranks over every customer: several times faster."""
    cur.execute("SELECT count(*) FROM commerce_customersummary WHERE shop_id = %(shop)s", {"shop": shop.pk})
    n = cur.fetchone()[0]
    if not n:
        return None
    fractions = [((k * n + 4) // 5 - 0.5) / n for k in range(1, 5)]
    cur.execute(
        """SELECT percentile_disc(%(f)s::float8[]) WITHIN GROUP (ORDER BY last_order_at),
                  percentile_disc(%(f)s::float8[]) WITHIN GROUP (ORDER BY orders_count),
                  percentile_disc(%(f)s::float8[]) WITHIN GROUP (ORDER BY net_revenue)
           FROM commerce_customersummary WHERE shop_id = %(shop)s""",
        {"shop": shop.pk, "f": fractions},
    )
    r, f, m = cur.fetchone()
    return Thresholds(tuple(r), tuple(f), tuple(Decimal(v) for v in m))


def _score_sql(column: str, name: str) -> str:
    return f"(1 + ({column} > %({name}1)s)::int + ({column} > %({name}2)s)::int + ({column} > %({name}3)s)::int" \
           f" + ({column} > %({name}4)s)::int)"


def _threshold_params(t: Thresholds) -> dict:
    params = {}
    for name, values in (("r", t.recency), ("f", t.frequency), ("m", t.monetary)):
        for i, value in enumerate(values, 1):
            params[f"{name}{i}"] = value
    return params


_SCORED_SQL = f"""
SELECT customer_shopify_id, last_order_at, orders_count, net_revenue,
       {_score_sql("last_order_at", "r")} AS r, {_score_sql("orders_count", "f")} AS f,
       {_score_sql("net_revenue", "m")} AS m
FROM commerce_customersummary WHERE shop_id = %(shop)s
"""  # noqa: S608 - SQL built from constants and model table names only; values are parameters


def _cells(segment: Segment) -> list[str]:
    return [f"{r}{fm}" for r, row in SEGMENT_GRID.items() for fm, seg in enumerate(row, 1) if seg == segment]


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
    with report_cursor() as cur:
        thresholds = _thresholds(cur, shop)
        if thresholds is None:
            rows = []
        else:
            cur.execute(
                f"""SELECT r, f, m, count(*), sum(net_revenue), sum(orders_count),
                           -- date_part is float8; extract() is numeric since PostgreSQL 14 and made
                           -- this sum a third of the query's time. Σ(now − last) = n·now − Σ last.
                           count(*) * date_part('epoch', now()) - sum(date_part('epoch', last_order_at))
                    FROM ({_SCORED_SQL}) s GROUP BY r, f, m""",  # noqa: S608 - SQL built from constants and model table names only; values are parameters
                {"shop": shop.pk, **_threshold_params(thresholds)},
            )
            rows = cur.fetchall()
    per_segment: dict[Segment, list] = {seg: [0, Decimal(0), 0, 0.0] for seg in SEGMENT_ORDER}
    grid: dict[tuple[int, int], int] = {}
    for r, f, m, n, revenue, orders, recency_seconds in rows:
        acc = per_segment[segment_for(r, (f + m + 1) // 2)]
        acc[0] += n
        acc[1] += Decimal(revenue)
        acc[2] += orders
        acc[3] += float(recency_seconds) / 86400.0
        grid[(r, f)] = grid.get((r, f), 0) + n
    customers = sum(acc[0] for acc in per_segment.values())
    revenue = sum((acc[1] for acc in per_segment.values()), Decimal(0))
    summaries = []
    for segment in SEGMENT_ORDER:
        n, seg_revenue, orders, recency_days = per_segment[segment]
        summaries.append(SegmentSummary(
            segment=segment, customers=n, net_revenue=seg_revenue,
            share_of_customers=Decimal(n) / customers if customers else Decimal(0),
            share_of_revenue=seg_revenue / revenue if revenue else None,
            average_recency_days=Decimal(recency_days / n).quantize(Decimal("0.1")) if n else None,
            average_orders=Decimal(orders) / n if n else None,
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
    with report_cursor() as cur:
        thresholds = _thresholds(cur, shop)
        if thresholds is None:
            return []
        cur.execute(
            f"""WITH s AS ({_SCORED_SQL})
                SELECT s.customer_shopify_id, coalesce(c.first_name, ''), coalesce(c.last_name, ''),
                       coalesce(c.email, ''), s.last_order_at, s.orders_count, s.net_revenue, s.r, s.f, s.m
                FROM s LEFT JOIN commerce_customer c
                  ON c.shop_id = %(shop)s AND c.shopify_id = s.customer_shopify_id
                WHERE (s.r * 10 + (s.f + s.m + 1) / 2)::text = ANY(%(cells)s)
                ORDER BY s.net_revenue DESC, s.customer_shopify_id
                LIMIT %(limit)s OFFSET %(offset)s""",  # noqa: S608 - SQL built from constants and model table names only; values are parameters
            {"shop": shop.pk, "cells": _cells(segment), "limit": limit, "offset": offset,
             **_threshold_params(thresholds)},
        )
        rows = cur.fetchall()
    return [RfmCustomer(row[0], row[1], row[2], row[3], row[4], row[5], Decimal(row[6]), row[7], row[8], row[9],
                        segment) for row in rows]


def rfm_segment_customer_ids(shop: Shop, segment: Segment | str) -> list[int]:
    """Just the Shopify customer ids of a segment (what a campaign needs to target it)."""
    with report_cursor() as cur:
        thresholds = _thresholds(cur, shop)
        if thresholds is None:
            return []
        cur.execute(
            f"""SELECT customer_shopify_id FROM ({_SCORED_SQL}) s
                WHERE (s.r * 10 + (s.f + s.m + 1) / 2)::text = ANY(%(cells)s) ORDER BY customer_shopify_id""",  # noqa: S608 - SQL built from constants and model table names only; values are parameters
            {"shop": shop.pk, "cells": _cells(Segment(segment)), **_threshold_params(thresholds)})
        return [row[0] for row in cur.fetchall()]
