import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from loyalty.models import LedgerImmutable, OrderEarning, PointsAccount, PointsEntry, Programme, Tier
from loyalty.services import (
    ledger_reconcile,
    order_points_sync,
    points_adjust,
    points_mature_due,
    programme_update,
)
from loyalty.services.programme import earning_amount, points_for_amount

from .conftest import order_write

pytestmark = pytest.mark.django_db
CUSTOMER = 7001


def account(shop, customer=CUSTOMER):
    return PointsAccount.objects.get(shop=shop, customer_shopify_id=customer)


# --- earning rules and rounding ------------------------------------------------------------------------

@pytest.mark.parametrize(("rounding", "expected"), [("down", 12), ("half_up", 13), ("up", 13)])
def test_rounding_is_applied_once_per_order(programme, rounding, expected):
    programme.rounding = rounding
    assert points_for_amount(programme=programme, amount=Decimal("12.50")) == expected


def test_earning_amount_excludes_shipping_and_taxes_by_default_each_configurable(programme):
    assert earning_amount(programme=programme, subtotal=Decimal("100"), shipping=Decimal("10"), taxes=Decimal("19")) == 100
    programme.include_shipping = True
    assert earning_amount(programme=programme, subtotal=Decimal("100"), shipping=Decimal("10"), taxes=Decimal("19")) == 110
    programme.include_taxes = True
    assert earning_amount(programme=programme, subtotal=Decimal("100"), shipping=Decimal("10"), taxes=Decimal("19")) == 129


def test_a_tax_inclusive_subtotal_earns_without_its_tax_unless_taxes_are_included(programme):
    # Rule: prices with tax -> subtotal − the order's tax; prices without tax -> the subtotal.
    inclusive = dict(programme=programme, subtotal=Decimal("119"), shipping=Decimal("10"), taxes=Decimal("19"),
                     taxes_included=True)
    assert earning_amount(**inclusive) == 100
    assert earning_amount(programme=programme, subtotal=Decimal("100"), taxes=Decimal("19")) == 100
    programme.include_taxes = True
    assert earning_amount(**inclusive) == 119  # the tax is in the subtotal already: not added twice
    assert earning_amount(programme=programme, subtotal=Decimal("100"), taxes=Decimal("19")) == 119


def test_gift_cards_are_excluded_by_default_and_configurable(programme):
    assert earning_amount(programme=programme, subtotal=Decimal("75"), gift_cards=Decimal("25")) == 50
    programme.include_gift_cards = True
    assert earning_amount(programme=programme, subtotal=Decimal("75"), gift_cards=Decimal("25")) == 75


def test_an_order_with_tax_inclusive_prices_and_a_gift_card_earns_on_its_net_merchandise(shop, programme):
    # given a shop whose prices include 19% VAT: a 119.00 mug (19.00 tax) and a 50.00 gift card (no tax)
    order = order_write(shop, subtotal="169.00", shipping="4.90", tax="19.00", total="173.90", taxes_included=True,
                        lines=[("119.00", 1, "0", False), ("50.00", 1, "0", True)])
    assert order.taxes_included is True
    # when / then: 169 − 19 tax − 50 gift card = 100 → 100 points (1 per EUR, shipping excluded)
    assert [e.delta for e in order_points_sync(shop=shop, order=order)] == [100]
    assert OrderEarning.objects.get(shop=shop, order_shopify_id=order.shopify_id).earning_amount == Decimal("100")


def test_merchant_may_count_gift_cards_and_taxes(shop, programme):
    programme_update(shop=shop, changes={"include_gift_cards": True, "include_taxes": True})
    order = order_write(shop, subtotal="169.00", shipping="4.90", tax="19.00", total="173.90", taxes_included=True,
                        lines=[("119.00", 1, "0", False), ("50.00", 1, "0", True)])
    assert [e.delta for e in order_points_sync(shop=shop, order=order)] == [169]


