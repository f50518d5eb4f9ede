"""Store-credit rewards against the development store over HTTP: the app installed in devshop by token
exchange (its own database), `storeCreditAccountCredit` executed by devshop against the official schema,
balances read back through the Admin API (`Customer.storeCreditAccounts`, `node(id:)`) with the app's token."""
from __future__ import annotations

import contextlib
from decimal import Decimal

import pytest

from tests.devshop_harness import DevshopServer, default_toml

pytestmark = [pytest.mark.e2e]

BALANCES = """
query StoreCredit($id: ID!) {
  customer(id: $id) {
    storeCreditAccounts(first: 10) { nodes { id balance { amount currencyCode } } }
  }
}
"""
CREDIT = """
mutation Credit($id: ID!, $creditInput: StoreCreditAccountCreditInput!) {
  storeCreditAccountCredit(id: $id, creditInput: $creditInput) {
    storeCreditAccountTransaction {
      id amount { amount currencyCode } balanceAfterTransaction { amount currencyCode }
      account { id balance { amount currencyCode } }
    }
    userErrors { field message code }
  }
}
"""


@pytest.fixture(scope="module")
def storecredit_devshop():
    server = DevshopServer(db_name="devshop_test_storecredit")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def installed(live_server, storecredit_devshop, transactional_db, settings, monkeypatch):
    from shops.models import Shop
    from shops.services.install import shop_install_from_session_token
    from shops.session_tokens import session_token_decode

    devshop = storecredit_devshop
    store_shop = devshop.create_shop("credit-shop", currency_code="EUR", iana_timezone="Europe/Berlin",
                                     primary_locale="en", country_code="DE",
                                     enabled_presentment_currencies=["EUR", "CHF"])
    devshop.create_staff(store_shop, first_name="Dana", last_name="Owner", account_owner=True)
    app = devshop.register_app(application_url=live_server.url, toml=default_toml(),
                               client_secret=settings.SHOPIFY_API_SECRET)
    settings.SHOPIFY_API_KEY = app["client_id"]
    settings.SHOPIFY_APP_URL = live_server.url
    settings.SHOPIFY_BASE_URL = devshop.base_url + "/store/{shop}"
    settings.SHOPIFY_ADMIN_APP_URL = devshop.base_url + "/store/{shop}/admin/apps/{api_key}"
    # The customers/orders backfill that setup queues is not what this test is about: not sent at all, so the
    # test needs no Celery broker (and runs no sync).
    monkeypatch.setattr("commerce.tasks.enqueue_backfill", lambda *a, **k: None)
    monkeypatch.setattr("commerce.tasks.enqueue_reconcile", lambda *a, **k: None)
    shop_install_from_session_token(
        session_token_decode(devshop.session_token(store_shop, client_id=app["client_id"])))
    # Webhooks the store sends meanwhile (customers/create) are handled in the live server's thread.
    settings.CELERY_TASK_ALWAYS_EAGER = True
    from retention_app.celery import app as celery_app

    celery_app.conf.task_always_eager = True
    try:
        yield devshop, store_shop, Shop.objects.get(domain=store_shop.domain)
        # The store delivers its webhooks (customers/create ...) on its own schedule: let the ones in flight
        # be answered before the test database is flushed, or a delivery's INSERT and the flush's TRUNCATE
        # lock the same tables in opposite orders and deadlock.
        with contextlib.suppress(AssertionError):
            devshop.wait_for_deliveries(store_shop, lambda rows: all(r["status"] != "pending" for r in rows),
                                        timeout=10)
    finally:
        celery_app.conf.task_always_eager = False


def _client(shop):
    from shopify_sync import admin_api

    return admin_api.AdminClient(shop, max_attempts=1)


def _balances(shop, customer_id: int) -> dict[str, Decimal]:
    data = _client(shop).execute(BALANCES, {"id": f"gid://shopify/Customer/{customer_id}"})
    return {n["balance"]["currencyCode"]: Decimal(n["balance"]["amount"])
            for n in data["customer"]["storeCreditAccounts"]["nodes"]}


def _points(shop, customer_id: int) -> int:
    from loyalty.models import PointsAccount

    return PointsAccount.objects.get(shop=shop, customer_shopify_id=customer_id).balance


