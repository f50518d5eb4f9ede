"""Plug commerce into shopify_sync's registries (webhook topics, sync kinds), from CommerceConfig.ready().

shopify_sync owns webhook intake (HMAC, inbox, dedupe) and the generic sync dispatch; commerce owns
what orders and customers mean. The registrations are looked up by name so commerce keeps importing
while shopify_sync grows: a missing registry is logged once, not an import error.
"""
from __future__ import annotations

import logging

log = logging.getLogger(__name__)

ORDER_TOPICS = ("orders/create", "orders/updated", "orders/paid", "orders/cancelled")
CUSTOMER_TOPICS = ("customers/create", "customers/update")


def register_with_shopify_sync() -> None:
    from .services import webhooks as handlers

    topic_handlers = {
        **{topic: handlers.handle_order_webhook for topic in ORDER_TOPICS},
        "refunds/create": handlers.handle_refund_webhook,
        **{topic: handlers.handle_customer_webhook for topic in CUSTOMER_TOPICS},
        "customers/delete": handlers.handle_customer_delete_webhook,
        "bulk_operations/finish": handlers.handle_bulk_operation_finish_webhook,
    }
    try:
        from shopify_sync import webhook_handlers
    except ImportError:
        log.info("shopify_sync.webhook_handlers not present; commerce webhook handlers not registered")
    else:
        register = getattr(webhook_handlers, "register", None)
        if register is None:
            log.warning("shopify_sync.webhook_handlers has no register(); commerce handlers not registered")
        else:
            for topic, handler in topic_handlers.items():
                register(topic, handler)
    try:
        from shopify_sync import sync_kinds
    except ImportError:
        log.info("shopify_sync.sync_kinds not present; commerce sync kinds not registered")
    else:
        from .services import sync as sync_services

        register_kind = getattr(sync_kinds, "register", None)
        if register_kind is not None:
            register_kind("backfill", sync_services.sync_backfill_from_shopify_sync)
            register_kind("reconcile", sync_services.sync_reconcile_from_shopify_sync)
