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

import datetime as dt
import logging
from dataclasses import dataclass

import numpy as np
from django.db import DataError, connection, transaction

from core.concurrency import run_together
from shops.models import Shop

from . import summary_arrays
from .rollups import (
    month_activity_rebuild,
    month_activity_rebuild_from_groups,
    month_activity_refresh_affected,
    month_activity_stored,
)

logger = logging.getLogger(__name__)

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
    return _apply_diff(cur, params, table=table, diff=diff, key=key, columns=columns)


def _apply_diff(cur, params: dict, *, table: str, diff: str, key: tuple[str, ...], columns: tuple[str, ...]) -> int:
    """Delete, update and insert the rows the diff table lists (stored / counted flags)."""
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


# ------------------------------------------------------------------------- the rebuild, with NumPy
# The orders, and the stored rows when there are any, are read with binary COPY as fixed-width rows
# (money as bigint thousandths), grouped by NumPy (summary_arrays: the same rules as the SQL above) and
# compared there; only the rows that differ are written, through the diff tables the SQL path uses too,
# and an empty table is filled with one binary COPY. The stored rows are read on a second connection
# while this one reads and groups the orders (two cores). On the benchmark shop (1,000,000 orders)
# this takes the rebuild from 3.2 s to ~1.0 s when nothing is to be written, and from 6.9 s to 4.3 s
# into empty tables, where writing the rows and their index entries is nearly all of it
# (docs/benchmarks.md, "Reports"). Shops whose month boundaries are not single instants, and amounts
# beyond 64-bit thousandths, take the SQL path (summary_arrays.UnusualTimeZone / NotRepresentable, or a
# DataError from a bigint cast; the same rows either way).

_ORDERS_COPY = """COPY (
    SELECT customer_shopify_id, processed_at, (total * {scale})::bigint,
           CASE WHEN total_refunded = 0 THEN 0 ELSE (total_refunded * {scale})::bigint END
    FROM commerce_order
    WHERE shop_id = {shop} AND customer_shopify_id IS NOT NULL AND NOT test AND cancelled_at IS NULL
    ORDER BY customer_shopify_id, processed_at) TO STDOUT BINARY"""
# Absent values travel as '-infinity' (the smallest int64 / int32 in the binary format, see
# summary_arrays.NEVER), so each row stays fixed-width with one column per value: two columns (a flag and
# a coalesce) cost PostgreSQL 0.1 s more on the benchmark shop's 730,000 months.
_STORED_CUSTOMERS_COPY = """COPY (
    SELECT customer_shopify_id, first_order_at, last_order_at, orders_count,
           (net_revenue * {scale})::bigint, (refunded * {scale})::bigint, currency = {currency},
           coalesce(second_order_at, '-infinity')
    FROM commerce_customersummary WHERE shop_id = {shop} ORDER BY customer_shopify_id) TO STDOUT BINARY"""
_STORED_CUSTOMER_COLUMNS = [("customer", "int8"), ("first", "timestamptz"), ("last", "timestamptz"),
                            ("count", "int4"), ("net", "int8"), ("refunded", "int8"), ("currency_ok", "bool"),
                            ("second", "timestamptz")]
_STORED_MONTHS_COPY = """COPY (
    SELECT customer_shopify_id, month, orders_count, (net_revenue * {scale})::bigint, currency = {currency},
           cohort_month, coalesce(previous_month, '-infinity'), coalesce(following_month, '-infinity')
    FROM commerce_customermonthsummary WHERE shop_id = {shop}
    ORDER BY customer_shopify_id, month) TO STDOUT BINARY"""
_STORED_MONTH_COLUMNS = [("customer", "int8"), ("month", "date"), ("count", "int4"), ("net", "int8"),
                         ("currency_ok", "bool"), ("cohort", "date"), ("previous", "date"), ("following", "date")]
# PostgreSQL's own month of each boundary instant and of the microsecond before it: the bisection's
# boundaries are Python's time zone database's, checked against the server's (they can differ in version).
_CHECK_BOUNDARIES = """
    SELECT coalesce(bool_and(date_trunc('month', b AT TIME ZONE %(tz)s)::date = m
                             AND date_trunc('month', (b - interval '1 microsecond') AT TIME ZONE %(tz)s)::date < m),
                    true)
    FROM unnest(%(bounds)s::timestamptz[], %(months)s::date[]) AS t (b, m)"""


