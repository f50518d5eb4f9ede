"""Retention metrics of a date range: AOV, purchase frequency, lifespan, CLV, retention, churn, repeat
and returning rates, and the time from first to second order.

Definitions (shown to the merchant next to each number, see reports.presentation):
- Customers in the period: customers with at least one counted order in it.
- AOV = net revenue ÷ orders (all counted orders, guests included: the home page's number).
- Purchase frequency = customers' orders ÷ customers in the period.
- Repeat purchase rate = customers with 2+ orders in the period ÷ customers in the period.
- Returning customer rate = customers in the period whose first order was before it ÷ customers in it.
- Active customers at an instant t: customers with a counted order in the W days before t, where W is
  the shop's activity window (`active_window_days`: the merchant's setting, otherwise the 80th
  percentile of repeat customers' average days between orders, kept within 30..730 days; 365 while
  fewer than 20 customers have ordered twice).
- Retention rate = (customers at the end − new customers in the period) ÷ customers at the start, with
  the customers at an instant being the active ones, where the start is 00:00 of the first day and the
  end 24:00 of the last day. Every new customer of the period is one of its customers at the end, also
  one whose last order is already older than the window then: the numerator is therefore the active
  customers at the end who were customers before the period (active at the end − the period's new
  customers who are active at the end). Subtracting every new customer from the active ones instead
  made the rate negative as soon as more new customers lapsed within the period than old ones stayed
  (−114 % on a 12-month range of a small shop with a 33-day window). A lapsed customer who comes back
  counts as retained, so the rate can exceed 100 % in a period of many reactivations.
- Churn rate = 1 − retention rate.
- Average customer lifespan = period length ÷ churn rate (the period-over-period churn, compounded
  geometrically, gives an expected life of 1 ÷ churn periods). Undefined when churn ≤ 0.
- CLV = AOV × purchase frequency × lifespan in periods (= AOV × frequency ÷ churn); profit CLV = CLV ×
  gross margin (the shop's setting).
- Days from first to second order: customers whose first order falls in the period and who have
  ordered again (at any time up to now), calendar days in the shop's time zone.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from decimal import Decimal

from shops.models import Shop

from .periods import (
    DateRange,
    OnlyCustomers,
    activity_totals,
    local_midnight_utc,
    next_month,
    report_cursor,
    shop_tz,
)

AUTO_WINDOW_PERCENTILE = 0.8
AUTO_WINDOW_MIN_DAYS = 30
AUTO_WINDOW_MAX_DAYS = 730
AUTO_WINDOW_DEFAULT_DAYS = 365
AUTO_WINDOW_MIN_REPEATERS = 20

# Upper bounds (inclusive) of the histogram of days from first to second order; the last bucket is open.
SECOND_ORDER_BUCKETS: tuple[int, ...] = (7, 14, 30, 60, 90, 180, 365)


@dataclass(frozen=True, slots=True)
class ActiveWindow:
    days: int
    automatic: bool
    repeat_customers_used: int


# Each repeat customer's average days between orders, rounded UP to whole days, counted per value: the
# window is the ceiling of a percentile, and the ceiling of the k-th smallest average is the k-th smallest
# ceiling, so this histogram gives exactly ceil(percentile_disc(...)) without sorting 100,000+ numerics.
# Integer arithmetic on microseconds keeps the ceiling exact: date_part('epoch', t) is a float8 of
# microseconds ÷ 10^6, and × 10^6 rounded gives the integer back for any date before the year 2255
# (below 2^53 µs, the float's error stays under half a microsecond). ~4x faster than the numeric
# extract(epoch ...) / 86400.0 / (n − 1) on 136,000 repeat customers.
_GAP_HISTOGRAM_SQL = """
SELECT (gap_us + day_us - 1) / day_us AS days, count(*)
FROM (SELECT round(date_part('epoch', last_order_at) * 1e6)::bigint
             - round(date_part('epoch', first_order_at) * 1e6)::bigint AS gap_us,
             86400000000::bigint * (orders_count - 1) AS day_us
      FROM commerce_customersummary WHERE shop_id = %(shop)s AND orders_count > 1) g
