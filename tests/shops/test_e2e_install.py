"""End to end against the development store (tests/devshop_harness.py): the merchant starts the install,
approves on devshop's consent page, and the callback exchanges the code, fetches the shop's details over
the Admin GraphQL API and enters the app. Then an embedded load with a devshop-minted session token."""
from __future__ import annotations

import time
from urllib.parse import urlencode, urlsplit

import pytest

from shops.models import Shop
from tests.devshop_harness import DevshopServer, form_fields

from .conftest import shopify_hmac

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]

APP_URL = "https://retention.example.com"  # the application_url of shopify.app.toml (redirect_urls)


@pytest.fixture(scope="module")
def devshop_install():
    server = DevshopServer(db_name="devshop_test_shops")
    try:
        server.start()
    except RuntimeError as exc:
        # The development store is built in parallel; its own suite reports why it does not start.
        pytest.skip(f"the development store does not start: {str(exc).strip().splitlines()[-1]}")
    try:
        shop = server.create_shop("e2e-install")
        server.create_staff(shop, first_name="Dana", last_name="Owner", account_owner=True)
        server.register_app()
        yield server, shop
    finally:
        server.stop()


@pytest.fixture
def app_settings(settings, devshop_install):
    server, _shop = devshop_install
    settings.SHOPIFY_BASE_URL = server.base_url + "/store/{shop}"
    settings.SHOPIFY_API_KEY = server.client_id
    settings.SHOPIFY_API_SECRET = server.client_secret
    settings.SHOPIFY_API_SECRET_OLD = ""
    settings.SHOPIFY_APP_URL = APP_URL
    settings.SHOPIFY_ADMIN_APP_URL = server.base_url + "/store/{shop}/admin/apps/{api_key}"
    return settings


def test_install_through_the_development_store(client, devshop_install, app_settings, sync_calls):
    server, shop = devshop_install
    params = {"shop": shop.domain, "timestamp": str(int(time.time()))}
    params["hmac"] = shopify_hmac(params, server.client_secret)

    # 1. Shopify sends the merchant to /auth/install; we redirect to the shop's consent page
    response = client.get("/auth/install?" + urlencode(params))
    assert response.status_code == 302
    authorize_url = response["Location"]
    assert authorize_url.startswith(server.shop_url(shop, "/admin/oauth/authorize?"))

    # 2. the merchant approves on devshop's consent page
    admin = server.admin_client(shop)
    page = admin.get(authorize_url)
    assert page.status_code == 200, page.text[:500]
    approved = admin.post(urlsplit(authorize_url).path, data={**form_fields(page.text), "decision": "approve"})
    assert approved.status_code == 302, approved.text[:500]
    callback_url = approved.headers["location"]
    assert callback_url.startswith(APP_URL + "/auth/callback?")

    # 3. the callback: HMAC (signed by devshop), state, code exchange, details, webhooks, sync
    response = client.get("/auth/callback?" + urlsplit(callback_url).query)
    assert response.status_code == 302, response.content[:500]
    assert response["Location"] == server.shop_url(shop, f"/admin/apps/{server.client_id}")
    installed = Shop.objects.get(domain=shop.domain)
    assert installed.is_installed
    assert installed.access_token_expires_at is not None and installed.refresh_token_encrypted
    assert installed.name and installed.currency and installed.iana_timezone  # from devshop's Admin API
    assert sync_calls.webhooks_register == [shop.domain]

    # 4. an embedded load with a session token minted by devshop needs no new token
    token = server.session_token(shop)
    response = client.get(f"/?embedded=1&shop={shop.domain}&id_token={token}")
    assert response.status_code == 200
    assert server.base_url in response["Content-Security-Policy"]
