import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from discounts.models import DiscountCode
from loyalty.models import PointsAccount, PointsEntry, Redemption, Reward
from loyalty.services import (
    RedemptionRefused,
    ledger_reconcile,
    order_points_sync,
    points_adjust,
    programme_update,
    redemption_create,
    redemptions_expire_due,
)

from .conftest import order_write

CUSTOMER = 7001


def _reward(shop, **fields):
    defaults = dict(name="5 EUR off", kind=Reward.Kind.FIXED_AMOUNT, points_cost=500, amount=Decimal("5.00"),
                    currency=shop.currency, expires_after_days=30)
    defaults.update(fields)
    return Reward.objects.create(shop=shop, **defaults)


def _give(shop, points, customer=CUSTOMER):
    points_adjust(shop=shop, customer_shopify_id=customer, points=points, staff_name="Ana", note="test",
                  idempotency_key=f"give:{customer}:{points}")


def _balance(shop, customer=CUSTOMER):
    return PointsAccount.objects.get(shop=shop, customer_shopify_id=customer).balance


@pytest.mark.django_db
def test_redeeming_creates_a_single_use_code_for_that_customer(shop, programme, fake_shopify):
    _give(shop, 600)
    reward = _reward(shop, minimum_subtotal=Decimal("40"))
    redemption = redemption_create(shop=shop, customer_shopify_id=CUSTOMER, reward_id=reward.pk, idempotency_key="r1")
    assert redemption.status == Redemption.Status.ISSUED
    assert redemption.code.startswith("REWARD-")
    assert _balance(shop) == 100
    sent = fake_shopify.requests[-1]["variables"]["basicCodeDiscount"]
    assert sent["context"] == {"customers": {"add": [f"gid://shopify/Customer/{CUSTOMER}"]}}
    assert "customerSelection" not in sent
    assert (sent["usageLimit"], sent["appliesOncePerCustomer"]) == (1, True)
    assert sent["customerGets"]["value"] == {"discountAmount": {"amount": "5.00", "appliesOnEachItem": False}}
    assert sent["minimumRequirement"] == {"subtotal": {"greaterThanOrEqualToSubtotal": "40.00"}}
    assert sent["code"] == redemption.code and sent["endsAt"]
    code = DiscountCode.objects.get(shop=shop, code=redemption.code)
    assert (code.customer_shopify_id, code.purpose, code.value, code.currency) == (CUSTOMER, "loyalty_reward", Decimal("5.000"), "EUR")


@pytest.mark.django_db
def test_free_shipping_and_percentage_rewards_use_their_mutations(shop, programme, fake_shopify):
    _give(shop, 1000)
    shipping = _reward(shop, name="Free shipping", kind=Reward.Kind.FREE_SHIPPING, points_cost=300, amount=None)
    percent = _reward(shop, name="10%", kind=Reward.Kind.PERCENTAGE, points_cost=300, amount=None, percentage=Decimal("10"))
    redemption_create(shop=shop, customer_shopify_id=CUSTOMER, reward_id=shipping.pk, idempotency_key="s1")
    assert "discountCodeFreeShippingCreate" in fake_shopify.requests[-1]["query"]
    assert fake_shopify.requests[-1]["variables"]["freeShippingCodeDiscount"]["destination"] == {"all": True}
    redemption_create(shop=shop, customer_shopify_id=CUSTOMER, reward_id=percent.pk, idempotency_key="p1")
    assert fake_shopify.requests[-1]["variables"]["basicCodeDiscount"]["customerGets"]["value"] == {"percentage": 0.1}


@pytest.mark.django_db
def test_a_taken_code_is_replaced_by_a_fresh_one(shop, programme, fake_shopify):
    _give(shop, 500)
    fake_shopify.mode = "taken_once"
    redemption = redemption_create(shop=shop, customer_shopify_id=CUSTOMER, reward_id=_reward(shop).pk, idempotency_key="t1")
    assert redemption.status == Redemption.Status.ISSUED
    first, second = (r["variables"]["basicCodeDiscount"]["code"] for r in fake_shopify.requests)
    assert first != second == redemption.code


@pytest.mark.django_db
@pytest.mark.parametrize("mode", ["refuse", "down"])
def test_when_shopify_refuses_or_is_down_the_points_come_back(shop, programme, fake_shopify, mode):
    _give(shop, 500)
    fake_shopify.mode = mode
    redemption = redemption_create(shop=shop, customer_shopify_id=CUSTOMER, reward_id=_reward(shop).pk, idempotency_key="f1")
    assert redemption.status == Redemption.Status.FAILED
    assert "points" in redemption.error  # a message the customer can read
    assert _balance(shop) == 500
    kinds = list(PointsEntry.objects.filter(shop=shop, source_type="redemption").order_by("id").values_list("kind", "delta"))
    assert kinds == [("redeem", -500), ("redeem_return", 500)]
    assert not DiscountCode.objects.filter(shop=shop).exists()
    assert ledger_reconcile(shop=shop) == []


