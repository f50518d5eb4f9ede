"""RFM segmentation of a shop's customers, from commerce_customersummary.

Scores 1..5 are quintiles within the shop, computed in SQL:
- R on the last order date (most recent = 5), F on the number of orders, M on net revenue.
- score = 1 + floor(5 × (customers with a smaller value) ÷ n), i.e. 1 + floor(5 × (rank − 1) ÷ n) with
  SQL's rank(): the same as ntile(5) for distinct values, but customers with EQUAL values get the same
  score (ntile would split a block of equal values across quintiles arbitrarily; with most customers
  having one order that would give identical customers different F scores). Computed from four
  thresholds per dimension (see _thresholds), not a window over every customer.
- FM = ⌈(F + M) ÷ 2⌉; the segment is looked up in SEGMENT_GRID by (R, FM).
Customers without a counted order have no summary and so no segment.

How it is kept fast: every pass over the summaries costs tens of milliseconds at 200,000 customers, so
the overview makes two of them and a walk of an index:
- one statement finds n and the thresholds: M (and F where needed) by percentile_disc over one scan that
  also counts n, R by four OFFSET probes of the (shop, last_order_at) index (no sort of the timestamps);
- one scan groups the customers by their R and M comparisons and their exact orders_count: the F
  thresholds then follow in Python from that tiny orders_count distribution (no sort of orders_count),
  and each group's F score from its orders_count.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from shops.models import Shop

from .periods import report_cursor, report_rows


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


def _positions(n: int) -> list[int]:
    """The 1-based ranks ceil(k·n/5), k = 1..4, whose values are the thresholds."""
    return [(k * n + 4) // 5 for k in range(1, 5)]


def _score(value, thresholds) -> int:
    return 1 + sum(value > t for t in thresholds)


# percentile_disc(f) returns s[ceil(f·n)] (s = the sorted values, 1-based; PostgreSQL computes
# ceil(f * n) in float8). With f = 0.2, 0.4, 0.6, 0.8 that is exactly s[ceil(k·n/5)] for every n up to
# 10,000,000 (tests/reports/test_rfm_fast.py checks every n; the float8 0.2 is 0.2·(1 + 2⁻⁵⁴), so where
# k·n/5 is an integer the product rounds back to it, and elsewhere it is ≥ 0.2 away from one, far more
# than the rounding error while n is small; none fails below 2³¹, some near 2⁵² do). The fractions need
# no n, so the same scan also counts n; above that n, _thresholds asks again with (m − ½)/n, which
# makes ceil(f·n) = m exact for any n (f·n is m − ½ up to a rounding error far below ½).
_EXACT_QUINTILES_UP_TO = 10_000_000
_QUINTILES = "'{0.2,0.4,0.6,0.8}'::float8[]"

_T = "commerce_customersummary"


def _probe(position: str, descending: bool) -> str:
    """The last_order_at at 1-based ascending rank `position` (SQL over c.n), read from the
    (shop, last_order_at) index; ranks in the upper half are counted from the end, so the four probes
    walk 1.2·n index entries instead of 2·n."""
    order, offset = ("DESC", f"c.n - ({position})") if descending else ("", f"({position}) - 1")
    return f"""(SELECT last_order_at FROM {_T} WHERE shop_id = %(shop)s ORDER BY last_order_at {order}
                 OFFSET {offset} LIMIT 1)"""  # noqa: S608 - SQL built from constants only


def _thresholds_sql(*, frequency: bool, exact_fractions: bool) -> str:
    # exact_fractions: (m − ½)/n with n counted first in the same statement (one snapshot), for any n.
    fractions = _QUINTILES
    count = ""
    if exact_fractions:
        count = f"q AS MATERIALIZED (SELECT nullif(count(*), 0) AS n FROM {_T} WHERE shop_id = %(shop)s), "  # noqa: S608 - constants only
        ranks = ", ".join(f"(({k} * q.n + 4) / 5 - 0.5) / q.n" for k in range(1, 5))
        fractions = f"(SELECT ARRAY[{ranks}]::float8[] FROM q)"  # noqa: S608 - constants only
    f_sql = (f", percentile_disc({fractions}) WITHIN GROUP (ORDER BY orders_count) AS f" if frequency
             else ", NULL::int[] AS f")
    probes = ", ".join(_probe(f"({k} * c.n + 4) / 5", descending=k > 2) for k in range(1, 5))
    return f"""
        WITH {count}c AS MATERIALIZED (
            SELECT count(*) AS n, percentile_disc({fractions}) WITHIN GROUP (ORDER BY net_revenue) AS m {f_sql}
            FROM {_T} WHERE shop_id = %(shop)s
        )
        SELECT c.n, ARRAY[{probes}], c.f, c.m FROM c WHERE c.n > 0"""  # noqa: S608 - SQL built from constants only


def _thresholds(cur, shop: Shop, *, frequency: bool = True) -> tuple[int, Thresholds] | None:
    """n and the thresholds: score(v) = 1 + floor(5 × (customers with a smaller value) ÷ n) equals 1 + the
    number of k in 1..4 with v > s[ceil(k·n/5)] (s = the sorted values, 1-based). One statement (so one
    snapshot): a scan that counts n and sorts net_revenue (and orders_count when `frequency`), and four
    probes of the last_order_at index. Without `frequency` the F thresholds are left empty (the overview
    derives them from its own grouping).

    net_revenue is sorted as numeric. As float8 it would sort the same (numeric(20,3) amounts below
    2⁵²/1000 map to distinct, order-preserving doubles), but PostgreSQL 15 casts numeric to float8 through
    its text form, which costs more than the cheaper comparisons save (measured: 84 against 79 ms)."""
    cur.execute(_thresholds_sql(frequency=frequency, exact_fractions=False), {"shop": shop.pk})
    row = cur.fetchone()
    if row is not None and row[0] > _EXACT_QUINTILES_UP_TO:
        cur.execute(_thresholds_sql(frequency=frequency, exact_fractions=True), {"shop": shop.pk})
        row = cur.fetchone()
    if row is None:
        return None
    n, r, f, m = row
    return n, Thresholds(tuple(r), tuple(f) if f is not None else (), tuple(Decimal(v) for v in m))


def _score_sql(column: str, name: str) -> str:
    return f"(1 + ({column} > %({name}1)s)::int + ({column} > %({name}2)s)::int + ({column} > %({name}3)s)::int" \
           f" + ({column} > %({name}4)s)::int)"


def _threshold_params(t: Thresholds) -> dict:
    params = {}
    for name, values in (("r", t.recency), ("f", t.frequency), ("m", t.monetary)):
        for i, value in enumerate(values, 1):
            params[f"{name}{i}"] = value
    return params


def _cells(segment: Segment) -> list[tuple[int, int]]:
    return [(r, fm) for r, row in SEGMENT_GRID.items() for fm, seg in enumerate(row, 1) if seg == segment]


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


# The customers grouped by the outcome of each R and M comparison and by their exact orders_count (at
# most 5 × 5 × the distinct order counts, a few hundred groups). The GROUP BY keys are the comparisons
# themselves rather than a score built from them: PostgreSQL estimates a boolean key at two values but an
# expression over last_order_at at one group per distinct timestamp, and only with the small estimate
# does it plan a parallel partial aggregation. Recency is summed as intervals (exact microseconds;
# extract() of the one sum per group is exact numeric) rather than per-row float epochs.
_GROUPED_SQL = f"""
SELECT last_order_at > %(r1)s, last_order_at > %(r2)s, last_order_at > %(r3)s, last_order_at > %(r4)s,
       net_revenue > %(m1)s, net_revenue > %(m2)s, net_revenue > %(m3)s, net_revenue > %(m4)s,
       orders_count, count(*), sum(net_revenue), extract(epoch FROM sum(now() - last_order_at))
