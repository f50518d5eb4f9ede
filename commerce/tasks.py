"""Celery tasks of the order/customer sync: thin wrappers that re-read the run and call one service."""
from __future__ import annotations

import logging

from celery import shared_task
from django.core.cache import cache

from .models import OrderSyncRun
from .services.backfill import Step, backfill_advance
from .services.reconcile import reconcile_due_shops, reconcile_execute
from .services.runs import sync_run_fail

log = logging.getLogger(__name__)

# Poll a running bulk operation after 2, 4, 8 ... seconds, at most every 60 s: the finish webhook
# normally comes first; the poll covers a lost webhook.
POLL_FIRST_SECONDS = 2
POLL_MAX_SECONDS = 60
MAX_TRANSIENT_RETRIES = 8

TASK_OPTIONS = {"acks_late": True, "soft_time_limit": 540, "time_limit": 600}
# Long syncs must never delay webhook processing (settings.CELERY_TASK_ROUTES keeps queues apart);
# every enqueue here names the queue so the tasks land on it whatever the routes say.
QUEUE = "sync"


def enqueue_backfill(run_id: int, *, countdown: float | None = None, poll: int = 0) -> None:
    backfill_run.apply_async((run_id,), {"poll": poll}, countdown=countdown, queue=QUEUE)


def enqueue_reconcile(run_id: int) -> None:
    reconcile_run.apply_async((run_id,), queue=QUEUE)


def _schedule_poll(run_id: int, poll: int) -> None:
    delay = min(POLL_FIRST_SECONDS * (2**poll), POLL_MAX_SECONDS)
    # One poll chain per run: the finish webhook also calls the task, which would start a second one.
    if cache.add(f"commerce:backfill-poll:{run_id}", 1, timeout=max(delay - 1, 1)):
        enqueue_backfill(run_id, countdown=delay, poll=poll + 1)


@shared_task(bind=True, name="commerce.tasks.backfill_run", **TASK_OPTIONS)
def backfill_run(self, run_id: int, poll: int = 0) -> str:
    if not OrderSyncRun.objects.filter(pk=run_id).exists():
        # The run's shop was redacted (its rows deleted) after this task was queued: nothing left to do,
        # and nothing a retry could change.
        log.warning("backfill run %s no longer exists; task dropped", run_id)
        return Step.FAILED
    try:
        step = backfill_advance(run_id=run_id)
    except Exception as exc:
        # Shopify 5xx, throttling beyond the client's own retries, a dropped download: retry with
        # backoff; the step resumes from the last committed batch. After that, the run fails visibly.
        if self.request.retries >= MAX_TRANSIENT_RETRIES:
            run = OrderSyncRun.objects.get(pk=run_id)
            sync_run_fail(run=run, reason=f"{type(exc).__name__}: {exc}")
            log.exception("backfill run %s failed", run_id)
            return Step.FAILED
        raise self.retry(exc=exc, countdown=min(2 ** (self.request.retries + 2), 300)) from exc
    if step == Step.CONTINUE:
        enqueue_backfill(run_id)
    elif step in (Step.WAITING, Step.BUSY):
        _schedule_poll(run_id, poll if step == Step.WAITING else 0)
    return step


@shared_task(bind=True, name="commerce.tasks.reconcile_run", **TASK_OPTIONS)
def reconcile_run(self, run_id: int) -> str:
    if not OrderSyncRun.objects.filter(pk=run_id).exists():
        log.warning("reconcile run %s no longer exists; task dropped", run_id)
        return "gone"
    try:
        run = reconcile_execute(run_id=run_id)
    except Exception as exc:
        if self.request.retries >= MAX_TRANSIENT_RETRIES:
            run = OrderSyncRun.objects.get(pk=run_id)
            sync_run_fail(run=run, reason=f"{type(exc).__name__}: {exc}")
            log.exception("reconcile run %s failed", run_id)
            return OrderSyncRun.Status.FAILED
        raise self.retry(exc=exc, countdown=min(2 ** (self.request.retries + 2), 300)) from exc
    return run.status


@shared_task(name="commerce.tasks.reconcile_all_shops", **TASK_OPTIONS)
def reconcile_all_shops() -> int:
    """Celery beat entry: one reconcile per shop that has a completed backfill (fan-out)."""
    from shops.models import Shop

    from .services.sync import sync_request

    shop_ids = reconcile_due_shops()
    for shop in Shop.objects.filter(pk__in=shop_ids):
        sync_request(shop=shop, kind=OrderSyncRun.Kind.RECONCILE)
    return len(shop_ids)