GROUP BY 1
"""


def active_window_days(shop: Shop, setting: int | None = None) -> ActiveWindow:
    """The activity window W (see module docstring): the merchant's setting, or derived from the data."""
    with report_cursor() as cur:
        cur.execute(_GAP_HISTOGRAM_SQL, {"shop": shop.pk})
        histogram = sorted(cur.fetchall())
    repeaters = sum(n for _days, n in histogram)
    if setting:
        return ActiveWindow(int(setting), False, repeaters)
    if repeaters < AUTO_WINDOW_MIN_REPEATERS:
        return ActiveWindow(AUTO_WINDOW_DEFAULT_DAYS, True, repeaters)
    # percentile_disc(p): the value at 1-based position ceil(p × n) of the sorted values
    position = math.ceil(Decimal(str(AUTO_WINDOW_PERCENTILE)) * repeaters)
    seen = 0
    days = histogram[-1][0]
    for value, n in histogram:
        seen += n
        if seen >= position:
            days = value
            break
    return ActiveWindow(min(max(int(days), AUTO_WINDOW_MIN_DAYS), AUTO_WINDOW_MAX_DAYS), True, repeaters)


@dataclass(frozen=True, slots=True)
class SecondOrderGaps:
    """Customers acquired in the period who ordered a second time, and after how many days."""

    acquired: int
    with_second_order: int
    median_days: Decimal | None
    # (label upper bound in days or None for "more", customers)
    histogram: tuple[tuple[int | None, int], ...]

    @property
    def second_order_rate(self) -> Decimal | None:
        return Decimal(self.with_second_order) / self.acquired if self.acquired else None


@dataclass(frozen=True, slots=True)
class PeriodMetrics:
    period: DateRange
    currency: str
    window_days: int
    gross_margin: Decimal | None
    orders: int
    net_revenue: Decimal
    guest_orders: int
    customers: int
    customer_orders: int
    repeat_customers: int
    returning_customers: int
    new_customers: int
    active_at_start: int
    active_at_end: int
    # The period's new customers who are active at its end (a part of active_at_end); None while unknown.
    new_active_at_end: int | None
    second_order: SecondOrderGaps

    @property
    def average_order_value(self) -> Decimal | None:
        return self.net_revenue / self.orders if self.orders else None

    @property
    def purchase_frequency(self) -> Decimal | None:
        return Decimal(self.customer_orders) / self.customers if self.customers else None

    @property
    def repeat_purchase_rate(self) -> Decimal | None:
        return Decimal(self.repeat_customers) / self.customers if self.customers else None

    @property
    def returning_customer_rate(self) -> Decimal | None:
        return Decimal(self.returning_customers) / self.customers if self.customers else None

    @property
    def retention_rate(self) -> Decimal | None:
        if not self.active_at_start or self.new_active_at_end is None:
            return None
        return Decimal(self.active_at_end - self.new_active_at_end) / self.active_at_start

    @property
    def churn_rate(self) -> Decimal | None:
        retention = self.retention_rate
        return None if retention is None else 1 - retention

    @property
    def lifespan_periods(self) -> Decimal | None:
        churn = self.churn_rate
        return 1 / churn if churn is not None and churn > 0 else None

    @property
    def lifespan_days(self) -> Decimal | None:
        periods = self.lifespan_periods
        return periods * self.period.days if periods is not None else None

    @property
    def clv(self) -> Decimal | None:
        aov, frequency, lifespan = self.average_order_value, self.purchase_frequency, self.lifespan_periods
        if aov is None or frequency is None or lifespan is None:
            return None
        return aov * frequency * lifespan

    @property
    def profit_clv(self) -> Decimal | None:
        clv = self.clv
        return clv * self.gross_margin if clv is not None and self.gross_margin is not None else None


