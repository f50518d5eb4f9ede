"""The widget's endpoints through signed proxy requests: whose points, redeem, messages, isolation."""
from __future__ import annotations

from decimal import Decimal

import pytest
from django.core import mail

from loyalty.models import MemberEmail, PointsAccount, Redemption, Reward
from loyalty.services import points_adjust

pytestmark = pytest.mark.django_db

CUSTOMER = 7001


@pytest.fixture
def member(shop, programme):
    points_adjust(shop=shop, customer_shopify_id=CUSTOMER, points=500, staff_name="Dana", note="welcome",
                  idempotency_key="seed-1")
    return PointsAccount.objects.get(shop=shop, customer_shopify_id=CUSTOMER)


@pytest.fixture
def reward(shop, programme):
    return Reward.objects.create(shop=shop, name="5 € off", kind=Reward.Kind.FIXED_AMOUNT, points_cost=200,
                                 amount=Decimal("5"), currency="EUR")


def test_guest_sees_how_it_works_and_an_invitation(shop, programme, reward, proxy):
    response = proxy.get(shop, "widget")
    assert response.status_code == 200 and response["Cache-Control"] == "private, no-store"
    data = response.json()
    assert data["balance"]["customer"] is False and "create an account" in data["balance"]["message"]
    assert [w["key"] for w in data["programme"]["ways_to_earn"]][:2] == ["order", "signup"]
    assert data["rewards"][0]["name"] == "5 € off" and data["history"] == []


def test_balance_is_the_logged_in_customers_and_in_the_storefront_language(shop, member, reward, proxy):
    data = proxy.get(shop, "balance", CUSTOMER, locale="de").json()
    assert data["balance"] == 500 and data["member"] is True
    other = proxy.get(shop, "balance", 9999).json()
    assert other["balance"] == 0 and other["member"] is False
    rewards = proxy.get(shop, "rewards", CUSTOMER).json()["rewards"]
    assert rewards[0]["redeemable"] is True


def test_unsigned_request_is_refused(client, shop, member):
    response = client.get(f"/proxy/balance?shop={shop.domain}&logged_in_customer_id={CUSTOMER}")
    assert response.status_code == 401 and "balance" not in response.json()


def test_other_shop_sees_nothing_of_this_shops_members(shop, other_shop, member, proxy):
    from loyalty.services import programme_get

    programme_get(other_shop)
    assert proxy.get(other_shop, "balance", CUSTOMER).json()["balance"] == 0
    assert proxy.get(other_shop, "history", CUSTOMER).json()["history"] == []


def test_redeem_issues_a_code_once_for_a_double_click(shop, member, reward, proxy, fake_shopify,
                                                      django_capture_on_commit_callbacks):
    body = {"reward_id": reward.pk, "idempotency_key": "k-0123456789"}
    with django_capture_on_commit_callbacks(execute=False):
        first = proxy.post(shop, "redeem", body, CUSTOMER)
        second = proxy.post(shop, "redeem", body, CUSTOMER)
    assert first.status_code == 200, first.content
    code = first.json()["code"]
    assert code["code"].startswith("REWARD-") and code["apply_path"] == f"/discount/{code['code']}"
    assert second.json()["code"]["code"] == code["code"]
    assert Redemption.objects.filter(shop=shop).count() == 1
    assert PointsAccount.objects.get(shop=shop, customer_shopify_id=CUSTOMER).balance == 300
    # The code is e-mailed once (reward ready), however often the answer is repeated.
    assert MemberEmail.objects.filter(shop=shop, kind=MemberEmail.Kind.REWARD_READY).count() == 1
    history = proxy.get(shop, "history", CUSTOMER).json()["history"]
    assert history[0]["points"] == -200 and "5 € off" in history[0]["label"]


def test_shopify_down_gives_the_points_back_with_a_clear_message(shop, member, reward, proxy, fake_shopify):
    fake_shopify.mode = "down"
    response = proxy.post(shop, "redeem", {"reward_id": reward.pk, "idempotency_key": "k-down-000001"}, CUSTOMER)
    assert response.status_code == 502
    assert "could not reach the shop" in response.json()["message"]
    assert PointsAccount.objects.get(shop=shop, customer_shopify_id=CUSTOMER).balance == 500


def test_shopify_refusal_and_overdraw_are_explained(shop, member, reward, proxy, fake_shopify):
    fake_shopify.mode = "refuse"
    refused = proxy.post(shop, "redeem", {"reward_id": reward.pk, "idempotency_key": "k-refuse-0001"}, CUSTOMER)
    assert refused.status_code == 409 and "Your points are back" in refused.json()["message"]
    fake_shopify.mode = "ok"
    expensive = Reward.objects.create(shop=shop, name="Big", kind=Reward.Kind.FIXED_AMOUNT, points_cost=5000,
                                      amount=Decimal("50"), currency="EUR")
    overdraw = proxy.post(shop, "redeem", {"reward_id": expensive.pk, "idempotency_key": "k-over-00001"}, CUSTOMER)
    assert overdraw.status_code == 409 and "5000" in overdraw.json()["message"]
    assert PointsAccount.objects.get(shop=shop, customer_shopify_id=CUSTOMER).balance == 500


