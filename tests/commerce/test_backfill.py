"""The backfill state machine: bulk operations, finish/poll, batches, interruption and resume.

Shopify's side is a local stand-in that serves bulk operations from generated JSONL files through the
same two documents the app sends; the end-to-end run against the development store is test_e2e_sync.
"""
import contextlib

import pytest

from commerce.models import Customer, CustomerSummary, Order, OrderLineItem, OrderSyncRun
from commerce.services.backfill import BulkResultUnavailable, Step, backfill_advance
from commerce.services.summaries import summaries_rebuild
from commerce.services.sync import sync_request

from .bulk_files import write_customers, write_orders

pytestmark = pytest.mark.django_db(transaction=True)


class BulkStandIn:
    """Answers bulkOperationRunQuery / bulkOperation(id) like the Admin API, results from local files."""

    def __init__(self, files):
        self.files = files  # "customers" | "orders" -> Path
        self.ops = {}  # gid -> {"status", "kind"}

    def execute(self, document, variables=None):
        if "bulkOperationRunQuery" in document:
            kind = "customers" if "customers {" in variables["query"] else "orders"
            gid = f"gid://shopify/BulkOperation/{len(self.ops) + 1}"
            self.ops[gid] = {"status": "RUNNING", "kind": kind}
            return {"bulkOperationRunQuery": {"bulkOperation": {"id": gid, "status": "CREATED"}, "userErrors": []}}
        op = self.ops[variables["id"]]
        path = self.files[op["kind"]]
        with path.open("rb") as fh:
            roots = sum(1 for raw in fh if b"__parentId" not in raw)
        return {"bulkOperation": {
            "id": variables["id"], "status": op["status"], "errorCode": None, "objectCount": str(roots),
            "rootObjectCount": str(roots), "url": f"file://{path}" if op["status"] == "COMPLETED" else None,
            "partialDataUrl": None, "completedAt": None}}

    def complete_all(self):
        for op in self.ops.values():
            op["status"] = "COMPLETED"


def file_opener(fail_after_chunks=None, unavailable=False):
    @contextlib.contextmanager
    def opener(url):
        if unavailable:
            raise BulkResultUnavailable("HTTP 403")

        def chunks():
            with open(url.removeprefix("file://"), "rb") as fh:
                n = 0
                while chunk := fh.read(32 * 1024):
                    n += 1
                    if fail_after_chunks is not None and n > fail_after_chunks:
                        raise ConnectionResetError("worker lost the download")
                    yield chunk

        yield chunks()

    return opener


@pytest.fixture
def files(tmp_path):
    return {
        "customers": write_customers(tmp_path / "customers.jsonl", 400),
        "orders": write_orders(tmp_path / "orders.jsonl", 6000, customers=400),
    }


def _new_run(shop):
    return OrderSyncRun.objects.create(shop=shop, kind=OrderSyncRun.Kind.BACKFILL)