def _stored_format(cur, shop: Shop) -> dict:
    return {"scale": summary_arrays.MONEY_SCALE, "shop": int(shop.pk),
            "currency": cur.mogrify("%s", [shop.currency]).decode()}


@dataclass(frozen=True, slots=True)
class _Fresh:
    """What the orders say the summaries should be (summary_arrays)."""

    customers: summary_arrays.CustomerRows
    month_rows: summary_arrays.MonthRows
    month_days: np.ndarray  # every month from the first order's to the last's (days since 2000-01-01)
    groups: summary_arrays.ActivityGroups


def _fresh_from_orders(shop: Shop) -> _Fresh:
    """Read the counted orders (in (customer, processed_at) order) and aggregate them."""
    with connection.cursor() as cur:
        orders = summary_arrays.parse_rows(
            summary_arrays.copy_out(cur, _ORDERS_COPY.format(scale=summary_arrays.MONEY_SCALE, shop=int(shop.pk))),
            summary_arrays.ORDER_COLUMNS)
        # The subtraction here rather than in the COPY: numeric arithmetic is what that COPY spends its time on.
        orders["net"] = orders.pop("total") - orders["refunded"]
        months, bounds = _months_of(cur, shop, orders)
    customers, month_rows = summary_arrays.aggregate(orders, months, bounds)
    month_days = summary_arrays.days_of(months)
    return _Fresh(customers, month_rows, month_days, summary_arrays.activity_groups(month_rows, month_days))


def _read_stored(shop: Shop) -> tuple[dict, dict, dict]:
    """The stored customer-month rows and customer rows (in key order) and MonthActivity groups, on
    whichever connection this thread has."""
    with connection.cursor() as cur:
        fmt = _stored_format(cur, shop)
        months = summary_arrays.parse_rows(summary_arrays.copy_out(cur, _STORED_MONTHS_COPY.format(**fmt)),
                                           _STORED_MONTH_COLUMNS)
        customers = summary_arrays.parse_rows(summary_arrays.copy_out(cur, _STORED_CUSTOMERS_COPY.format(**fmt)),
                                              _STORED_CUSTOMER_COLUMNS)
        groups = month_activity_stored(cur, shop)
    return months, customers, groups


def _months_of(cur, shop: Shop, orders: dict) -> tuple[list, object]:
    """The months covering the orders and their first instants, checked against PostgreSQL's zone data."""
    tz_name = shop.iana_timezone or "UTC"
    at = orders["at"]
    if at.size == 0:
        return [], None
    epoch = summary_arrays.PG_EPOCH
    months, bounds = summary_arrays.month_starts(
        tz_name, epoch + dt.timedelta(microseconds=int(at.min())), epoch + dt.timedelta(microseconds=int(at.max())))
    cur.execute(_CHECK_BOUNDARIES, {"tz": tz_name, "months": months,
                                    "bounds": [epoch + dt.timedelta(microseconds=int(b)) for b in bounds]})
    if not cur.fetchone()[0]:
        raise summary_arrays.UnusualTimeZone(f"{tz_name}: month boundaries differ from the database's")
    return months, bounds


_CUSTOMER_COPY_COLUMNS = ("customer_shopify_id", *_CUSTOMER_COLUMNS)
_MONTH_COPY_COLUMNS = ("customer_shopify_id", "month", *_MONTH_COLUMNS)


def _customer_fields(rows: summary_arrays.CustomerRows, pick, currency: bytes) -> list[tuple]:
    return [("int8", rows.customer[pick]), ("timestamptz", rows.first_order_at[pick]),
            ("timestamptz", rows.last_order_at[pick]), ("int4", rows.orders_count[pick]),
            ("numeric", rows.net_revenue[pick]), ("numeric", rows.refunded[pick]), ("text", currency),
            ("timestamptz", rows.second_order_at[pick], rows.has_second[pick])]


