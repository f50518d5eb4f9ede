"""Reads of commerce data: always take the shop first."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone

from shops.models import Shop

from .models import Customer, Order, OrderSyncRun
from .services.runs import last_good_sync_at

# A running run whose heartbeat is older than this is shown as stalled (its worker probably died;
# the task's acks_late redelivery or the retry button resumes it).
STALLED_AFTER = dt.timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class RunStatus:
    id: int
    kind: str
    status: str  # queued | running | succeeded | failed
    stage: str  # backfill: customers | orders
    rows_read: int
    rows_written: int
    rows_total: int | None
    percent: int | None  # of rows_total, when known
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    error: str
    stalled: bool


@dataclass(frozen=True, slots=True)
class SyncStatus:
    """What the admin's sync panel shows, and whether its retry button applies."""

    shop_domain: str
    customers: int
    orders: int
    last_good_sync_at: dt.datetime | None
    active: RunStatus | None
    latest_backfill: RunStatus | None
    recent: list[RunStatus]
    can_retry: bool  # no run active and the latest backfill failed or never ran


def _run_status(run: OrderSyncRun, now: dt.datetime) -> RunStatus:
    percent = None
    if run.rows_total:
        percent = min(100, int(run.rows_read * 100 / run.rows_total))
    stalled = (
        run.status == OrderSyncRun.Status.RUNNING
        and run.heartbeat_at is not None
        and now - run.heartbeat_at > STALLED_AFTER
    )
    return RunStatus(
        id=run.pk, kind=run.kind, status=run.status, stage=run.stage, rows_read=run.rows_read,
        rows_written=run.rows_written, rows_total=run.rows_total, percent=percent, created_at=run.created_at,
        started_at=run.started_at, finished_at=run.finished_at, error=run.error, stalled=stalled,
    )


def sync_status(shop: Shop, *, recent: int = 10) -> SyncStatus:
    """The shop's order/customer sync: counts, last good sync, the active run and recent ones."""
    now = timezone.now()
    runs = list(OrderSyncRun.objects.filter(shop=shop).order_by("-created_at", "-pk")[:recent])
    statuses = [_run_status(r, now) for r in runs]
    active = next((s for s in statuses if s.status in ("queued", "running")), None)
    backfill = next((s for s in statuses if s.kind == OrderSyncRun.Kind.BACKFILL), None)
    if backfill is None:
        run = OrderSyncRun.objects.filter(shop=shop, kind=OrderSyncRun.Kind.BACKFILL).order_by("-created_at").first()
        backfill = _run_status(run, now) if run else None
    return SyncStatus(
        shop_domain=shop.domain,
        customers=Customer.objects.for_shop(shop).filter(deleted_at__isnull=True).count(),
        orders=Order.objects.for_shop(shop).count(),
        last_good_sync_at=last_good_sync_at(shop),
        active=active,
        latest_backfill=backfill,
        recent=statuses,
        can_retry=(active is None or active.stalled)
        and (backfill is None or backfill.status == OrderSyncRun.Status.FAILED),
    )
