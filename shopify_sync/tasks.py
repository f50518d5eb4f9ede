"""Celery tasks of shopify_sync: thin; each re-reads its row by id and calls one service."""
from __future__ import annotations

from celery import shared_task

from .services import inbox

TASK_OPTIONS = {"acks_late": True, "soft_time_limit": 300, "time_limit": 360}


@shared_task(name="shopify_sync.tasks.process_webhook", **TASK_OPTIONS)
def process_webhook(delivery_id: int) -> str:
    # Retries are the service's (recorded on the row, re-enqueued with a countdown); a crash here leaves
    # the row unprocessed for the sweeper.
    return inbox.webhook_delivery_process(delivery_id=delivery_id)


@shared_task(name="shopify_sync.tasks.sweep_webhook_inbox", **TASK_OPTIONS)
def sweep_webhook_inbox() -> dict[str, int]:
    return {"enqueued": len(inbox.webhook_inbox_sweep()), "purged": inbox.webhook_inbox_purge()}