def test_paid_order_earns_pending_points_until_the_holding_period_ends(shop, programme):
    # given 2 points per EUR and a 14-day holding period
    programme_update(shop=shop, changes={"points_per_currency_unit": Decimal("2")})
    order = order_write(shop, subtotal="45.60")
    # when
    entries = order_points_sync(shop=shop, order=order)
    # then 91.2 -> 91 (rounded down), pending
    assert [(e.delta, e.bucket, e.kind) for e in entries] == [(91, "pending", "earn_order")]
    acc = account(shop)
    assert (acc.balance, acc.pending, acc.lifetime_earned) == (0, 91, 91)
    # nothing matures before the period is over
    assert points_mature_due(shop=shop, now=timezone.now() + dt.timedelta(days=13)) == 0
    assert points_mature_due(shop=shop, now=timezone.now() + dt.timedelta(days=14, seconds=1)) == 1
    acc.refresh_from_db()
    assert (acc.balance, acc.pending) == (91, 0)
    assert points_mature_due(shop=shop, now=timezone.now() + dt.timedelta(days=30)) == 0
    assert ledger_reconcile(shop=shop) == []


def test_unpaid_test_guest_and_paused_orders_earn_nothing(shop, programme):
    assert order_points_sync(shop=shop, order=order_write(shop, status="pending")) == []
    assert order_points_sync(shop=shop, order=order_write(shop, test=True)) == []
    assert order_points_sync(shop=shop, order=order_write(shop, customer_id=None)) == []
    programme_update(shop=shop, changes={"paused": True})
    assert order_points_sync(shop=shop, order=order_write(shop)) == []
    assert not PointsEntry.objects.filter(shop=shop).exists()


def test_past_orders_earn_only_when_the_merchant_chose_so_through_the_same_path(shop, programme):
    from loyalty.services import past_orders_import

    programme_update(shop=shop, changes={"launched_at": timezone.now()})
    old = order_write(shop, processed_at=timezone.now() - dt.timedelta(days=100))
    assert order_points_sync(shop=shop, order=old) == []
    assert past_orders_import(shop=shop) == (0, None)
    programme_update(shop=shop, changes={"earn_past_orders": True})
    assert past_orders_import(shop=shop) == (1, None)
    # holding period long over: straight to available
    assert (account(shop).balance, account(shop).pending) == (100, 0)
    assert past_orders_import(shop=shop) == (1, None)  # rerun: same entries, nothing new
    assert PointsEntry.objects.filter(shop=shop).count() == 1


# --- duplicates and reordering ------------------------------------------------------------------------

def test_duplicated_and_reordered_order_events_credit_once(shop, programme):
    now = timezone.now()
    paid = order_write(shop, shopify_id=900001, updated_at=now)
    order_points_sync(shop=shop, order=paid)
    order_points_sync(shop=shop, order=paid)
    # an older orders/create (pending payment) arriving late does not replace the paid version
    stale = order_write(shop, shopify_id=900001, status="pending", updated_at=now - dt.timedelta(minutes=5))
    order_points_sync(shop=shop, order=stale)
    assert PointsEntry.objects.filter(shop=shop, kind="earn_order").count() == 1
    assert account(shop).pending == 100


def test_the_database_refuses_a_second_credit_for_the_same_source(shop, programme):
    order_points_sync(shop=shop, order=order_write(shop, shopify_id=900002))
    entry = PointsEntry.objects.get(shop=shop, kind="earn_order")
    with pytest.raises(IntegrityError), transaction.atomic():
        PointsEntry.objects.create(
            shop=shop, account=entry.account, delta=100, bucket="pending", kind="earn_order", source_type="order",
            source_id="900002", idempotency_key=entry.idempotency_key, balance_after=0, pending_after=200,
            available_at=entry.available_at, created_at=timezone.now(),
        )


# --- refunds and cancellations --------------------------------------------------------------------------

def test_partial_refunds_take_back_points_in_proportion(shop, programme):
    # 100 points on an order of 129.00 in total
    order = order_write(shop, shopify_id=900003)
    order_points_sync(shop=shop, order=order)
    # a refund of 32.25 (a quarter of the total) takes back 25 points, from pending
    order = order_write(shop, shopify_id=900003, status="partially_refunded", refunds=[(81, "32.25")])
    entries = order_points_sync(shop=shop, order=order)
    assert [(e.delta, e.bucket, e.kind, e.source_type, e.source_id) for e in entries] == [
        (-25, "pending", "reversal", "refund", "81")]
    # the same refund again changes nothing; the second refund finishes the order: all the rest goes
    order_points_sync(shop=shop, order=order)
    order = order_write(shop, shopify_id=900003, status="refunded", refunds=[(81, "32.25"), (82, "96.75")])
    order_points_sync(shop=shop, order=order)
    acc = account(shop)
    assert (acc.pending, acc.balance, acc.lifetime_earned) == (0, 0, 0)
    assert OrderEarning.objects.get(shop=shop).points_reversed == 100
    assert ledger_reconcile(shop=shop) == []