def _setup_customer(devshop, store_shop, shop, email: str, points: int) -> int:
    from loyalty.services import points_adjust

    customer_id = devshop.create_customer(store_shop, email=email, first_name="Cleo")["id"]
    points_adjust(shop=shop, customer_shopify_id=customer_id, points=points, staff_name="Dana", note="test",
                  idempotency_key=f"give:{customer_id}")
    return customer_id


def _reward(shop, **fields):
    from loyalty.models import Reward

    defaults = dict(name="7.50 EUR store credit", kind=Reward.Kind.STORE_CREDIT, points_cost=500,
                    amount=Decimal("7.50"), currency="EUR", expires_after_days=90)
    defaults.update(fields)
    return Reward.objects.create(shop=shop, **defaults)


def test_a_store_credit_reward_credits_the_customer_in_the_store_once(installed):
    from loyalty.models import PointsEntry, Redemption
    from loyalty.services import redemption_create

    devshop, store_shop, shop = installed
    customer_id = _setup_customer(devshop, store_shop, shop, "cleo.credit@example.com", 800)
    reward = _reward(shop)
    assert _balances(shop, customer_id) == {}

    redemption = redemption_create(shop=shop, customer_shopify_id=customer_id, reward_id=reward.pk,
                                   idempotency_key="sc-1")
    assert redemption.status == Redemption.Status.USED, redemption.error
    assert redemption.shopify_discount_gid.startswith("gid://shopify/StoreCreditAccountCreditTransaction/")
    assert _balances(shop, customer_id) == {"EUR": Decimal("7.5")}
    assert _points(shop, customer_id) == 300

    # A double click (same idempotency key) finds the first redemption: no second credit, no second debit.
    again = redemption_create(shop=shop, customer_shopify_id=customer_id, reward_id=reward.pk,
                              idempotency_key="sc-1")
    assert again.pk == redemption.pk
    assert _balances(shop, customer_id) == {"EUR": Decimal("7.5")}
    assert _points(shop, customer_id) == 300
    entries = PointsEntry.objects.filter(shop=shop, source_id=str(redemption.pk))
    assert [(e.kind, e.delta) for e in entries] == [(PointsEntry.Kind.REDEEM, -500)]

    # The transaction is readable by node(id:) and carries the account's running balance.
    node = _client(shop).execute(
        "query($id: ID!) { node(id: $id) { ... on StoreCreditAccountCreditTransaction {"
        " amount { amount currencyCode } balanceAfterTransaction { amount } expiresAt"
        " account { balance { amount } owner { ... on Customer { id } } } } } }",
        {"id": redemption.shopify_discount_gid},
    )["node"]
    assert node["amount"] == {"amount": "7.5", "currencyCode": "EUR"}
    assert node["balanceAfterTransaction"] == {"amount": "7.5"} and node["expiresAt"]
    assert node["account"]["owner"]["id"] == f"gid://shopify/Customer/{customer_id}"


def test_a_refused_credit_gives_the_points_back_with_a_message(installed):
    from loyalty.models import PointsEntry, Redemption
    from loyalty.services import redemption_create

    devshop, store_shop, shop = installed
    customer_id = _setup_customer(devshop, store_shop, shop, "yuki.refused@example.com", 600)
    reward = _reward(shop, name="1000 JPY store credit", amount=Decimal("1000"), currency="JPY")

    redemption = redemption_create(shop=shop, customer_shopify_id=customer_id, reward_id=reward.pk,
                                   idempotency_key="sc-jpy")
    assert redemption.status == Redemption.Status.FAILED
    assert redemption.error == "The shop could not add store credit to your account. Your points are back."
    assert not redemption.shopify_check_pending  # a definite refusal: nothing to check in Shopify
    assert _points(shop, customer_id) == 600
    entries = PointsEntry.objects.filter(shop=shop, source_id=str(redemption.pk)).order_by("id")
    assert [(e.kind, e.delta) for e in entries] == [(PointsEntry.Kind.REDEEM, -500),
                                                    (PointsEntry.Kind.REDEEM_RETURN, 500)]
    assert _balances(shop, customer_id) == {}