def test_redeem_needs_login_and_json(shop, member, reward, proxy):
    assert proxy.post(shop, "redeem", {"reward_id": reward.pk, "idempotency_key": "k-guest-00001"}).status_code == 401
    form = proxy.post(shop, "redeem", {}, CUSTOMER, content_type="application/x-www-form-urlencoded")
    assert form.status_code == 415


def test_order_webhook_enqueues_points_on_commit_and_mails_once(shop, programme, django_capture_on_commit_callbacks,
                                                                 monkeypatch):
    from django.utils import timezone

    from commerce.models import Customer
    from commerce.services.webhooks import handle_order_webhook
    from loyalty import tasks
    from tests.commerce.payloads import order_facts, rest_order

    sent = []
    monkeypatch.setattr(tasks.order_points_sync_task, "apply_async", lambda args, queue: sent.append((args, queue)))
    now = timezone.now()
    payload = rest_order(order_facts(customer_id=CUSTOMER, created_at=now, processed_at=now, updated_at=now))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        handle_order_webhook(shop=shop, payload=payload)
        handle_order_webhook(shop=shop, payload=payload)
    assert len(callbacks) == 2 and sent[0][1] == "default"
    Customer.objects.filter(shop=shop).update(email="c@example.com")
    from loyalty.services.hooks import order_points_apply

    with django_capture_on_commit_callbacks(execute=False):
        for args, _queue in sent:
            order_points_apply(shop=shop, order_shopify_id=args[1])
    account = PointsAccount.objects.get(shop=shop, customer_shopify_id=CUSTOMER)
    assert account.pending > 0
    assert MemberEmail.objects.filter(shop=shop, kind=MemberEmail.Kind.POINTS_EARNED).count() == 1


def test_member_email_renders_in_the_customers_language_and_respects_unsubscribe(shop, programme):
    from campaigns.services.consent import unsubscribe
    from commerce.models import Customer
    from loyalty.services.emails import member_email_queue, member_email_send

    Customer.objects.create(shop=shop, shopify_id=CUSTOMER, email="ana@example.com", first_name="Ana",
                            created_at=programme.launched_at, updated_at=programme.launched_at,
                            synced_at=programme.launched_at)
    row = member_email_queue(shop=shop, customer_shopify_id=CUSTOMER, kind=MemberEmail.Kind.TIER_REACHED,
                             event_key="tier:1:x", context={"tier_id": 1, "tier_name": "Gold", "multiplier": "1.50"})
    assert member_email_queue(shop=shop, customer_shopify_id=CUSTOMER, kind=MemberEmail.Kind.TIER_REACHED,
                              event_key="tier:1:x", context={}) is None
    assert member_email_send(shop=shop, email_id=row.pk) == MemberEmail.Status.SENT
    assert member_email_send(shop=shop, email_id=row.pk) == MemberEmail.Status.SENT  # a repeat sends nothing
    assert len(mail.outbox) == 1 and "Gold" in mail.outbox[0].subject
    assert "List-Unsubscribe" in mail.outbox[0].extra_headers
    unsubscribe(shop=shop, email="ana@example.com", customer_shopify_id=CUSTOMER)
    later = member_email_queue(shop=shop, customer_shopify_id=CUSTOMER, kind=MemberEmail.Kind.POINTS_EARNED,
                               event_key="order:1:earn", context={"points": 5, "balance": 5})
    assert later.status == MemberEmail.Status.SUPPRESSED


def test_a_capped_percentage_is_redeemed_against_the_cart_and_shows_its_amount(shop, member, proxy, fake_shopify):
    capped = Reward.objects.create(shop=shop, name="10% off", kind=Reward.Kind.PERCENTAGE, points_cost=200,
                                   percentage=Decimal("10"), percentage_cap=Decimal("20"), currency="EUR")
    row = proxy.get(shop, "rewards", CUSTOMER).json()["rewards"][0]
    # the widget learns that this reward needs the cart's subtotal, and the customer sees the cap
    assert row["needs_cart"] is True and "20" in row["description"]
    answer = proxy.post(shop, "redeem", {"reward_id": capped.pk, "idempotency_key": "k-capped-0001",
                                         "cart_subtotal": "84.50", "cart_currency": "EUR"}, CUSTOMER)
    assert answer.status_code == 200, answer.content
    description = answer.json()["code"]["description"]
    assert "8.45" in description.replace(",", ".") and "84.50" in description.replace(",", ".")
    sent = fake_shopify.requests[-1]["variables"]["basicCodeDiscount"]
    assert sent["customerGets"]["value"]["discountAmount"]["amount"] == "8.45"
    assert sent["minimumRequirement"]["subtotal"]["greaterThanOrEqualToSubtotal"] == "84.50"


def test_a_reward_without_cap_does_not_need_the_cart(shop, member, reward, proxy):
    assert proxy.get(shop, "rewards", CUSTOMER).json()["rewards"][0]["needs_cart"] is False
