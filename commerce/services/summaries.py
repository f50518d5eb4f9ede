# ruff: noqa: S608 - f-strings interpolate only this module's table-name constants; every value is a query parameter
"""Per-customer and per-customer-month order summaries, kept current and rebuildable.

The rule (what every report built on these tables means):
- An order COUNTS when it is not a test order (`test: true`) and not cancelled. Only counted orders
  appear in a summary: orders_count, first/last order date, revenue.
- net revenue of a counted order = total (shop money, after discounts, with shipping and tax) minus
  the sum of its refunds. A cancelled or test order contributes zero, its refunds included.
- refunded = the refunds of counted orders (so net_revenue + refunded = what counted orders took).
- Dates are `processed_at`; months are calendar months in the shop's IANA time zone. A refund counts
  in the month of its order (the summaries describe orders, not cash flow).
- Guest orders (no customer) belong to no customer and so to no summary row; metrics that count
  orders read commerce_order directly.
- A customer without counted orders has no summary row.

Both paths run the SAME aggregate SQL: `summaries_refresh_affected` for the customers an order write
touched (same transaction as the write, see services.upsert) and `summaries_rebuild` for the whole shop.
"""
from __future__ import annotations

from dataclasses import dataclass

from django.db import connection, transaction

from shops.models import Shop

from .rollups import month_activity_rebuild, month_activity_refresh_affected

AFFECTED_TABLE = "commerce_affected_customers"
_FRESH_CUSTOMER = "commerce_fresh_customer_summary"
_FRESH_MONTH = "commerce_fresh_month_summary"

# Counted orders of the shop, optionally only those of the affected customers.
_COUNTED = """
    FROM commerce_order o {join}
    WHERE o.shop_id = %(shop)s AND o.customer_shopify_id IS NOT NULL
      AND NOT o.test AND o.cancelled_at IS NULL
"""
_JOIN_AFFECTED = f"JOIN {AFFECTED_TABLE} a ON a.customer_shopify_id = o.customer_shopify_id"

_INSERT_CUSTOMER = """
    INSERT INTO commerce_customersummary (
        shop_id, customer_shopify_id, first_order_at, last_order_at, orders_count, net_revenue,
        refunded, currency, second_order_at)
    SELECT %(shop)s AS shop_id, o.customer_shopify_id, min(o.processed_at) AS first_order_at,
           max(o.processed_at) AS last_order_at, count(*)::integer AS orders_count,
           sum(o.total - o.total_refunded) AS net_revenue, sum(o.total_refunded) AS refunded,
           %(currency)s::varchar(3) AS currency,
           -- NULL with one order (an array's element 2 of a 1-element array)
           (array_agg(o.processed_at ORDER BY o.processed_at))[2] AS second_order_at
    {counted}
    GROUP BY o.customer_shopify_id
"""
_INSERT_MONTH = """
    INSERT INTO commerce_customermonthsummary (
        shop_id, customer_shopify_id, month, orders_count, net_revenue, currency, cohort_month,
        previous_month, following_month)
    SELECT %(shop)s, customer_shopify_id, month, count(*)::integer AS orders_count,
           sum(net) AS net_revenue, %(currency)s::varchar(3) AS currency,
           -- the customer's first counted order is in their smallest month: the cohort, on every row
           -- (the first row of a window ordered by month = min(month), computed in the same WindowAgg
           -- as the neighbours instead of a second one over the whole partition)
           first_value(month) OVER w AS cohort_month,
           -- the customer's neighbouring months with counted orders (NULL at either end)
           lag(month) OVER w AS previous_month, lead(month) OVER w AS following_month
    FROM (SELECT o.customer_shopify_id, o.total - o.total_refunded AS net,
                 date_trunc('month', o.processed_at AT TIME ZONE %(tz)s)::date AS month
          {counted}) counted
    GROUP BY customer_shopify_id, month
    WINDOW w AS (PARTITION BY customer_shopify_id ORDER BY month)
"""


def create_affected_table(cur) -> None:
    cur.execute(f"DROP TABLE IF EXISTS {AFFECTED_TABLE}")
    cur.execute(
        f"CREATE TEMP TABLE {AFFECTED_TABLE} (customer_shopify_id bigint PRIMARY KEY) ON COMMIT DROP"
    )


