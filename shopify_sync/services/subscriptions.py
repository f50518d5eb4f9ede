"""The app's webhook subscriptions created through the Admin API (the compliance topics come from
shopify.app.toml: Shopify refuses to create them through the API)."""
from __future__ import annotations

import logging

from django.conf import settings

from shops.models import Shop

logger = logging.getLogger(__name__)

WEBHOOK_TOPICS = (
    "APP_UNINSTALLED",
    "ORDERS_CREATE",
    "ORDERS_UPDATED",
    "ORDERS_PAID",
    "ORDERS_CANCELLED",
    "REFUNDS_CREATE",
    "CUSTOMERS_CREATE",
    "CUSTOMERS_UPDATE",
    "CUSTOMERS_DELETE",
    "BULK_OPERATIONS_FINISH",
)


def webhook_endpoint_url() -> str:
    return settings.SHOPIFY_APP_URL.rstrip("/") + "/webhooks"


def webhooks_register(shop: Shop) -> list[str]:
    """Subscribe the shop to WEBHOOK_TOPICS at SHOPIFY_APP_URL/webhooks. Idempotent: lists the existing
    subscriptions first and creates only the missing (topic, uri) pairs. Returns the topics created.

    Raises AdminAPIError / UserErrors / ShopUnauthorized (shopify_sync.admin_api).
    """
    from ..admin_api import AdminClient

    client = AdminClient(shop)
    uri = webhook_endpoint_url()
    existing: set[str] = set()
    after: str | None = None
    while True:
        data = client.execute("webhook_subscriptions", {"topics": list(WEBHOOK_TOPICS), "after": after})
        page = data["webhookSubscriptions"]
        existing |= {node["topic"] for node in page["nodes"] if node.get("uri") == uri}
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    created = []
    for topic in WEBHOOK_TOPICS:
        if topic in existing:
            continue
        client.execute(
            "webhook_subscription_create",
            {"topic": topic, "webhookSubscription": {"uri": uri, "format": "JSON"}},
            user_errors="webhookSubscriptionCreate",
        )
        created.append(topic)
    logger.info("webhooks of %s: created %s, %d already there", shop.domain, created or "none", len(existing))
    return created
