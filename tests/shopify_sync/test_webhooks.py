"""Webhook intake (HMAC, headers, inbox, dedupe, on-commit dispatch) and processing (handlers, retries,
the sweeper)."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from shopify_sync import webhook_handlers
from shopify_sync.models import DataRequest, WebhookDelivery
from shopify_sync.services import inbox

pytestmark = pytest.mark.django_db

BIG_ID = 820982911946154508


@pytest.fixture
def recorder():
    """A handler for the test-only topic `test/record` that records its calls."""
    calls = []

    def handle(*, shop, payload, delivery, **_):
        calls.append((shop.domain, payload, delivery.pk))

    webhook_handlers.register("test/record", handle)
    yield calls
    webhook_handlers.unregister("test/record")


# --- intake ------------------------------------------------------------------------------------------


def test_a_signed_delivery_is_stored_byte_for_byte_and_acknowledged(post_webhook, shop):
    raw = b'{"id": 820982911946154508, "total_price": "403.00", "note": "\xc3\xa9"}'

    response = post_webhook("test/record", raw, webhook_id="w-1", event_id="e-1")

    assert response.status_code == 200
    row = WebhookDelivery.objects.get()
    assert row.payload.encode() == raw  # exact: no re-serialisation, the big id is untouched
    assert json.loads(row.payload)["id"] == BIG_ID
    assert (row.shop, row.shop_domain, row.topic, row.webhook_id, row.event_id, row.api_version) == (
        shop, "alpha-shop.myshopify.com", "test/record", "w-1", "e-1", "2026-10")
    assert row.triggered_at == datetime(2026, 11, 24, 10, 0, 27, 877041, tzinfo=UTC)  # nanoseconds cut
    assert row.status == WebhookDelivery.Status.RECEIVED and row.processed_at is None


def test_a_wrong_signature_is_refused_with_401_and_nothing_stored(client, signed, shop):
    body, headers = signed("test/record", {"id": 1}, secret="not-the-app-secret")  # noqa: S106
    assert client.post("/webhooks", data=body, content_type="application/json", **headers).status_code == 401
    body, headers = signed("test/record", {"id": 1})
    tampered = body.replace(b"1", b"2")
    assert client.post("/webhooks", data=tampered, content_type="application/json", **headers).status_code == 401
    del headers["HTTP_X_SHOPIFY_HMAC_SHA256"]
    assert client.post("/webhooks", data=body, content_type="application/json", **headers).status_code == 401
    assert not WebhookDelivery.objects.exists()


def test_the_old_secret_is_accepted_during_a_rotation(client, signed, settings, shop):
    settings.SHOPIFY_API_SECRET_OLD = "the-previous-secret"  # noqa: S105
    body, headers = signed("test/record", {"id": 1}, secret="the-previous-secret")  # noqa: S106
    assert client.post("/webhooks", data=body, content_type="application/json", **headers).status_code == 200


@pytest.mark.parametrize("missing", ["HTTP_X_SHOPIFY_TOPIC", "HTTP_X_SHOPIFY_SHOP_DOMAIN", "HTTP_X_SHOPIFY_WEBHOOK_ID"])
def test_a_missing_required_header_is_400(client, signed, missing):
    body, headers = signed("test/record", {"id": 1})
    del headers[missing]
    assert client.post("/webhooks", data=body, content_type="application/json", **headers).status_code == 400
    assert not WebhookDelivery.objects.exists()


def test_a_bad_shop_domain_is_400(client, signed):
    body, headers = signed("test/record", {"id": 1}, shop="evil.example.com")
    assert client.post("/webhooks", data=body, content_type="application/json", **headers).status_code == 400


def test_get_is_405(client):
    assert client.get("/webhooks").status_code == 405
    assert client.get("/webhooks/customers/redact").status_code == 405


def test_per_topic_uris_and_unprefixed_event_headers_are_accepted(client, signed, shop):
    body, headers = signed("customers/redact", {"shop_domain": "alpha-shop.myshopify.com", "customer": {"id": 1}})
    unprefixed = {k.replace("HTTP_X_SHOPIFY_", "HTTP_SHOPIFY_"): v for k, v in headers.items()}
    response = client.post("/webhooks/customers/redact", data=body, content_type="application/json", **unprefixed)
    assert response.status_code == 200
    assert WebhookDelivery.objects.get().topic == "customers/redact"


def test_a_delivery_for_an_unknown_shop_is_kept(post_webhook):
    assert post_webhook("shop/redact", {"shop_domain": "ghost.myshopify.com"}, shop="ghost.myshopify.com").status_code == 200
    row = WebhookDelivery.objects.get()
    assert row.shop is None and row.shop_domain == "ghost.myshopify.com"


def test_a_body_that_is_not_json_is_kept_but_never_processed(post_webhook, shop):
    assert post_webhook("test/record", b"not json \x00 \xff").status_code == 200
    row = WebhookDelivery.objects.get()
    assert row.status == WebhookDelivery.Status.FAILED and not row.payload_is_json


# --- dispatch and dedupe ---------------------------------------------------------------------------


def test_processing_is_dispatched_on_commit(post_webhook, shop, recorder, eager_celery, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        post_webhook("test/record", {"id": BIG_ID})
    assert len(callbacks) == 1
    assert recorder == []  # nothing ran before the commit

    callbacks[0]()

    row = WebhookDelivery.objects.get()
    assert recorder == [("alpha-shop.myshopify.com", {"id": BIG_ID}, row.pk)]
    assert row.status == WebhookDelivery.Status.PROCESSED and row.processed_at and row.attempts == 1


def test_a_repeat_delivery_by_webhook_id_or_event_id_is_acknowledged_and_processed_once(
    post_webhook, shop, recorder, eager_celery, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert post_webhook("test/record", {"id": 1}, webhook_id="w-1", event_id="e-1").status_code == 200
        assert post_webhook("test/record", {"id": 1}, webhook_id="w-1", event_id="e-1").status_code == 200
        # Same event through a second subscription: a new webhook id, the same event id.
        assert post_webhook("test/record", {"id": 1}, webhook_id="w-2", event_id="e-1").status_code == 200
    assert WebhookDelivery.objects.count() == 1
    assert len(callbacks) == 1
    assert len(recorder) == 1
    # and the task run twice for the same row changes nothing
    inbox.webhook_delivery_process(delivery_id=WebhookDelivery.objects.get().pk)
    assert len(recorder) == 1


def test_the_same_event_id_on_another_topic_is_not_a_duplicate(post_webhook, shop):
    post_webhook("test/record", {"id": 1}, event_id="e-1")
    post_webhook("test/other", {"id": 1}, event_id="e-1")
    assert WebhookDelivery.objects.count() == 2


def test_out_of_order_deliveries_are_each_processed(post_webhook, shop, recorder):
    post_webhook("test/record", {"v": 1}, triggered_at="2026-11-24T10:00:00Z")
    post_webhook("test/record", {"v": 2}, triggered_at="2026-11-24T11:00:00Z")
    for row in WebhookDelivery.objects.order_by("-triggered_at"):  # newest first
        assert inbox.webhook_delivery_process(delivery_id=row.pk) == inbox.Outcome.PROCESSED
    assert [p for _, p, _ in recorder] == [{"v": 2}, {"v": 1}]


def test_an_unknown_topic_is_stored_and_marked_processed_with_no_handler(post_webhook, shop):
    post_webhook("products/update", {"id": 1})
    row = WebhookDelivery.objects.get()
    assert inbox.webhook_delivery_process(delivery_id=row.pk) == inbox.Outcome.NO_HANDLER
    row.refresh_from_db()
    assert row.status == WebhookDelivery.Status.PROCESSED and row.last_error == "no handler for topic products/update"


def test_a_failing_handler_is_recorded_and_retried_with_backoff_then_given_up(post_webhook, shop, monkeypatch):
    attempts = []

    def explode(*, payload, **_):
        attempts.append(1)
        raise RuntimeError("downstream is down")

    webhook_handlers.register("test/explode", explode)
    enqueued = []
    monkeypatch.setattr(inbox, "webhook_delivery_enqueue", lambda pk, countdown=None: enqueued.append((pk, countdown)))
    try:
        post_webhook("test/explode", {"id": 1})
        row = WebhookDelivery.objects.get()
        for n in range(1, inbox.MAX_ATTEMPTS + 1):
            WebhookDelivery.objects.filter(pk=row.pk).update(next_attempt_at=None)
            outcome = inbox.webhook_delivery_process(delivery_id=row.pk)
            row.refresh_from_db()
            assert row.attempts == n and row.last_error == "RuntimeError: downstream is down"
            if n < inbox.MAX_ATTEMPTS:
                assert outcome == inbox.Outcome.RETRY and row.status == WebhookDelivery.Status.RETRYING
        assert outcome == inbox.Outcome.FAILED and row.status == WebhookDelivery.Status.FAILED
        assert row.processed_at is None
        assert inbox.webhook_delivery_process(delivery_id=row.pk) == inbox.Outcome.SKIPPED  # given up
        assert len(attempts) == inbox.MAX_ATTEMPTS
    finally:
        webhook_handlers.unregister("test/explode")


def test_a_handlers_writes_roll_back_when_it_fails(post_webhook, shop, other_shop):
    def half_done(*, shop, **_):
        DataRequest.objects.create(shop=shop, customer_shopify_id=1, requested_at=timezone.now(), report={})
        raise RuntimeError("boom")

    webhook_handlers.register("test/half", half_done)
    try:
        post_webhook("test/half", {"id": 1})
        inbox.webhook_delivery_process(delivery_id=WebhookDelivery.objects.get().pk)
        assert not DataRequest.objects.exists()
        assert WebhookDelivery.objects.get().status == WebhookDelivery.Status.RETRYING
    finally:
        webhook_handlers.unregister("test/half")


def test_enqueue_failure_still_acknowledges_and_the_sweeper_recovers_the_delivery(
    post_webhook, shop, recorder, eager_celery, django_capture_on_commit_callbacks, monkeypatch
):
    from kombu.exceptions import OperationalError

    from shopify_sync import tasks

    # given: the broker (Redis) is down when the delivery arrives
    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    with monkeypatch.context() as patch:
        patch.setattr(tasks.process_webhook, "apply_async", broker_down)
        with django_capture_on_commit_callbacks(execute=True):
            response = post_webhook("test/record", {"id": 7})
    assert response.status_code == 200
    row = WebhookDelivery.objects.get()
    assert row.enqueued_at is None and row.processed_at is None and recorder == []

    # when: the broker is back and the sweeper runs
    with django_capture_on_commit_callbacks(execute=True):
        swept = tasks.sweep_webhook_inbox.apply().get()

    # then
    assert swept["enqueued"] == 1
    assert recorder == [("alpha-shop.myshopify.com", {"id": 7}, row.pk)]
    row.refresh_from_db()
    assert row.status == WebhookDelivery.Status.PROCESSED


def test_the_sweeper_recovers_a_delivery_whose_task_never_ran(shop, recorder, eager_celery, django_capture_on_commit_callbacks, settings):
    # given: stored (the enqueue "succeeded") but the message was lost with a crashed worker
    stored = inbox.webhook_delivery_store(shop_domain=shop.domain, topic="test/record", webhook_id="w-lost", body=b'{"id": 3}')
    fresh = inbox.webhook_delivery_store(shop_domain=shop.domain, topic="test/record", webhook_id="w-fresh", body=b'{"id": 4}')
    WebhookDelivery.objects.filter(pk=stored.id).update(enqueued_at=timezone.now() - timedelta(seconds=inbox.sweep_after_seconds() + 1))

    # when
    with django_capture_on_commit_callbacks(execute=True):
        ids = inbox.webhook_inbox_sweep()

    # then: only the stale one is re-sent (the fresh one's task is presumably still queued)
    assert ids == [stored.id]
    assert [p for _, p, _ in recorder] == [{"id": 3}]
    assert WebhookDelivery.objects.get(pk=fresh.id).processed_at is None


def test_old_processed_deliveries_are_purged(shop):
    old = inbox.webhook_delivery_store(shop_domain=shop.domain, topic="x/y", webhook_id="old", body=b"{}")
    new = inbox.webhook_delivery_store(shop_domain=shop.domain, topic="x/y", webhook_id="new", body=b"{}")
    WebhookDelivery.objects.filter(pk=old.id).update(processed_at=timezone.now() - timedelta(days=inbox.retention_days() + 1))
    WebhookDelivery.objects.filter(pk=new.id).update(processed_at=timezone.now())
    assert inbox.webhook_inbox_purge() == 1
    assert list(WebhookDelivery.objects.values_list("pk", flat=True)) == [new.id]


# --- app/uninstalled and cross-shop isolation ---------------------------------------------------------


def test_app_uninstalled_marks_only_that_shop_uninstalled(post_webhook, shop, other_shop, eager_celery,
                                                         django_capture_on_commit_callbacks):
    from core.crypto import encrypt

    for s in (shop, other_shop):
        s.access_token_encrypted = encrypt("tok")
        s.save()
    with django_capture_on_commit_callbacks(execute=True):
        post_webhook("app/uninstalled", {"id": 1, "myshopify_domain": shop.domain}, webhook_id="same-id")
        post_webhook("app/uninstalled", {"id": 1, "myshopify_domain": shop.domain}, webhook_id="same-id")
    shop.refresh_from_db()
    other_shop.refresh_from_db()
    assert shop.uninstalled_at is not None and shop.access_token_encrypted == ""
    assert other_shop.uninstalled_at is None and other_shop.access_token_encrypted != ""
    assert WebhookDelivery.objects.get().status == WebhookDelivery.Status.PROCESSED


def test_the_same_webhook_id_for_two_shops_is_two_deliveries_each_for_its_own_shop(post_webhook, shop, other_shop, recorder):
    post_webhook("test/record", {"n": "a"}, webhook_id="w-1", event_id="e-1")
    post_webhook("test/record", {"n": "b"}, webhook_id="w-1", event_id="e-1", shop=other_shop.domain)
    for row in WebhookDelivery.objects.order_by("pk"):
        inbox.webhook_delivery_process(delivery_id=row.pk)
    assert [(d, p) for d, p, _ in recorder] == [(shop.domain, {"n": "a"}), (other_shop.domain, {"n": "b"})]
    assert set(WebhookDelivery.objects.for_shop(shop).values_list("shop_id", flat=True)) == {shop.pk}
