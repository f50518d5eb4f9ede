"""Backfill: copy all of a shop's customers and orders with two bulk operations, resumably.

One step (`backfill_advance`) does whatever is next and returns what the caller should do:
  stage customers: start the bulk query -> WAITING (finish webhook or poll calls again)
                   COMPLETED -> stream the JSONL, upsert in batches -> stage orders
  stage orders:    the same with orders (line items as __parentId children, refunds inline) -> DONE
Customers go first so an order's customer usually exists when the order lands (nothing depends on it:
rows reference Shopify ids). Two operations rather than one: a customers+orders query would nest
orders under customers and leave guest orders out.

Every batch commits its rows, the run's counters and `lines_committed` in one transaction, so a step
that dies (worker killed, deploy, time limit) resumes at the last committed line. A bulk operation that
failed, was cancelled or whose file expired (Shopify keeps it 7 days) is started again: upserts never
overwrite newer with older, so re-reading is always safe.

Speed (docs/benchmarks.md, "Order sync"): the file is parsed straight into COPY text
(services.bulk_rows) in a reader thread that runs ahead of the writes, batches are large, their commits
do not wait for the WAL flush, and the summaries are rebuilt once at the end instead of per batch.
"""
from __future__ import annotations

import contextlib
import enum
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
from django.db import DatabaseError, connection, transaction

from loyalty.services import hooks as loyalty_hooks

from ..models import OrderSyncRun
from .bulk_jsonl import (
    CopyBatch,
    iter_byte_lines,
    prefetched,
    read_customer_copy_batches,
    read_order_copy_batches,
)
from .runs import sync_run_add_progress, sync_run_fail, sync_run_finish, sync_run_mark_running
from .shopify import AdminAPI, admin_client, document
from .summaries import summaries_rebuild
from .upsert import customers_upsert_copy, orders_upsert_copy

log = logging.getLogger(__name__)

# Customers or orders per batch (one transaction). Large enough that per-statement and per-commit
# costs vanish (~20 MB of JSON, ~10 MB of COPY text per batch); small enough that a webhook waiting on
# the shop's order-write lock waits about a second, and that memory stays a few batches' worth.
BATCH_SIZE = 20_000
# A step stops after a committed batch once this many seconds have passed, and is re-enqueued: a huge
# shop never meets the task's hard time limit in the middle of a batch.
STEP_TIME_BUDGET_SECONDS = 240.0
MAX_BULK_RESTARTS = 3
REQUIRED_SCOPES = ("read_customers", "read_orders", "read_all_orders")

_RUN_LOCK_CLASS = 0x0C0F


class Step(enum.StrEnum):
    WAITING = "waiting"  # a bulk operation is running: call again on its finish webhook or a poll
    CONTINUE = "continue"  # time budget used: call again right away
    DONE = "done"
    FAILED = "failed"
    BUSY = "busy"  # another worker is advancing this run right now


class BulkResultUnavailable(Exception):
    """The result file is gone (expired URL): the operation must run again."""


ChunkOpener = Callable[[str], contextlib.AbstractContextManager[Iterator[bytes]]]


@contextlib.contextmanager
def http_chunks(url: str) -> Iterator[Iterator[bytes]]:
    """Stream a bulk result over HTTP in 1 MiB chunks; the body is never held whole."""
    with httpx.Client(timeout=httpx.Timeout(60.0, connect=10.0), follow_redirects=True) as client:
        with client.stream("GET", url) as response:
            if response.status_code in (401, 403, 404, 410):
                raise BulkResultUnavailable(f"bulk result returned HTTP {response.status_code}")
            response.raise_for_status()
            yield response.iter_bytes(chunk_size=1 << 20)


@contextlib.contextmanager
def _run_lock(run_id: int) -> Iterator[bool]:
    """Session advisory lock: the finish webhook and a poll may both call a step; one advances it.
    Released on exit, or by PostgreSQL when a killed worker's connection closes."""
    with connection.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_lock(%s, %s)", [_RUN_LOCK_CLASS, run_id])
        acquired = bool(cur.fetchone()[0])
    try:
        yield acquired
    finally:
        if acquired:
            with connection.cursor() as cur:
                cur.execute("SELECT pg_advisory_unlock(%s, %s)", [_RUN_LOCK_CLASS, run_id])


def _bulk_start(client: AdminAPI, stage: str) -> str:
    query = document("bulk_customers" if stage == OrderSyncRun.Stage.CUSTOMERS else "bulk_orders")
    data = client.execute(document("bulk_operation_run_query"), {"query": query})
    payload = data["bulkOperationRunQuery"]
    if payload.get("userErrors"):
        raise RuntimeError(f"bulkOperationRunQuery refused: {payload['userErrors']}")
    return payload["bulkOperation"]["id"]


def _bulk_status(client: AdminAPI, gid: str) -> dict[str, Any]:
    op = client.execute(document("bulk_operation_status"), {"id": gid})["bulkOperation"]
    if op is None:
        return {"status": "EXPIRED", "errorCode": "NOT_FOUND"}
    return op


