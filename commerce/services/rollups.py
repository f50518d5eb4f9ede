# ruff: noqa: S608 - f-strings interpolate only this module's table-name constants; every value is a query parameter
"""MonthActivity: CustomerMonthSummary rows counted per (month, cohort_month, previous_month,
following_month, repeat_in_month), kept equal to a GROUP BY of the month summaries.

Both ways of changing the month summaries keep it, under the shop's order-write lock
(commerce.services.upsert._lock_shop_orders), so no two writers of a shop interleave:
- `month_activity_refresh_affected`: the order upsert's incremental path, BEFORE the affected customers'
  month rows are replaced: subtracts their stored rows, adds their fresh ones (a delta of a few groups).
- `month_activity_rebuild`: after `summaries_rebuild`, from the month summaries of the whole shop; only
  groups that differ are written (a repair of a correct rollup writes nothing).
"""
from __future__ import annotations

import numpy as np

from shops.models import Shop

from . import summary_arrays

TABLE = "commerce_monthactivity"
_KEY = ("month", "cohort_month", "previous_month", "following_month", "repeat_in_month")
_VALUES = ("customers", "orders", "net_revenue")
# The month summary columns a group is made of (repeat_in_month from orders_count).
_GROUP_OF_ROW = "month, cohort_month, previous_month, following_month, orders_count > 1"

_UPSERT_DELTA = f"""
INSERT INTO {TABLE} AS r (shop_id, {", ".join(_KEY)}, {", ".join(_VALUES)})
SELECT %(shop)s, month, cohort_month, previous_month, following_month, repeat_in_month,
       sum(sign)::integer, sum(sign * orders_count), sum(sign * net_revenue)
FROM (
    SELECT {_GROUP_OF_ROW}, 1, orders_count, net_revenue
    FROM {{fresh}}
    UNION ALL
    SELECT s.month, s.cohort_month, s.previous_month, s.following_month, s.orders_count > 1, -1,
           s.orders_count, s.net_revenue
    FROM commerce_customermonthsummary s JOIN {{affected}} a ON a.customer_shopify_id = s.customer_shopify_id
    WHERE s.shop_id = %(shop)s
) d (month, cohort_month, previous_month, following_month, repeat_in_month, sign, orders_count, net_revenue)
GROUP BY month, cohort_month, previous_month, following_month, repeat_in_month
-- a customer whose rows did not change contributes +1 and -1 to the same group: nothing to write
HAVING sum(sign) <> 0 OR sum(sign * orders_count) <> 0 OR sum(sign * net_revenue) <> 0
ON CONFLICT (shop_id, {", ".join(_KEY)}) DO UPDATE SET
    customers = r.customers + excluded.customers, orders = r.orders + excluded.orders,
    net_revenue = r.net_revenue + excluded.net_revenue
RETURNING id, customers
"""


def month_activity_refresh_affected(cur, shop: Shop, *, fresh: str, affected: str) -> None:
    """Apply the change of the affected customers' month rows to the rollup: call it after `fresh` (the
    customers' recomputed month rows, same columns as the month summary) is built and BEFORE the stored
    month rows are replaced by them."""
    cur.execute(_UPSERT_DELTA.format(fresh=fresh, affected=affected), {"shop": shop.pk})
    # A group whose last customer moved away is removed, so the table holds only groups that exist.
    empty = [row_id for row_id, customers in cur.fetchall() if customers == 0]
    if empty:
        cur.execute(f"DELETE FROM {TABLE} WHERE shop_id = %(shop)s AND id = ANY(%(ids)s)",
                    {"shop": shop.pk, "ids": empty})


# NULL months compare as equal in the join (IS NOT DISTINCT FROM is not hashable; a date no summary can
# hold stands in for NULL).
_NULL_DATE = "'0001-01-01'::date"


def _join_key(alias: str, column: str) -> str:
    if column in ("previous_month", "following_month"):
        return f"coalesce({alias}.{column}, {_NULL_DATE})"
    return f"{alias}.{column}"


