# ruff: noqa: S311 - seeded randomness for reproducible test data, not security
"""Incremental summaries equal a full rebuild after any mix of writes (property-style, seeded)."""
import datetime as dt
import random
from decimal import Decimal

import pytest

from commerce.models import CustomerMonthSummary, CustomerSummary, MonthActivity
from commerce.services.summaries import summaries_rebuild
from commerce.services.upsert import orders_upsert
from commerce.services.webhooks import handle_order_webhook, handle_refund_webhook
from commerce.shapes import order_from_graphql

from .payloads import graphql_order, order_facts, rest_order, rest_refund

pytestmark = pytest.mark.django_db

BASE = dt.datetime(2025, 12, 20, tzinfo=dt.UTC)


def _snapshot(shop):
    return (
        sorted(CustomerSummary.objects.filter(shop=shop).values_list(
            "customer_shopify_id", "first_order_at", "last_order_at", "orders_count", "net_revenue", "refunded",
            "second_order_at")),
        sorted(CustomerMonthSummary.objects.filter(shop=shop).values_list(
            "customer_shopify_id", "month", "orders_count", "net_revenue", "cohort_month", "previous_month",
            "following_month")),
        # the rollup of the month rows (commerce.services.rollups), kept by the same two paths
        sorted(MonthActivity.objects.filter(shop=shop).values_list(
            "month", "cohort_month", "previous_month", "following_month", "repeat_in_month", "customers", "orders",
            "net_revenue"), key=str),
    )


def _random_order(rng: random.Random, order_id: int, version: int) -> dict:
    processed = BASE + dt.timedelta(days=rng.randint(0, 70), hours=rng.randint(0, 23))
    cancelled = rng.random() < 0.15
    return order_facts(
        id=order_id,
        name=f"#{order_id}",
        customer_id=rng.choice([None, 1, 2, 3, 4, 5]),
        processed_at=processed,
        created_at=processed,
        updated_at=BASE + dt.timedelta(days=100, minutes=version),
        total=Decimal(rng.randint(100, 50000)) / 100,
        test=rng.random() < 0.1,
        cancelled_at=processed + dt.timedelta(hours=1) if cancelled else None,
        cancel_reason="customer" if cancelled else None,
        lines=[],
    )


@pytest.mark.parametrize("seed", range(6))
def test_incremental_summaries_equal_full_rebuild(shop, seed):
    rng = random.Random(seed)
    for step in range(120):
        order_id = rng.randint(1, 25)
        # Versions are drawn out of order, so some writes are older than what is stored and skipped.
        version = rng.randint(0, 60)
        action = rng.random()
        if action < 0.45:
            handle_order_webhook(shop=shop, payload=rest_order(_random_order(rng, order_id, version)))
        elif action < 0.7:
            batch = [order_from_graphql(graphql_order(_random_order(rng, rng.randint(1, 25), rng.randint(0, 60))))
                     for _ in range(rng.randint(1, 8))]
            orders_upsert(shop=shop, orders=batch)
        else:
            refund = {"id": 10_000 + step, "created_at": BASE + dt.timedelta(days=80),
                      "amount": Decimal(rng.randint(1, 3000)) / 100}
            handle_refund_webhook(shop=shop, payload=rest_refund(refund, order_id))
    incremental = _snapshot(shop)
    summaries_rebuild(shop=shop)
    assert _snapshot(shop) == incremental
    assert incremental[0], "the scenario should produce some summaries"


def test_rebuild_is_per_shop(shop, other_shop):
    handle_order_webhook(shop=shop, payload=rest_order(order_facts()))
    handle_order_webhook(shop=other_shop, payload=rest_order(order_facts()))
    result = summaries_rebuild(shop=shop)
    assert (result.customers, result.customer_months) == (1, 1)
    assert CustomerSummary.objects.filter(shop=other_shop).count() == 1