@pytest.mark.django_db
def test_a_double_click_spends_once_and_returns_the_same_code(shop, programme, fake_shopify):
    _give(shop, 1000)
    reward = _reward(shop)
    first = redemption_create(shop=shop, customer_shopify_id=CUSTOMER, reward_id=reward.pk, idempotency_key="click-1")
    again = redemption_create(shop=shop, customer_shopify_id=CUSTOMER, reward_id=reward.pk, idempotency_key="click-1")
    assert first.pk == again.pk and first.code == again.code
    assert _balance(shop) == 500
    assert len(fake_shopify.requests) == 1


@pytest.mark.django_db
def test_an_overdraw_is_refused(shop, programme):
    _give(shop, 499)
    with pytest.raises(RedemptionRefused):
        redemption_create(shop=shop, customer_shopify_id=CUSTOMER, reward_id=_reward(shop).pk, idempotency_key="o1")
    assert _balance(shop) == 499


@pytest.mark.django_db
def test_an_order_using_the_code_marks_it_used_and_earns(shop, programme, fake_shopify):
    _give(shop, 500)
    redemption = redemption_create(shop=shop, customer_shopify_id=CUSTOMER, reward_id=_reward(shop).pk, idempotency_key="u1")
    order = order_write(shop, shopify_id=910001, subtotal="45.00", codes=[redemption.code.lower()])
    order_points_sync(shop=shop, order=order)
    redemption.refresh_from_db()
    assert (redemption.status, redemption.order_shopify_id) == (Redemption.Status.USED, 910001)
    assert DiscountCode.objects.get(shop=shop, code=redemption.code).order_shopify_id == 910001
    assert PointsAccount.objects.get(shop=shop, customer_shopify_id=CUSTOMER).pending == 45


