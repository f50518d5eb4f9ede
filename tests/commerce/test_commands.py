"""shop_resync and shop_sync_state, and the sync_status selector behind the admin view."""
import io

import pytest
from django.core.management import CommandError, call_command

from commerce.models import OrderSyncRun
from commerce.selectors import sync_status
from commerce.services.runs import sync_run_fail, sync_run_finish
from commerce.services.webhooks import handle_order_webhook

from .payloads import order_facts, rest_order

pytestmark = pytest.mark.django_db


def test_unknown_shop_is_an_error():
    with pytest.raises(CommandError, match="unknown shop"):
        call_command("shop_sync_state", "nope.myshopify.com")
    with pytest.raises(CommandError, match="unknown shop"):
        call_command("shop_resync", "nope.myshopify.com")


def test_resync_queues_one_run_and_state_prints_it(shop, django_capture_on_commit_callbacks, monkeypatch):
    sent = []
    monkeypatch.setattr("commerce.tasks.enqueue_reconcile", lambda run_id: sent.append(run_id))
    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("shop_resync", shop.domain, "--kind", "reconcile", stdout=out)
        call_command("shop_resync", shop.domain, "--kind", "reconcile", stdout=out)
    assert len(sent) == 1 and OrderSyncRun.objects.filter(shop=shop).count() == 1
    handle_order_webhook(shop=shop, payload=rest_order(order_facts()))
    out = io.StringIO()
    call_command("shop_sync_state", shop.domain, stdout=out)
    text = out.getvalue()
    assert "orders          1" in text and "reconcile" in text and "last good sync  never" in text


def test_sync_status_reports_progress_failure_and_retry(shop, other_shop):
    run = OrderSyncRun.objects.create(shop=shop, kind="backfill", status="running", rows_read=50, rows_total=200)
    status = sync_status(shop)
    assert status.active.percent == 25 and not status.can_retry
    sync_run_fail(run=run, reason="missing access scopes: read_all_orders")
    status = sync_status(shop)
    assert status.active is None and status.can_retry
    assert status.latest_backfill.error.startswith("missing access scopes")
    done = OrderSyncRun.objects.create(shop=shop, kind="backfill", status="running")
    OrderSyncRun.objects.filter(pk=done.pk).update(watermark_at=done.created_at)
    done.refresh_from_db()
    sync_run_finish(run=done)
    status = sync_status(shop)
    assert status.last_good_sync_at == done.watermark_at and not status.can_retry
    assert sync_status(other_shop).recent == []