def _month_fields(rows: summary_arrays.MonthRows, pick, currency: bytes) -> list[tuple]:
    return [("int8", rows.customer[pick]), ("date", rows.month[pick]), ("int4", rows.orders_count[pick]),
            ("numeric", rows.net_revenue[pick]), ("text", currency), ("date", rows.cohort_month[pick]),
            ("date", rows.previous_month[pick], rows.has_previous[pick]),
            ("date", rows.following_month[pick], rows.has_following[pick])]


def _write_table(cur, params: dict, *, table: str, diff: str, key: tuple[str, ...], columns: tuple[str, ...],
                 fields, count: int, stored_count: int, changed, new, stored_keys: list[tuple], gone) -> int:
    """Write a table's differences: `changed`/`new` pick fresh rows, `gone` stored rows (key fields)."""
    shop_field = ("int8", np.full(count, params["shop"], dtype=np.int64))
    if stored_count == 0:
        # Nothing stored (the first build after a backfill): every fresh row, in key order, in one COPY.
        summary_arrays.copy_in(cur, table, ("shop_id", *key, *columns), [shop_field, *fields(slice(None))], count)
        return count
    written_fresh = changed | new
    picked = np.flatnonzero(written_fresh)
    gone_at = np.flatnonzero(gone)
    if picked.size == 0 and gone_at.size == 0:
        return 0
    cur.execute(f"DROP TABLE IF EXISTS {diff}")
    cur.execute(f"""CREATE TEMP TABLE {diff} ON COMMIT DROP AS
                    SELECT {", ".join(key)}, {", ".join(columns)}, true AS stored, true AS counted
                    FROM {table} WITH NO DATA""")
    flags = [("bool", changed[picked]), ("bool", np.ones(picked.size, dtype=bool))]
    summary_arrays.copy_in(cur, diff, (*key, *columns, "stored", "counted"), [*fields(picked), *flags], picked.size)
    if gone_at.size:
        # Rows to delete: their key, no values (NULL), stored and not counted.
        nothing = np.zeros(gone_at.size, dtype=bool)
        key_fields = [(kind, values[gone_at]) for kind, values in stored_keys]
        summary_arrays.copy_in(cur, diff, (*key, "stored", "counted"),
                 [*key_fields, ("bool", ~nothing), ("bool", nothing)], gone_at.size)
    return _apply_diff(cur, params, table=table, diff=diff, key=key, columns=columns)


def _unchanged(match: summary_arrays.Match, stored: dict[str, np.ndarray],
               pairs: list[tuple[str, np.ndarray]]) -> np.ndarray:
    """Per fresh row: a stored row has its key, in the shop's currency, and each named stored column
    equals the fresh values beside it."""
    same = match.found
    if match.gone.size:  # there are stored rows to compare with
        at = match.stored_at
        same = same & stored["currency_ok"][at]
        for name, values in pairs:
            same &= stored[name][at] == values
    return same