def _restart_stage(run: OrderSyncRun, reason: str) -> bool:
    """Forget the current bulk operation so the next loop starts a new one. False when out of restarts."""
    if run.bulk_restarts >= MAX_BULK_RESTARTS:
        sync_run_fail(run=run, reason=f"{run.stage} bulk operation failed {run.bulk_restarts + 1} times: {reason}")
        return False
    log.warning("backfill run %s: restarting %s bulk operation (%s)", run.pk, run.stage, reason)
    run.bulk_restarts += 1
    run.bulk_operation_gid = ""
    run.lines_committed = 0
    run.save(update_fields=["bulk_restarts", "bulk_operation_gid", "lines_committed"])
    return True


def _process_result(run: OrderSyncRun, url: str, opener: ChunkOpener, deadline: float) -> bool:
    """Upsert the result from `run.lines_committed` on. True when the file is done, False at the deadline.

    The download and the parsing run in a reader thread (bulk_jsonl.prefetched) one batch ahead of the
    writes, so Python's work and PostgreSQL's overlap. Each batch commits its rows with the run's
    progress and resume line, so the reader being ahead never loses anything: what was read and not
    committed is read again by the next step.
    """
    shop = run.shop
    customers = run.stage == OrderSyncRun.Stage.CUSTOMERS
    skip = run.lines_committed

    def batches() -> Iterator[CopyBatch]:
        with opener(url) as chunks:
            lines = iter_byte_lines(chunks)
            reader = read_customer_copy_batches if customers else read_order_copy_batches
            yield from reader(lines, batch_size=BATCH_SIZE, skip_lines=skip)

    with prefetched(batches()) as ready:
        for batch in ready:
            with transaction.atomic():
                _relax_commit_durability()
                if customers:
                    result = customers_upsert_copy(shop=shop, batch=batch)
                else:
                    result = orders_upsert_copy(shop=shop, batch=batch)
                sync_run_add_progress(
                    run=run, read=batch.records_read, written=result.written, lines_committed=batch.lines_done
                )
            if time.monotonic() > deadline:
                return False
    return True


def _relax_commit_durability() -> None:
    """Commit this batch without waiting for its WAL flush (synchronous_commit = off, this transaction only).

    Safe here and only here: the batch's rows and the run's resume line (`lines_committed`) commit in
    the same transaction, so a PostgreSQL crash that loses the last few hundred milliseconds of commits
    loses rows and resume line together, and the next step re-reads those lines (upserts are
    idempotent). Nothing outside the database learns of a batch's commit. The run's final commit
    (summaries rebuilt, status succeeded) keeps the default, durable commit.
    """
    with connection.cursor() as cur:
        cur.execute("SET LOCAL synchronous_commit TO OFF")


def _orders_stage_finish(run: OrderSyncRun) -> None:
    """Rebuild the shop's summaries from its orders, mark the run succeeded and queue a predicted-value
    fit, in one transaction.

    The backfill's batches leave the summaries alone (upsert.orders_upsert_copy); this set-based
    rebuild (one GROUP BY over the shop's orders, under the shop's order-write lock so no webhook
    write interleaves) makes them exact. Committing it with the run's success means a step that dies
    in between just rebuilds again: there is no succeeded run with stale summaries.
    """
    if run.rows_written >= ANALYZE_AFTER_ROWS:
        _orders_vacuum()
    with transaction.atomic():
        summaries_rebuild(shop=run.shop)
        sync_run_finish(run=run)
        # Reports hook: fit the predicted-value model on the whole history now, not at the next daily
        # run (queued with the run's success: sent after this commits, never for a run that did not).
        from reports.models import ClvFit
        from reports.services import clv_fit_request

        clv_fit_request(run.shop, reason=ClvFit.Reason.BACKFILL)
    if run.rows_written >= ANALYZE_AFTER_ROWS:
        _tables_analyze()


def _orders_vacuum() -> None:
    """VACUUM (ANALYZE) commerce_order after a big load, before the summaries are rebuilt from it.

    summaries_rebuild reads the shop's orders with an index-only scan of the covering index
    commerce_order_shop_cust_cov (commerce.services.summaries), which skips the table only for pages the
    visibility map marks all-visible. Freshly loaded pages are not, until autovacuum gets to them on its
    own schedule; VACUUM marks them now (and sets the hint bits the rebuild's first read would otherwise
    set), so the rebuild reads the index instead of every row of the table. It skips the pages that
    are already all-visible (other shops' old orders), takes no lock that blocks reads or writes, and
    cannot run inside a transaction: here, between the batches and the rebuild's transaction. Best
    effort: without it the rebuild is slower, not wrong.
    """
    if connection.in_atomic_block:  # a caller's transaction (tests): VACUUM would fail
        return
    try:
        with connection.cursor() as cur:
            cur.execute("VACUUM (ANALYZE) commerce_order")
    except DatabaseError:
        log.warning("VACUUM of commerce_order after the backfill failed; the rebuild reads the table",
                    exc_info=True)


