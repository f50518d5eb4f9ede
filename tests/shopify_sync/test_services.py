"""webhooks_register (against the local Shopify stand-in) and sync_start / the sync_run task."""
from __future__ import annotations

import pytest

from shopify_sync import sync_kinds
from shopify_sync.services import WEBHOOK_TOPICS, sync_start, webhooks_register

from .conftest import Reply, ok

pytestmark = pytest.mark.django_db(transaction=True)


class SubscriptionStore:
    """Plays webhookSubscriptions / webhookSubscriptionCreate with state, two per page."""

    def __init__(self, uri: str) -> None:
        self.subscriptions = [{"id": "gid://shopify/WebhookSubscription/1", "topic": "APP_UNINSTALLED", "uri": uri, "format": "JSON"}]

    def __call__(self, seen) -> Reply:
        query, variables = seen.body["query"], seen.body["variables"] or {}
        if "webhookSubscriptionCreate(" in query:
            sub = {"id": f"gid://shopify/WebhookSubscription/{len(self.subscriptions) + 1}", "topic": variables["topic"],
                   "uri": variables["webhookSubscription"]["uri"], "format": variables["webhookSubscription"]["format"]}
            self.subscriptions.append(sub)
            return ok({"webhookSubscriptionCreate": {"webhookSubscription": sub, "userErrors": []}})
        start = int(variables.get("after") or 0)
        page = self.subscriptions[start:start + 2]
        more = start + 2 < len(self.subscriptions)
        return ok({"webhookSubscriptions": {"nodes": page, "pageInfo": {"hasNextPage": more, "endCursor": str(start + 2) if more else None}}})


def test_webhooks_register_creates_missing_subscriptions_once(fake_shopify, token_shop, settings):
    store = SubscriptionStore(settings.SHOPIFY_APP_URL + "/webhooks")
    fake_shopify.handler = store

    created = webhooks_register(token_shop)
    again = webhooks_register(token_shop)

    assert created == [t for t in WEBHOOK_TOPICS if t != "APP_UNINSTALLED"]
    assert again == []
    assert sorted(s["topic"] for s in store.subscriptions) == sorted(WEBHOOK_TOPICS)
    assert {s["uri"] for s in store.subscriptions} == {"http://testserver/webhooks"}
    creates = [r.body for r in fake_shopify.graphql_requests() if "webhookSubscriptionCreate(" in r.body["query"]]
    assert creates[0]["variables"]["webhookSubscription"] == {"uri": "http://testserver/webhooks", "format": "JSON"}


def test_webhooks_register_reports_user_errors(fake_shopify, token_shop):
    def refuse(seen):
        if "webhookSubscriptionCreate(" in seen.body["query"]:
            return ok({"webhookSubscriptionCreate": {"webhookSubscription": None,
                       "userErrors": [{"field": ["webhookSubscription", "uri"], "message": "Address is invalid"}]}})
        return ok({"webhookSubscriptions": {"nodes": [], "pageInfo": {"hasNextPage": False, "endCursor": None}}})

    from shopify_sync.admin_api import UserErrors

    fake_shopify.handler = refuse
    with pytest.raises(UserErrors, match="webhookSubscription.uri: Address is invalid"):
        webhooks_register(token_shop)


def test_sync_start_hands_the_shop_to_the_registered_kind(shop):
    seen = []

    def kind(shop):
        seen.append(shop.domain)
        return "the kind's own run"

    sync_kinds.register("test-kind", kind)
    try:
        assert sync_start(shop, kind="test-kind") == "the kind's own run"
    finally:
        sync_kinds.unregister("test-kind")
    assert seen == [shop.domain]


def test_an_unknown_kind_is_refused_with_the_reason(shop):
    from shopify_sync.services import UnknownSyncKind

    with pytest.raises(UnknownSyncKind, match="no sync kind 'nonexistent' is registered"):
        sync_start(shop, kind="nonexistent")


def test_the_backfill_kind_is_commerces_order_sync(shop):
    from commerce.models import OrderSyncRun

    run = sync_start(shop, kind="backfill")
    assert isinstance(run, OrderSyncRun) and run.kind == "backfill" and run.is_active
    assert sync_start(shop, kind="backfill").pk == run.pk  # a second request joins the active run