_REBUILD_DIFF = f"""
CREATE TEMP TABLE commerce_month_activity_diff ON COMMIT DROP AS
SELECT s.id, {", ".join(f"coalesce(f.{k}, s.{k}) AS {k}" if k not in ("previous_month", "following_month")
                         else f"CASE WHEN f.month IS NOT NULL THEN f.{k} ELSE s.{k} END AS {k}" for k in _KEY)},
       {", ".join(f"f.{v}" for v in _VALUES)}, f.month IS NOT NULL AS counted
FROM (SELECT {_GROUP_OF_ROW} AS repeat_in_month, count(*)::integer AS customers, sum(orders_count) AS orders,
             sum(net_revenue) AS net_revenue
      FROM commerce_customermonthsummary WHERE shop_id = %(shop)s
      GROUP BY 1, 2, 3, 4, 5) f (month, cohort_month, previous_month, following_month, repeat_in_month,
                                  customers, orders, net_revenue)
FULL JOIN (SELECT * FROM {TABLE} WHERE shop_id = %(shop)s) s
  ON {" AND ".join(f"{_join_key('s', k)} = {_join_key('f', k)}" for k in _KEY)}
WHERE ({", ".join(f"f.{v}" for v in _VALUES)}) IS DISTINCT FROM ({", ".join(f"s.{v}" for v in _VALUES)})
"""


def month_activity_rebuild(cur, shop: Shop) -> int:
    """Make the shop's rollup equal to a GROUP BY of its month summaries; returns the rows written."""
    params = {"shop": shop.pk}
    cur.execute(f"SELECT EXISTS (SELECT FROM {TABLE} WHERE shop_id = %(shop)s)", params)
    if not cur.fetchone()[0]:
        # Nothing stored (the first build after a backfill): insert the groups, no comparison.
        cur.execute(f"""INSERT INTO {TABLE} (shop_id, {", ".join(_KEY)}, {", ".join(_VALUES)})
                        SELECT %(shop)s, {_GROUP_OF_ROW}, count(*), sum(orders_count), sum(net_revenue)
                        FROM commerce_customermonthsummary WHERE shop_id = %(shop)s
                        GROUP BY 1, 2, 3, 4, 5, 6""", params)
        return cur.rowcount
    cur.execute("DROP TABLE IF EXISTS commerce_month_activity_diff")
    cur.execute(_REBUILD_DIFF, params)
    return _apply_diff(cur, params)


def _apply_diff(cur, params: dict) -> int:
    """Delete, update and insert the groups listed in commerce_month_activity_diff."""
    cur.execute(f"""DELETE FROM {TABLE} t USING commerce_month_activity_diff d
                    WHERE t.shop_id = %(shop)s AND t.id = d.id AND NOT d.counted""", params)
    written = cur.rowcount
    cur.execute(f"""UPDATE {TABLE} t SET {", ".join(f"{v} = d.{v}" for v in _VALUES)}
                    FROM commerce_month_activity_diff d
                    WHERE t.shop_id = %(shop)s AND t.id = d.id AND d.counted""", params)
    written += cur.rowcount
    cur.execute(f"""INSERT INTO {TABLE} (shop_id, {", ".join(_KEY)}, {", ".join(_VALUES)})
                    SELECT %(shop)s, {", ".join(_KEY)}, {", ".join(_VALUES)} FROM commerce_month_activity_diff
                    WHERE counted AND id IS NULL""", params)
    return written + cur.rowcount


_STORED_COPY = f"""COPY (
    SELECT id, month, cohort_month, coalesce(previous_month, '-infinity'), coalesce(following_month, '-infinity'),
           repeat_in_month, customers, orders, (net_revenue * {summary_arrays.MONEY_SCALE})::bigint
    FROM {TABLE} WHERE shop_id = {{shop}}) TO STDOUT BINARY"""
_STORED_COLUMNS = [("id", "int8"), ("month", "date"), ("cohort", "date"), ("previous", "date"), ("following", "date"),
                   ("repeat", "bool"), ("customers", "int4"), ("orders", "int8"), ("net", "int8")]
_DIFF_COLUMNS = ("id", *_KEY, *_VALUES, "counted")


