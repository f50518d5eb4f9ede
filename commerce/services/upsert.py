# ruff: noqa: S608 - f-strings interpolate only this module's table-name constants; every value is a query parameter
"""Write customers, orders, line items and refunds in bulk, never replacing newer data with older.

Every write is `INSERT ... SELECT FROM <staging> ON CONFLICT (shop_id, shopify_id) DO UPDATE ...
WHERE excluded.updated_at >= <table>.updated_at`: a version of a row replaces the stored one only when
Shopify changed it at the same time or later, so duplicated, reordered and late webhooks, a backfill that
overlaps them and a reconcile that re-reads them all converge on the newest version. Rows are staged with
COPY (commerce.services.copy), thousands per statement.

Order writes also keep `Order.total_refunded` and the summaries (commerce.services.summaries) current for
the customers they touch, in the same transaction.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db import connection, transaction

from shops.models import Shop

from ..shapes import CustomerRecord, LineItemRecord, OrderRecord, RefundRecord
from .bulk_jsonl import CopyBatch
from .copy import copy_rows, copy_text
from .summaries import AFFECTED_TABLE, create_affected_table, summaries_refresh_affected

# Writers of a shop's orders take this lock (with the shop id) for their transaction; see _lock_shop_orders.
_ORDER_WRITE_LOCK_CLASS = 0x0C0E  # arbitrary, distinct from other apps' advisory-lock classes


@dataclass(frozen=True, slots=True)
class UpsertResult:
    """`received`: rows handed in; `written`: rows inserted or updated (older versions are skipped)."""

    received: int
    written: int

    def __add__(self, other: UpsertResult) -> UpsertResult:
        return UpsertResult(self.received + other.received, self.written + other.written)


EMPTY = UpsertResult(0, 0)


# ---------------------------------------------------------------------------------------------- customers

_CUSTOMER_STAGE = "commerce_stage_customer"
_CUSTOMER_NEWEST = "commerce_stage_customer_newest"
_CUSTOMER_COLUMNS = (
    "shopify_id", "first_name", "last_name", "email", "phone", "email_marketing_state", "tags",
    "birth_date", "birth_date_known", "created_at", "updated_at",
)


def customers_upsert(*, shop: Shop, records: Sequence[CustomerRecord]) -> UpsertResult:
    """Insert or update customers by (shop, shopify_id); an older version never replaces a newer one.

    A payload that says nothing about the birthday (birth_date_known False) keeps the stored one.
    A newer version clears the customers/delete tombstone (Shopify never reuses ids, so a newer
    version can only mean the deletion we recorded was not the last word).
    """
    if not records:
        return EMPTY
    with transaction.atomic(), connection.cursor() as cur:
        _create_customer_stage(cur)
        copy_rows(
            cur,
            _CUSTOMER_STAGE,
            _CUSTOMER_COLUMNS,
            (
                (r.shopify_id, r.first_name[:255], r.last_name[:255], r.email[:255], r.phone[:64],
                 r.email_marketing_state, r.tags, r.birth_date, r.birth_date_known,
                 r.created_at, r.updated_at)
                for r in records
            ),
        )
        written = _customers_apply_staged(cur, shop)
    return UpsertResult(len(records), written)


def customers_upsert_copy(*, shop: Shop, batch: CopyBatch) -> UpsertResult:
    """`customers_upsert` for a backfill batch already in COPY text form (services.bulk_rows).

    Joins the caller's transaction without a savepoint (the backfill commits a batch with its progress).
    """
    if not batch.customers:
        return EMPTY
    with transaction.atomic(savepoint=False), connection.cursor() as cur:
        cur.execute("SET LOCAL work_mem = '64MB'")  # as orders_upsert_copy
        _create_customer_stage(cur)
        copy_text(cur, _CUSTOMER_STAGE, _CUSTOMER_COLUMNS, batch.customers)
        written = _customers_apply_staged(cur, shop)
    return UpsertResult(batch.records_read, written)


def _create_customer_stage(cur) -> None:
    cur.execute(
        f"""DROP TABLE IF EXISTS {_CUSTOMER_STAGE};
            DROP TABLE IF EXISTS {_CUSTOMER_NEWEST};
            CREATE TEMP TABLE {_CUSTOMER_STAGE} (
                shopify_id bigint NOT NULL, first_name text, last_name text, email text, phone text,
                email_marketing_state text, tags varchar(255)[], birth_date date,
                birth_date_known boolean, created_at timestamptz, updated_at timestamptz
            ) ON COMMIT DROP"""
    )


def _customers_apply_staged(cur, shop: Shop) -> int:
    # One statement may not touch a row twice: keep the newest version of each customer, preferring
    # one that knows the birthday when two versions share updated_at. The primary key lets the
    # birthday CASE below look its flag up by index. (One round trip: the last statement's row count
    # is the cursor's.)
    cur.execute(
        f"""
        CREATE TEMP TABLE {_CUSTOMER_NEWEST} ON COMMIT DROP AS
            SELECT DISTINCT ON (shopify_id) * FROM {_CUSTOMER_STAGE}
            ORDER BY shopify_id, updated_at DESC, birth_date_known DESC;
        ALTER TABLE {_CUSTOMER_NEWEST} ADD PRIMARY KEY (shopify_id);
        INSERT INTO commerce_customer AS t (
            shop_id, shopify_id, first_name, last_name, email, phone, email_marketing_state,
            tags, birth_date, created_at, updated_at, deleted_at, synced_at)
        SELECT %(shop)s, shopify_id, first_name, last_name, email, phone, email_marketing_state,
               tags, birth_date, created_at, updated_at, NULL, now()
        FROM {_CUSTOMER_NEWEST}
        ON CONFLICT (shop_id, shopify_id) DO UPDATE SET
            first_name = excluded.first_name, last_name = excluded.last_name, email = excluded.email,
            phone = excluded.phone, email_marketing_state = excluded.email_marketing_state,
            tags = excluded.tags,
            birth_date = CASE WHEN (SELECT n.birth_date_known FROM {_CUSTOMER_NEWEST} n
                                    WHERE n.shopify_id = excluded.shopify_id)
                              THEN excluded.birth_date ELSE t.birth_date END,
            created_at = excluded.created_at, updated_at = excluded.updated_at,
            deleted_at = CASE WHEN excluded.updated_at > t.updated_at THEN NULL ELSE t.deleted_at END,
            synced_at = excluded.synced_at
        WHERE excluded.updated_at >= t.updated_at
        """,
        {"shop": shop.pk},
    )
    return cur.rowcount


def customer_mark_deleted(*, shop: Shop, shopify_id: int, deleted_at: dt.datetime) -> bool:
    """Record a customers/delete: a tombstone row, so an older customers/update arriving late is ignored.

    The tombstone's updated_at is max(stored updated_at, deleted_at): deleted_at is when Shopify
    triggered the webhook (or when it arrived), which is after every change of the live customer.
    Orders keep their customer_shopify_id (Shopify keeps the orders of a deleted customer too).
    Returns True when a row was written.
    """
    with connection.cursor() as cur:
        cur.execute(
            """
            INSERT INTO commerce_customer AS t (
                shop_id, shopify_id, first_name, last_name, email, phone, email_marketing_state,
                tags, birth_date, created_at, updated_at, deleted_at, synced_at)
            VALUES (%(shop)s, %(id)s, '', '', '', '', '', '{}', NULL, %(at)s, %(at)s, %(at)s, now())
            ON CONFLICT (shop_id, shopify_id) DO UPDATE SET
                deleted_at = excluded.deleted_at,
                updated_at = GREATEST(t.updated_at, excluded.updated_at),
                synced_at = excluded.synced_at
            WHERE t.deleted_at IS NULL AND excluded.updated_at >= t.updated_at
            """,
            {"shop": shop.pk, "id": shopify_id, "at": deleted_at},
        )
        return cur.rowcount > 0


# ---------------------------------------------------------------------------------------------- orders

_ORDER_STAGE = "commerce_stage_order"
_LINE_STAGE = "commerce_stage_line"
_REFUND_STAGE = "commerce_stage_refund"
_APPLIED = "commerce_stage_applied"

_ORDER_COLUMNS = (
    "shopify_id", "name", "customer_shopify_id", "email", "created_at", "processed_at", "updated_at",
    "cancelled_at", "cancel_reason", "financial_status", "fulfillment_status", "currency",
    "presentment_currency", "subtotal", "total_discounts", "total_shipping", "total_tax", "total",
    "discount_codes", "landing_site", "referring_site", "test", "lines_complete", "taxes_included",
)
_LINE_COLUMNS = (
    "shopify_id", "order_shopify_id", "product_shopify_id", "variant_shopify_id", "title", "sku",
    "quantity", "price", "total_discount", "gift_card",
)
_REFUND_COLUMNS = (
    "shopify_id", "order_shopify_id", "created_at", "processed_at", "amount", "currency", "updated_at",
)


def _lock_shop_orders(cur, shop: Shop) -> None:
    """Serialise the writers of one shop's orders until commit.

    Summaries are recomputed from the orders of the touched customers. Two concurrent transactions
    (a webhook and a backfill batch) touching the same customer would each compute from a snapshot that
    misses the other's order and the last to commit would win with a stale sum. One writer per shop at a
    time makes every recompute see every committed order; a backfill batch holds the lock for about a
    second, so a webhook waits at most that long.
    """
    cur.execute(_LOCK_SQL, {"shop": shop.pk})


_LOCK_SQL = f"SELECT pg_advisory_xact_lock({_ORDER_WRITE_LOCK_CLASS}, %(shop)s)"

# The staging tables of one order write (temporary, dropped at commit).
_ORDER_STAGES_SQL = [
    *(f"DROP TABLE IF EXISTS {table}" for table in (_ORDER_STAGE, _LINE_STAGE, _REFUND_STAGE, _APPLIED)),
    f"""CREATE TEMP TABLE {_ORDER_STAGE} (
        shopify_id bigint NOT NULL, name text, customer_shopify_id bigint, email text,
        created_at timestamptz, processed_at timestamptz, updated_at timestamptz,
        cancelled_at timestamptz, cancel_reason text, financial_status text, fulfillment_status text,
        currency text, presentment_currency text, subtotal numeric, total_discounts numeric,
        total_shipping numeric, total_tax numeric, total numeric, discount_codes varchar(255)[],
        landing_site text, referring_site text, test boolean, lines_complete boolean,
        taxes_included boolean
    ) ON COMMIT DROP""",
    f"""CREATE TEMP TABLE {_LINE_STAGE} (
        shopify_id bigint NOT NULL, order_shopify_id bigint NOT NULL, product_shopify_id bigint,
        variant_shopify_id bigint, title text, sku text, quantity integer, price numeric,
        total_discount numeric, gift_card boolean
    ) ON COMMIT DROP""",
    f"""CREATE TEMP TABLE {_REFUND_STAGE} (
        shopify_id bigint NOT NULL, order_shopify_id bigint NOT NULL, created_at timestamptz,
        processed_at timestamptz, amount numeric, currency text, updated_at timestamptz
    ) ON COMMIT DROP""",
    # The orders this write applied, with the version now stored (their lines are stamped with it).
    f"CREATE TEMP TABLE {_APPLIED} (shopify_id bigint PRIMARY KEY, updated_at timestamptz) ON COMMIT DROP",
]


def _execute_script(cur, statements: Sequence[str], params: dict) -> None:
    """Run several statements in one round trip (psycopg2 sends them as one simple query).

    Why: the backfill's reader thread holds the GIL while the writer waits on PostgreSQL, and every
    return from the database costs the writer a GIL hand-over; a batch's statements sent one by one
    spent more time waiting for the GIL than in some of the statements.
    """
    cur.execute(";\n".join(statements), params)


def _create_order_stages(cur) -> None:
    _execute_script(cur, _ORDER_STAGES_SQL, {})


def _line_row(li: LineItemRecord) -> tuple:
    return (li.shopify_id, li.order_shopify_id, li.product_shopify_id, li.variant_shopify_id,
            li.title[:255], li.sku[:255], li.quantity, li.price, li.total_discount, li.gift_card)


def _refund_row(r: RefundRecord) -> tuple:
    return (r.shopify_id, r.order_shopify_id, r.created_at, r.processed_at, r.amount, r.currency, r.updated_at)


def _order_row(o: OrderRecord) -> tuple:
    return (o.shopify_id, o.name[:64], o.customer_shopify_id, o.email[:255], o.created_at, o.processed_at,
            o.updated_at, o.cancelled_at, o.cancel_reason, o.financial_status, o.fulfillment_status,
            o.currency, o.presentment_currency, o.subtotal, o.total_discounts, o.total_shipping,
            o.total_tax, o.total, o.discount_codes, o.landing_site, o.referring_site, o.test,
            o.line_items_complete, o.taxes_included)


def orders_upsert(
    *,
    shop: Shop,
    orders: Sequence[OrderRecord] = (),
    refunds: Iterable[RefundRecord] = (),
    line_items: Iterable[LineItemRecord] = (),
) -> UpsertResult:
    """Write orders (with their line items and refunds), loose refunds and loose line items in one transaction.

    - Orders: inserted, or updated when the given version is as new as the stored one or newer. An
      order written from a payload with its complete line items (`line_items_complete`) gets exactly
      those lines; otherwise its lines are added/updated and none removed.
    - Refunds (the orders' own and `refunds`, e.g. a refunds/create body) are stored even when their
      order is not here yet; that order's later upsert picks them up (total_refunded).
    - `line_items`: lines whose order was written earlier (a bulk file that put them after other orders).
    - Afterwards `Order.total_refunded` and the summaries of every customer whose orders changed
      (including an order's previous customer) are recomputed, in this transaction.
    Returns the orders received and written (written counts orders only).
    """
    refunds = list(refunds)
    line_items = list(line_items)
    if not orders and not refunds and not line_items:
        return EMPTY
    with transaction.atomic(), connection.cursor() as cur:
        _lock_shop_orders(cur, shop)
        _create_order_stages(cur)
        create_affected_table(cur)
        copy_rows(cur, _ORDER_STAGE, _ORDER_COLUMNS, (_order_row(o) for o in orders))
        copy_rows(
            cur, _LINE_STAGE, _LINE_COLUMNS,
            [_line_row(li) for o in orders for li in o.line_items] + [_line_row(li) for li in line_items],
        )
        copy_rows(
            cur, _REFUND_STAGE, _REFUND_COLUMNS,
            [_refund_row(r) for o in orders for r in o.refunds] + [_refund_row(r) for r in refunds],
        )
        written = _orders_apply_staged(
            cur, shop, has_orders=bool(orders), replace_lines=any(o.line_items_complete for o in orders),
            track_customers=True,
        )
        summaries_refresh_affected(cur, shop)
    return UpsertResult(len(orders), written)


def orders_upsert_copy(*, shop: Shop, batch: CopyBatch) -> UpsertResult:
    """The backfill's order write: `orders_upsert` for a batch already in COPY text form, same rules,
    WITHOUT refreshing the summaries.

    The summaries of the customers a backfill writes are rebuilt set-based once the orders are all in
    (services.backfill runs summaries_rebuild before it marks the run succeeded): recomputing every
    touched customer batch after batch re-reads each customer's orders again and again and costs more
    than the writes themselves. In the meantime the summaries lag the orders, which is what a running
    backfill shows anyway (partial data). Webhooks that arrive meanwhile are still exact: orders_upsert
    recomputes their customers from all committed orders, the backfill's included, under the same shop
    lock as these batches and the final rebuild.
    Joins the caller's transaction without a savepoint (the backfill commits a batch with its progress).
    Returns the orders received and written.
    """
    if not (batch.orders or batch.line_items or batch.refunds):
        return EMPTY
    with transaction.atomic(savepoint=False), connection.cursor() as cur:
        # Sorting a batch (DISTINCT ON) in memory rather than in temporary files; this transaction only.
        _execute_script(cur, [_LOCK_SQL, "SET LOCAL work_mem = '64MB'", *_ORDER_STAGES_SQL], {"shop": shop.pk})
        copy_text(cur, _ORDER_STAGE, _ORDER_COLUMNS, batch.orders)
        copy_text(cur, _LINE_STAGE, _LINE_COLUMNS, batch.line_items)
        copy_text(cur, _REFUND_STAGE, _REFUND_COLUMNS, batch.refunds)
        # A bulk order line never lists its line items (bulk_rows writes lines_complete false).
        written = _orders_apply_staged(
            cur, shop, has_orders=bool(batch.orders), replace_lines=False, track_customers=False
        )
    return UpsertResult(batch.records_read, written)


def _orders_apply_staged(cur, shop: Shop, *, has_orders: bool, replace_lines: bool, track_customers: bool) -> int:
    """Merge the staged orders, lines and refunds into the tables (the rules of orders_upsert).

    `replace_lines`: some staged order may list its complete line items (see orders_upsert).
    With `track_customers`, every customer whose orders or totals change (including an order's previous
    customer) is listed in summaries.AFFECTED_TABLE for summaries_refresh_affected. Returns the number
    of orders written.

    Every statement is driven by the (small) staging tables and reaches the shop's big tables through
    their (shop_id, ...) indexes with `= ANY(ARRAY(...))` index conditions: a join the planner could
    answer by scanning all of a shop's orders would make each backfill batch cost more than the last.
    All statements go in one round trip (_execute_script).
    """
    statements = [_REFUNDS_UPSERT_SQL]
    if has_orders:
        if track_customers:
            statements.append(_PREVIOUS_CUSTOMERS_SQL)
        statements.append(_ORDERS_UPSERT_SQL.format(track_written=_TRACK_WRITTEN if track_customers else ""))
        if replace_lines:
            statements.append(_REPLACED_LINES_DELETE_SQL)
    statements.append(_LINES_UPSERT_SQL)
    statements.append(_TOTAL_REFUNDED_SQL.format(track_updated=_TRACK_UPDATED if track_customers else "SELECT 1"))
    statements.append(f"SELECT count(*) FROM {_APPLIED}")
    _execute_script(cur, statements, {"shop": shop.pk})
    return cur.fetchone()[0]


# Refunds first, so the orders written next sum them at once. Refunds never lose information (Shopify
# does not edit a refund), so every version is applied, older ones included: a stale order payload
# still brings its refunds.
_REFUNDS_UPSERT_SQL = f"""
    INSERT INTO commerce_refund AS t (
        shop_id, shopify_id, order_shopify_id, created_at, processed_at, amount, currency,
        updated_at, synced_at)
    SELECT DISTINCT ON (shopify_id)
        %(shop)s, shopify_id, order_shopify_id, created_at, processed_at, amount, currency,
        updated_at, now()
    FROM {_REFUND_STAGE}
    ORDER BY shopify_id, updated_at DESC
    ON CONFLICT (shop_id, shopify_id) DO UPDATE SET
        order_shopify_id = excluded.order_shopify_id, created_at = excluded.created_at,
        processed_at = excluded.processed_at, amount = excluded.amount, currency = excluded.currency,
        updated_at = excluded.updated_at, synced_at = excluded.synced_at
    WHERE excluded.updated_at >= t.updated_at"""

# The customers the orders belonged to before this write: moving an order to another customer (or to
# none) changes the old customer's summary too.
_PREVIOUS_CUSTOMERS_SQL = f"""
    INSERT INTO {AFFECTED_TABLE} (customer_shopify_id)
    SELECT DISTINCT o.customer_shopify_id FROM commerce_order o
    WHERE o.shop_id = %(shop)s AND o.shopify_id = ANY (ARRAY(SELECT shopify_id FROM {_ORDER_STAGE}))
      AND o.customer_shopify_id IS NOT NULL
    ON CONFLICT DO NOTHING"""

_TRACK_WRITTEN = f""", affected AS (
        INSERT INTO {AFFECTED_TABLE} (customer_shopify_id)
        SELECT DISTINCT customer_shopify_id FROM written WHERE customer_shopify_id IS NOT NULL
        ON CONFLICT DO NOTHING
    )"""

# total_refunded is the sum of the order's stored refunds (this payload's included, written just
# before), summed for all staged orders at once through the refunds' (shop, order) index.
_ORDERS_UPSERT_SQL = f"""
    WITH refunded AS MATERIALIZED (
        SELECT r.order_shopify_id, sum(r.amount) AS amount FROM commerce_refund r
        WHERE r.shop_id = %(shop)s AND r.order_shopify_id = ANY (ARRAY(SELECT shopify_id FROM {_ORDER_STAGE}))
        GROUP BY r.order_shopify_id
    ), written AS (
        INSERT INTO commerce_order AS t (
            shop_id, shopify_id, name, customer_shopify_id, email, created_at, processed_at,
            updated_at, cancelled_at, cancel_reason, financial_status, fulfillment_status,
            currency, presentment_currency, subtotal, total_discounts, total_shipping, total_tax,
            total, total_refunded, discount_codes, landing_site, referring_site, test, synced_at,
            taxes_included)
        SELECT
            %(shop)s, s.shopify_id, s.name, s.customer_shopify_id, s.email, s.created_at,
            s.processed_at, s.updated_at, s.cancelled_at, s.cancel_reason, s.financial_status,
            s.fulfillment_status, s.currency, s.presentment_currency, s.subtotal, s.total_discounts,
            s.total_shipping, s.total_tax, s.total, COALESCE(rf.amount, 0),
            s.discount_codes, s.landing_site, s.referring_site, s.test, now(),
            COALESCE(s.taxes_included, false)
        FROM (SELECT DISTINCT ON (shopify_id) * FROM {_ORDER_STAGE}
              ORDER BY shopify_id, updated_at DESC, lines_complete DESC) s
        LEFT JOIN refunded rf ON rf.order_shopify_id = s.shopify_id
        ON CONFLICT (shop_id, shopify_id) DO UPDATE SET
            name = excluded.name, customer_shopify_id = excluded.customer_shopify_id,
            email = excluded.email, created_at = excluded.created_at,
            processed_at = excluded.processed_at, updated_at = excluded.updated_at,
            cancelled_at = excluded.cancelled_at, cancel_reason = excluded.cancel_reason,
            financial_status = excluded.financial_status,
            fulfillment_status = excluded.fulfillment_status, currency = excluded.currency,
            presentment_currency = excluded.presentment_currency, subtotal = excluded.subtotal,
            total_discounts = excluded.total_discounts, total_shipping = excluded.total_shipping,
            total_tax = excluded.total_tax, total = excluded.total,
            total_refunded = excluded.total_refunded,
            discount_codes = excluded.discount_codes, landing_site = excluded.landing_site,
            referring_site = excluded.referring_site, test = excluded.test,
            synced_at = excluded.synced_at, taxes_included = excluded.taxes_included
        WHERE excluded.updated_at >= t.updated_at
        RETURNING t.shopify_id, t.customer_shopify_id, t.updated_at
    ){{track_written}}
    INSERT INTO {_APPLIED} (shopify_id, updated_at) SELECT shopify_id, updated_at FROM written"""

# Replace the lines of the written orders whose payload listed them all.
_REPLACED_LINES_DELETE_SQL = f"""
    DELETE FROM commerce_orderlineitem l
    USING {_APPLIED} a
    WHERE l.shop_id = %(shop)s AND l.order_shopify_id = a.shopify_id
      AND EXISTS (SELECT 1 FROM {_ORDER_STAGE} s WHERE s.shopify_id = a.shopify_id AND s.lines_complete)
      AND NOT EXISTS (SELECT 1 FROM {_LINE_STAGE} sl WHERE sl.shopify_id = l.shopify_id)"""

# Lines of the orders written now, stamped with the version written, and loose lines: of orders not in
# this write but stored earlier (a bulk file's child past a batch boundary, a line-items page), stamped
# with the stored version. Lines of a staged version that lost to a newer stored order are not applied.
_LINES_UPSERT_SQL = f"""
    WITH stored AS MATERIALIZED (
        SELECT o.shopify_id, o.updated_at FROM commerce_order o
        WHERE o.shop_id = %(shop)s
          AND o.shopify_id = ANY (ARRAY(SELECT order_shopify_id FROM {_LINE_STAGE}
                                        EXCEPT SELECT shopify_id FROM {_ORDER_STAGE}))
    ), versions AS (
        SELECT shopify_id, updated_at FROM {_APPLIED} UNION ALL SELECT shopify_id, updated_at FROM stored
    )
    INSERT INTO commerce_orderlineitem AS t (
        shop_id, shopify_id, order_shopify_id, product_shopify_id, variant_shopify_id, title, sku,
        quantity, price, total_discount, updated_at, gift_card)
    SELECT DISTINCT ON (l.shopify_id)
        %(shop)s, l.shopify_id, l.order_shopify_id, l.product_shopify_id, l.variant_shopify_id,
        l.title, l.sku, l.quantity, l.price, l.total_discount, v.updated_at, COALESCE(l.gift_card, false)
    FROM {_LINE_STAGE} l JOIN versions v ON v.shopify_id = l.order_shopify_id
    ORDER BY l.shopify_id
    ON CONFLICT (shop_id, shopify_id) DO UPDATE SET
        order_shopify_id = excluded.order_shopify_id,
        product_shopify_id = excluded.product_shopify_id,
        variant_shopify_id = excluded.variant_shopify_id, title = excluded.title, sku = excluded.sku,
        quantity = excluded.quantity, price = excluded.price,
        total_discount = excluded.total_discount, updated_at = excluded.updated_at,
        gift_card = excluded.gift_card
    WHERE excluded.updated_at >= t.updated_at"""

_TRACK_UPDATED = f"""
    INSERT INTO {AFFECTED_TABLE} (customer_shopify_id)
    SELECT DISTINCT customer_shopify_id FROM updated WHERE customer_shopify_id IS NOT NULL
    ON CONFLICT DO NOTHING"""

# total_refunded of stored orders whose refunds changed here without the order being written (a
# refunds/create body, or an order version that lost to a newer stored one); only rows whose value
# differs are rewritten. Orders written above already have their sum.
_REFUND_SUM = """COALESCE((SELECT sum(r.amount) FROM commerce_refund r
                          WHERE r.shop_id = o.shop_id AND r.order_shopify_id = o.shopify_id), 0)"""
_TOTAL_REFUNDED_SQL = f"""
    WITH updated AS (
        UPDATE commerce_order o SET total_refunded = {_REFUND_SUM}
        WHERE o.shop_id = %(shop)s
          AND o.shopify_id = ANY (ARRAY(SELECT order_shopify_id FROM {_REFUND_STAGE}
                                        EXCEPT SELECT shopify_id FROM {_APPLIED}))
          AND o.total_refunded <> {_REFUND_SUM}
        RETURNING o.customer_shopify_id
    ){{track_updated}}"""
