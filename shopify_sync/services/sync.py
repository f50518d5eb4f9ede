"""Sync runs: start one, run it through the registered kind, record progress and the outcome."""
from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from shops.models import Shop

from ..models import SyncRun

logger = logging.getLogger(__name__)


def sync_start(shop: Shop, kind: str = "backfill") -> SyncRun:
    """Create a queued SyncRun and enqueue shopify_sync.tasks.sync_run after commit."""
    from ..tasks import sync_run

    with transaction.atomic():
        run = SyncRun.objects.create(shop=shop, kind=kind)
        run_id = run.pk
        transaction.on_commit(lambda: sync_run.delay(run_id))
    return run


def sync_run_progress(
    run: SyncRun, *, rows_read: int = 0, rows_written: int = 0, rows_total: int | None = None
) -> None:
    """Add to the run's counters (and set the total when it becomes known)."""
    updates: dict = {"rows_read": F("rows_read") + rows_read, "rows_written": F("rows_written") + rows_written}
    if rows_total is not None:
        updates["rows_total"] = rows_total
    SyncRun.objects.filter(pk=run.pk).update(**updates)


def _fail(run: SyncRun, reason: str) -> None:
    run.status = SyncRun.Status.FAILED
    run.error = reason[:4000]
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "error", "finished_at"])


def sync_run_execute(*, shop_id: int | None = None, sync_run_id: int) -> SyncRun | None:
    """Run a queued SyncRun through its kind (shopify_sync.sync_kinds). Once only: a run no longer
    queued is left alone. Unknown kind or an exception from the kind: the run fails with the reason."""
    from .. import sync_kinds

    with transaction.atomic():
        rows = SyncRun.objects.select_for_update(skip_locked=True).filter(pk=sync_run_id, status=SyncRun.Status.QUEUED)
        if shop_id is not None:
            rows = rows.filter(shop_id=shop_id)
        run = rows.select_related("shop").first()
        if run is None:
            return None
        fn = sync_kinds.kind_for(run.kind)
        if fn is None:
            _fail(run, f"no sync kind {run.kind!r} is registered (known: {', '.join(sync_kinds.registered_kinds()) or 'none'})")
            logger.error("sync run %s: unknown kind %s", run.pk, run.kind)
            return run
        run.status = SyncRun.Status.RUNNING
        run.started_at = timezone.now()
        run.save(update_fields=["status", "started_at"])
    try:
        result = fn(run.shop, sync_run=run)
    except Exception as exc:
        logger.exception("sync run %s (%s) failed", run.pk, run.kind)
        run.refresh_from_db()
        _fail(run, f"{type(exc).__name__}: {exc}")
        return run
    run.refresh_from_db()
    run.status = SyncRun.Status.SUCCEEDED
    run.finished_at = timezone.now()
    run.result = "" if result is None else str(result)[:2000]
    run.save(update_fields=["status", "finished_at", "result"])
    return run