def _params(shop: Shop) -> dict:
    return {"shop": shop.pk, "currency": shop.currency, "tz": shop.iana_timezone or "UTC"}


def summaries_refresh_affected(cur, shop: Shop) -> int:
    """Recompute the summaries of the customers listed in AFFECTED_TABLE (inside the caller's transaction).

    Cost is proportional to those customers' orders, not to the shop. The caller holds the shop's
    order-write lock (services.upsert._lock_shop_orders), so the orders read here include every
    committed write. Returns the number of customers refreshed.
    """
    cur.execute(f"SELECT count(*) FROM {AFFECTED_TABLE}")
    affected = cur.fetchone()[0]
    if not affected:
        return 0
    params = _params(shop)
    counted = _COUNTED.format(join=_JOIN_AFFECTED)
    cur.execute(f"ANALYZE {AFFECTED_TABLE}")  # temp tables have no statistics until analysed
    # Aggregate the affected customers' counted orders once, into temp tables; then upsert the summary
    # rows from them (ids kept, unchanged rows not rewritten) and delete the affected customers' rows
    # (or months) that have no counted order any more: an anti-join of two small temp tables.
    for fresh, insert in ((_FRESH_CUSTOMER, _INSERT_CUSTOMER), (_FRESH_MONTH, _INSERT_MONTH)):
        cur.execute(f"DROP TABLE IF EXISTS {fresh}")
        select = insert.format(counted=counted).split("SELECT", 1)[1]
        cur.execute(f"CREATE TEMP TABLE {fresh} ON COMMIT DROP AS SELECT {select}", params)
    # The rollup takes the difference of the stored and the fresh month rows: before they are replaced.
    month_activity_refresh_affected(cur, shop, fresh=_FRESH_MONTH, affected=AFFECTED_TABLE)
    cur.execute(
        f"""INSERT INTO commerce_customersummary (
                shop_id, customer_shopify_id, first_order_at, last_order_at, orders_count, net_revenue,
                refunded, currency, second_order_at)
            SELECT * FROM {_FRESH_CUSTOMER}
            ON CONFLICT (shop_id, customer_shopify_id) DO UPDATE SET
                first_order_at = excluded.first_order_at, last_order_at = excluded.last_order_at,
                orders_count = excluded.orders_count, net_revenue = excluded.net_revenue,
                refunded = excluded.refunded, currency = excluded.currency,
                second_order_at = excluded.second_order_at
            WHERE (commerce_customersummary.first_order_at, commerce_customersummary.last_order_at,
                   commerce_customersummary.orders_count, commerce_customersummary.net_revenue,
                   commerce_customersummary.refunded, commerce_customersummary.currency,
                   commerce_customersummary.second_order_at)
                  IS DISTINCT FROM (excluded.first_order_at, excluded.last_order_at, excluded.orders_count,
                                    excluded.net_revenue, excluded.refunded, excluded.currency,
                                    excluded.second_order_at)""",
        params,
    )
    cur.execute(
        f"""INSERT INTO commerce_customermonthsummary (
                shop_id, customer_shopify_id, month, orders_count, net_revenue, currency, cohort_month,
                previous_month, following_month)
            SELECT * FROM {_FRESH_MONTH}
            ON CONFLICT (shop_id, customer_shopify_id, month) DO UPDATE SET
                orders_count = excluded.orders_count, net_revenue = excluded.net_revenue,
                currency = excluded.currency, cohort_month = excluded.cohort_month,
                previous_month = excluded.previous_month, following_month = excluded.following_month
            WHERE (commerce_customermonthsummary.orders_count, commerce_customermonthsummary.net_revenue,
                   commerce_customermonthsummary.currency, commerce_customermonthsummary.cohort_month,
                   commerce_customermonthsummary.previous_month, commerce_customermonthsummary.following_month)
                  IS DISTINCT FROM (excluded.orders_count, excluded.net_revenue, excluded.currency,
                                    excluded.cohort_month, excluded.previous_month, excluded.following_month)""",
        params,
    )
    cur.execute(
        f"""DELETE FROM commerce_customersummary s
            USING (SELECT customer_shopify_id FROM {AFFECTED_TABLE}
                   EXCEPT SELECT customer_shopify_id FROM {_FRESH_CUSTOMER}) gone
            WHERE s.shop_id = %(shop)s AND s.customer_shopify_id = gone.customer_shopify_id""",
        params,
    )
    cur.execute(
        f"""DELETE FROM commerce_customermonthsummary s
            USING {AFFECTED_TABLE} a
            WHERE s.shop_id = %(shop)s AND s.customer_shopify_id = a.customer_shopify_id
              AND NOT EXISTS (SELECT 1 FROM {_FRESH_MONTH} f
                              WHERE f.customer_shopify_id = s.customer_shopify_id AND f.month = s.month)""",
        params,
    )
    return affected


