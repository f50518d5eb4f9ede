"""OAuth against devshop over HTTP: grant screen, signed callback, the three token grants, 401s.

Verification uses Shopify's own libraries where they cover it (ShopifyAPI for the callback hmac,
PyJWT as shopifyapp uses it), so devshop is checked against the same code the app runs.
"""
from __future__ import annotations

import base64
import time
from urllib.parse import urlencode

import pytest
import shopify

from tests.devshop_harness import TEST_TOML, form_fields, query_of

pytestmark = pytest.mark.e2e

SECRET = "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"  # noqa: S105 - a test app's client secret
CALLBACK = "/auth/callback"


@pytest.fixture()
def app(devshop, app_stub):
    """The test app registered at a live stub URL, not installed on the shop."""
    registered = devshop.register_app(application_url=app_stub.url, toml=TEST_TOML, client_secret=SECRET)
    yield registered
    devshop.http.post(f"/_devshop/shops/{devshop.shop.domain}/apps/{registered['client_id']}/uninstall", json={})


def authorize_url(devshop, app, app_stub, *, scope="read_orders,write_customers", state="nonce-123", extra=None):
    params = {"client_id": app["client_id"], "scope": scope, "redirect_uri": app_stub.url + CALLBACK,
              "state": state, **(extra or {})}
    return f"/store/{devshop.shop.domain}/admin/oauth/authorize?{urlencode(params)}"


def approve(devshop, client, url):
    page = client.get(url)
    assert page.status_code == 200, page.text[:500]
    return client.post(f"/store/{devshop.shop.domain}/admin/oauth/authorize",
                       data={**form_fields(page.text), "decision": "approve"})


def exchange(devshop, body, *, json_body=True):
    url = f"/store/{devshop.shop.domain}/admin/oauth/access_token"
    return devshop.http.post(url, json=body) if json_body else devshop.http.post(url, data=body)


def install_with_code(devshop, app, app_stub, **kw) -> dict:
    client = devshop.admin_client(devshop.shop)
    response = approve(devshop, client, authorize_url(devshop, app, app_stub, **kw))
    return query_of(response.headers["location"])


def test_authorize_requires_staff_login(devshop, app, app_stub):
    response = devshop.http.get(authorize_url(devshop, app, app_stub))
    assert response.status_code == 302
    assert response.headers["location"].startswith(f"/store/{devshop.shop.domain}/admin/login?next=")


def test_grant_screen_lists_scopes_and_approve_redirects_with_signed_callback(devshop, app, app_stub):
    client = devshop.admin_client(devshop.shop)
    page = client.get(authorize_url(devshop, app, app_stub, scope="read_orders,read_all_orders,write_customers"))
    assert page.status_code == 200
    assert "View all orders" in page.text and "View and edit customers" in page.text

    response = client.post(f"/store/{devshop.shop.domain}/admin/oauth/authorize",
                           data={**form_fields(page.text), "decision": "approve"})

    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith(app_stub.url + CALLBACK + "?")
    params = query_of(location)
    assert set(params) == {"code", "hmac", "host", "shop", "state", "timestamp"}
    assert params["shop"] == devshop.shop.domain and params["state"] == "nonce-123"
    assert abs(int(params["timestamp"]) - time.time()) < 30
    host = params["host"]
    assert "=" not in host
    assert base64.b64decode(host + "=" * (-len(host) % 4)).decode() == f"admin.shopify.com/store/{devshop.shop.name}"
    # ShopifyAPI's own validator (sorted k=v joined by &, hex HMAC-SHA256 with the secret).
    shopify.Session.setup(api_key=app["client_id"], secret=SECRET)
    assert shopify.Session.validate_hmac(params)
    assert not shopify.Session.validate_hmac({**params, "state": "tampered"})


def test_deny_returns_to_admin_without_installing(devshop, app, app_stub):
    client = devshop.admin_client(devshop.shop)
    page = client.get(authorize_url(devshop, app, app_stub))
    response = client.post(f"/store/{devshop.shop.domain}/admin/oauth/authorize",
                           data={**form_fields(page.text), "decision": "deny"})
    assert response.status_code == 302
    assert response.headers["location"] == f"/store/{devshop.shop.domain}/admin"
    home = client.get(f"/store/{devshop.shop.domain}/admin")
    assert "didn&#x27;t install" in home.text or "didn't install" in home.text
    assert app_stub.requests == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"redirect_uri": "https://evil.example/cb"}, "The redirect_uri is not whitelisted"),
        ({"client_id": "nope"}, "Could not find Shopify API application with api_key nope"),
        ({"scope": "read_orders,fly_to_the_moon"}, "Scope undefined: fly_to_the_moon"),
    ],
)
def test_bad_authorize_requests_show_an_oauth_error(devshop, app, app_stub, change, message):
    client = devshop.admin_client(devshop.shop)
    url = authorize_url(devshop, app, app_stub, extra=change)
    response = client.get(url)
    assert response.status_code == 400
    assert message in response.text