# Every customer whose first order falls in the period has an order in it, so the returning customers
# are simply the period's customers minus its new ones: no join with the customer summaries needed.
# Orders and revenue are the customers' (periods.activity_totals) plus the guests' (by index: the
# (shop, customer, processed_at) index holds the NULL customer too), never a scan of the period's orders.
_PERIOD_SQL = """
WITH per AS MATERIALIZED (SELECT * FROM ({act}) AS t (customers, orders, repeaters, net))
SELECT
    (SELECT customers FROM per),
    (SELECT orders FROM per),
    (SELECT repeaters FROM per),
    (SELECT net FROM per),
    ({start_count}),
    ({end_count}),
    ({new_end_count}),
    (SELECT count(*) FROM commerce_order
     WHERE shop_id = %(shop)s AND customer_shopify_id IS NULL AND NOT test AND cancelled_at IS NULL
       AND processed_at >= %(lo)s AND processed_at < %(hi)s),
    (SELECT coalesce(sum(total - total_refunded), 0) FROM commerce_order
     WHERE shop_id = %(shop)s AND customer_shopify_id IS NULL AND NOT test AND cancelled_at IS NULL
       AND processed_at >= %(lo)s AND processed_at < %(hi)s)
"""
_ACTIVE_FROM_ACTIVITY = "SELECT t.customers FROM ({act}) AS t (customers, orders, repeaters, net)"
# When the window ends after the last possible order (now), "ordered within the window" is "last order
# inside it": one index range count on (shop, last_order_at) instead of a pass over the window's months.
_ACTIVE_FROM_LAST_ORDER = """SELECT count(*) FROM commerce_customersummary
    WHERE shop_id = %(shop)s AND last_order_at >= %({name})s"""
# Customers whose first counted order is at or after the period's start. Counted among the active ones at
# the end (who have an order before it) they are the period's new customers. On a month row the row's
# cohort month decides, except in the month the period starts in, where the customer summary does (a few
# thousand customers at most): no list of every new customer to hash (90 → ~40 ms for a past year of the
# benchmark shop). The partial months' buyers are looked up one by one in the summaries' unique index.
_FIRST_ORDER_FROM_START = OnlyCustomers(
    edge="""EXISTS (SELECT FROM commerce_customersummary s WHERE s.shop_id = %(shop)s
                    AND s.customer_shopify_id = e.customer_shopify_id AND s.first_order_at >= %(lo)s)""",
    rows="""(a.cohort_month > %(lo_month)s
             OR (a.cohort_month = %(lo_month)s AND a.customer_shopify_id IN (
                 SELECT customer_shopify_id FROM commerce_customersummary
                 WHERE shop_id = %(shop)s AND first_order_at >= %(lo)s AND first_order_at < %(lo_next_month)s)))""",
)

# Each period's new customers (first order in it) and their second order's time, both on the customer
# summary (commerce.services.summaries keeps second_order_at): one pass over the summaries gives, for every
# period asked (the page's period and its comparison), how many customers took each number of days d to
# order again (d NULL: not yet). The count, the median and the histogram buckets are then computed from
# those few hundred (period, d) rows, not by sorting and filtering every customer again per aggregate.
# Days are calendar days in the shop's time zone.
_SECOND_ORDER_SQL = """
SELECT p.i, (s.second_order_at AT TIME ZONE %(tz)s)::date - (s.first_order_at AT TIME ZONE %(tz)s)::date AS d,
       count(*)
FROM commerce_customersummary s
JOIN (VALUES {periods}) AS p (i, lo, hi) ON s.first_order_at >= p.lo AND s.first_order_at < p.hi
WHERE s.shop_id = %(shop)s AND ({any_period})
GROUP BY 1, 2
"""


def _median(days: list[tuple[int, int]], n: int) -> Decimal | None:
    """percentile_cont(0.5) of n values given as sorted (value, count): the middle value, or the mean
    of the two middle ones."""
    if not n:
        return None
    lo_index, hi_index = (n - 1) // 2, n // 2
    seen, lo_value, hi_value = 0, None, None
    for value, count in days:
        if lo_value is None and seen + count > lo_index:
            lo_value = value
        if seen + count > hi_index:
            hi_value = value
            break
        seen += count
    return Decimal(str(float(lo_value + hi_value) / 2))