def month_activity_stored(cur, shop: Shop) -> dict[str, np.ndarray]:
    """The shop's stored groups as arrays (absent previous/following months as summary_arrays.NEVER_DAY)."""
    return summary_arrays.parse_rows(summary_arrays.copy_out(cur, _STORED_COPY.format(shop=int(shop.pk))),
                                     _STORED_COLUMNS)


def month_activity_rebuild_from_groups(cur, shop: Shop, fresh: summary_arrays.ActivityGroups,
                                       month_days: np.ndarray, stored: dict[str, np.ndarray]) -> int:
    """month_activity_rebuild for summaries_rebuild's NumPy path: the groups of the shop's month rows as
    they now are (`fresh`: summary_arrays.activity_groups of the rows just written, keyed by the ranks of
    `month_days`, every month of the shop's orders) against the stored groups (month_activity_stored, read
    under the same lock); returns the rows written. The same groups as the SQL GROUP BY
    (tests/commerce/test_summaries.py)."""
    shop_id = np.full(fresh.key.size, shop.pk, dtype=np.int64)
    fields = [("date", fresh.month), ("date", fresh.cohort_month), ("date", fresh.previous_month, fresh.has_previous),
              ("date", fresh.following_month, fresh.has_following), ("bool", fresh.repeat_in_month),
              ("int4", fresh.customers), ("int8", fresh.orders), ("numeric", fresh.net_revenue)]
    stored_has_previous = stored["previous"] != summary_arrays.NEVER_DAY
    stored_has_following = stored["following"] != summary_arrays.NEVER_DAY
    if stored["id"].size == 0:
        summary_arrays.copy_in(cur, TABLE, ("shop_id", *_KEY, *_VALUES), [("int8", shop_id), *fields], fresh.key.size)
        return fresh.key.size
    # A stored group with a month the orders do not have cannot equal a fresh group (and has no rank):
    # it is deleted. The others are keyed like the fresh groups.
    known = (np.isin(stored["month"], month_days) & np.isin(stored["cohort"], month_days)
             & (~stored_has_previous | np.isin(stored["previous"], month_days))
             & (~stored_has_following | np.isin(stored["following"], month_days)))
    stored_key = np.full(stored["id"].size, -1, dtype=np.int64)
    stored_key[known] = summary_arrays.activity_key(
        month_days, stored["month"][known], stored["cohort"][known], stored["previous"][known],
        stored_has_previous[known], stored["following"][known], stored_has_following[known], stored["repeat"][known])
    order = np.argsort(stored_key)
    match = summary_arrays.match_keys(fresh.key, stored_key[order])
    at = order[match.stored_at]
    same = match.found & (stored["customers"][at] == fresh.customers) & (stored["orders"][at] == fresh.orders) & (
        stored["net"][at] == fresh.net_revenue)
    picked = np.flatnonzero(~same)
    gone = order[np.flatnonzero(match.gone)]
    if picked.size == 0 and gone.size == 0:
        return 0
    cur.execute("DROP TABLE IF EXISTS commerce_month_activity_diff")
    cur.execute(f"""CREATE TEMP TABLE commerce_month_activity_diff ON COMMIT DROP AS
                    SELECT {", ".join(_DIFF_COLUMNS[:-1])}, true AS counted FROM {TABLE} WITH NO DATA""")
    # Groups to write: their stored id when they have one (an update), NULL otherwise (an insert).
    summary_arrays.copy_in(
        cur, "commerce_month_activity_diff", _DIFF_COLUMNS,
        [("int8", stored["id"][at[picked]], match.found[picked]), *[(f[0], f[1][picked], *[m[picked] for m in f[2:]])
                                                                     for f in fields],
         ("bool", np.ones(picked.size, dtype=bool))], picked.size)
    if gone.size:
        summary_arrays.copy_in(
            cur, "commerce_month_activity_diff", ("id", *_KEY, "counted"),
            [("int8", stored["id"][gone]), ("date", stored["month"][gone]), ("date", stored["cohort"][gone]),
             ("date", stored["previous"][gone], stored_has_previous[gone]),
             ("date", stored["following"][gone], stored_has_following[gone]), ("bool", stored["repeat"][gone]),
             ("bool", np.zeros(gone.size, dtype=bool))], gone.size)
    return _apply_diff(cur, {"shop": shop.pk})