def test_code_exchange_works_once_form_encoded_like_shopifyapi(devshop, app, app_stub):
    params = install_with_code(devshop, app, app_stub)
    body = {"client_id": app["client_id"], "client_secret": SECRET, "code": params["code"]}

    first = exchange(devshop, body, json_body=False)
    again = exchange(devshop, body)

    assert first.status_code == 200, first.text
    token = first.json()
    assert token["access_token"].startswith("shpat_")
    assert set(token["scope"].split(",")) == {"read_orders", "write_customers"}
    assert "expires_in" not in token and "refresh_token" not in token  # non-expiring offline token
    assert again.status_code == 400
    assert again.json() == {"error": "invalid_request",
                            "error_description": "The authorization code was not found or was already used"}


def test_wrong_client_secret_is_invalid_client(devshop, app, app_stub):
    params = install_with_code(devshop, app, app_stub)
    response = exchange(devshop, {"client_id": app["client_id"], "client_secret": "wrong", "code": params["code"]})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_per_user_grant_gives_online_token_with_associated_user(devshop, app, app_stub):
    params = install_with_code(devshop, app, app_stub, extra={"grant_options[]": "per-user"})
    response = exchange(devshop, {"client_id": app["client_id"], "client_secret": SECRET, "code": params["code"]})
    token = response.json()
    assert token["access_token"].startswith("shpua_")
    assert token["expires_in"] > 0
    assert token["associated_user"]["email"] == "owner@example.com"
    assert token["associated_user"]["account_owner"] is True
    assert "associated_user_scope" in token