def second_order_gaps(shop: Shop, periods: list[DateRange]) -> list[SecondOrderGaps]:
    """For each period, its new customers and the days to their second order (one pass for all; a
    customer acquired in two overlapping periods counts in both)."""
    if not periods:
        return []
    tz = shop_tz(shop)
    params: dict = {"shop": shop.pk, "tz": shop.iana_timezone or "UTC"}
    values, in_any = [], []
    for i, period in enumerate(periods):
        params[f"lo{i}"], params[f"hi{i}"] = period.bounds_utc(tz)
        values.append(f"({i}, %(lo{i})s::timestamptz, %(hi{i})s::timestamptz)")
        in_any.append(f"(s.first_order_at >= %(lo{i})s AND s.first_order_at < %(hi{i})s)")
    with report_cursor() as cur:
        cur.execute(_SECOND_ORDER_SQL.format(periods=", ".join(values), any_period=" OR ".join(in_any)), params)
        rows = cur.fetchall()
    labels: list[int | None] = [*SECOND_ORDER_BUCKETS, None]
    result = []
    for i in range(len(periods)):
        acquired = sum(count for p, _d, count in rows if p == i)
        days = sorted((d, count) for p, d, count in rows if p == i and d is not None)
        with_second = sum(count for _d, count in days)
        buckets = []
        lower = -1
        for upper in SECOND_ORDER_BUCKETS:
            buckets.append(sum(count for d, count in days if lower < d <= upper))
            lower = upper
        buckets.append(sum(count for d, count in days if d > SECOND_ORDER_BUCKETS[-1]))
        result.append(SecondOrderGaps(acquired, with_second, _median(days, with_second),
                                      tuple(zip(labels, buckets, strict=True))))
    return result


def _new_active_at_end_sql(shop: Shop, period: DateRange, window: ActiveWindow, params: dict,
                           now: dt.datetime) -> str:
    """SQL of one count: the period's new customers who are active at its end (params: shop, lo, hi)."""
    end_exclusive = period.end + dt.timedelta(days=1)
    w = dt.timedelta(days=window.days)
    end_utc = local_midnight_utc(shop, end_exclusive)
    if end_utc > now:
        # Ending after the last possible order: active at the end = last order in the window.
        params["n_since"] = end_utc - w
        return f"{_ACTIVE_FROM_LAST_ORDER.format(name='n_since')} AND first_order_at >= %(lo)s " \
               "AND first_order_at < %(hi)s"
    source = activity_totals(shop, end_exclusive - w, end_exclusive, "n", customers=_FIRST_ORDER_FROM_START)
    lo_month = period.start.replace(day=1)
    params.update(source.params, lo_month=lo_month, lo_next_month=local_midnight_utc(shop, next_month(lo_month)))
    return _ACTIVE_FROM_ACTIVITY.format(act=source.sql)


def new_active_at_end(shop: Shop, period: DateRange, *, window: ActiveWindow) -> int:
    """The period's new customers who are active at its end, on its own (see period_metrics'
    `with_new_active_at_end`)."""
    lo, hi = period.bounds_utc(shop_tz(shop))
    params = {"shop": shop.pk, "lo": lo, "hi": hi}
    sql = _new_active_at_end_sql(shop, period, window, params, dt.datetime.now(dt.UTC))
    with report_cursor() as cur:
        cur.execute(sql, params)
        return int(cur.fetchone()[0])


