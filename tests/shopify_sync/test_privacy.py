"""The compliance webhooks: customers/data_request, customers/redact, shop/redact (and what each leaves)."""
from __future__ import annotations

import json

import pytest
from django.apps import apps
from django.utils import timezone

from shopify_sync import privacy
from shopify_sync.models import DataRequest, WebhookDelivery
from shopify_sync.services import inbox

pytestmark = pytest.mark.django_db

CUSTOMER = 7_001_234_567_890_123_457  # > 2**53
OTHER_CUSTOMER = 7_001_234_567_890_123_458
ORDER = 820982911946154508


def process_all():
    # Only what these tests send; the history rows (commerce's topics) stay pending on purpose.
    rows = WebhookDelivery.objects.unprocessed().exclude(topic__in=["orders/create", "refunds/create", "customers/update"])
    for pk in rows.order_by("pk").values_list("pk", flat=True):
        inbox.webhook_delivery_process(delivery_id=pk)


def store(shop, topic, payload, webhook_id):
    return inbox.webhook_delivery_store(shop_domain=shop.domain, topic=topic, webhook_id=webhook_id,
                                        body=json.dumps(payload).encode()).id


def commerce_customer(shop, shopify_id, email):
    from commerce.models import Customer

    now = timezone.now()
    return Customer.objects.create(shop=shop, shopify_id=shopify_id, first_name="Jon", last_name="Doe", email=email,
                                   phone="+3725551234", created_at=now, updated_at=now, synced_at=now)


@pytest.fixture
def history(shop, other_shop):
    """Deliveries about CUSTOMER and OTHER_CUSTOMER in shop, and about CUSTOMER's id in other_shop."""
    ids = {
        "customer": store(shop, "customers/update", {"id": CUSTOMER, "email": "jon@doe.ca"}, "w1"),
        "order": store(shop, "orders/create", {"id": ORDER, "email": "jon@doe.ca", "customer": {"id": CUSTOMER}}, "w2"),
        "refund": store(shop, "refunds/create", {"id": 5, "order_id": ORDER}, "w3"),
        "bystander": store(shop, "customers/update", {"id": OTHER_CUSTOMER, "email": "ann@example.com"}, "w4"),
        "other_shop": store(other_shop, "customers/update", {"id": CUSTOMER, "email": "jon@doe.ca"}, "w5"),
    }
    WebhookDelivery.objects.filter(pk__in=[ids["customer"], ids["bystander"], ids["other_shop"]]).update(
        status=WebhookDelivery.Status.PROCESSED, processed_at=timezone.now())
    return ids


def test_data_request_stores_one_downloadable_report_of_the_customers_data(post_webhook, shop, history):
    commerce_customer(shop, CUSTOMER, "jon@doe.ca")
    payload = {"shop_id": 954889, "shop_domain": shop.domain, "orders_requested": [ORDER],
               "customer": {"id": CUSTOMER, "email": "jon@doe.ca", "phone": "555-625-1199"}, "data_request": {"id": 9999}}
    post_webhook("customers/data_request", payload, webhook_id="dr-1")
    post_webhook("customers/data_request", payload, webhook_id="dr-2")  # Shopify asks again: same request id
    WebhookDelivery.objects.filter(pk__in=[history["order"], history["refund"]]).update(
        status=WebhookDelivery.Status.PROCESSED, processed_at=timezone.now())
    process_all()

    request = DataRequest.objects.get()
    assert (request.shop, request.shopify_request_id, request.customer_shopify_id) == (shop, 9999, CUSTOMER)
    report = request.report
    topics = sorted(d["topic"] for d in report["data"]["shopify_sync"]["webhook_deliveries"])
    assert topics == ["customers/data_request", "customers/data_request", "customers/update", "orders/create", "refunds/create"]
    assert report["data"]["commerce"]["customers"][0]["email"] == "jon@doe.ca"
    assert report["data"]["commerce"]["customers"][0]["shopify_id"] == CUSTOMER  # exact
    assert "ann@example.com" not in json.dumps(report)