def test_backfill_end_to_end_with_an_interruption(shop, files, monkeypatch):
    monkeypatch.setattr("commerce.services.backfill.BATCH_SIZE", 1000)
    fits_sent = []
    monkeypatch.setattr("reports.tasks.enqueue_clv_fit", fits_sent.append)
    api = BulkStandIn(files)
    run = _new_run(shop)
    # Customers: start the operation and wait for it.
    assert backfill_advance(run_id=run.pk, client=api, opener=file_opener()) == Step.WAITING
    assert backfill_advance(run_id=run.pk, client=api, opener=file_opener()) == Step.WAITING  # a poll, still running
    api.complete_all()
    # Customers processed, orders operation started.
    assert backfill_advance(run_id=run.pk, client=api, opener=file_opener()) == Step.WAITING
    assert Customer.objects.filter(shop=shop).count() == 400
    api.complete_all()
    # The download dies part way through the orders file.
    with pytest.raises(ConnectionResetError):
        backfill_advance(run_id=run.pk, client=api, opener=file_opener(fail_after_chunks=200))
    run.refresh_from_db()
    assert run.status == "running" and run.stage == "orders" and run.lines_committed > 0
    partial = Order.objects.filter(shop=shop).count()
    assert 0 < partial < 6000
    # Resume: the same operation, from the committed line.
    assert backfill_advance(run_id=run.pk, client=api, opener=file_opener()) == Step.DONE
    run.refresh_from_db()
    assert run.status == "succeeded" and run.finished_at is not None
    assert Order.objects.filter(shop=shop).count() == 6000
    assert run.rows_read == 6400 and run.rows_total == 6400
    with files["orders"].open("rb") as fh:
        assert OrderLineItem.objects.filter(shop=shop).count() == sum(1 for raw in fh if b"__parentId" in raw)
    before = sorted(CustomerSummary.objects.filter(shop=shop).values_list(
        "customer_shopify_id", "orders_count", "net_revenue", "first_order_at"))
    summaries_rebuild(shop=shop)
    assert sorted(CustomerSummary.objects.filter(shop=shop).values_list(
        "customer_shopify_id", "orders_count", "net_revenue", "first_order_at")) == before
    # The predicted-value model is fitted on the new history right away (not at the next daily run).
    from reports.models import ClvFit

    fit = ClvFit.objects.get(shop=shop)
    assert (fit.reason, fit.status, fits_sent) == ("backfill", "queued", [fit.pk])
    # Done is done: another call (a late finish webhook) changes nothing.
    assert backfill_advance(run_id=run.pk, client=api, opener=file_opener()) == Step.DONE
    assert fits_sent == [fit.pk] and ClvFit.objects.filter(shop=shop).count() == 1


def test_time_budget_hands_over_to_a_new_step(shop, files, monkeypatch):
    monkeypatch.setattr("commerce.services.backfill.BATCH_SIZE", 1000)
    api = BulkStandIn(files)
    run = _new_run(shop)
    backfill_advance(run_id=run.pk, client=api)
    api.complete_all()
    backfill_advance(run_id=run.pk, client=api, opener=file_opener())
    api.complete_all()
    steps = []
    while (step := backfill_advance(run_id=run.pk, client=api, opener=file_opener(), time_budget=0)) == Step.CONTINUE:
        steps.append(step)
    assert step == Step.DONE and len(steps) >= 5
    assert Order.objects.filter(shop=shop).count() == 6000
    run.refresh_from_db()
    assert run.rows_read == 6400


def test_expired_result_restarts_the_operation(shop, files):
    api = BulkStandIn(files)
    run = _new_run(shop)
    backfill_advance(run_id=run.pk, client=api)
    api.complete_all()
    assert backfill_advance(run_id=run.pk, client=api, opener=file_opener(unavailable=True)) == Step.WAITING
    run.refresh_from_db()
    assert run.bulk_restarts == 1 and run.bulk_operation_gid == "gid://shopify/BulkOperation/2"
    api.ops[run.bulk_operation_gid]["status"] = "FAILED"
    for _ in range(3):
        backfill_advance(run_id=run.pk, client=api)
        for op in api.ops.values():
            op["status"] = "FAILED"
    run.refresh_from_db()
    assert run.status == "failed" and "bulk operation failed" in run.error


def test_missing_read_all_orders_fails_clearly(shop, files):
    shop.scopes = "read_customers,read_orders"
    shop.save()
    run = _new_run(shop)
    assert backfill_advance(run_id=run.pk, client=BulkStandIn(files)) == Step.FAILED
    run.refresh_from_db()
    assert run.status == "failed" and "read_all_orders" in run.error


def test_sync_request_is_idempotent_and_dispatches_on_commit(shop, django_capture_on_commit_callbacks, monkeypatch):
    sent = []
    monkeypatch.setattr("commerce.tasks.enqueue_backfill", lambda run_id, **kw: sent.append(run_id))
    with django_capture_on_commit_callbacks(execute=True):
        first = sync_request(shop=shop, kind="backfill")
        second = sync_request(shop=shop, kind="backfill")
    assert first.pk == second.pk and sent == [first.pk]


def test_a_task_for_a_run_that_no_longer_exists_is_dropped_not_retried():
    # e.g. the shop was redacted (its rows deleted) while the task waited in the queue
    from commerce.tasks import backfill_run, reconcile_run

    assert backfill_run.apply(args=(987654321,)).get() == "failed"
    assert reconcile_run.apply(args=(987654321,)).get() == "gone"
