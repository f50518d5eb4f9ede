"""Date ranges in the shop's time zone, comparison periods, and the customer-activity rows every
period metric is built from.

The counting rule (stated once, used by every report; the same as commerce.services.summaries):
- An order counts when it is neither a test order nor cancelled; it is dated by `processed_at` in the
  shop's IANA time zone (Shopify's analytics do the same).
- Revenue is net of refunds (total − refunded) in the shop's currency, as Decimal. A refund belongs to
  its order's date, not to the day it was paid out.
- Guest orders (no customer) count where a metric counts orders and are left out where it counts
  customers.
"""
from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper

from core.concurrency import running_together
from shops.models import Shop


@dataclass(frozen=True, slots=True)
class DateRange:
    """Inclusive calendar dates in the shop's time zone."""

    start: dt.date
    end: dt.date

    def bounds_utc(self, tz: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
        start = dt.datetime.combine(self.start, dt.time.min, tzinfo=tz)
        end = dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
        return start.astimezone(dt.UTC), end.astimezone(dt.UTC)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def shop_tz(shop: Shop) -> ZoneInfo:
    return ZoneInfo(shop.iana_timezone or "UTC")


def shop_today(shop: Shop) -> dt.date:
    return dt.datetime.now(shop_tz(shop)).date()


def _years_back(day: dt.date, years: int = 1) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def default_range(shop: Shop) -> DateRange:
    """The last 12 months, ending today in the shop's time zone."""
    today = shop_today(shop)
    return DateRange(_years_back(today) + dt.timedelta(days=1), today)


class Comparison(StrEnum):
    PREVIOUS = "previous"  # the same number of days just before
    YEAR = "year"          # the same dates one year earlier
    CUSTOM = "custom"
    NONE = "none"


def comparison_range(period: DateRange, kind: Comparison, custom: DateRange | None = None) -> DateRange | None:
    if kind == Comparison.PREVIOUS:
        end = period.start - dt.timedelta(days=1)
        return DateRange(end - dt.timedelta(days=period.days - 1), end)
    if kind == Comparison.YEAR:
        return DateRange(_years_back(period.start), _years_back(period.end))
    if kind == Comparison.CUSTOM:
        return custom
    return None


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def next_month(day: dt.date) -> dt.date:
    return (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)


@dataclass(frozen=True, slots=True)
class ActivitySource:
    """SQL of a period's customer activity (see activity_totals) and its parameters.

    Whole calendar months are read from the month summaries (commerce_customermonthsummary, one row per
    customer-month, and its rollup commerce_monthactivity, both kept current by the order upsert); only
    part of the months at either end comes from commerce_order. An end month is read either directly
    (its orders inside the interval, n = +1) or as its summary row minus its orders outside the interval
    (n = −1, net negated), whichever covers fewer days: a range ending today subtracts the rest of this
    month, which has no orders yet. That keeps a 12-month report to the summaries and a few days of
    orders, while still honouring day-exact ranges.
    """

    sql: str
    params: dict


@dataclass(frozen=True, slots=True)
class ActivityParts:
    """How a period's activity splits local dates [start, end_exclusive): whole months [m0, m1) read from
    the month summaries, plus order intervals (local dates, [lo, hi)) added to them, and order intervals
    subtracted from them (parts of a month in [m0, m1) that lie outside the range)."""

    m0: dt.date
    m1: dt.date
    add: tuple[tuple[dt.date, dt.date], ...]
    subtract: tuple[tuple[dt.date, dt.date], ...]


def activity_parts(start: dt.date, end_exclusive: dt.date) -> ActivityParts:
    add: list[tuple[dt.date, dt.date]] = []       # order intervals counted (+1)
    subtract: list[tuple[dt.date, dt.date]] = []  # order intervals taken off a whole month read (−1)
    first_full = start if start.day == 1 else next_month(start)
    last_full_end = month_start(end_exclusive)  # months in [first_full, last_full_end) are whole
    if first_full > last_full_end or (first_full == last_full_end and start.day != 1
                                       and end_exclusive.day != 1):
        # Inside one month or across one month boundary with no whole month: all from the orders.
        m0 = m1 = first_full
        add.append((start, end_exclusive))
    else:
        m0, m1 = first_full, last_full_end
        if start.day != 1:  # partial first month [start, first_full)
            head = month_start(start)
            if (start - head).days < (first_full - start).days:
                m0 = head
                subtract.append((head, start))
            else:
                add.append((start, first_full))
        if end_exclusive.day != 1:  # partial last month [last_full_end, end_exclusive)
            tail_end = next_month(last_full_end)
            if (tail_end - end_exclusive).days < (end_exclusive - last_full_end).days:
                m1 = tail_end
                subtract.append((end_exclusive, tail_end))
            else:
                add.append((last_full_end, end_exclusive))
    return ActivityParts(m0, m1, tuple(add), tuple(subtract))


def local_midnight_utc(shop: Shop, day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=shop_tz(shop)).astimezone(dt.UTC)


@dataclass(frozen=True, slots=True)
class OnlyCustomers:
    """The customers activity_totals counts, as two SQL conditions that must select the same customers:
    `edge` on e.customer_shopify_id (each order of the partial end months), `rows` on a month summary row
    (alias a: it may use the row's own columns, such as cohort_month, instead of a customer list).
    Their parameters are in the caller's dict."""

    edge: str
    rows: str

    @classmethod
    def in_set(cls, sql: str) -> OnlyCustomers:
        """The customers `sql` selects (customer_shopify_id)."""
        return cls(edge=f"e.customer_shopify_id IN ({sql})", rows=f"a.customer_shopify_id IN ({sql})")


def activity_totals(shop: Shop, start: dt.date, end_exclusive: dt.date, prefix: str, *,
                    customers: OnlyCustomers | None = None) -> ActivitySource:
    """SQL of one row (customers, customer_orders, repeat_customers, customer_net) for the local dates
    [start, end_exclusive): customers with a counted order in it, their orders, how many ordered twice or
    more, and their net revenue. Same numbers as grouping every customer's activity rows (month rows and
    end-month orders) by customer, without the GROUP BY over hundreds of thousands of rows:
    - the whole months [m0, m1) from the rollup of the month summaries (commerce_monthactivity): a
      customer's first row in the range is the one whose previous_month is NULL or before m0, and they
      ordered twice or more in the range when that row has 2+ orders or their following_month is before
      m1; the rollup counts rows by exactly those columns;
    - the orders of the partial end months (added, or subtracted from a whole month, as in
      ActivitySource) grouped by customer, each such customer's whole-month orders looked up in their
      own month rows, and the counts corrected for them.

    `customers`: count only those customers (e.g. the loyalty members). The whole months then come from
    their own month rows, counted by the same columns in one pass (the rollup does not know which customer
    a row is): still no GROUP BY customer."""
    parts_ = activity_parts(start, end_exclusive)
    p = prefix
    params: dict = {f"{p}_m0": parts_.m0, f"{p}_m1": parts_.m1}

    def condition(intervals, tag: str) -> str:
        found = []
        for i, (lo, hi) in enumerate(intervals):
            params[f"{p}_{tag}{i}lo"] = local_midnight_utc(shop, lo)
            params[f"{p}_{tag}{i}hi"] = local_midnight_utc(shop, hi)
            found.append(f"(processed_at >= %({p}_{tag}{i}lo)s AND processed_at < %({p}_{tag}{i}hi)s)")
        return " OR ".join(found) or "false"

    m0, m1 = f"%({p}_m0)s", f"%({p}_m1)s"
    first_in_range = f"(a.previous_month IS NULL OR a.previous_month < {m0})"
    if customers is None:
        only_edge = ""
        whole = f"""
            SELECT coalesce(sum(a.customers) FILTER (WHERE {first_in_range}), 0) AS customers,
                   coalesce(sum(a.orders), 0) AS orders,
                   coalesce(sum(a.customers) FILTER (WHERE {first_in_range}
                                                      AND (a.repeat_in_month OR a.following_month < {m1})), 0)
                       AS repeaters,
                   coalesce(sum(a.net_revenue), 0) AS net
            FROM commerce_monthactivity a
            WHERE a.shop_id = %(shop)s AND a.month >= {m0} AND a.month < {m1}"""  # noqa: S608 - SQL built from constants and model table names only; values are parameters
    else:
        only_edge = f"WHERE {customers.edge}"
        # The month rows themselves, counted as the rollup counts them (a row is one customer-month).
        whole = f"""
            SELECT count(*) FILTER (WHERE {first_in_range}) AS customers,
                   coalesce(sum(a.orders_count), 0) AS orders,
                   count(*) FILTER (WHERE {first_in_range} AND (a.orders_count > 1 OR a.following_month < {m1}))
                       AS repeaters,
                   coalesce(sum(a.net_revenue), 0) AS net
            FROM commerce_customermonthsummary a
            WHERE a.shop_id = %(shop)s AND a.month >= {m0} AND a.month < {m1}
              AND {customers.rows}"""  # noqa: S608 - SQL built from constants and model table names only; values are parameters
    # The whole months from the rollup (commerce_monthactivity: the month rows counted per
    # (month, previous_month, following_month, repeat_in_month), a few ten thousand rows instead of a few
    # hundred thousand month rows); the edge customers' whole-month orders by unique-index lookups of
    # their own month rows (a few thousand customers: the partial end months' buyers).
    sql = f"""
        WITH edge AS MATERIALIZED (
            SELECT e.customer_shopify_id, sum(e.n) AS en, sum(e.net) AS enet
            FROM (
                SELECT customer_shopify_id, 1 AS n, total - total_refunded AS net FROM commerce_order
                WHERE shop_id = %(shop)s AND customer_shopify_id IS NOT NULL AND NOT test
                  AND cancelled_at IS NULL AND ({condition(parts_.add, "a")})
                UNION ALL
                SELECT customer_shopify_id, -1, -(total - total_refunded) FROM commerce_order
                WHERE shop_id = %(shop)s AND customer_shopify_id IS NOT NULL AND NOT test
                  AND cancelled_at IS NULL AND ({condition(parts_.subtract, "s")})
            ) e
            {only_edge}
            GROUP BY e.customer_shopify_id
        ), edge_whole AS (
            -- One index scan for all edge customers (= ANY of their ids) rather than a subquery per
            -- customer: a third of the cost per customer.
            SELECT edge.en, edge.enet, coalesce(w.wn, 0) AS wn
            FROM edge LEFT JOIN (
                SELECT m.customer_shopify_id, sum(m.orders_count) AS wn FROM commerce_customermonthsummary m
                WHERE m.shop_id = %(shop)s AND m.customer_shopify_id = ANY(ARRAY(SELECT customer_shopify_id FROM edge))
                  AND m.month >= {m0} AND m.month < {m1}
                GROUP BY m.customer_shopify_id
            ) w ON w.customer_shopify_id = edge.customer_shopify_id
        ), correction AS (
            SELECT coalesce(sum((wn + en > 0)::int - (wn > 0)::int), 0) AS customers,
                   coalesce(sum(en), 0) AS orders,
                   coalesce(sum((wn + en > 1)::int - (wn > 1)::int), 0) AS repeaters,
                   coalesce(sum(enet), 0) AS net
            FROM edge_whole
        ), whole AS ({whole}
        )
        SELECT (whole.customers + correction.customers)::bigint, whole.orders + correction.orders,
               (whole.repeaters + correction.repeaters)::bigint, whole.net + correction.net
        FROM whole, correction"""  # noqa: S608 - SQL built from constants and model table names only; values are parameters
    return ActivitySource(sql, params)


@contextlib.contextmanager
def report_cursor() -> Iterator[CursorWrapper]:
    """A cursor for report queries, in a read-only transaction with settings that suit them:
    - jit off: PostgreSQL JIT-compiles any query above jit_above_cost, which costs 100-250 ms per query
      here and never pays back on queries that take a few hundred milliseconds (measured on the
      1M-order benchmark shop: the period metrics went from 790 to 545 ms);
    - work_mem 64 MB: the hash aggregates and sorts over a few hundred thousand summary rows stay in
      memory instead of spilling to disk;
    - no parallel workers while another read of the same request runs on another connection
      (core.concurrency.running_together).
    SET LOCAL ends with the transaction, so the connection goes back to the pool unchanged.
    """
    serial = "SET LOCAL max_parallel_workers_per_gather = 0; " if running_together() else ""
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(f"SET LOCAL jit = off; SET LOCAL work_mem = '64MB'; {serial}SET TRANSACTION READ ONLY")
        yield cur


def report_rows(sql: str, params: dict, *, batch: int = 10000) -> Iterator[tuple]:
    """The rows of one report query, read `batch` at a time from a server-side cursor, in report_cursor's
    transaction and settings. For the CSV exports of every customer: the file streams as the rows arrive,
    and memory stays flat whatever the shop's size (the 191,000-row predictions export held 224 MB when
    it was built whole). Closing the generator early (a download cancelled) closes the cursor and ends
    the transaction."""
    with report_cursor() as setup:
        # Plan for all the rows, not the first tenth (a cursor's default): these exports read them all.
        setup.execute("SET LOCAL cursor_tuple_fraction = 1.0")
        cur = connection.chunked_cursor()
        try:
            cur.execute(sql, params)
            while rows := cur.fetchmany(batch):
                yield from rows
        finally:
            cur.close()