def test_customers_redact_erases_the_customer_everywhere_and_nothing_else(post_webhook, shop, other_shop, history):
    from commerce.models import Customer

    commerce_customer(shop, CUSTOMER, "jon@doe.ca")
    commerce_customer(shop, OTHER_CUSTOMER, "ann@example.com")
    commerce_customer(other_shop, CUSTOMER, "jon@doe.ca")
    DataRequest.objects.create(shop=shop, customer_shopify_id=CUSTOMER, requested_at=timezone.now(), report={"x": 1})
    payload = {"shop_id": 954889, "shop_domain": shop.domain, "orders_to_redact": [ORDER],
               "customer": {"id": CUSTOMER, "email": "jon@doe.ca", "phone": "555-625-1199"}}

    post_webhook("customers/redact", payload)
    process_all()

    # the customer's payloads are gone, including the pending order that must now never be applied
    rows = {name: WebhookDelivery.objects.get(pk=pk) for name, pk in history.items()}
    for name in ("customer", "order", "refund"):
        assert "jon@doe.ca" not in rows[name].payload and str(CUSTOMER) not in rows[name].payload
        assert rows[name].redacted_at is not None
    assert rows["order"].status == WebhookDelivery.Status.REDACTED
    redact_row = WebhookDelivery.objects.get(topic="customers/redact")
    assert "jon@doe.ca" not in redact_row.payload and redact_row.status == WebhookDelivery.Status.PROCESSED
    assert not DataRequest.objects.filter(customer_shopify_id=CUSTOMER).exists()
    gone = Customer.objects.get(shop=shop, shopify_id=CUSTOMER)
    assert (gone.email, gone.first_name, gone.phone) == ("", "", "") and gone.deleted_at is not None
    # other customers and other shops untouched
    assert "ann@example.com" in rows["bystander"].payload
    assert "jon@doe.ca" in rows["other_shop"].payload
    assert Customer.objects.get(shop=shop, shopify_id=OTHER_CUSTOMER).email == "ann@example.com"
    assert Customer.objects.get(shop=other_shop, shopify_id=CUSTOMER).email == "jon@doe.ca"


def test_a_compliance_body_naming_another_shop_erases_nothing(post_webhook, shop, other_shop, history):
    post_webhook("customers/redact", {"shop_domain": other_shop.domain, "customer": {"id": CUSTOMER}})
    process_all()
    assert "jon@doe.ca" in WebhookDelivery.objects.get(pk=history["customer"]).payload
    row = WebhookDelivery.objects.get(topic="customers/redact")
    assert row.status == WebhookDelivery.Status.RETRYING and "payload names shop" in row.last_error


def test_shop_redact_erases_every_row_of_the_shop_in_every_app_and_only_that_shop(post_webhook, shop, other_shop, history):
    from commerce.models import Customer, OrderSyncRun

    for s in (shop, other_shop):
        commerce_customer(s, CUSTOMER, "jon@doe.ca")
        OrderSyncRun.objects.create(shop=s, kind="backfill")
        DataRequest.objects.create(shop=s, customer_shopify_id=CUSTOMER, requested_at=timezone.now(), report={})
    shop.uninstalled_at = timezone.now()
    shop.save()

    post_webhook("shop/redact", {"shop_id": 954889, "shop_domain": shop.domain})
    post_webhook("shop/redact", {"shop_id": 954889, "shop_domain": shop.domain})  # a repeat is harmless
    process_all()

    for model in privacy.shop_scoped_models():
        assert not model._base_manager.filter(shop=shop).exists(), model._meta.label
    assert list(WebhookDelivery.objects.for_shop(shop).values_list("topic", flat=True)) == ["shop/redact"]
    shop.refresh_from_db()
    assert shop.redacted_at is not None and shop.email == ""
    # the other shop keeps everything
    assert Customer.objects.filter(shop=other_shop).count() == 1
    assert OrderSyncRun.objects.filter(shop=other_shop).count() == 1
    assert DataRequest.objects.filter(shop=other_shop).count() == 1
    assert WebhookDelivery.objects.filter(pk=history["other_shop"]).exists()


def test_a_late_delivery_for_a_redacted_shop_is_not_applied_and_its_payload_erased(post_webhook, shop):
    from shopify_sync import webhook_handlers

    calls = []
    webhook_handlers.register("test/late", lambda **kw: calls.append(kw))
    try:
        shop.uninstalled_at = shop.redacted_at = timezone.now()
        shop.save()
        post_webhook("test/late", {"email": "jon@doe.ca"})
        process_all()
        row = WebhookDelivery.objects.get()
        assert calls == [] and row.status == WebhookDelivery.Status.REDACTED and row.payload == "{}"
    finally:
        webhook_handlers.unregister("test/late")


PERSONAL_FIELDS = {
    "email", "phone", "first_name", "last_name", "birth_date", "address", "address1", "ip_address", "comment",
    "friend_email", "friend_first_name", "address_hash", "phone_hash", "ip_hash",
}


def test_every_model_with_customers_personal_data_is_covered_by_a_redactor():
    """A new table with an e-mail, phone or name must get its functions in shopify_sync/privacy.py."""
    uncovered = []
    for model in apps.get_models():
        label = model._meta.label
        if model._meta.app_label in {"auth", "contenttypes"} or label.startswith("devshop"):
            continue
        names = {f.name for f in model._meta.get_fields() if getattr(f, "concrete", False)}
        if names & PERSONAL_FIELDS and label not in (
            privacy.COVERED_MODELS | set(privacy.NOT_YET_COVERED) | set(privacy.NOT_CUSTOMER_DATA)
        ):
            uncovered.append(label)
    assert uncovered == []
