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

from .periods import DateRange, report_cursor


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


_OVERVIEW_SQL = """
WITH counted AS (
    SELECT customer_shopify_id, total - total_refunded AS net
    FROM commerce_order
    WHERE shop_id = %(shop)s AND NOT test AND cancelled_at IS NULL
      AND processed_at >= %(start)s AND processed_at < %(end)s
), per_customer AS (
    SELECT customer_shopify_id, count(*) AS n FROM counted
    WHERE customer_shopify_id IS NOT NULL GROUP BY customer_shopify_id
)
SELECT
    (SELECT count(*) FROM counted),
    (SELECT count(*) FROM per_customer),
    (SELECT coalesce(sum(n), 0) FROM per_customer),
    (SELECT count(*) FROM per_customer WHERE n > 1),
    (SELECT coalesce(sum(net), 0) FROM counted),
    (SELECT count(*) FROM counted WHERE customer_shopify_id IS NULL)
"""


def overview(shop: Shop, period: DateRange) -> Overview:
    """Customers, orders, net revenue, AOV, purchase frequency and repeat purchase rate for a period."""
    start, end = period.bounds_utc(ZoneInfo(shop.iana_timezone or "UTC"))
    with report_cursor() as cur:
        cur.execute(_OVERVIEW_SQL, {"shop": shop.pk, "start": start, "end": end})
        orders, customers, customer_orders, repeat, net, guests = cur.fetchone()
    return Overview(
        currency=shop.currency, orders=orders, customers=customers, customer_orders=customer_orders,
        repeat_customers=repeat, net_revenue=Decimal(net), guest_orders=guests,
    )


@dataclass(frozen=True, slots=True)
class MonthOrders:
    month: dt.date
    new_customer_orders: int
    returning_customer_orders: int
    guest_orders: int


_MONTHLY_SQL = """
SELECT
    date_trunc('month', o.processed_at AT TIME ZONE %(tz)s)::date AS month,
    count(*) FILTER (
        WHERE o.customer_shopify_id IS NOT NULL
          AND date_trunc('month', s.first_order_at AT TIME ZONE %(tz)s)
            = date_trunc('month', o.processed_at AT TIME ZONE %(tz)s)
    ) AS new_orders,
    count(*) FILTER (
        WHERE o.customer_shopify_id IS NOT NULL
          AND date_trunc('month', s.first_order_at AT TIME ZONE %(tz)s)
            < date_trunc('month', o.processed_at AT TIME ZONE %(tz)s)
    ) AS returning_orders,
    count(*) FILTER (WHERE o.customer_shopify_id IS NULL) AS guest_orders
FROM commerce_order o
LEFT JOIN commerce_customersummary s
       ON s.shop_id = o.shop_id AND s.customer_shopify_id = o.customer_shopify_id
WHERE o.shop_id = %(shop)s AND NOT o.test AND o.cancelled_at IS NULL
  AND o.processed_at >= %(start)s AND o.processed_at < %(end)s
GROUP BY 1 ORDER BY 1
"""


def monthly_new_vs_returning(shop: Shop, period: DateRange) -> list[MonthOrders]:
    """Orders per month (shop time zone) by customers in their first-order month (new) or later
    (returning), and guest orders; every month of the period is present, empty ones as zeros."""
    tz_name = shop.iana_timezone or "UTC"
    start, end = period.bounds_utc(ZoneInfo(tz_name))
    with report_cursor() as cur:
        cur.execute(_MONTHLY_SQL, {"shop": shop.pk, "tz": tz_name, "start": start, "end": end})
        found = {row[0]: row for row in cur.fetchall()}
    months: list[MonthOrders] = []
    month = period.start.replace(day=1)
    while month <= period.end:
        row = found.get(month)
        months.append(MonthOrders(month, row[1], row[2], row[3]) if row else MonthOrders(month, 0, 0, 0))
        month = (month + dt.timedelta(days=32)).replace(day=1)
    return months
