"""The referral services: codes, the friend's code, attribution, the holding period, rewards once, caps,
refunds, duplicated webhooks and cross-shop isolation. Shopify's discount API is the local fake server
from tests.loyalty (the devshop journey is in test_journey_devshop.py)."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core import mail
from django.utils import timezone

from loyalty.models import PointsAccount, PointsEntry
from referrals.models import Referral, ReferralEvent, ReferrerReward
from referrals.services import (
    ReferralRefused,
    friend_code_issue,
    order_referral_sync,
    programme_update,
    referral_code_for_customer,
    referrals_reward_due,
)

from .conftest import REFERRER, customer_write, order_write

pytestmark = pytest.mark.django_db(transaction=False)
FRIEND = 9501


def _journey_until_pending(shop, referrer, *, email="bob@example.com", customer_id=FRIEND, now=None):
    referral = friend_code_issue(shop=shop, code=referrer.code, email=email)
    customer_write(shop, customer_id, email=email, first_name="Bob")
    order = order_write(shop, customer_id=customer_id, email=email, codes=[referral.friend_code.lower()],
                        processed_at=now)
    return order_referral_sync(shop=shop, order_shopify_id=order.shopify_id, now=now), order


def test_referral_code_is_readable_hard_to_guess_and_one_per_customer(shop, referrer):
    assert re.fullmatch(r"ANNA-[A-HJ-NP-Z2-9]{8}", referrer.code)
    again = referral_code_for_customer(shop=shop, customer_shopify_id=REFERRER)
    assert again.pk == referrer.pk


def test_friend_code_is_single_use_once_per_customer_and_never_stacks_with_order_discounts(shop, referrer, fake_shopify, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        referral = friend_code_issue(shop=shop, code=referrer.code, email="Bob@Example.com")
    sent = fake_shopify.requests[-1]["variables"]["basicCodeDiscount"]
    assert (sent["usageLimit"], sent["appliesOncePerCustomer"]) == (1, True)
    assert sent["context"] == {"all": "ALL"}  # an anonymous friend has no customer id yet
    assert sent["combinesWith"]["orderDiscounts"] is False
    assert sent["customerGets"]["value"] == {"percentage": 0.1}
    assert referral.friend_code == sent["code"] and referral.friend_code.startswith("FRIEND-")
    assert referral.status == Referral.Status.CLICKED and len(callbacks) == 1  # the e-mail, after commit
    # Asking again (double click, reload) gives the same code and makes nothing new in Shopify.
    calls = len(fake_shopify.requests)
    assert friend_code_issue(shop=shop, code=referrer.code, email="bob@example.com").friend_code == referral.friend_code
    assert len(fake_shopify.requests) == calls


def test_friend_email_is_sent_once_in_the_shops_language(shop, referrer, fake_shopify):
    from referrals.services.emails import friend_email_send

    referral = friend_code_issue(shop=shop, code=referrer.code, email="bob@example.com")
    assert friend_email_send(shop=shop, referral_id=referral.pk) is True
    assert friend_email_send(shop=shop, referral_id=referral.pk) is False
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert referral.friend_code in message.body and f"/discount/{referral.friend_code}" in message.body
    assert "Willkommensgeschenk" in message.subject or "welcome gift" in message.subject.lower()


@pytest.mark.parametrize("email", ["anna.berg@gmail.com", "Anna.Berg+promo@googlemail.com", "annaberg@gmail.com"])
def test_own_link_is_refused_for_the_referrers_address_in_any_spelling(shop, referrer, fake_shopify, email):
    with pytest.raises(ReferralRefused) as exc:
        friend_code_issue(shop=shop, code=referrer.code, email=email)
    assert exc.value.code == "own_link"
    assert fake_shopify.requests == []


def test_existing_customers_get_no_friend_code(shop, referrer, fake_shopify):
    customer_write(shop, 9700, email="old@example.com")
    order_write(shop, customer_id=9700, email="old@example.com", processed_at=timezone.now() - dt.timedelta(days=30))
    with pytest.raises(ReferralRefused) as exc:
        friend_code_issue(shop=shop, code=referrer.code, email="old@example.com")
    assert exc.value.code == "existing_customer"


def test_a_link_hands_out_a_bounded_number_of_codes_per_day(shop, referrer, fake_shopify):
    programme_update(shop=shop, changes={"friend_codes_per_day": 2}, staff_name="t")
    for i in range(2):
        friend_code_issue(shop=shop, code=referrer.code, email=f"f{i}@example.com")
    with pytest.raises(ReferralRefused) as exc:
        friend_code_issue(shop=shop, code=referrer.code, email="f3@example.com")
    assert exc.value.code == "daily_limit"


def test_whole_journey_pending_then_rewarded_once_in_points(shop, referrer, fake_shopify):
    now = timezone.now()
    referral, order = _journey_until_pending(shop, referrer, now=now)
    assert referral.status == Referral.Status.PENDING
    assert referral.attribution == Referral.Attribution.DISCOUNT_CODE
    assert referral.hold_until == order.updated_at + dt.timedelta(days=14)
    # Inside the holding period nothing happens.
    assert referrals_reward_due(shop=shop, now=now + dt.timedelta(days=13)) == 0
    # Time travel: the period has passed.
    later = now + dt.timedelta(days=15)
    assert referrals_reward_due(shop=shop, now=later) == 1
    referral.refresh_from_db()
    assert referral.status == Referral.Status.REWARDED
    account = PointsAccount.objects.get(shop=shop, customer_shopify_id=REFERRER)
    assert account.balance == 500
    # Again (a second task, a duplicated webhook): nothing more.
    assert referrals_reward_due(shop=shop, now=later) == 0
    order_referral_sync(shop=shop, order_shopify_id=order.shopify_id, now=later)
    account.refresh_from_db()
    assert account.balance == 500
    assert ReferrerReward.objects.filter(shop=shop).count() == 1
    assert PointsEntry.objects.filter(shop=shop, idempotency_key=f"referral:{referral.pk}:reward").count() == 1


def test_discount_code_reward_for_the_referrer(shop, referrer, fake_shopify):
    programme_update(shop=shop, changes={"referrer_reward_kind": "fixed_amount", "referrer_reward_value": 15},
                     staff_name="t")
    now = timezone.now()
    referral, _order = _journey_until_pending(shop, referrer, now=now)
    referrals_reward_due(shop=shop, now=now + dt.timedelta(days=15))
    reward = ReferrerReward.objects.get(shop=shop, referral=referral)
    assert reward.status == ReferrerReward.Status.ISSUED and reward.code.startswith("THANKS-")
    sent = fake_shopify.requests[-1]["variables"]["basicCodeDiscount"]
    assert sent["context"] == {"customers": {"add": [f"gid://shopify/Customer/{REFERRER}"]}}
    assert sent["customerGets"]["value"]["discountAmount"]["amount"] == "15.00"


def test_refund_inside_the_holding_period_cancels_the_pending_reward(shop, referrer, fake_shopify):
    now = timezone.now()
    referral, order = _journey_until_pending(shop, referrer, now=now)
    order_write(shop, customer_id=FRIEND, email="bob@example.com", codes=[referral.friend_code],
                shopify_id=order.shopify_id, processed_at=order.processed_at, updated_at=now + dt.timedelta(days=3),
                status="partially_refunded", refunds=[(77001, "20.00", now + dt.timedelta(days=3))])
    referral = order_referral_sync(shop=shop, order_shopify_id=order.shopify_id, now=now + dt.timedelta(days=3))
    assert referral.status == Referral.Status.CANCELLED
    assert referrals_reward_due(shop=shop, now=now + dt.timedelta(days=30)) == 0
    assert not ReferrerReward.objects.filter(shop=shop).exists()


def test_refund_after_the_holding_period_keeps_the_reward(shop, referrer, fake_shopify):
    now = timezone.now()
    referral, order = _journey_until_pending(shop, referrer, now=now)
    # The refund comes after the period ended but before the periodic task ran: still rewarded.
    after = now + dt.timedelta(days=20)
    order_write(shop, customer_id=FRIEND, email="bob@example.com", codes=[referral.friend_code],
                shopify_id=order.shopify_id, processed_at=order.processed_at, updated_at=after,
                status="refunded", refunds=[(77002, "80.00", after)])
    referral = order_referral_sync(shop=shop, order_shopify_id=order.shopify_id, now=after)
    assert referral.status == Referral.Status.REWARDED
    assert PointsAccount.objects.get(shop=shop, customer_shopify_id=REFERRER).balance == 500


def test_cancellation_before_payment_cancels(shop, referrer, fake_shopify):
    referral = friend_code_issue(shop=shop, code=referrer.code, email="bob@example.com")
    order = order_write(shop, customer_id=FRIEND, email="bob@example.com", codes=[referral.friend_code], status="pending")
    assert order_referral_sync(shop=shop, order_shopify_id=order.shopify_id).status == Referral.Status.ORDERED
    order_write(shop, customer_id=FRIEND, email="bob@example.com", codes=[referral.friend_code], status="pending",
                shopify_id=order.shopify_id, cancelled_at=timezone.now(), updated_at=timezone.now() + dt.timedelta(seconds=5))
    assert order_referral_sync(shop=shop, order_shopify_id=order.shopify_id).status == Referral.Status.CANCELLED


def test_monthly_cap_per_referrer(shop, referrer, fake_shopify):
    programme_update(shop=shop, changes={"monthly_cap": 1, "velocity_max_per_referrer": 10}, staff_name="t")
    now = timezone.now()
    first, _o1 = _journey_until_pending(shop, referrer, email="f1@example.com", customer_id=9601, now=now)
    second, _o2 = _journey_until_pending(shop, referrer, email="f2@example.com", customer_id=9602, now=now)
    referrals_reward_due(shop=shop, now=now + dt.timedelta(days=15))
    statuses = sorted(Referral.objects.filter(shop=shop, pk__in=[first.pk, second.pk]).values_list("status", flat=True))
    assert statuses == [Referral.Status.CAPPED, Referral.Status.REWARDED]
    assert PointsAccount.objects.get(shop=shop, customer_shopify_id=REFERRER).balance == 500


def test_each_friend_counts_once_and_only_the_first_order(shop, referrer, fake_shopify):
    now = timezone.now()
    referral, _order = _journey_until_pending(shop, referrer, now=now)
    second = order_write(shop, customer_id=FRIEND, email="bob@example.com",
                         landing_site=f"/apps/loyalty/r/{referrer.code}")
    assert order_referral_sync(shop=shop, order_shopify_id=second.shopify_id).pk == referral.pk
    assert Referral.objects.filter(shop=shop).count() == 1
    referral.refresh_from_db()
    assert referral.order_shopify_id != second.shopify_id


@pytest.mark.parametrize("landing", ["/apps/loyalty/r/{code}", "/?ref={code}&utm_source=x", "/products/x?ref={code}"])
def test_attribution_by_landing_site_without_a_code(shop, referrer, landing):
    customer_write(shop, FRIEND, email="carl@example.com", first_name="Carl")
    order = order_write(shop, customer_id=FRIEND, email="carl@example.com", landing_site=landing.format(code=referrer.code))
    referral = order_referral_sync(shop=shop, order_shopify_id=order.shopify_id)
    assert referral.attribution == Referral.Attribution.LANDING_SITE
    assert referral.status == Referral.Status.PENDING and referral.referrer_customer_shopify_id == REFERRER


def test_attribution_by_cart_attribute_from_the_order_webhook(shop, referrer, django_capture_on_commit_callbacks):
    from commerce.services.webhooks import handle_order_webhook

    payload = _rest_order(9901, customer_id=FRIEND, email="dora@example.com",
                          note_attributes=[{"name": "ref", "value": referrer.code.lower()}])
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        handle_order_webhook(shop=shop, payload=payload)
    assert len(callbacks) == 1  # the sync, enqueued after commit
    referral = order_referral_sync(shop=shop, order_shopify_id=9901)
    assert referral.attribution == Referral.Attribution.CART_ATTRIBUTE


def _rest_order(order_id, *, customer_id, email, codes=(), note_attributes=(), shipping_address=None, phone=None,
                browser_ip=None, financial_status="paid"):
    now = timezone.now().isoformat()
    return {
        "id": order_id, "admin_graphql_api_id": f"gid://shopify/Order/{order_id}", "name": f"#{order_id % 10000}",
        "email": email, "created_at": now, "processed_at": now, "updated_at": now, "cancelled_at": None,
        "financial_status": financial_status, "fulfillment_status": None, "currency": "EUR",
        "presentment_currency": "EUR", "subtotal_price": "80.00", "total_discounts": "0.00", "total_tax": "0.00",
        "total_price": "80.00", "total_shipping_price_set": {"shop_money": {"amount": "0.00", "currency_code": "EUR"}},
        "discount_codes": [{"code": c, "amount": "8.00", "type": "percentage"} for c in codes],
        "landing_site": "", "referring_site": "", "test": False, "note_attributes": list(note_attributes),
        "customer": {"id": customer_id, "email": email, "phone": None} if customer_id else None,
        "shipping_address": shipping_address, "phone": phone, "browser_ip": browser_ip,
        "line_items": [], "refunds": [],
    }


def test_duplicated_webhooks_attach_once_and_schedule_after_commit(shop, referrer, fake_shopify, django_capture_on_commit_callbacks):
    from commerce.services.webhooks import handle_order_webhook

    referral = friend_code_issue(shop=shop, code=referrer.code, email="eve@example.com")
    payload = _rest_order(9902, customer_id=9802, email="eve@example.com", codes=[referral.friend_code])
    for _i in range(2):
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            handle_order_webhook(shop=shop, payload=payload)
        assert callbacks  # the sync is enqueued only after the webhook's transaction commits
    # The enqueued tasks go to the broker; run the sync as the worker would, twice.
    for _i in range(2):
        order_referral_sync(shop=shop, order_shopify_id=9902)
    referral.refresh_from_db()
    assert referral.status == Referral.Status.PENDING and referral.order_shopify_id == 9902
    assert ReferralEvent.objects.filter(referral=referral, kind=ReferralEvent.Kind.ORDERED).count() == 1
    assert ReferralEvent.objects.filter(referral=referral, kind=ReferralEvent.Kind.PAID).count() == 1


def test_cross_shop_isolation(shop, other_shop, referrer, fake_shopify):
    from referrals.services import programme_get

    programme_get(other_shop)
    programme_update(shop=other_shop, changes={"enabled": True}, staff_name="t")
    # Shop A's referral code is unknown in shop B.
    with pytest.raises(ReferralRefused) as exc:
        friend_code_issue(shop=other_shop, code=referrer.code, email="bob@example.com")
    assert exc.value.code == "unknown_code"
    # An order in shop B using shop A's friend code or link is not attributed to shop A's referral.
    referral = friend_code_issue(shop=shop, code=referrer.code, email="bob@example.com")
    order = order_write(other_shop, customer_id=FRIEND, email="bob@example.com", codes=[referral.friend_code],
                        landing_site=f"/apps/loyalty/r/{referrer.code}")
    assert order_referral_sync(shop=other_shop, order_shopify_id=order.shopify_id) is None
    referral.refresh_from_db()
    assert referral.order_shopify_id is None and referral.status == Referral.Status.CLICKED


def test_proxy_landing_refuses_unsigned_requests_and_redirects_signed_ones(client, shop, referrer, fake_shopify, settings):
    import time as _time

    from django.http import QueryDict

    from storefront.proxy_auth import proxy_signature

    query = QueryDict(mutable=True)
    query.update({"shop": shop.domain, "logged_in_customer_id": "", "path_prefix": "/apps/loyalty",
                  "timestamp": str(int(_time.time()))})
    query["signature"] = proxy_signature(query, settings.SHOPIFY_API_SECRET)
    url = f"/proxy/r/{referrer.code}?{query.urlencode()}"
    assert client.get(f"/proxy/r/{referrer.code}?shop={shop.domain}&signature=bad&timestamp=1").status_code == 401
    page = client.get(url)
    assert page.status_code == 200 and page["Content-Type"].startswith("application/liquid")
    response = client.post(url, {"email": "zoe@example.com"})
    assert response.status_code == 302 and "/discount/FRIEND-" in response["Location"]
    me = client.get(f"/proxy/referrals/me?{query.urlencode()}").json()
    assert me["enabled"] is True and me["link"] == ""  # a guest has no link