FROM {_T} WHERE shop_id = %(shop)s
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9
"""  # noqa: S608 - SQL built from constants and model table names only; values are parameters


def _frequency_thresholds(counts: dict[int, int], n: int) -> tuple[int, ...]:
    """s[ceil(k·n/5)] of the orders counts, from their distribution {orders_count: customers}."""
    out, seen, positions = [], 0, _positions(n)
    for value in sorted(counts):
        seen += counts[value]
        while len(out) < 4 and seen >= positions[len(out)]:
            out.append(value)
    return tuple(out)


def rfm_overview(shop: Shop) -> RfmOverview:
    """Customers and revenue per segment, and the R × F grid."""
    with report_cursor() as cur:
        found = _thresholds(cur, shop, frequency=False)
        if found is None:
            rows = []
        else:
            _, thresholds = found
            cur.execute(_GROUPED_SQL, {"shop": shop.pk, **_threshold_params(thresholds)})
            rows = cur.fetchall()
    orders_counts: dict[int, int] = {}
    for row in rows:
        orders_counts[row[8]] = orders_counts.get(row[8], 0) + row[9]
    customers = sum(orders_counts.values())
    f_thresholds = _frequency_thresholds(orders_counts, customers) if customers else ()
    f_of = {value: _score(value, f_thresholds) for value in orders_counts}
    per_segment: dict[Segment, list] = {seg: [0, Decimal(0), 0, Decimal(0)] for seg in SEGMENT_ORDER}
    grid: dict[tuple[int, int], int] = {}
    for row in rows:
        r = 1 + row[0] + row[1] + row[2] + row[3]
        m = 1 + row[4] + row[5] + row[6] + row[7]
        orders_count, n, revenue, recency_seconds = row[8:]
        f = f_of[orders_count]
        acc = per_segment[segment_for(r, (f + m + 1) // 2)]
        acc[0] += n
        acc[1] += revenue
        acc[2] += orders_count * n
        acc[3] += recency_seconds
        grid[(r, f)] = grid.get((r, f), 0) + n
    revenue = sum((acc[1] for acc in per_segment.values()), Decimal(0))
    summaries = []
    for segment in SEGMENT_ORDER:
        n, seg_revenue, orders, recency_seconds = per_segment[segment]
        summaries.append(SegmentSummary(
            segment=segment, customers=n, net_revenue=seg_revenue,
            share_of_customers=Decimal(n) / customers if customers else Decimal(0),
            share_of_revenue=seg_revenue / revenue if revenue else None,
            average_recency_days=(recency_seconds / (86400 * n)).quantize(Decimal("0.1")) if n else None,
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


def _segment_filter(segment: Segment, t: Thresholds) -> tuple[str, dict]:
    """SQL condition (over the scores r, f, m of _SCORED_SQL) and parameters selecting the segment's
    customers: its (r, f, m) triples as r·100 + f·10 + m, and the bounds of its R scores on
    last_order_at (implied by the triples; stated so the planner can use the index for narrow R)."""
    cells = _cells(segment)
    keys = [r * 100 + f * 10 + m for r, fm in cells for f in range(1, 6) for m in range(1, 6)
            if (f + m + 1) // 2 == fm]
    rs = [r for r, _ in cells]
    sql, params = "r * 100 + f * 10 + m = ANY(%(keys)s)", {"keys": keys}
    if min(rs) > 1:
        sql += " AND last_order_at > %(r_low)s"
        params["r_low"] = t.recency[min(rs) - 2]
    if max(rs) < 5:
        sql += " AND last_order_at <= %(r_high)s"
        params["r_high"] = t.recency[max(rs) - 1]
    return sql, params


_SCORED_SQL = f"""
SELECT customer_shopify_id, last_order_at, orders_count, net_revenue,
       {_score_sql("last_order_at", "r")} AS r, {_score_sql("orders_count", "f")} AS f,
       {_score_sql("net_revenue", "m")} AS m