# The full rebuild compares the fresh aggregates with the stored rows in one join per table and keeps
# only the rows that differ (temp tables, usually empty), then deletes, updates and inserts just those.
# A repair of correct summaries writes nothing, so it leaves no dead rows behind: the old
# DELETE-everything-and-INSERT left a shop's whole summaries dead on every run (4x bloat after four
# runs on the benchmark shop, which every report then scanned) and spent most of its time on index
# maintenance and foreign-key checks of 930,000 rewritten rows. A table with no row of the shop (the
# first build after a backfill) skips the comparison: the fresh rows are inserted as they come.
#
# Plans (measured on 1,000,000 orders; /work/notes/rebuild_results.md): the orders come from an
# index-only scan of the covering commerce_order_shop_cust_cov, already in (customer, processed_at)
# order, so the per-customer GROUP BY needs no sort, the per-customer-month one only an incremental
# sort inside each customer, and the window functions none; the fresh rows then come out in key order
# and meet the stored rows in a merge join. Hash aggregation and hash joins are switched off for these
# statements: the planner under-estimates the groups (~95,000 for 730,000 customer-months) and picks a
# hash aggregate that holds every group in memory (360 MB with the numeric sums of the month aggregate),
# and a hash join that hashes every stored row of the shop. The sorted plans: 2.4 s instead of 2.8 s for both
# comparisons on that shop (same run, interleaved).
_SORTED_PLANS = "SET LOCAL enable_hashagg = off; SET LOCAL enable_hashjoin = off"
_DEFAULT_PLANS = "SET LOCAL enable_hashagg TO DEFAULT; SET LOCAL enable_hashjoin TO DEFAULT"
_DIFF_CUSTOMER = "commerce_diff_customer_summary"
_DIFF_MONTH = "commerce_diff_month_summary"
_CUSTOMER_COLUMNS = ("first_order_at", "last_order_at", "orders_count", "net_revenue", "refunded", "currency",
                     "second_order_at")
_MONTH_COLUMNS = ("orders_count", "net_revenue", "currency", "cohort_month", "previous_month", "following_month")


def _fresh_select(insert_sql: str) -> str:
    """The SELECT of one of the shared aggregate statements, over all of the shop's counted orders."""
    return insert_sql.format(counted=_COUNTED.format(join="")).split("SELECT", 1)[1]


def _rebuild_table(cur, params: dict, *, table: str, diff: str, insert_sql: str, key: tuple[str, ...],
                   columns: tuple[str, ...]) -> int:
    """Make `table`'s rows of the shop equal to `insert_sql`'s SELECT; returns the rows written."""
    f_cols = ", ".join(f"f.{c}" for c in columns)
    s_cols = ", ".join(f"s.{c}" for c in columns)
    on = " AND ".join(f"s.{k} = f.{k}" for k in key)
    cur.execute(f"DROP TABLE IF EXISTS {diff}")
    cur.execute(_SORTED_PLANS)
    cur.execute(
        f"""CREATE TEMP TABLE {diff} ON COMMIT DROP AS
            SELECT {", ".join(f"coalesce(f.{k}, s.{k}) AS {k}" for k in key)}, {f_cols},
                   s.{key[0]} IS NOT NULL AS stored, f.{key[0]} IS NOT NULL AS counted
            FROM (SELECT {_fresh_select(insert_sql)}) f
            FULL JOIN (SELECT * FROM {table} WHERE shop_id = %(shop)s) s ON {on}
            WHERE ({f_cols}) IS DISTINCT FROM ({s_cols})""",
        params,
    )
    # The writes below join the (usually empty) diff table: the planner's own choice.
    cur.execute(_DEFAULT_PLANS)
    on_diff = " AND ".join(f"t.{k} = d.{k}" for k in key)
    cur.execute(f"DELETE FROM {table} t USING {diff} d WHERE t.shop_id = %(shop)s AND {on_diff} AND NOT d.counted",
                params)
    written = cur.rowcount
    cur.execute(
        f"""UPDATE {table} t SET {", ".join(f"{c} = d.{c}" for c in columns)}
            FROM {diff} d WHERE t.shop_id = %(shop)s AND {on_diff} AND d.counted AND d.stored""",
        params,
    )
    written += cur.rowcount
    # In key order: appending to the unique index's right edge instead of all over it.
    cur.execute(
        f"""INSERT INTO {table} (shop_id, {", ".join(key)}, {", ".join(columns)})
            SELECT %(shop)s, {", ".join(key)}, {", ".join(columns)} FROM {diff}
            WHERE counted AND NOT stored ORDER BY {", ".join(key)}""",
        params,
    )
    return written + cur.rowcount


