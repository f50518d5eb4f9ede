"""The first retention numbers of the admin's home page, computed by PostgreSQL over the synced orders.

The counting rule is reports.selectors.periods' (test and cancelled orders left out, processed_at in the
shop's time zone, revenue net of refunds, guests counted in orders but not in customers).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from shops.models import Shop

from .periods import DateRange, activity_parts, activity_totals, local_midnight_utc, report_cursor


@dataclass(frozen=True, slots=True)
class Overview:
    currency: str
    orders: int
    customers: int
    customer_orders: int
    repeat_customers: int
    net_revenue: Decimal
    guest_orders: int

    @property
    def average_order_value(self) -> Decimal | None:
        return (self.net_revenue / self.orders) if self.orders else None

    @property
    def purchase_frequency(self) -> Decimal | None:
        return (Decimal(self.customer_orders) / self.customers) if self.customers else None

    @property
    def repeat_purchase_rate(self) -> Decimal | None:
        return (Decimal(self.repeat_customers) / self.customers) if self.customers else None


# Customers' orders and revenue from periods.activity_totals (whole months from the month summaries in one
# pass, only the partial end months from the orders), guests' from the (shop, customer,
# processed_at) index with customer NULL: never a scan of the period's orders.
_OVERVIEW_SQL = """
SELECT g.customers, g.customer_orders, g.repeat_customers, g.customer_net, guests.n, guests.net
FROM ({act}) AS g (customers, customer_orders, repeat_customers, customer_net), (
    SELECT count(*) AS n, coalesce(sum(total - total_refunded), 0) AS net FROM commerce_order
    WHERE shop_id = %(shop)s AND customer_shopify_id IS NULL AND NOT test AND cancelled_at IS NULL
      AND processed_at >= %(start)s AND processed_at < %(end)s
) guests
"""


def overview(shop: Shop, period: DateRange) -> Overview:
    """Customers, orders, net revenue, AOV, purchase frequency and repeat purchase rate for a period."""
    start, end = period.bounds_utc(ZoneInfo(shop.iana_timezone or "UTC"))
    act = activity_totals(shop, period.start, period.end + dt.timedelta(days=1), "p")
    with report_cursor() as cur:
        cur.execute(_OVERVIEW_SQL.format(act=act.sql), {"shop": shop.pk, "start": start, "end": end, **act.params})
        customers, customer_orders, repeat, customer_net, guests, guest_net = cur.fetchone()
    return Overview(
        currency=shop.currency, orders=int(customer_orders) + guests, customers=customers,
        customer_orders=int(customer_orders), repeat_customers=repeat,
        net_revenue=Decimal(customer_net) + Decimal(guest_net), guest_orders=guests,
    )


@dataclass(frozen=True, slots=True)
class MonthOrders:
    month: dt.date
    new_customer_orders: int
    returning_customer_orders: int
    guest_orders: int


# New vs returning per month: a customer's orders in month M are new when M is their cohort month (the
# month of their first counted order), returning when it is later. Whole months come from the rollup of
# the month summaries (commerce_monthactivity, which keeps cohort_month); orders of the partial end months are added, or subtracted from their
# month's row, with the cohort month of that row (one unique-index lookup per such order, never a hash of
# the whole month table). Guests from the
# (shop, customer, processed_at) index with customer NULL.
_MONTHLY_SQL = """
SELECT month, sum(orders) FILTER (WHERE cohort_month = month), sum(orders) FILTER (WHERE cohort_month < month), 0
FROM commerce_monthactivity
WHERE shop_id = %(shop)s AND month >= %(m0)s AND month < %(m1)s
GROUP BY month
UNION ALL
(WITH rows AS MATERIALIZED (  -- each order's cohort looked up once (inlined: once per FILTER below)
    SELECT e.month, (SELECT m.cohort_month FROM commerce_customermonthsummary m
                     WHERE m.shop_id = %(shop)s AND m.customer_shopify_id = e.customer_shopify_id
                       AND m.month = e.month), e.n
    FROM (
        SELECT o.customer_shopify_id, date_trunc('month', o.processed_at AT TIME ZONE %(tz)s)::date AS month,
               CASE WHEN {added} THEN 1 ELSE -1 END AS n
        FROM commerce_order o
        WHERE o.shop_id = %(shop)s AND o.customer_shopify_id IS NOT NULL AND NOT o.test
          AND o.cancelled_at IS NULL AND ({edges})
    ) e
)
SELECT month, sum(n) FILTER (WHERE cohort_month = month), sum(n) FILTER (WHERE cohort_month < month), 0
FROM rows GROUP BY month)
UNION ALL
SELECT date_trunc('month', processed_at AT TIME ZONE %(tz)s)::date, 0, 0, count(*)
FROM commerce_order
WHERE shop_id = %(shop)s AND customer_shopify_id IS NULL AND NOT test AND cancelled_at IS NULL
  AND processed_at >= %(start)s AND processed_at < %(end)s
GROUP BY 1
"""


def monthly_new_vs_returning(shop: Shop, period: DateRange) -> list[MonthOrders]:
    """Orders per month (shop time zone) by customers in their first-order month (new) or later
    (returning), and guest orders; every month of the period is present, empty ones as zeros."""
    tz_name = shop.iana_timezone or "UTC"
    start, end = period.bounds_utc(ZoneInfo(tz_name))
    parts = activity_parts(period.start, period.end + dt.timedelta(days=1))
    params = {"shop": shop.pk, "tz": tz_name, "start": start, "end": end, "m0": parts.m0, "m1": parts.m1}
    conditions = {}
    for tag, intervals in (("a", parts.add), ("s", parts.subtract)):
        found_parts = []
        for i, (lo, hi) in enumerate(intervals):
            params[f"{tag}{i}lo"], params[f"{tag}{i}hi"] = local_midnight_utc(shop, lo), local_midnight_utc(shop, hi)
            found_parts.append(f"(o.processed_at >= %({tag}{i}lo)s AND o.processed_at < %({tag}{i}hi)s)")
        conditions[tag] = " OR ".join(found_parts) or "false"
    sql = _MONTHLY_SQL.format(added=conditions["a"], edges=f"{conditions['a']} OR {conditions['s']}")
    found: dict[dt.date, list[int]] = {}
    with report_cursor() as cur:
        cur.execute(sql, params)
        for month, new, returning, guests in cur.fetchall():
            row = found.setdefault(month, [month, 0, 0, 0])
            row[1] += int(new or 0)
            row[2] += int(returning or 0)
            row[3] += int(guests)
    months: list[MonthOrders] = []
    month = period.start.replace(day=1)
    while month <= period.end:
        row = found.get(month)
        months.append(MonthOrders(month, row[1], row[2], row[3]) if row else MonthOrders(month, 0, 0, 0))
        month = (month + dt.timedelta(days=32)).replace(day=1)
    return months