@pytest.mark.django_db
@pytest.mark.parametrize(("refund", "status", "balance"), [(True, "refunded", 500), (False, "expired", 0)])
def test_unused_expired_codes_are_settled_per_setting(shop, programme, fake_shopify, refund, status, balance):
    programme_update(shop=shop, changes={"refund_expired_rewards": refund})
    _give(shop, 500)
    redemption = redemption_create(shop=shop, customer_shopify_id=CUSTOMER, reward_id=_reward(shop).pk, idempotency_key="e1")
    assert redemptions_expire_due(shop=shop, now=timezone.now() + dt.timedelta(days=30)) == []  # grace period
    settled = redemptions_expire_due(shop=shop, now=timezone.now() + dt.timedelta(days=32))
    assert [r.pk for r in settled] == [redemption.pk]
    redemption.refresh_from_db()
    assert redemption.status == status
    assert _balance(shop) == balance
    assert redemptions_expire_due(shop=shop, now=timezone.now() + dt.timedelta(days=33)) == []


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_redemptions_for_the_same_points_leave_exactly_one(shop, programme, fake_shopify):
    """Real threads on PostgreSQL, each with its own connection: both try to spend the same 500 points."""
    _give(shop, 500)
    reward = _reward(shop)
    barrier = threading.Barrier(2)
    results: list[object] = []

    def redeem(key: str) -> None:
        try:
            barrier.wait()
            results.append(redemption_create(shop=shop, customer_shopify_id=CUSTOMER, reward_id=reward.pk,
                                             idempotency_key=key))
        except RedemptionRefused as exc:
            results.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=redeem, args=(f"race-{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    issued = [r for r in results if isinstance(r, Redemption)]
    refused = [r for r in results if isinstance(r, RedemptionRefused)]
    assert len(issued) == 1 and len(refused) == 1
    assert issued[0].status == Redemption.Status.ISSUED
    assert _balance(shop) == 0
    assert PointsEntry.objects.filter(shop=shop, kind="redeem").count() == 1
    assert ledger_reconcile(shop=shop) == []


@pytest.mark.django_db(transaction=True)
def test_many_concurrent_redemptions_never_drive_the_balance_negative(shop, programme, fake_shopify):
    _give(shop, 1200)
    reward = _reward(shop)
    outcomes: list[str] = []

    def redeem(key: str) -> None:
        try:
            outcomes.append(redemption_create(shop=shop, customer_shopify_id=CUSTOMER, reward_id=reward.pk,
                                              idempotency_key=key).status)
        except RedemptionRefused:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=redeem, args=(f"many-{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(outcomes).count("issued") == 2
    assert _balance(shop) == 200
    assert ledger_reconcile(shop=shop) == []


@pytest.mark.django_db
def test_redemptions_are_isolated_between_shops(shop, other_shop, programme):
    _give(shop, 500)
    foreign_reward = _reward(other_shop)
    with pytest.raises(RedemptionRefused):
        redemption_create(shop=shop, customer_shopify_id=CUSTOMER, reward_id=foreign_reward.pk, idempotency_key="x1")
    with pytest.raises(RedemptionRefused):
        redemption_create(shop=other_shop, customer_shopify_id=CUSTOMER, reward_id=foreign_reward.pk, idempotency_key="x1")


# --- percentage with a cap: Shopify codes cannot cap a percentage, so it becomes an amount of the cart ----

def _capped(shop, **fields):
    return _reward(shop, name="10% up to 20 EUR", kind=Reward.Kind.PERCENTAGE, points_cost=300, amount=None,
                   percentage=Decimal("10"), percentage_cap=Decimal("20.00"), **fields)


@pytest.mark.django_db
@pytest.mark.parametrize(("cart", "amount"), [("84.50", "8.45"), ("84.59", "8.45"), ("300.00", "20.00")])
def test_a_capped_percentage_redeemed_with_a_cart_is_a_fixed_amount_from_that_subtotal(
        shop, programme, fake_shopify, cart, amount):
    _give(shop, 300)
    redemption = redemption_create(shop=shop, customer_shopify_id=CUSTOMER, reward_id=_capped(shop).pk,
                                   idempotency_key="c1", cart_subtotal=cart, cart_currency="EUR")
    assert redemption.status == Redemption.Status.ISSUED
    # min(10% × cart, 20.00), rounded down to the cent: never more than the percentage of the cart
    assert (redemption.value_amount, redemption.cart_subtotal) == (Decimal(amount), Decimal(cart))
    sent = fake_shopify.requests[-1]["variables"]["basicCodeDiscount"]
    assert sent["customerGets"]["value"] == {"discountAmount": {"amount": amount, "appliesOnEachItem": False}}
    # usable only on an order with at least that subtotal: the discount ≤ 10% of any order it applies to
    assert sent["minimumRequirement"] == {"subtotal": {"greaterThanOrEqualToSubtotal": cart}}
    code = DiscountCode.objects.get(shop=shop, code=redemption.code)
    assert (code.kind, code.value, code.minimum_subtotal) == ("fixed_amount", Decimal(amount), Decimal(cart))


@pytest.mark.django_db
def test_the_rewards_own_minimum_subtotal_wins_when_higher_than_the_cart(shop, programme, fake_shopify):
    _give(shop, 300)
    reward = _capped(shop, minimum_subtotal=Decimal("100"))
    redemption_create(shop=shop, customer_shopify_id=CUSTOMER, reward_id=reward.pk, idempotency_key="c2",
                      cart_subtotal="50.00", cart_currency="EUR")
    sent = fake_shopify.requests[-1]["variables"]["basicCodeDiscount"]
    assert sent["customerGets"]["value"]["discountAmount"]["amount"] == "5.00"
    assert sent["minimumRequirement"] == {"subtotal": {"greaterThanOrEqualToSubtotal": "100.00"}}


@pytest.mark.django_db
@pytest.mark.parametrize(("cart", "currency"), [
    (None, ""),          # no cart subtotal (redeemed outside a cart)
    ("0", "EUR"),        # an empty cart
    ("84.50", "SEK"),    # a cart in another presentment currency
    ("nonsense", "EUR"),
])
def test_a_capped_reward_without_a_usable_cart_is_refused_and_costs_nothing(
    shop, programme, fake_shopify, cart, currency
):
    # Shopify's codes have no maximum: an uncapped percentage code would break the merchant's cap.
    _give(shop, 300)
    reward = _capped(shop)
    sent_before = len(fake_shopify.requests)
    with pytest.raises(RedemptionRefused, match="cart"):
        redemption_create(shop=shop, customer_shopify_id=CUSTOMER, reward_id=reward.pk,
                          idempotency_key="c3", cart_subtotal=cart, cart_currency=currency)
    assert len(fake_shopify.requests) == sent_before
    assert PointsAccount.objects.get(shop=shop, customer_shopify_id=CUSTOMER).balance == 300


@pytest.mark.django_db
def test_without_a_cap_a_percentage_code_is_created(shop, programme, fake_shopify):
    _give(shop, 300)
    reward = _capped(shop)
    Reward.objects.filter(pk=reward.pk).update(percentage_cap=None)
    redemption = redemption_create(shop=shop, customer_shopify_id=CUSTOMER, reward_id=reward.pk,
                                   idempotency_key="c3", cart_subtotal="84.50", cart_currency="EUR")
    assert redemption.status == Redemption.Status.ISSUED and redemption.cart_subtotal is None
    sent = fake_shopify.requests[-1]["variables"]["basicCodeDiscount"]
    assert sent["customerGets"]["value"] == {"percentage": 0.1}


@pytest.mark.django_db
def test_the_reward_form_explains_the_cap_and_refuses_it_on_other_kinds(shop):
    from loyalty.forms import RewardForm

    form = RewardForm(shop=shop, data={"name": "5 off", "kind": "fixed_amount", "points_cost": 100, "amount": "5",
                                       "percentage_cap": "10", "combines_with_product_discounts": True})
    assert not form.is_valid() and "percentage_cap" in form.errors
    help_text = str(form.fields["percentage_cap"].help_text)
    assert "fixed amount" in help_text and "cart subtotal" in help_text and "at least that subtotal" in help_text
    ok = RewardForm(shop=shop, data={"name": "10%", "kind": "percentage", "points_cost": 100, "percentage": "10",
                                     "percentage_cap": "20"})
    assert ok.is_valid(), ok.errors