def test_cancellation_takes_back_everything_left(shop, programme):
    order = order_write(shop, shopify_id=900004)
    order_points_sync(shop=shop, order=order)
    points_mature_due(shop=shop, now=timezone.now() + dt.timedelta(days=15))
    order = order_write(shop, shopify_id=900004, cancelled_at=timezone.now(), status="refunded", refunds=[(83, "50.00")])
    order_points_sync(shop=shop, order=order)
    order_points_sync(shop=shop, order=order)
    acc = account(shop)
    assert acc.balance == 0
    reversals = PointsEntry.objects.filter(shop=shop, kind="reversal").order_by("id")
    assert [e.delta for e in reversals] == [-39, -61]  # 50/129 of 100, half up; then the rest


def _spend(shop, points):
    from loyalty.services.ledger import Posting, account_for_update, entry_post

    with transaction.atomic():
        acc = account_for_update(shop=shop, customer_shopify_id=CUSTOMER)
        entry_post(account=acc, posting=Posting(delta=-points, bucket="available", kind="redeem", source_type="redemption",
                                                source_id="t", idempotency_key=f"test-spend:{points}"))


@pytest.mark.parametrize(("policy", "balance", "owed", "delta", "waived"), [
    ("floor", 0, 0, -30, 70),
    ("owe", 0, 70, -100, 0),
])
def test_refund_of_spent_points_follows_the_merchants_policy_and_records_it(shop, programme, policy, balance, owed, delta, waived):
    programme_update(shop=shop, changes={"negative_policy": policy})
    order = order_write(shop, shopify_id=900005)
    order_points_sync(shop=shop, order=order)
    points_mature_due(shop=shop, now=timezone.now() + dt.timedelta(days=15))
    _spend(shop, 70)  # 30 left
    order = order_write(shop, shopify_id=900005, status="refunded", refunds=[(84, "129.00")])
    order_points_sync(shop=shop, order=order)
    acc = account(shop)
    assert (acc.balance, acc.owed) == (balance, owed)
    entry = PointsEntry.objects.get(shop=shop, kind="reversal")
    assert (entry.delta, entry.points_requested, entry.points_waived, entry.policy) == (delta, 100, waived, policy)
    assert entry.balance_after == balance - owed
    assert ledger_reconcile(shop=shop) == []
    if policy == "owe":
        # later points repay what is owed before anything becomes spendable
        points_adjust(shop=shop, customer_shopify_id=CUSTOMER, points=100, staff_name="Ana", note="goodwill",
                      idempotency_key="k1")
        acc.refresh_from_db()
        assert (acc.balance, acc.owed, acc.net_balance) == (30, 0, 30)


def test_floor_policy_with_nothing_left_records_a_fully_waived_reversal(shop, programme):
    order = order_write(shop, shopify_id=900006)
    order_points_sync(shop=shop, order=order)
    points_mature_due(shop=shop, now=timezone.now() + dt.timedelta(days=15))
    _spend(shop, 100)
    order_points_sync(shop=shop, order=order_write(shop, shopify_id=900006, cancelled_at=timezone.now()))
    entry = PointsEntry.objects.get(shop=shop, kind="reversal")
    assert (entry.delta, entry.points_waived, entry.policy) == (0, 100, "floor")
    assert account(shop).balance == 0


# --- tiers -------------------------------------------------------------------------------------------------

def test_tier_up_at_once_and_down_only_at_the_end_of_the_held_period(shop, programme):
    from loyalty.services import tiers_reevaluate_due

    silver = Tier.objects.create(shop=shop, name="Silver", threshold=Decimal("100"), multiplier=Decimal("1.5"))
    # an order of 129.00 spent: Silver at once
    order = order_write(shop, shopify_id=900007)
    order_points_sync(shop=shop, order=order)
    acc = account(shop)
    assert acc.tier_id == silver.pk
    # the next order earns with the multiplier
    entries = order_points_sync(shop=shop, order=order_write(shop, shopify_id=900008, subtotal="10.00"))
    assert entries[0].delta == 15
    # the qualifying orders fall out of the window, but the member keeps Silver until the held period ends
    later = timezone.now() + dt.timedelta(days=300)
    assert tiers_reevaluate_due(shop=shop, now=later) == 0
    assert account(shop).tier_id == silver.pk
    end = timezone.now() + dt.timedelta(days=366)
    assert tiers_reevaluate_due(shop=shop, now=end) == 1
    assert account(shop).tier_id is None


