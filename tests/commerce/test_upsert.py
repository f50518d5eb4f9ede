"""Upserts: newest version wins, duplicates and reordering converge, guests, refunds, cancellation, tenancy."""
import datetime as dt
from decimal import Decimal

import pytest

from commerce.models import Customer, CustomerMonthSummary, CustomerSummary, Order, OrderLineItem, Refund
from commerce.services.upsert import customer_mark_deleted, customers_upsert, orders_upsert
from commerce.services.webhooks import (
    handle_customer_delete_webhook,
    handle_customer_webhook,
    handle_order_webhook,
    handle_refund_webhook,
)
from commerce.shapes import customer_from_graphql, order_from_graphql

from .payloads import (
    BIG_ID,
    customer_facts,
    graphql_customer,
    graphql_order,
    order_facts,
    rest_customer,
    rest_order,
    rest_refund,
)

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 5, 9, 0, tzinfo=dt.UTC)


def later(minutes: int) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def test_both_shapes_write_the_same_rows(shop, other_shop, order_rows):
    facts = order_facts(refunds=[{"id": BIG_ID + 50, "created_at": later(60), "amount": Decimal("20.00")}])
    handle_order_webhook(shop=shop, payload=rest_order(facts))
    handle_customer_webhook(shop=shop, payload=rest_customer(customer_facts()))
    orders_upsert(shop=other_shop, orders=[order_from_graphql(graphql_order(facts))])
    customers_upsert(shop=other_shop, records=[customer_from_graphql(graphql_customer(customer_facts()))])
    a, b = order_rows(shop), order_rows(other_shop)
    # Same facts, except the summaries' currency which is each shop's own.
    assert {k: v for k, v in a.items() if "Summary" not in k} == {k: v for k, v in b.items() if "Summary" not in k}
    order = Order.objects.get(shop=shop)
    assert order.shopify_id == BIG_ID
    assert order.total_refunded == Decimal("20.00")
    assert OrderLineItem.objects.get(shop=shop).product_shopify_id == BIG_ID + 200


def test_older_version_never_overwrites_newer(shop):
    new = order_facts(updated_at=later(10), financial_status="refunded", total=Decimal("50.00"))
    old = order_facts(updated_at=later(0), financial_status="paid", total=Decimal("112.10"))
    handle_order_webhook(shop=shop, payload=rest_order(new))
    written = handle_order_webhook(shop=shop, payload=rest_order(old))
    assert written == 0
    order = Order.objects.get(shop=shop, shopify_id=BIG_ID)
    assert (order.financial_status, order.total) == ("refunded", Decimal("50.00"))
    assert order.updated_at == later(10)
    # Same for customers.
    handle_customer_webhook(shop=shop, payload=rest_customer(customer_facts(updated_at=later(5), first_name="New")))
    handle_customer_webhook(shop=shop, payload=rest_customer(customer_facts(updated_at=later(1), first_name="Old")))
    assert Customer.objects.get(shop=shop).first_name == "New"


def test_duplicates_and_reordering_converge(shop, other_shop, order_rows):
    versions = [
        rest_order(order_facts(updated_at=later(i), financial_status=s, name="#1001"))
        for i, s in enumerate(["pending", "paid", "partially_refunded"])
    ]
    for payload in versions:
        handle_order_webhook(shop=shop, payload=payload)
    for payload in [versions[2], versions[0], versions[2], versions[1], versions[0]]:
        handle_order_webhook(shop=other_shop, payload=payload)
    assert order_rows(shop)["Order"] == order_rows(other_shop)["Order"]
    assert Order.objects.get(shop=other_shop).financial_status == "partially_refunded"
    # Duplicates within one batch are fine too.
    orders_upsert(shop=shop, orders=[order_from_graphql(graphql_order(order_facts(updated_at=later(i % 3))))
                                     for i in range(7)])
    assert Order.objects.filter(shop=shop).count() == 1


def test_guest_orders_are_kept_but_belong_to_no_customer_summary(shop):
    handle_order_webhook(shop=shop, payload=rest_order(order_facts(customer_id=None)))
    assert Order.objects.get(shop=shop).customer_shopify_id is None
    assert not CustomerSummary.objects.filter(shop=shop).exists()


def test_test_orders_are_stored_flagged_and_excluded(shop):
    handle_order_webhook(shop=shop, payload=rest_order(order_facts(test=True)))
    assert Order.objects.get(shop=shop).test is True
    assert not CustomerSummary.objects.filter(shop=shop).exists()


def test_partial_and_full_refunds(shop):
    handle_order_webhook(shop=shop, payload=rest_order(order_facts(total=Decimal("100.00"))))
    handle_refund_webhook(shop=shop, payload=rest_refund(
        {"id": BIG_ID + 60, "created_at": later(30), "amount": Decimal("30.00")}, BIG_ID))
    summary = CustomerSummary.objects.get(shop=shop)
    assert (summary.net_revenue, summary.refunded) == (Decimal("70.00"), Decimal("30.00"))
    # The same refund again (duplicate delivery) changes nothing.
    handle_refund_webhook(shop=shop, payload=rest_refund(
        {"id": BIG_ID + 60, "created_at": later(30), "amount": Decimal("30.00")}, BIG_ID))
    handle_refund_webhook(shop=shop, payload=rest_refund(
        {"id": BIG_ID + 61, "created_at": later(40), "amount": Decimal("70.00")}, BIG_ID))
    summary.refresh_from_db()
    assert (summary.net_revenue, summary.refunded, summary.orders_count) == (Decimal("0"), Decimal("100"), 1)
    assert Order.objects.get(shop=shop).total_refunded == Decimal("100.00")
    month = CustomerMonthSummary.objects.get(shop=shop)
    assert month.net_revenue == Decimal("0")