def period_metrics(shop: Shop, period: DateRange, *, window: ActiveWindow,
                   gross_margin: Decimal | None = None,
                   active_counts: dict[tuple[dt.date, int], int] | None = None,
                   second_order: SecondOrderGaps | None = None,
                   with_new_active_at_end: bool = True) -> PeriodMetrics:
    """Every retention metric of one period (see the module docstring for the definitions).

    `with_new_active_at_end=False` leaves out the count of new customers active at the end (None: no
    retention, churn, lifespan or CLV until the caller puts it in with dataclasses.replace): a page
    computes it for a past period on its other connection (new_active_at_end), ~80 ms of ~210 ms on a
    year of the 1M-order benchmark shop.

    `active_counts`, when given, remembers the active-customer counts computed at past instants (local
    date, window days) for the next call: the page's current period starts at the instant its previous
    period ends, and that count is then computed once. Pass one dict per request, never across requests.
    `second_order`, when given, is this period's `second_order_gaps` (computed with other periods' in one
    pass); otherwise it is computed here.
    """
    tz = shop_tz(shop)
    lo, hi = period.bounds_utc(tz)
    end_exclusive = period.end + dt.timedelta(days=1)
    w = dt.timedelta(days=window.days)
    act = activity_totals(shop, period.start, end_exclusive, "p")
    params = {"shop": shop.pk, "lo": lo, "hi": hi, "tz": shop.iana_timezone or "UTC", **act.params}
    counts = []
    now = dt.datetime.now(dt.UTC)
    new_end_count = "SELECT NULL::bigint"
    if with_new_active_at_end:
        new_end_count = _new_active_at_end_sql(shop, period, window, params, now)
    for name, window_end in (("s", period.start), ("e", end_exclusive)):
        window_end_utc = dt.datetime.combine(window_end, dt.time.min, tzinfo=tz).astimezone(dt.UTC)
        if window_end_utc > now:
            params[f"{name}_since"] = window_end_utc - w
            counts.append(_ACTIVE_FROM_LAST_ORDER.format(name=f"{name}_since"))
        elif active_counts is not None and (window_end, window.days) in active_counts:
            params[f"{name}_known"] = active_counts[(window_end, window.days)]
            counts.append(f"SELECT %({name}_known)s::bigint")
        else:
            source = activity_totals(shop, window_end - w, window_end, name)
            params.update(source.params)
            counts.append(_ACTIVE_FROM_ACTIVITY.format(act=source.sql))
    with report_cursor() as cur:
        cur.execute(_PERIOD_SQL.format(act=act.sql, start_count=counts[0], end_count=counts[1],
                                       new_end_count=new_end_count), params)
        (customers, customer_orders, repeaters, customer_revenue, at_start, at_end, new_at_end, guests,
         guest_revenue) = cur.fetchone()
        if active_counts is not None:
            for window_end, count in ((period.start, at_start), (end_exclusive, at_end)):
                if dt.datetime.combine(window_end, dt.time.min, tzinfo=tz) <= now:
                    active_counts[(window_end, window.days)] = count
    second = second_order if second_order is not None else second_order_gaps(shop, [period])[0]
    new = second.acquired
    returning = customers - new
    orders = int(customer_orders) + guests
    revenue = Decimal(customer_revenue) + Decimal(guest_revenue)
    return PeriodMetrics(
        period=period, currency=shop.currency, window_days=window.days, gross_margin=gross_margin,
        orders=orders, net_revenue=Decimal(revenue), guest_orders=guests, customers=customers,
        customer_orders=int(customer_orders), repeat_customers=repeaters, returning_customers=returning,
        new_customers=new, active_at_start=at_start, active_at_end=at_end, new_active_at_end=new_at_end,
        second_order=second,
    )


@dataclass(frozen=True, slots=True)
class CustomerBase:
    """All customers with a counted order, ever, and how many ordered more than once."""

    customers: int
    repeat_customers: int

    @property
    def repeat_purchase_rate(self) -> Decimal | None:
        return Decimal(self.repeat_customers) / self.customers if self.customers else None


def customer_base(shop: Shop) -> CustomerBase:
    with report_cursor() as cur:
        cur.execute("SELECT count(*), count(*) FILTER (WHERE orders_count > 1) FROM commerce_customersummary "
                    "WHERE shop_id = %(shop)s", {"shop": shop.pk})
        customers, repeaters = cur.fetchone()
    return CustomerBase(customers, repeaters)