def test_expiring_token_and_refresh_rotation_keeps_previous_until_new_is_used(devshop, app, app_stub):
    params = install_with_code(devshop, app, app_stub)
    creds = {"client_id": app["client_id"], "client_secret": SECRET}
    first = exchange(devshop, {**creds, "code": params["code"], "expiring": "1"}).json()
    assert first["expires_in"] == 3600
    assert first["refresh_token"] and first["refresh_token_expires_in"] > 0

    refresh = {**creds, "grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    second = exchange(devshop, refresh)
    assert second.status_code == 200, second.text
    second = second.json()
    assert second["access_token"] != first["access_token"]
    assert second["refresh_token"] != first["refresh_token"]

    # The response was "lost": the previous refresh token still works while the new token is unused.
    third = exchange(devshop, refresh)
    assert third.status_code == 200, third.text
    third = third.json()
    # The unused replacement's refresh token is void now.
    assert exchange(devshop, {**refresh, "refresh_token": second["refresh_token"]}).status_code == 400

    # Once the newest access token is used, the previous refresh token stops working.
    graphql = f"/store/{devshop.shop.domain}/admin/api/2026-10/graphql.json"
    used = devshop.http.post(graphql, json={"query": "{ shop { name } }"},
                             headers={"X-Shopify-Access-Token": third["access_token"]})
    if used.status_code == 404:
        pytest.skip("the store's GraphQL endpoint is not there yet")
    assert used.status_code == 200, used.text
    stale = exchange(devshop, refresh)
    assert stale.status_code == 400
    assert stale.json()["error"] == "invalid_grant"
    assert exchange(devshop, {**refresh, "refresh_token": third["refresh_token"]}).status_code == 200


def test_token_exchange_installs_app_with_toml_scopes(devshop, app):
    id_token = devshop.session_token(devshop.shop, app["client_id"])
    body = {
        "client_id": app["client_id"],
        "client_secret": SECRET,
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
        "subject_token": id_token,
        "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
        "requested_token_type": "urn:shopify:params:oauth:token-type:offline-access-token",
        "expiring": 1,  # shopifyapp sends an integer
    }
    offline = exchange(devshop, body)
    assert offline.status_code == 200, offline.text
    assert offline.json()["scope"] == "read_orders,read_customers,write_customers,write_discounts,write_app_proxy"
    assert offline.json()["expires_in"] == 3600 and offline.json()["refresh_token"]

    online = exchange(devshop, {**body, "requested_token_type":
                                "urn:shopify:params:oauth:token-type:online-access-token"}).json()
    assert online["associated_user"]["email"] == "owner@example.com"

    bad = exchange(devshop, {**body, "subject_token": id_token[:-3] + "abc"})
    assert bad.status_code == 400
    assert bad.json()["error"] == "invalid_subject_token"


def test_invalid_and_expired_tokens_get_401_from_the_admin_api(devshop, app, app_stub):
    graphql = f"/store/{devshop.shop.domain}/admin/api/2026-10/graphql.json"
    response = devshop.http.post(graphql, json={"query": "{ shop { name } }"},
                                 headers={"X-Shopify-Access-Token": "shpat_not_a_token"})
    if response.status_code == 404:
        pytest.skip("the store's GraphQL endpoint is not there yet")
    assert response.status_code == 401
    assert response.json() == {
        "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
    }

    # An expiring token past its expiry: age it in the database, as an hour going by would.
    params = install_with_code(devshop, app, app_stub)
    token = exchange(devshop, {"client_id": app["client_id"], "client_secret": SECRET, "code": params["code"],
                               "expiring": "1"}).json()["access_token"]
    ok = devshop.http.post(graphql, json={"query": "{ shop { name } }"}, headers={"X-Shopify-Access-Token": token})
    assert ok.status_code == 200
    devshop.shell(
        "from django.utils import timezone;from devshop.partners.models import AccessToken;"
        "from devshop.partners.signing import hash_secret;"
        f"AccessToken.objects.filter(token_hash=hash_secret({token!r})).update(expires_at=timezone.now())"
    )
    expired = devshop.http.post(graphql, json={"query": "{ shop { name } }"},
                                headers={"X-Shopify-Access-Token": token})
    assert expired.status_code == 401


def test_legacy_install_flow_sends_the_merchant_to_the_app_url(devshop, app_stub, tmp_path):
    toml = tmp_path / "legacy.toml"
    toml.write_text(TEST_TOML.read_text().replace('client_id = "devshop-test-client-id"', 'client_id = "legacy-app"')
                    .replace("use_legacy_install_flow = false", "use_legacy_install_flow = true"))
    app = devshop.register_app(application_url=app_stub.url, toml=toml, client_secret=SECRET)
    client = devshop.admin_client(devshop.shop)

    response = client.get(f"/store/{devshop.shop.domain}/admin/oauth/install?client_id={app['client_id']}")

    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith(app_stub.url + "?")
    params = query_of(location)
    assert set(params) == {"hmac", "host", "shop", "timestamp"}
    shopify.Session.setup(api_key=app["client_id"], secret=SECRET)
    assert shopify.Session.validate_hmac(params)


def test_non_expiring_offline_token_migrates_to_an_expiring_one(devshop, app, app_stub):
    params = install_with_code(devshop, app, app_stub)
    creds = {"client_id": app["client_id"], "client_secret": SECRET}
    legacy = exchange(devshop, {**creds, "code": params["code"]}).json()["access_token"]

    migrated = exchange(devshop, {
        **creds,
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
        "subject_token": legacy,
        "subject_token_type": "urn:shopify:params:oauth:token-type:offline-access-token",
        "requested_token_type": "urn:shopify:params:oauth:token-type:offline-access-token",
        "expiring": "1",
    })

    assert migrated.status_code == 200, migrated.text
    assert migrated.json()["expires_in"] == 3600 and migrated.json()["refresh_token"]
    graphql = f"/store/{devshop.shop.domain}/admin/api/2026-10/graphql.json"
    old = devshop.http.post(graphql, json={"query": "{ shop { name } }"}, headers={"X-Shopify-Access-Token": legacy})
    assert old.status_code == 401  # the non-expiring token is revoked by the migration


def test_concurrent_first_token_exchanges_install_once(devshop, app):
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    shop = devshop.create_shop("race-shop")
    devshop.create_staff(shop)
    id_token = devshop.session_token(shop, app["client_id"])
    body = {"client_id": app["client_id"], "client_secret": SECRET,
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange", "subject_token": id_token,
            "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
            "requested_token_type": "urn:shopify:params:oauth:token-type:offline-access-token", "expiring": 1}

    def call(_):
        with httpx.Client(base_url=devshop.base_url, trust_env=False, timeout=30) as client:
            return client.post(f"/store/{shop.domain}/admin/oauth/access_token", json=body)

    with ThreadPoolExecutor(6) as pool:
        responses = list(pool.map(call, range(6)))

    assert [r.status_code for r in responses] == [200] * 6, [r.text for r in responses]
    assert len({r.json()["access_token"] for r in responses}) == 6
    count = devshop.shell(
        "from devshop.partners.models import Installation;"
        f"print(Installation.objects.filter(shop__domain={shop.domain!r}).count())").strip()
    assert count == "1"
    devshop.uninstall(shop, app["client_id"])
