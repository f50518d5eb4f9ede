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

from .periods import DateRange, activity_source, report_cursor, shop_tz


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
    act = activity_source(shop, period.start, period.end + dt.timedelta(days=1), "p")
    params = {"shop": shop.pk, "lo": lo, "hi": hi, **act.params}
    with report_cursor() as cur:
        cur.execute(
            f"""WITH per AS (
                    SELECT customer_shopify_id, sum(n) AS n, sum(net) AS net FROM ({act.sql}) a
                    GROUP BY customer_shopify_id
                ), members AS (
                    SELECT customer_shopify_id FROM {account_table}
                    WHERE shop_id = %(shop)s AND enrolled_at < %(hi)s
                )
                SELECT (m.customer_shopify_id IS NOT NULL) AS member, count(*), coalesce(sum(per.n), 0),
                       count(*) FILTER (WHERE per.n > 1), coalesce(sum(per.net), 0)
                FROM per LEFT JOIN members m USING (customer_shopify_id)
                GROUP BY 1""",  # noqa: S608 - SQL built from constants and model table names only; values are parameters
            params,
        )
        groups = {row[0]: GroupStats(row[1], int(row[2]), row[3], Decimal(row[4])) for row in cur.fetchall()}
        cur.execute(f"SELECT count(*) FROM {account_table} WHERE shop_id = %(shop)s AND enrolled_at < %(hi)s",  # noqa: S608 - SQL built from constants and model table names only; values are parameters
                    params)
        members_total = cur.fetchone()[0]
        cur.execute(
            f"""WITH codes AS (
                    SELECT array_agg(DISTINCT upper(code)) AS codes FROM {redemption_table}
                    WHERE shop_id = %(shop)s AND code <> ''
                )
                SELECT count(*) FILTER (WHERE o.used_reward), coalesce(sum(o.net) FILTER (WHERE o.used_reward), 0),
                       coalesce(sum(o.net), 0)
                FROM (
                    SELECT total - total_refunded AS net,
                           coalesce(ARRAY(SELECT upper(c) FROM unnest(discount_codes) c) && (SELECT codes FROM codes),
                                    false) AS used_reward
                    FROM commerce_order
                    WHERE shop_id = %(shop)s AND NOT test AND cancelled_at IS NULL
                      AND processed_at >= %(lo)s AND processed_at < %(hi)s
                ) o""",  # noqa: S608 - SQL built from constants and model table names only; values are parameters
            params,
        )
        reward_orders, reward_revenue, total_revenue = cur.fetchone()
    empty = GroupStats(0, 0, 0, Decimal(0))
    return LoyaltyImpact(
        period=period, currency=shop.currency, members_total=members_total,
        members=groups.get(True, empty), non_members=groups.get(False, empty),
        reward_orders=reward_orders, reward_revenue=Decimal(reward_revenue), total_revenue=Decimal(total_revenue),
    )