FROM {_T} WHERE shop_id = %(shop)s
"""  # noqa: S608 - SQL built from constants and model table names only; values are parameters


def _segment_customers_sql(condition: str) -> str:
    # The page is cut from the summaries first; only its rows are joined to the customers.
    return f"""SELECT s.customer_shopify_id, coalesce(c.first_name, ''), coalesce(c.last_name, ''),
                      coalesce(c.email, ''), s.last_order_at, s.orders_count, s.net_revenue, s.r, s.f, s.m
               FROM (SELECT * FROM ({_SCORED_SQL}) s WHERE {condition}
                     ORDER BY s.net_revenue DESC, s.customer_shopify_id
                     LIMIT %(limit)s OFFSET %(offset)s) s
               LEFT JOIN commerce_customer c ON c.shop_id = %(shop)s AND c.shopify_id = s.customer_shopify_id
               ORDER BY s.net_revenue DESC, s.customer_shopify_id"""  # noqa: S608 - SQL built from constants and model table names only; values are parameters


def _rfm_customer(row, segment: Segment) -> RfmCustomer:
    return RfmCustomer(row[0], row[1], row[2], row[3], row[4], row[5], Decimal(row[6]), row[7], row[8], row[9],
                       segment)


def rfm_segment_customers(shop: Shop, segment: Segment | str, *, limit: int | None = None,
                          offset: int = 0) -> list[RfmCustomer]:
    """The customers of one RFM segment of the shop, most valuable first (for the admin list and
    campaigns). Raises ValueError for an unknown segment name."""
    segment = Segment(segment)
    with report_cursor() as cur:
        found = _thresholds(cur, shop)
        if found is None:
            return []
        _, thresholds = found
        condition, params = _segment_filter(segment, thresholds)
        cur.execute(_segment_customers_sql(condition),
                    {"shop": shop.pk, "limit": limit, "offset": offset, **params, **_threshold_params(thresholds)})
        rows = cur.fetchall()
    return [_rfm_customer(row, segment) for row in rows]


def rfm_segment_customers_all(shop: Shop, segment: Segment | str) -> Iterator[RfmCustomer]:
    """Every customer of rfm_segment_customers, in its order, streamed (periods.report_rows) for the CSV
    export. The thresholds are read first, then the list in a transaction of its own. Raises ValueError
    for an unknown segment name (when called, before anything is read)."""
    segment = Segment(segment)
    with report_cursor() as cur:
        found = _thresholds(cur, shop)
    if found is None:
        return iter(())
    _, thresholds = found
    condition, params = _segment_filter(segment, thresholds)
    rows = report_rows(_segment_customers_sql(condition),
                       {"shop": shop.pk, "limit": None, "offset": 0, **params, **_threshold_params(thresholds)})
    return (_rfm_customer(row, segment) for row in rows)


def rfm_segment_customer_ids(shop: Shop, segment: Segment | str) -> list[int]:
    """Just the Shopify customer ids of a segment (what a campaign needs to target it)."""
    segment = Segment(segment)
    with report_cursor() as cur:
        found = _thresholds(cur, shop)
        if found is None:
            return []
        _, thresholds = found
        condition, params = _segment_filter(segment, thresholds)
        cur.execute(
            f"""SELECT customer_shopify_id FROM ({_SCORED_SQL}) s WHERE {condition}
                ORDER BY customer_shopify_id""",  # noqa: S608 - SQL built from constants and model table names only; values are parameters
            {"shop": shop.pk, **params, **_threshold_params(thresholds)})
        return [row[0] for row in cur.fetchall()]
