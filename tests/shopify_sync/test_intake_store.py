"""The intake's single-statement store: the shop is resolved inside the INSERT (never from a stale cache),
the row is committed before the 200 when no transaction is open, and processing is enqueued after commit."""
from __future__ import annotations

import psycopg2
import pytest
from django.db import connection
from django.utils import timezone

from shopify_sync.models import WebhookDelivery
from shopify_sync.services import inbox
from shops.models import Shop


@pytest.mark.django_db
def test_the_shop_is_linked_as_of_each_delivery_before_install_uninstalled_and_reinstalled(post_webhook):
    domain = "gamma-shop.myshopify.com"
    # before the shop row exists (e.g. a compliance webhook after a failed install): kept, shop unknown
    assert post_webhook("test/unknown", {"id": 1}, shop=domain, webhook_id="w-1").status_code == 200
    shop = Shop.objects.create(domain=domain, installed_at=timezone.now())
    assert post_webhook("test/unknown", {"id": 2}, shop=domain, webhook_id="w-2").status_code == 200
    Shop.objects.filter(pk=shop.pk).update(uninstalled_at=timezone.now())
    assert post_webhook("app/uninstalled", {"id": 3}, shop=domain, webhook_id="w-3").status_code == 200
    Shop.objects.filter(pk=shop.pk).update(uninstalled_at=None, installed_at=timezone.now())
    assert post_webhook("test/unknown", {"id": 4}, shop=domain, webhook_id="w-4").status_code == 200

    shops = dict(WebhookDelivery.objects.values_list("webhook_id", "shop_id"))
    assert shops == {"w-1": None, "w-2": shop.pk, "w-3": shop.pk, "w-4": shop.pk}


@pytest.mark.django_db
def test_a_repeat_returns_the_first_delivery_and_enqueues_nothing(shop, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        first = inbox.webhook_delivery_store(shop_domain=shop.domain, topic="t/x", webhook_id="w", body=b'{"a": 1}')
        again = inbox.webhook_delivery_store(shop_domain=shop.domain, topic="t/x", webhook_id="w", body=b'{"a": 1}')
    assert first.created and not again.created and again.id == first.id
    assert len(callbacks) == 1
    assert WebhookDelivery.objects.get().shop_id == shop.pk


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_row_is_committed_before_the_enqueue(monkeypatch):
    shop = Shop.objects.create(domain="delta-shop.myshopify.com", installed_at=timezone.now())
    seen = []

    def enqueue(delivery_id, **_):
        # What another connection (the worker) sees at the moment the task is sent.
        settings = connection.settings_dict
        other = psycopg2.connect(dbname=settings["NAME"], user=settings["USER"], host=settings["HOST"],
                                 port=settings["PORT"] or 5432, password=settings["PASSWORD"] or None)
        try:
            with other.cursor() as cursor:
                cursor.execute(f"SELECT shop_id FROM {WebhookDelivery._meta.db_table} WHERE id = %s", [delivery_id])  # noqa: S608
                seen.append(cursor.fetchone())
        finally:
            other.close()
        return True

    monkeypatch.setattr(inbox, "webhook_delivery_enqueue", enqueue)
    assert not connection.in_atomic_block
    stored = inbox.webhook_delivery_store(shop_domain=shop.domain, topic="t/x", webhook_id="w-c", body=b'{"a": 1}')

    assert stored.created
    assert seen == [(shop.pk,)]  # committed (visible elsewhere) when process_webhook is sent
