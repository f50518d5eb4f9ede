"""Starting syncs: what an install, the resync command, the admin's retry button and beat call."""
from __future__ import annotations

from typing import Any

from django.db import transaction

from shops.models import Shop

from ..models import OrderSyncRun
from .runs import sync_run_request


def sync_request(*, shop: Shop, kind: str = OrderSyncRun.Kind.BACKFILL) -> OrderSyncRun:
    """Queue a backfill or reconcile of the shop's customers and orders (joins an active one).

    The Celery task is sent after commit, so it always finds its run row.
    """
    from ..tasks import enqueue_backfill, enqueue_reconcile

    with transaction.atomic():
        run, created = sync_run_request(shop=shop, kind=kind)
        if created:
            enqueue = enqueue_backfill if kind == OrderSyncRun.Kind.BACKFILL else enqueue_reconcile
            run_id = run.pk
            transaction.on_commit(lambda: enqueue(run_id))
    return run


def sync_backfill_from_shopify_sync(shop: Shop, *args: Any, **kwargs: Any) -> OrderSyncRun:
    """Entry for shopify_sync's sync-kind registry (sync_start(shop, kind="backfill"))."""
    return sync_request(shop=shop, kind=OrderSyncRun.Kind.BACKFILL)


def sync_reconcile_from_shopify_sync(shop: Shop, *args: Any, **kwargs: Any) -> OrderSyncRun:
    return sync_request(shop=shop, kind=OrderSyncRun.Kind.RECONCILE)