def test_rebuild_repairs_every_kind_of_drift_and_writes_nothing_when_right(shop, other_shop):
    # given: summaries kept by the incremental path, for two shops
    for s in (shop, other_shop):
        for i, customer in enumerate((1, 1, 2, 3)):
            facts = order_facts(id=100 + i, name=f"#{100 + i}", customer_id=customer,
                                processed_at=BASE + dt.timedelta(days=40 * i),
                                created_at=BASE + dt.timedelta(days=40 * i), lines=[])
            handle_order_webhook(shop=s, payload=rest_order(facts))
    right = _snapshot(shop)
    other = _snapshot(other_shop)
    assert summaries_rebuild(shop=shop).written == 0  # nothing to repair: nothing written
    # when: rows drift every way a repair must undo (wrong values, a missing row, a row too many)
    CustomerSummary.objects.filter(shop=shop, customer_shopify_id=1).update(orders_count=7)
    CustomerMonthSummary.objects.filter(shop=shop, customer_shopify_id=2).delete()
    CustomerMonthSummary.objects.filter(shop=shop, customer_shopify_id=3).update(cohort_month=dt.date(2020, 1, 1))
    CustomerSummary.objects.filter(shop=shop, customer_shopify_id=2).delete()
    stray = CustomerSummary.objects.filter(shop=shop, customer_shopify_id=3).values().get()
    CustomerSummary.objects.create(**{**stray, "id": None, "customer_shopify_id": 99})
    result = summaries_rebuild(shop=shop)
    # then: exact again, only the drifted rows written, the other shop untouched
    assert _snapshot(shop) == right
    assert result.written == 5 and (result.customers, result.customer_months) == (3, len(right[1]))
    assert _snapshot(other_shop) == other


def test_month_activity_is_the_month_rows_grouped_and_a_rebuild_repairs_it(shop, other_shop):
    for s in (shop, other_shop):
        for i, (customer, day) in enumerate(((1, 0), (1, 3), (1, 40), (2, 0), (3, 45), (3, 80))):
            facts = order_facts(id=200 + i, name=f"#{200 + i}", customer_id=customer,
                                processed_at=BASE + dt.timedelta(days=day), created_at=BASE + dt.timedelta(days=day),
                                total=Decimal("10.00") * (i + 1), lines=[])
            handle_order_webhook(shop=s, payload=rest_order(facts))
    # Customer 1: December 2025 with two orders (a repeat month), then January 2026; customer 2: December
    # only; customer 3: February then March 2026.
    dec, jan, feb, mar = dt.date(2025, 12, 1), dt.date(2026, 1, 1), dt.date(2026, 2, 1), dt.date(2026, 3, 1)
    expected = sorted([
        (dec, dec, None, jan, True, 1, 2, Decimal("30.000")),
        (jan, dec, dec, None, False, 1, 1, Decimal("30.000")),
        (dec, dec, None, None, False, 1, 1, Decimal("40.000")),
        (feb, feb, None, mar, False, 1, 1, Decimal("50.000")),
        (mar, feb, feb, None, False, 1, 1, Decimal("60.000")),
    ], key=str)
    assert _snapshot(shop)[2] == expected
    # a cancelled order moves customer 1's December out of the repeat group: the delta, not a rebuild
    handle_order_webhook(shop=shop, payload=rest_order(order_facts(
        id=201, name="#201", customer_id=1, processed_at=BASE + dt.timedelta(days=3),
        created_at=BASE + dt.timedelta(days=3), updated_at=BASE + dt.timedelta(days=200),
        cancelled_at=BASE + dt.timedelta(days=4), cancel_reason="customer", total=Decimal("20.00"), lines=[])))
    after_cancel = _snapshot(shop)[2]
    assert (dec, dec, None, jan, False, 1, 1, Decimal("10.000")) in after_cancel
    assert not [row for row in after_cancel if row[4]], "no repeat group left, and no empty group kept"
    other = _snapshot(other_shop)
    # drift: a group with a wrong count, a missing group, a stray group
    MonthActivity.objects.filter(shop=shop, month=feb).update(customers=9)
    MonthActivity.objects.filter(shop=shop, month=mar).delete()
    MonthActivity.objects.create(shop=shop, month=dt.date(2020, 1, 1), cohort_month=dt.date(2020, 1, 1),
                                 repeat_in_month=False, customers=1, orders=1, net_revenue=Decimal(1))
    assert summaries_rebuild(shop=shop).written == 3
    assert _snapshot(shop)[2] == after_cancel
    assert _snapshot(other_shop) == other
    assert summaries_rebuild(shop=shop).written == 0
    # none stored at all (the first build after a backfill): filled without a comparison, the same groups
    MonthActivity.objects.filter(shop=shop).delete()
    assert summaries_rebuild(shop=shop).written == len(after_cancel)
    assert _snapshot(shop)[2] == after_cancel and _snapshot(other_shop) == other