def test_refund_before_its_order_is_applied_when_the_order_arrives(shop):
    handle_refund_webhook(shop=shop, payload=rest_refund(
        {"id": BIG_ID + 70, "created_at": later(30), "amount": Decimal("12.10")}, BIG_ID))
    assert Refund.objects.get(shop=shop).order_shopify_id == BIG_ID
    # The order arrives later, in a version that predates the refund (no refunds listed).
    handle_order_webhook(shop=shop, payload=rest_order(order_facts(total=Decimal("112.10"))))
    assert Order.objects.get(shop=shop).total_refunded == Decimal("12.10")
    assert CustomerSummary.objects.get(shop=shop).net_revenue == Decimal("100.00")


def test_cancellation_counts_zero(shop):
    handle_order_webhook(shop=shop, payload=rest_order(order_facts(id=BIG_ID, updated_at=later(0))))
    handle_order_webhook(shop=shop, payload=rest_order(order_facts(id=BIG_ID + 1000, name="#1002",
                                                                   total=Decimal("40.00"), updated_at=later(0))))
    assert CustomerSummary.objects.get(shop=shop).orders_count == 2
    handle_order_webhook(shop=shop, payload=rest_order(order_facts(
        id=BIG_ID, updated_at=later(5), cancelled_at=later(5), cancel_reason="customer", financial_status="voided")))
    summary = CustomerSummary.objects.get(shop=shop)
    assert (summary.orders_count, summary.net_revenue) == (1, Decimal("40.00"))
    assert Order.objects.get(shop=shop, shopify_id=BIG_ID).cancel_reason == "customer"


def test_order_moving_to_another_customer_updates_both_summaries(shop):
    handle_order_webhook(shop=shop, payload=rest_order(order_facts(customer_id=111, updated_at=later(0))))
    handle_order_webhook(shop=shop, payload=rest_order(order_facts(customer_id=222, updated_at=later(1))))
    assert list(CustomerSummary.objects.filter(shop=shop).values_list("customer_shopify_id", flat=True)) == [222]


def test_line_items_replaced_by_a_complete_newer_version(shop):
    two_lines = order_facts(updated_at=later(0), lines=[
        {"id": 1, "product_id": 10, "variant_id": 100, "title": "A", "sku": "A", "quantity": 1,
         "price": Decimal("1"), "discount": Decimal("0")},
        {"id": 2, "product_id": 20, "variant_id": 200, "title": "B", "sku": "B", "quantity": 1,
         "price": Decimal("2"), "discount": Decimal("0")},
    ])
    handle_order_webhook(shop=shop, payload=rest_order(two_lines))
    edited = dict(two_lines, updated_at=later(1), lines=[dict(two_lines["lines"][1], quantity=3)])
    handle_order_webhook(shop=shop, payload=rest_order(edited))
    assert list(OrderLineItem.objects.filter(shop=shop).values_list("shopify_id", "quantity")) == [(2, 3)]


def test_birthday_kept_when_a_webhook_does_not_carry_metafields(shop):
    handle_customer_webhook(shop=shop, payload=rest_customer(customer_facts(updated_at=later(0))))
    handle_customer_webhook(shop=shop, payload=rest_customer(
        customer_facts(updated_at=later(1), first_name="Jonathan"), with_metafields=False))
    customer = Customer.objects.get(shop=shop)
    assert (customer.first_name, customer.birth_date) == ("Jonathan", dt.date(1990, 5, 17))
    # A payload that does carry the namespace and no birthday clears it.
    handle_customer_webhook(shop=shop, payload=rest_customer(customer_facts(updated_at=later(2), birth_date=None)))
    customer.refresh_from_db()
    assert customer.birth_date is None


def test_customer_delete_leaves_a_tombstone_older_updates_cannot_revive(shop):
    handle_customer_webhook(shop=shop, payload=rest_customer(customer_facts(updated_at=later(0))))
    handle_customer_delete_webhook(shop=shop, payload={"id": BIG_ID + 1}, triggered_at=later(10).isoformat())
    handle_customer_webhook(shop=shop, payload=rest_customer(customer_facts(updated_at=later(5))))
    customer = Customer.objects.get(shop=shop)
    assert customer.deleted_at == later(10)
    assert customer_mark_deleted(shop=shop, shopify_id=BIG_ID + 1, deleted_at=later(11)) is False


def test_cross_shop_isolation(shop, other_shop):
    handle_order_webhook(shop=shop, payload=rest_order(order_facts(total=Decimal("10.00"))))
    handle_order_webhook(shop=other_shop, payload=rest_order(order_facts(total=Decimal("99.00"))))
    handle_refund_webhook(shop=other_shop, payload=rest_refund(
        {"id": BIG_ID + 80, "created_at": later(30), "amount": Decimal("9.00")}, BIG_ID))
    mine = Order.objects.get(shop=shop)
    assert (mine.total, mine.total_refunded) == (Decimal("10.00"), Decimal("0"))
    assert CustomerSummary.objects.get(shop=shop).net_revenue == Decimal("10.00")
    assert CustomerSummary.objects.get(shop=other_shop).net_revenue == Decimal("90.00")
    assert not Refund.objects.filter(shop=shop).exists()


def test_month_summary_uses_the_shop_time_zone(shop):
    # 2026-03-31 23:30 UTC is already April 1st in Berlin (the shop fixture's zone).
    at = dt.datetime(2026, 3, 31, 23, 30, tzinfo=dt.UTC)
    handle_order_webhook(shop=shop, payload=rest_order(order_facts(processed_at=at, created_at=at)))
    assert CustomerMonthSummary.objects.get(shop=shop).month == dt.date(2026, 4, 1)
