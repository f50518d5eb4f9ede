"""Webhook topic -> handler. shopify_sync registers the app and compliance topics; other apps register
theirs from their AppConfig.ready() with `register(topic, handler)` (commerce: orders, refunds,
customers, bulk_operations/finish), so shopify_sync never imports them.

A handler is called with keyword arguments only: `shop` (shops.models.Shop, verified by the webhook
HMAC), `payload` (dict parsed with Python's json: exact ints), `delivery` (the WebhookDelivery row,
locked), `topic`, `triggered_at` (X-Shopify-Triggered-At or None), and must accept `**_` for arguments
added later. It runs inside the transaction that marks the delivery processed, and must be idempotent:
deliveries repeat (Shopify is at-least-once; a failed attempt is retried) and arrive out of order.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ImproperlyConfigured

logger = logging.getLogger(__name__)

Handler = Callable[..., Any]

_lock = threading.Lock()
_handlers: dict[str, Handler] = {}


def register(topic: str, handler: Handler) -> None:
    """Route `topic` (e.g. "orders/create") to `handler`. Registering the same function again is a
    no-op; a second, different handler for a topic is a configuration error (one owner per topic)."""
    with _lock:
        current = _handlers.get(topic)
        if current is not None and current is not handler:
            raise ImproperlyConfigured(f"webhook topic {topic!r} already handled by {current.__module__}.{current.__qualname__}")
        _handlers[topic] = handler


def unregister(topic: str) -> None:
    with _lock:
        _handlers.pop(topic, None)


def handler_for(topic: str) -> Handler | None:
    return _handlers.get(topic)


def registered_topics() -> list[str]:
    return sorted(_handlers)


# --- The topics shopify_sync owns -------------------------------------------------------------------


def _check_payload_shop(shop: Any, payload: dict[str, Any]) -> None:
    # The HMAC signs the body, not the X-Shopify-Shop-Domain header. Compliance bodies name the shop, so a
    # signed body replayed with another shop's header is refused before anything is erased.
    named = payload.get("shop_domain")
    if named and str(named).lower() != shop.domain:
        raise ValueError(f"payload names shop {named!r}, the delivery header {shop.domain!r}")


def handle_app_uninstalled(*, shop: Any, **_: Any) -> None:
    """app/uninstalled: the token is already revoked; forget it and mark the shop uninstalled."""
    from shops.services import shop_mark_uninstalled

    shop_mark_uninstalled(shop)


def handle_customers_data_request(*, shop: Any, payload: dict[str, Any], delivery: Any, **_: Any) -> None:
    from . import privacy

    _check_payload_shop(shop, payload)
    privacy.data_request_record(shop=shop, payload=payload, requested_at=delivery.triggered_at or delivery.received_at)


def handle_customers_redact(*, shop: Any, payload: dict[str, Any], **_: Any) -> None:
    from . import privacy

    _check_payload_shop(shop, payload)
    privacy.privacy_customer_redact(shop, privacy.CustomerRef.from_payload(payload))


def handle_shop_redact(*, shop: Any, payload: dict[str, Any], delivery: Any, **_: Any) -> None:
    from . import privacy

    _check_payload_shop(shop, payload)
    privacy.privacy_shop_redact(shop, keep_delivery_id=delivery.pk)


register("app/uninstalled", handle_app_uninstalled)
register("customers/data_request", handle_customers_data_request)
register("customers/redact", handle_customers_redact)
register("shop/redact", handle_shop_redact)


# Order, refund and customer topics belong to the order sync. Registered here only if shopify_sync's own
# services grow these functions; today commerce registers its handlers itself (commerce.integration).
_SYNC_TOPIC_SERVICES = {
    "orders/create": "order_upsert_from_webhook",
    "orders/updated": "order_upsert_from_webhook",
    "orders/paid": "order_upsert_from_webhook",
    "orders/cancelled": "order_upsert_from_webhook",
    "refunds/create": "refund_upsert_from_webhook",
    "customers/create": "customer_upsert_from_webhook",
    "customers/update": "customer_upsert_from_webhook",
    "customers/delete": "customer_delete_from_webhook",
}


def _register_sync_services() -> None:
    from . import services

    for topic, name in _SYNC_TOPIC_SERVICES.items():
        service = getattr(services, name, None)
        if service is not None:
            register(topic, service)


_register_sync_services()