def test_the_store_answers_store_credit_user_errors_like_shopify(installed):
    devshop, store_shop, shop = installed
    customer_id = devshop.create_customer(store_shop, email="ugo.errors@example.com")["id"]
    customer_gid = f"gid://shopify/Customer/{customer_id}"

    def credit(id_, amount, currency, **extra):
        data = _client(shop).execute(CREDIT, {"id": id_, "creditInput": {
            "creditAmount": {"amount": amount, "currencyCode": currency}, **extra}}, user_errors=False)
        return data["storeCreditAccountCredit"]

    def codes(payload):
        return [(e["code"], e["field"]) for e in payload["userErrors"]]

    assert codes(credit(customer_gid, "0", "EUR")) == [
        ("NEGATIVE_OR_ZERO_AMOUNT", ["creditInput", "creditAmount", "amount"])]
    assert codes(credit(customer_gid, "-5", "EUR"))[0][0] == "NEGATIVE_OR_ZERO_AMOUNT"
    assert codes(credit(customer_gid, "5", "JPY")) == [
        ("UNSUPPORTED_CURRENCY", ["creditInput", "creditAmount", "currencyCode"])]
    assert codes(credit("gid://shopify/Customer/1", "5", "EUR")) == [("OWNER_NOT_FOUND", ["id"])]
    assert codes(credit("gid://shopify/StoreCreditAccount/1", "5", "EUR")) == [("ACCOUNT_NOT_FOUND", ["id"])]
    assert codes(credit(customer_gid, "5", "EUR", expiresAt="2020-01-01T00:00:00Z")) == [
        ("EXPIRES_AT_IN_PAST", ["creditInput", "expiresAt"])]
    assert _balances(shop, customer_id) == {}

    # By customer: one account per currency, created on first credit; by account id: the account's currency.
    first = credit(customer_gid, "5", "EUR")["storeCreditAccountTransaction"]
    account_gid = first["account"]["id"]
    second = credit(account_gid, "2.25", "EUR")["storeCreditAccountTransaction"]
    assert second["account"]["id"] == account_gid
    assert second["balanceAfterTransaction"] == {"amount": "7.25", "currencyCode": "EUR"}
    assert codes(credit(account_gid, "1", "CHF")) == [
        ("MISMATCHING_CURRENCY", ["creditInput", "creditAmount", "currencyCode"])]
    credit(customer_gid, "3", "CHF")  # an enabled presentment currency: a second account
    assert _balances(shop, customer_id) == {"EUR": Decimal("7.25"), "CHF": Decimal("3")}
    # Not idempotent, as on Shopify: the same call twice credits twice.
    credit(account_gid, "1", "EUR")
    credit(account_gid, "1", "EUR")
    assert _balances(shop, customer_id)["EUR"] == Decimal("9.25")


def test_crediting_needs_the_store_credit_scope(installed):
    from tests.devshop_harness import TEST_TOML

    devshop, store_shop, shop = installed
    # tests/devshop/test_app.toml asks for no store-credit scopes.
    other = devshop.register_app(toml=TEST_TOML, client_secret=devshop.client_secret)
    exchanged = devshop.http.post(f"/store/{store_shop.domain}/admin/oauth/access_token", json={
        "client_id": other["client_id"], "client_secret": devshop.client_secret,
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
        "subject_token": devshop.session_token(store_shop, client_id=other["client_id"]),
        "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
        "requested_token_type": "urn:shopify:params:oauth:token-type:offline-access-token",
    })
    assert exchanged.status_code == 200, exchanged.text
    customer_id = devshop.create_customer(store_shop, email="no.scope@example.com")["id"]
    response = devshop.http.post(
        f"/store/{store_shop.domain}/admin/api/2026-10/graphql.json",
        headers={"X-Shopify-Access-Token": exchanged.json()["access_token"]},
        json={"query": CREDIT, "variables": {"id": f"gid://shopify/Customer/{customer_id}", "creditInput": {
            "creditAmount": {"amount": "5", "currencyCode": "EUR"}}}},
    )
    body = response.json()
    assert body["errors"][0]["extensions"]["code"] == "ACCESS_DENIED", body
    assert "write_store_credit_account_transactions" in body["errors"][0]["message"]
    assert _balances(shop, customer_id) == {}
