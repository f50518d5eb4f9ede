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
    """SQL giving one row per (customer, part of an interval): customer_shopify_id, n (orders), net.

    Whole calendar months of the interval are read from commerce_customermonthsummary (one row per
    customer-month, kept current by the order upsert); only the partial months at either end are read
    from commerce_order. That is what keeps a 12-month report to a few hundred thousand summary rows
    instead of millions of orders, while still honouring day-exact ranges.
    """

    sql: str
    params: dict


def activity_source(shop: Shop, start: dt.date, end_exclusive: dt.date, prefix: str) -> ActivitySource:
    """Customer activity for the local dates [start, end_exclusive). `prefix` keeps parameter names of
    several sources in one statement apart."""
    tz = shop_tz(shop)
    first_full = start if start.day == 1 else next_month(start)
    last_full_end = month_start(end_exclusive)  # months in [first_full, last_full_end) are whole
    if first_full >= last_full_end:
        # No whole month inside: everything comes from the orders.
        first_full = last_full_end = end_exclusive
        edges = [(start, end_exclusive), (end_exclusive, end_exclusive)]
    else:
        edges = [(start, first_full), (last_full_end, end_exclusive)]

    def utc(day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time.min, tzinfo=tz).astimezone(dt.UTC)

    p = prefix
    params = {
        f"{p}_m0": first_full, f"{p}_m1": last_full_end,
        f"{p}_a0": utc(edges[0][0]), f"{p}_a1": utc(edges[0][1]),
        f"{p}_b0": utc(edges[1][0]), f"{p}_b1": utc(edges[1][1]),
    }
    sql = f"""
        SELECT customer_shopify_id, orders_count AS n, net_revenue AS net
        FROM commerce_customermonthsummary
        WHERE shop_id = %(shop)s AND month >= %({p}_m0)s AND month < %({p}_m1)s
        UNION ALL
        SELECT customer_shopify_id, 1, total - total_refunded
        FROM commerce_order
        WHERE shop_id = %(shop)s AND customer_shopify_id IS NOT NULL AND NOT test AND cancelled_at IS NULL
          AND ((processed_at >= %({p}_a0)s AND processed_at < %({p}_a1)s)
            OR (processed_at >= %({p}_b0)s AND processed_at < %({p}_b1)s))
    """  # noqa: S608 - SQL built from constants and model table names only; values are parameters
    return ActivitySource(sql, params)


@contextlib.contextmanager
def report_cursor() -> Iterator[CursorWrapper]:
    """A cursor for report queries, in a read-only transaction with settings that suit them:
    - jit off: PostgreSQL JIT-compiles any query above jit_above_cost, which costs 100-250 ms per query
      here and never pays back on queries that take a few hundred milliseconds (measured on the
      1M-order benchmark shop: the period metrics went from 790 to 545 ms);
    - work_mem 64 MB: the hash aggregates and sorts over a few hundred thousand summary rows stay in
      memory instead of spilling to disk.
    SET LOCAL ends with the transaction, so the connection goes back to the pool unchanged.
    """
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SET LOCAL jit = off; SET LOCAL work_mem = '64MB'; SET TRANSACTION READ ONLY")
        yield cur