# --- staff adjustments, expiry, the ledger itself ---------------------------------------------------------

def test_adjustment_needs_a_reason_and_cannot_overdraw(shop, programme):
    from loyalty.services import AdjustmentInvalid

    with pytest.raises(AdjustmentInvalid):
        points_adjust(shop=shop, customer_shopify_id=CUSTOMER, points=50, staff_name="Ana", note=" ", idempotency_key="a")
    entry = points_adjust(shop=shop, customer_shopify_id=CUSTOMER, points=50, staff_name="Ana Staff",
                          note="Review of the blue mug", idempotency_key="a")
    assert (entry.staff_name, entry.note, entry.delta) == ("Ana Staff", "Review of the blue mug", 50)
    assert points_adjust(shop=shop, customer_shopify_id=CUSTOMER, points=50, staff_name="Ana Staff",
                         note="Review of the blue mug", idempotency_key="a") is None  # form posted twice
    with pytest.raises(AdjustmentInvalid):
        points_adjust(shop=shop, customer_shopify_id=CUSTOMER, points=-51, staff_name="Ana", note="oops", idempotency_key="b")
    assert account(shop).balance == 50


def test_inactive_balances_expire_once(shop, programme):
    from loyalty.services import accounts_due_expiry_reminder, points_expire_inactive

    programme_update(shop=shop, changes={"expiry_inactivity_days": 365, "expiry_reminder_days": 30})
    points_adjust(shop=shop, customer_shopify_id=CUSTOMER, points=80, staff_name="Ana", note="welcome", idempotency_key="c")
    assert points_expire_inactive(shop=shop, now=timezone.now() + dt.timedelta(days=300)) == 0
    assert [a.customer_shopify_id for a in accounts_due_expiry_reminder(shop=shop, now=timezone.now() + dt.timedelta(days=340))] == [CUSTOMER]
    assert points_expire_inactive(shop=shop, now=timezone.now() + dt.timedelta(days=366)) == 1
    assert points_expire_inactive(shop=shop, now=timezone.now() + dt.timedelta(days=367)) == 0
    assert account(shop).balance == 0
    assert PointsEntry.objects.get(shop=shop, kind="expire").delta == -80


def test_ledger_rows_cannot_be_updated_or_deleted(shop, programme):
    entry = points_adjust(shop=shop, customer_shopify_id=CUSTOMER, points=10, staff_name="Ana", note="x", idempotency_key="d")
    with pytest.raises(LedgerImmutable):
        entry.save()
    with pytest.raises(LedgerImmutable):
        entry.delete()
    with pytest.raises(LedgerImmutable):
        PointsEntry.objects.filter(pk=entry.pk).update(delta=1000)
    with pytest.raises(LedgerImmutable):
        PointsEntry.objects.filter(pk=entry.pk).delete()
    # the database refuses too, whatever the code path
    from django.db import connection
    from django.db.utils import DatabaseError

    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cur:
        cur.execute("UPDATE loyalty_pointsentry SET delta = 1000 WHERE id = %s", [entry.pk])
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cur:
        cur.execute("DELETE FROM loyalty_pointsentry WHERE id = %s", [entry.pk])
    assert PointsEntry.objects.get(pk=entry.pk).delta == 10


def test_cross_shop_isolation(shop, other_shop, programme):
    programme_update(shop=other_shop, changes={"launched_at": timezone.now() - dt.timedelta(days=1)})
    order_points_sync(shop=shop, order=order_write(shop, shopify_id=900010))
    # the same Shopify ids in another shop are another customer and another order
    order_points_sync(shop=other_shop, order=order_write(other_shop, shopify_id=900010, subtotal="10.00"))
    assert account(shop).pending == 100
    assert account(other_shop).pending == 10
    assert PointsEntry.objects.for_shop(other_shop).count() == 1
    assert Programme.objects.filter(shop=other_shop).count() == 1