# A backfill that wrote this many rows refreshes the planner's statistics of the tables it loaded.
ANALYZE_AFTER_ROWS = 50_000
_LOADED_TABLES = ("commerce_customer", "commerce_order", "commerce_orderlineitem", "commerce_refund",
                  "commerce_customersummary", "commerce_customermonthsummary")


def _tables_analyze() -> None:
    """ANALYZE the tables a big backfill just loaded, before the merchant opens the home page.

    Right after a load the planner still has the old statistics (or none, on a first install), and
    autovacuum analyses on its own schedule: measured on the 1,000,000-order benchmark shop, the report
    queries were then planned for 1-10 rows instead of ~200,000 (docs/benchmarks.md). ANALYZE samples a
    fixed 30,000 rows per table whatever its size (about two seconds for all six here) and takes no lock
    that blocks reads or writes. Best effort: the run has already succeeded.
    """
    try:
        with connection.cursor() as cur:
            cur.execute(f"ANALYZE {', '.join(_LOADED_TABLES)}")
    except DatabaseError:
        log.warning("ANALYZE after the backfill failed; autovacuum will analyse later", exc_info=True)


def backfill_advance(
    *,
    run_id: int,
    client: AdminAPI | None = None,
    opener: ChunkOpener = http_chunks,
    time_budget: float = STEP_TIME_BUDGET_SECONDS,
) -> Step:
    """Advance a backfill run by one step (see the module docstring). Safe to call any number of times."""
    with _run_lock(run_id) as acquired:
        if not acquired:
            return Step.BUSY
        run = OrderSyncRun.objects.select_related("shop").get(pk=run_id)
        if run.status == OrderSyncRun.Status.SUCCEEDED:
            return Step.DONE
        if run.status == OrderSyncRun.Status.FAILED:
            return Step.FAILED
        shop = run.shop
        if not shop.is_installed:
            sync_run_fail(run=run, reason="the shop uninstalled the app")
            return Step.FAILED
        missing = [s for s in REQUIRED_SCOPES if s not in shop.granted_scopes]
        if missing:
            # Without read_all_orders Shopify shows only the last 60 days: a silent partial copy is
            # worse than a clear failure the merchant can fix by approving the scopes.
            sync_run_fail(run=run, reason=f"missing access scopes: {', '.join(missing)}")
            return Step.FAILED
        sync_run_mark_running(run=run)
        client = client or admin_client(shop)
        deadline = time.monotonic() + time_budget
        while True:
            if not run.stage:
                run.stage = OrderSyncRun.Stage.CUSTOMERS
                run.save(update_fields=["stage"])
            if not run.bulk_operation_gid:
                run.bulk_operation_gid = _bulk_start(client, run.stage)
                run.lines_committed = 0
                run.save(update_fields=["bulk_operation_gid", "lines_committed"])
                return Step.WAITING
            op = _bulk_status(client, run.bulk_operation_gid)
            status = op["status"]
            if status in ("CREATED", "RUNNING", "CANCELING"):
                return Step.WAITING
            if status != "COMPLETED":
                if not _restart_stage(run, f"{status} ({op.get('errorCode')})"):
                    return Step.FAILED
                continue
            if run.lines_committed == 0:
                # Objects of this stage's result: customers, or orders plus their line items.
                known = run.rows_read if run.stage == OrderSyncRun.Stage.ORDERS else 0
                run.rows_total = known + int(op.get("rootObjectCount") or op.get("objectCount") or 0)
                run.save(update_fields=["rows_total"])
            url = op.get("url")
            if url:
                try:
                    if not _process_result(run, url, opener, deadline):
                        return Step.CONTINUE
                except BulkResultUnavailable as exc:
                    if not _restart_stage(run, str(exc)):
                        return Step.FAILED
                    continue
            # url is null when the operation found nothing: an empty stage.
            if run.stage == OrderSyncRun.Stage.CUSTOMERS:
                run.stage = OrderSyncRun.Stage.ORDERS
                run.bulk_operation_gid = ""
                run.lines_committed = 0
                run.bulk_restarts = 0
                run.save(update_fields=["stage", "bulk_operation_gid", "lines_committed", "bulk_restarts"])
                continue
            _orders_stage_finish(run)
            # Loyalty hook: if the merchant chose that past orders earn, import them now, as one chain of
            # batch tasks (loyalty.tasks.past_orders_import), never a task per order.
            loyalty_hooks.past_orders_import_enqueue(shop_id=shop.pk)
            return Step.DONE


def backfill_run_for_bulk_operation(*, shop_id: int, bulk_operation_gid: str) -> OrderSyncRun | None:
    """The active backfill waiting on this bulk operation (for the bulk_operations/finish webhook)."""
    return OrderSyncRun.objects.filter(
        shop_id=shop_id,
        kind=OrderSyncRun.Kind.BACKFILL,
        status__in=["queued", "running"],
        bulk_operation_gid=bulk_operation_gid,
    ).first()
