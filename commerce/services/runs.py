"""Sync runs: create (one active per shop and kind), record progress, finish, fail."""
from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from shops.models import Shop

from ..models import OrderSyncRun


def sync_run_request(*, shop: Shop, kind: str) -> tuple[OrderSyncRun, bool]:
    """The shop's active run of `kind`, or a new queued one. Returns (run, created).

    Idempotent: a second request while one is queued or running joins it (a partial unique index
    allows one active run per shop and kind). The caller enqueues the task on commit when created.
    """
    if kind not in OrderSyncRun.Kind.values:
        raise ValueError(f"unknown sync kind {kind!r}")
    active = OrderSyncRun.objects.filter(shop=shop, kind=kind, status__in=["queued", "running"]).first()
    if active is not None:
        return active, False
    try:
        with transaction.atomic():
            return OrderSyncRun.objects.create(shop=shop, kind=kind), True
    except IntegrityError:
        # A concurrent request created it first.
        return OrderSyncRun.objects.get(shop=shop, kind=kind, status__in=["queued", "running"]), False


def sync_run_mark_running(*, run: OrderSyncRun) -> None:
    now = timezone.now()
    fields = {"status": OrderSyncRun.Status.RUNNING, "heartbeat_at": now}
    if run.started_at is None:
        fields["started_at"] = now
    if run.watermark_at is None:
        fields["watermark_at"] = now
    OrderSyncRun.objects.filter(pk=run.pk).update(**fields)
    for key, value in fields.items():
        setattr(run, key, value)


def sync_run_add_progress(*, run: OrderSyncRun, read: int, written: int, **fields) -> None:
    """Add to the counters (atomic F() update; call inside the batch's transaction to commit together)."""
    OrderSyncRun.objects.filter(pk=run.pk).update(
        rows_read=F("rows_read") + read,
        rows_written=F("rows_written") + written,
        heartbeat_at=timezone.now(),
        **fields,
    )
    run.rows_read += read
    run.rows_written += written
    for key, value in fields.items():
        setattr(run, key, value)


def sync_run_finish(*, run: OrderSyncRun) -> None:
    now = timezone.now()
    OrderSyncRun.objects.filter(pk=run.pk).update(
        status=OrderSyncRun.Status.SUCCEEDED, finished_at=now, heartbeat_at=now, error=""
    )
    run.status, run.finished_at = OrderSyncRun.Status.SUCCEEDED, now


def sync_run_fail(*, run: OrderSyncRun, reason: str) -> None:
    now = timezone.now()
    OrderSyncRun.objects.filter(pk=run.pk).update(
        status=OrderSyncRun.Status.FAILED, finished_at=now, heartbeat_at=now, error=reason[:4000]
    )
    run.status, run.finished_at, run.error = OrderSyncRun.Status.FAILED, now, reason


def last_good_sync_at(shop: Shop) -> dt.datetime | None:
    """Every change Shopify made before this instant is in our copy (latest succeeded run's watermark)."""
    return (
        OrderSyncRun.objects.filter(shop=shop, status=OrderSyncRun.Status.SUCCEEDED)
        .order_by("-watermark_at")
        .values_list("watermark_at", flat=True)
        .first()
    )