def _fill_table(cur, params: dict, *, insert_sql: str, key: tuple[str, ...]) -> int:
    """Insert every fresh row into a table that has no row of the shop; returns the rows inserted.

    Nothing to compare with, so no diff table: the aggregate streams straight into the table, in key
    order (the sorted plan yields it so; the ORDER BY costs no sort) for the unique index's right edge.
    """
    cur.execute(_SORTED_PLANS)
    cur.execute(f"{insert_sql.format(counted=_COUNTED.format(join=''))} ORDER BY {', '.join(key)}", params)
    inserted = cur.rowcount
    cur.execute(_DEFAULT_PLANS)
    return inserted


@dataclass(frozen=True, slots=True)
class RebuildResult:
    customers: int
    customer_months: int
    # Rows deleted, updated or inserted: 0 when the summaries were already right.
    written: int = 0


def summaries_rebuild(*, shop: Shop) -> RebuildResult:
    """Make both summary tables of a shop equal to an aggregate of its orders (one transaction).

    After a backfill (empty summaries: every row is inserted), for repairs and after a rule change; the
    incremental path keeps them equal to this in between (tests/commerce/test_summaries.py). Only rows
    that differ are written. Takes the shop's order-write lock so no order write interleaves.
    """
    from .upsert import _lock_shop_orders

    params = _params(shop)
    with transaction.atomic(), connection.cursor() as cur:
        _lock_shop_orders(cur, shop)
        # The sorts over all of a shop's rows (a million orders for a big shop, the end of every backfill;
        # the merge joins sort the 730,000 stored customer-months, ~90 MB) stay in memory instead of
        # spilling to disk; JIT compilation costs more than it saves on these plans. This transaction only.
        cur.execute("SET LOCAL work_mem = '256MB'; SET LOCAL jit = off")
        cur.execute(
            """SELECT EXISTS (SELECT FROM commerce_customersummary WHERE shop_id = %(shop)s),
                      EXISTS (SELECT FROM commerce_customermonthsummary WHERE shop_id = %(shop)s)""",
            params,
        )
        has_customers, has_months = cur.fetchone()
        written = 0
        for stored, table, diff, insert_sql, key, columns in (
            (has_customers, "commerce_customersummary", _DIFF_CUSTOMER, _INSERT_CUSTOMER, ("customer_shopify_id",),
             _CUSTOMER_COLUMNS),
            (has_months, "commerce_customermonthsummary", _DIFF_MONTH, _INSERT_MONTH,
             ("customer_shopify_id", "month"), _MONTH_COLUMNS),
        ):
            if stored:
                written += _rebuild_table(cur, params, table=table, diff=diff, insert_sql=insert_sql, key=key,
                                          columns=columns)
            else:
                written += _fill_table(cur, params, insert_sql=insert_sql, key=key)
        written += month_activity_rebuild(cur, shop)
        cur.execute(
            """SELECT (SELECT count(*) FROM commerce_customersummary WHERE shop_id = %(shop)s),
                      (SELECT count(*) FROM commerce_customermonthsummary WHERE shop_id = %(shop)s)""",
            params,
        )
        customers, months = cur.fetchone()
    return RebuildResult(customers=customers, customer_months=months, written=written)