def _rebuild_with_arrays(cur, shop: Shop, params: dict, *, parallel: bool) -> tuple[int, int, int]:
    """The rebuild of both tables (see above); returns the rows written and both tables' row counts. Raises UnusualTimeZone or
    NotRepresentable (before writing anything) when the shop needs the SQL path."""
    # Two connections (two cores): this one reads the orders and aggregates them (~0.4 s of database
    # and ~0.2 s of NumPy work on the benchmark shop) while the other reads the stored rows (~0.6 s).
    fresh, (stored_months, stored_customers, stored_groups) = run_together(
        lambda: _fresh_from_orders(shop), lambda: _read_stored(shop), other_connection_sees_enough=parallel)
    customers, month_rows = fresh.customers, fresh.month_rows
    currency = shop.currency.encode()
    written = 0

    c_stored = stored_customers["customer"]
    c_match = summary_arrays.match_keys(customers.customer, c_stored)
    same = _unchanged(c_match, stored_customers, [
        ("first", customers.first_order_at), ("last", customers.last_order_at), ("count", customers.orders_count),
        ("net", customers.net_revenue), ("refunded", customers.refunded),
        ("second", np.where(customers.has_second, customers.second_order_at, summary_arrays.NEVER_AT))])
    written += _write_table(
        cur, params, table="commerce_customersummary", diff=_DIFF_CUSTOMER, key=("customer_shopify_id",),
        columns=_CUSTOMER_COLUMNS, fields=lambda pick: _customer_fields(customers, pick, currency),
        count=customers.customer.size, stored_count=c_stored.size, changed=c_match.found & ~same,
        new=~c_match.found, stored_keys=[("int8", c_stored)], gone=c_match.gone)

    m_stored = stored_months["customer"]
    fresh_key, stored_key = summary_arrays.month_keys(month_rows.customer, month_rows.month, m_stored,
                                                      stored_months["month"])
    m_match = summary_arrays.match_keys(fresh_key, stored_key)
    same = _unchanged(m_match, stored_months, [
        ("count", month_rows.orders_count), ("net", month_rows.net_revenue), ("cohort", month_rows.cohort_month),
        ("previous", np.where(month_rows.has_previous, month_rows.previous_month, summary_arrays.NEVER_DAY)),
        ("following", np.where(month_rows.has_following, month_rows.following_month, summary_arrays.NEVER_DAY))])
    written += _write_table(
        cur, params, table="commerce_customermonthsummary", diff=_DIFF_MONTH, key=("customer_shopify_id", "month"),
        columns=_MONTH_COLUMNS, fields=lambda pick: _month_fields(month_rows, pick, currency),
        count=month_rows.customer.size, stored_count=m_stored.size, changed=m_match.found & ~same,
        new=~m_match.found, stored_keys=[("int8", m_stored), ("date", stored_months["month"])], gone=m_match.gone)
    written += month_activity_rebuild_from_groups(cur, shop, fresh.groups, fresh.month_days, stored_groups)
    return written, customers.customer.size, month_rows.customer.size


@dataclass(frozen=True, slots=True)
class RebuildResult:
    customers: int
    customer_months: int
    # Rows deleted, updated or inserted: 0 when the summaries were already right.
    written: int = 0


def _rebuild_with_sql(cur, params: dict) -> int:
    """The rebuild of both tables by the SQL aggregates (the path before summary_arrays, kept for the shops
    the NumPy path cannot take); returns the rows written."""
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
    return written


def summaries_rebuild(*, shop: Shop) -> RebuildResult:
    """Make both summary tables of a shop equal to an aggregate of its orders (one transaction).

    After a backfill (empty summaries: every row is inserted), for repairs and after a rule change; the
    incremental path keeps them equal to this in between (tests/commerce/test_summaries.py). Only rows
    that differ are written. Takes the shop's order-write lock so no order write interleaves.
    """
    from .upsert import _lock_shop_orders

    params = _params(shop)
    # Another connection may read the stored summaries at the same time as this one reads the orders
    # unless the caller's transaction is open (it may have written either).
    parallel = not connection.in_atomic_block
    with transaction.atomic(), connection.cursor() as cur:
        _lock_shop_orders(cur, shop)
        # The sorts over all of a shop's rows (a million orders for a big shop, the end of every backfill;
        # the merge joins sort the 730,000 stored customer-months, ~90 MB) stay in memory instead of
        # spilling to disk; JIT compilation costs more than it saves on these plans. This transaction only.
        cur.execute("SET LOCAL work_mem = '256MB'; SET LOCAL jit = off")
        try:
            with transaction.atomic():  # a savepoint: a failed fast path leaves nothing behind
                written, customers, months = _rebuild_with_arrays(cur, shop, params, parallel=parallel)
        except (summary_arrays.UnusualTimeZone, summary_arrays.NotRepresentable, DataError) as reason:
            logger.info("summaries_rebuild: shop %s takes the SQL path (%s)", shop.pk, reason)
            written = _rebuild_with_sql(cur, params)
            cur.execute(
                """SELECT (SELECT count(*) FROM commerce_customersummary WHERE shop_id = %(shop)s),
                          (SELECT count(*) FROM commerce_customermonthsummary WHERE shop_id = %(shop)s)""",
                params,
            )
            customers, months = cur.fetchone()
            written += month_activity_rebuild(cur, shop)
    return RebuildResult(customers=customers, customer_months=months, written=written)
