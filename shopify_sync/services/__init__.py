"""Writes of shopify_sync. Import from here: `from shopify_sync.services import webhooks_register`."""
from .inbox import (
    StoredDelivery,
    webhook_delivery_enqueue,
    webhook_delivery_process,
    webhook_delivery_store,
    webhook_inbox_purge,
    webhook_inbox_sweep,
)
from .subscriptions import WEBHOOK_TOPICS, webhooks_register
from .sync import UnknownSyncKind, sync_start

__all__ = [
    "WEBHOOK_TOPICS",
    "StoredDelivery",
    "UnknownSyncKind",
    "sync_start",
    "webhook_delivery_enqueue",
    "webhook_delivery_process",
    "webhook_delivery_store",
    "webhook_inbox_purge",
    "webhook_inbox_sweep",
    "webhooks_register",
]
