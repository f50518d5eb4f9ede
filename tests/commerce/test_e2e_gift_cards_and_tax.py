"""End to end against the development store: a gift-card product sold next to merchandise in a shop whose
prices include tax reaches commerce truthfully through all three ways an order arrives (the backfill's bulk
operation, an orders/create webhook, a reconcile page), and loyalty earns on the net merchandise only.

Real HTTP to devshop (control API, Admin GraphQL, bulk files, webhook delivery), like test_e2e_sync.
"""
from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal

import httpx
import pytest
from django.utils import timezone

from commerce.models import Order, OrderLineItem, OrderSyncRun
from commerce.services.backfill import Step, backfill_advance
from tests.devshop_harness import AppStub, DevshopServer

from .test_e2e_sync import API_VERSION, DevshopAdmin, control, deliver, store_state, wait_quiet

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def store():
    try:
        server = DevshopServer(db_name="devshop_test_h15_gift").start()
    except Exception as exc:  # noqa: BLE001 - the store not starting is a skip reason, shown
        pytest.skip(f"the development store did not start: {exc}")
    stub = AppStub().start()
    try:
        server.register_app(application_url=stub.url)
        shop = server.create_shop("e2e-gift-cards")
        server.create_staff(shop)
        session_token = server.session_token(shop)
        token = httpx.post(server.shop_url(shop, "/admin/oauth/access_token"), data={
            "client_id": server.client_id, "client_secret": server.client_secret,
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "subject_token": session_token, "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
            "requested_token_type": "urn:shopify:params:oauth:token-type:offline-access-token",
        }, timeout=30).json()
        admin = DevshopAdmin(server.shop_url(shop, f"/admin/api/{API_VERSION}/graphql.json"), token["access_token"])
        yield server, stub, shop, admin, token
    finally:
        stub.stop()
        server.stop()


def test_gift_cards_and_tax_inclusive_prices_reach_commerce_and_earn_on_net_merchandise(store):
    from loyalty.models import OrderEarning
    from loyalty.services import order_points_sync, programme_get
    from shops.models import Shop

    server, stub, shop, admin, token = store
    app_shop = Shop.objects.create(domain=shop.domain, currency="EUR", iana_timezone="Europe/Berlin",
                                   installed_at=timezone.now(), scopes=token.get("scope", ""))
    # given a catalogue with a gift card (devshop's control API) and a customer
    gift = control(server, shop, "/products", {"title": "Gift card", "gift_card": True,
                                                "variants": [{"title": "50 EUR", "price": "50.00"}]})
    mug = control(server, shop, "/products", {"title": "Mug", "price": "119.00"})
    assert gift["gift_card"] is True and mug["gift_card"] is False
    customer = control(server, shop, "/customers", {"first_name": "Gia", "email": "gia@example.com"})

    def place():
        # 19% VAT included in the prices: the mug carries 19.00 tax, the gift card none
        return control(server, shop, "/orders", {
            "customer_id": customer["id"], "taxes_included": True, "tax_rate": "0.19", "shipping": "4.90",
            "line_items": [{"variant_id": mug["variants"][0]["id"]}, {"variant_id": gift["variants"][0]["id"]}]})

    before_install = place()
    # the store reports it truthfully (REST)
    assert before_install["taxes_included"] is True and before_install["total_tax"] == "19.00"
    assert before_install["subtotal_price"] == "169.00"
    assert [li["gift_card"] for li in before_install["line_items"]] == [False, True]
    wait_quiet(stub)
    seen = len(stub.requests)

    # when the backfill brings the history (bulk operation) ...
    run = OrderSyncRun.objects.create(shop=app_shop, kind="backfill")
    for _ in range(200):
        if backfill_advance(run_id=run.pk, client=admin) in (Step.DONE, Step.FAILED):
            break
        time.sleep(0.1)
    run.refresh_from_db()
    assert run.status == "succeeded", run.error
    # ... and a live order comes by webhook
    live = place()
    wait_quiet(stub)
    deliver(stub, app_shop, seen)

    # then both are stored with their tax flag and gift-card lines, as the GraphQL API reports them too
    graphql_orders, _ = store_state(admin)
    for placed in (before_install, live):
        order = Order.objects.get(shop=app_shop, shopify_id=placed["id"])
        assert (order.taxes_included, order.total_tax, order.subtotal) == (True, Decimal("19.000"), Decimal("169.000"))
        lines = OrderLineItem.objects.filter(shop=app_shop, order_shopify_id=placed["id"])
        assert sorted((line.title, line.gift_card) for line in lines) == [("Gift card", True), ("Mug", False)]
        from_graphql = graphql_orders[placed["id"]]
        assert from_graphql.taxes_included is True
        assert sorted((li.title, li.gift_card) for li in from_graphql.line_items) == [("Gift card", True), ("Mug", False)]

        # and loyalty earns on 169 − 19 tax − 50 gift card = 100 (1 point per EUR, the defaults)
        programme = programme_get(app_shop)
        programme.launched_at = timezone.now() - dt.timedelta(days=1)
        programme.save()
        order_points_sync(shop=app_shop, order=order)
        earning = OrderEarning.objects.get(shop=app_shop, order_shopify_id=order.shopify_id)
        assert (earning.earning_amount, earning.points_earned) == (Decimal("100.000"), 100)


def test_the_storefront_cart_js_reports_the_subtotal_the_widget_sends_for_a_capped_percentage(store):
    server, _stub, shop, _admin, _token = store
    mug = control(server, shop, "/products", {"title": "Teapot", "price": "42.25"})
    storefront = httpx.Client(base_url=server.base_url, trust_env=False)
    cart_url = f"/store/{shop.domain}/cart"
    storefront.get(cart_url)  # the CSRF cookie of the cart form
    csrf = storefront.cookies.get("devshop_csrftoken")
    added = storefront.post(f"{cart_url}/add", data={"variant_id": mug["variants"][0]["id"], "quantity": 2,
                                                     "csrfmiddlewaretoken": csrf})
    assert added.status_code in (200, 302), added.text
    cart = storefront.get(f"{cart_url}.js").json()
    # Shopify's Ajax Cart API: cents in the cart's currency
    assert (cart["items_subtotal_price"], cart["total_price"], cart["currency"]) == (8450, 8450, "EUR")
