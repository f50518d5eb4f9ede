"""Loyalty impact: members versus other customers in a period, and revenue from orders that used rewards.

Definitions:
- A member is a customer with a loyalty points account (loyalty.PointsAccount) opened before the end of
  the period; everyone else who ordered in the period is a non-member.
- Per group: customers with a counted order in the period, their orders and net revenue, repeat
  purchase rate (2+ orders in the period), AOV (the group's revenue ÷ its orders; guest orders belong
  to neither group) and orders per customer.
- Revenue from orders that used rewards: net revenue of counted orders in the period whose discount
  codes include a code issued by a redemption (codes compared case-insensitively, as Shopify does).

The loyalty app is built in parallel; its tables are looked up through the app registry so that this
report says "no loyalty programme yet" instead of failing while loyalty is missing or changing.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.apps import apps

from shops.models import Shop

from .periods import DateRange, activity_source, activity_totals, report_cursor, shop_tz


@dataclass(frozen=True, slots=True)
class GroupStats:
    customers: int
    orders: int
    repeat_customers: int
    net_revenue: Decimal

    @property
    def repeat_purchase_rate(self) -> Decimal | None:
        return Decimal(self.repeat_customers) / self.customers if self.customers else None

    @property
    def average_order_value(self) -> Decimal | None:
        return self.net_revenue / self.orders if self.orders else None

    @property
    def orders_per_customer(self) -> Decimal | None:
        return Decimal(self.orders) / self.customers if self.customers else None


@dataclass(frozen=True, slots=True)
class LoyaltyImpact:
    period: DateRange
    currency: str
    members_total: int
    members: GroupStats
    non_members: GroupStats
    reward_orders: int
    reward_revenue: Decimal
    total_revenue: Decimal

    @property
    def reward_revenue_share(self) -> Decimal | None:
        return self.reward_revenue / self.total_revenue if self.total_revenue else None


def _loyalty_tables() -> tuple[str, str] | None:
    try:
        account = apps.get_model("loyalty", "PointsAccount")
        redemption = apps.get_model("loyalty", "Redemption")
    except LookupError:
        return None
    account_fields = {f.name for f in account._meta.get_fields()}
    redemption_fields = {f.name for f in redemption._meta.get_fields()}
    if not {"customer_shopify_id", "enrolled_at"} <= account_fields or "code" not in redemption_fields:
        return None
    return account._meta.db_table, redemption._meta.db_table


def loyalty_impact(shop: Shop, period: DateRange) -> LoyaltyImpact | None:
    """Members vs non-members in `period`; None when the loyalty app's tables are not there."""
    tables = _loyalty_tables()
    if tables is None:
        return None
    account_table, redemption_table = tables
    lo, hi = period.bounds_utc(shop_tz(shop))
    end_exclusive = period.end + dt.timedelta(days=1)
    act = activity_source(shop, period.start, end_exclusive, "p")
    totals = activity_totals(shop, period.start, end_exclusive, "t")
    params = {"shop": shop.pk, "lo": lo, "hi": hi, **act.params, **totals.params}
    empty = GroupStats(0, 0, 0, Decimal(0))
    with report_cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {account_table} WHERE shop_id = %(shop)s AND enrolled_at < %(hi)s",  # noqa: S608 - SQL built from constants and model table names only; values are parameters
                    params)
        members_total = cur.fetchone()[0]
        # Everyone's numbers in one pass over the month summaries (periods.activity_totals); the members'
        # by grouping only their activity rows; non-members are the difference.
        cur.execute(totals.sql, params)
        customers, orders, repeaters, net = cur.fetchone()
        everyone = GroupStats(customers, int(orders), repeaters, Decimal(net))
        members = empty
        if members_total:
            cur.execute(
                f"""WITH members AS MATERIALIZED (
                        SELECT customer_shopify_id FROM {account_table}
                        WHERE shop_id = %(shop)s AND enrolled_at < %(hi)s
                    )
                    SELECT count(*), coalesce(sum(n), 0), count(*) FILTER (WHERE n > 1), coalesce(sum(net), 0)
                    FROM (SELECT a.customer_shopify_id, sum(a.n) AS n, sum(a.net) AS net
                          FROM ({act.sql}) a JOIN members m ON m.customer_shopify_id = a.customer_shopify_id
                          GROUP BY a.customer_shopify_id HAVING sum(a.n) > 0) per""",  # noqa: S608 - SQL built from constants and model table names only; values are parameters
                params,
            )
            row = cur.fetchone()
            members = GroupStats(row[0], int(row[1]), row[2], Decimal(row[3]))
        non_members = GroupStats(everyone.customers - members.customers, everyone.orders - members.orders,
                                 everyone.repeat_customers - members.repeat_customers,
                                 everyone.net_revenue - members.net_revenue)
        groups = {True: members, False: non_members}
        # Revenue of all counted orders in the period: the groups' (from the activity rows) plus the guests'
        # (by index), so only orders with discount codes are read from the period's orders, and none
        # while the shop has no redemption code to match.
        cur.execute(
            """SELECT coalesce(sum(total - total_refunded), 0) FROM commerce_order
               WHERE shop_id = %(shop)s AND customer_shopify_id IS NULL AND NOT test AND cancelled_at IS NULL
                 AND processed_at >= %(lo)s AND processed_at < %(hi)s""",
            params,
        )
        total_revenue = Decimal(cur.fetchone()[0]) + sum((g.net_revenue for g in groups.values()), Decimal(0))
        cur.execute(f"""SELECT array_agg(DISTINCT upper(code)) FROM {redemption_table}
                        WHERE shop_id = %(shop)s AND code <> ''""", params)  # noqa: S608 - SQL built from constants and model table names only; values are parameters
        codes = cur.fetchone()[0]
        reward_orders, reward_revenue = 0, Decimal(0)
        if codes:
            cur.execute(
                """SELECT count(*), coalesce(sum(total - total_refunded), 0) FROM commerce_order
                   WHERE shop_id = %(shop)s AND NOT test AND cancelled_at IS NULL
                     AND processed_at >= %(lo)s AND processed_at < %(hi)s AND discount_codes <> '{}'
                     AND ARRAY(SELECT upper(c) FROM unnest(discount_codes) c) && %(codes)s::text[]""",
                {**params, "codes": codes},
            )
            reward_orders, reward_revenue = cur.fetchone()
    return LoyaltyImpact(
        period=period, currency=shop.currency, members_total=members_total,
        members=members, non_members=non_members,
        reward_orders=reward_orders, reward_revenue=Decimal(reward_revenue), total_revenue=Decimal(total_revenue),
    )
