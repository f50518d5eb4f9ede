"""The whole referral journey against the development store over HTTP: the app served by pytest-django's
live server, devshop as its own process (own database), webhooks HMAC-signed and delivered by devshop,
Celery tasks run eagerly in the app's process (the code path of a worker, without a worker process).

link (app proxy on the shop's domain) → friend's code (made in the store by the Admin API) → the friend's
order through devshop's control API (its checkout enforces the code's rules) → webhooks → pending →
holding period passes (time travel by passing `now`) → referrer rewarded in points, once. A second friend
refunds inside the period: no reward. Duplicated webhooks change nothing."""
from __future__ import annotations

import datetime as dt
import time

import pytest
from django.utils import timezone

from tests.devshop_harness import DevshopServer, default_toml

pytestmark = [pytest.mark.e2e]


@pytest.fixture(scope="module")
def referrals_devshop():
    server = DevshopServer(db_name="devshop_test_referrals")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def wait_until(predicate, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def installed(live_server, referrals_devshop, transactional_db, settings):
    from shops.models import Shop
    from shops.services.install import shop_install_from_session_token
    from shops.session_tokens import session_token_decode

    devshop = referrals_devshop
    shop = devshop.create_shop("ref-journey", currency_code="EUR", iana_timezone="Europe/Berlin",
                               primary_locale="de", country_code="DE")
    devshop.create_staff(shop, first_name="Dana", last_name="Owner", account_owner=True)
    app = devshop.register_app(application_url=live_server.url, toml=default_toml(),
                               client_secret=settings.SHOPIFY_API_SECRET)
    settings.SHOPIFY_API_KEY = app["client_id"]
    settings.SHOPIFY_APP_URL = live_server.url
    settings.SHOPIFY_BASE_URL = devshop.base_url + "/store/{shop}"
    settings.SHOPIFY_ADMIN_APP_URL = devshop.base_url + "/store/{shop}/admin/apps/{api_key}"
    # Install by token exchange (what the first embedded load does); setup's tasks go to the broker.
    shop_install_from_session_token(session_token_decode(devshop.session_token(shop, client_id=app["client_id"])))
    # From here on tasks run in the process that enqueues them (the live server's thread for webhooks).
    settings.CELERY_TASK_ALWAYS_EAGER = True
    from retention_app.celery import app as celery_app

    celery_app.conf.task_always_eager = True
    try:
        yield devshop, shop, Shop.objects.get(domain=shop.domain)
    finally:
        celery_app.conf.task_always_eager = False


def test_referral_journey_in_the_development_store(installed):
    from commerce.models import Customer
    from loyalty.models import PointsAccount
    from referrals.models import Referral, ReferralClick, ReferrerReward
    from referrals.services import programme_update, referral_code_for_customer, referrals_reward_due

    devshop, store_shop, shop = installed
    programme_update(shop=shop, changes={"enabled": True, "holding_days": 14, "friend_reward_value": 15},
                     staff_name="Dana")
    referrer = devshop.create_customer(store_shop, email="anna.referrer@example.com", first_name="Anna",
                                       last_name="Berg")
    wait_until(lambda: Customer.objects.filter(shop=shop, shopify_id=referrer["id"]).exists(), what="customers/create")
    code = referral_code_for_customer(shop=shop, customer_shopify_id=referrer["id"]).code

    # The friend opens the link on the shop's domain (the app proxy): the offer, in German.
    link = devshop.shop_url(store_shop, f"/apps/loyalty/r/{code}")
    page = devshop.http.get(link)
    assert page.status_code == 200
    # The shop is German: the offer is shown in German.
    assert "15 % Rabatt auf Ihre erste Bestellung" in page.text
    assert ReferralClick.objects.filter(shop=shop).count() == 1

    # One click: the code is made in the store and the browser is sent to /discount/CODE (applies it).
    response = devshop.http.post(link, data={"email": "bob.friend@example.com"})
    assert response.status_code == 302
    referral = Referral.objects.get(shop=shop, friend_email_normalized="bob.friend@example.com")
    assert response.headers["location"].startswith(devshop.shop_url(store_shop, f"/discount/{referral.friend_code}"))
    assert referral.status == Referral.Status.CLICKED and referral.friend_discount_id is not None

    # Duplicate every orders/create delivery (same event id, new webhook id): no double effect.
    devshop.add_fault(store_shop, kind="duplicate", topic="orders/create", count=5)
    order = devshop.http.post(f"/_devshop/shops/{store_shop.domain}/orders", json={
        "customer": {"email": "bob.friend@example.com", "first_name": "Bob"},
        "line_items": [{"title": "Wool socks", "price": "40.00", "quantity": 2}],
        "discount_codes": [referral.friend_code], "financial_status": "paid",
    })
    assert order.status_code in (200, 201), order.text
    order_id = order.json()["id"] if "id" in order.json() else order.json()["order"]["id"]

    def pending():
        referral.refresh_from_db()
        return referral.status == Referral.Status.PENDING
    wait_until(pending, what="the referral to become pending")
    assert referral.order_shopify_id == order_id and referral.attribution == Referral.Attribution.DISCOUNT_CODE

    # The code was single use: the store's checkout refuses it on a second order.
    again = devshop.http.post(f"/_devshop/shops/{store_shop.domain}/orders", json={
        "customer": {"email": "bob.friend@example.com"}, "line_items": [{"title": "Hat", "price": "30.00"}],
        "discount_codes": [referral.friend_code], "financial_status": "paid",
    })
    assert again.status_code >= 400

    # Time travel past the holding period: the referrer is rewarded, once.
    later = timezone.now() + dt.timedelta(days=15)
    assert referrals_reward_due(shop=shop, now=later) == 1
    assert referrals_reward_due(shop=shop, now=later) == 0
    referral.refresh_from_db()
    assert referral.status == Referral.Status.REWARDED
    assert PointsAccount.objects.get(shop=shop, customer_shopify_id=referrer["id"]).balance == 500
    assert ReferrerReward.objects.filter(shop=shop).count() == 1

    # A second friend refunds inside the holding period: the pending reward is cancelled.
    response = devshop.http.post(link, data={"email": "carla.friend@example.com"})
    second = Referral.objects.get(shop=shop, friend_email_normalized="carla.friend@example.com")
    order = devshop.http.post(f"/_devshop/shops/{store_shop.domain}/orders", json={
        "customer": {"email": "carla.friend@example.com", "first_name": "Carla"},
        "line_items": [{"title": "Scarf", "price": "60.00"}], "discount_codes": [second.friend_code],
        "financial_status": "paid",
    }).json()
    order_id = order["id"] if "id" in order else order["order"]["id"]
    wait_until(lambda: Referral.objects.get(pk=second.pk).status == Referral.Status.PENDING, what="second pending")
    refund = devshop.http.post(f"/_devshop/shops/{store_shop.domain}/orders/{order_id}/refunds", json={"full": True})
    assert refund.status_code in (200, 201), refund.text
    wait_until(lambda: Referral.objects.get(pk=second.pk).status == Referral.Status.CANCELLED, what="cancelled")
    assert referrals_reward_due(shop=shop, now=timezone.now() + dt.timedelta(days=30)) == 0
    assert PointsAccount.objects.get(shop=shop, customer_shopify_id=referrer["id"]).balance == 500
