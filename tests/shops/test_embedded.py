# ruff: noqa: S105, S106 - test credentials and OAuth token-type URNs, not secrets
"""Session-token authentication of embedded pages (bounce) and fetches (401 + retry header), token
exchange installs, CSP, and cross-shop isolation."""
from __future__ import annotations

import threading
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from django.db import connections
from django.test import Client

from shops.models import Shop
from shops.services import shop_mark_uninstalled

from .conftest import session_token

SHOP = "alpha-shop.myshopify.com"
OTHER = "beta-shop.myshopify.com"

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.shops.urls")]

BAD_TOKENS = {
    "expired": lambda: session_token(SHOP, offset=-120),
    "wrong audience": lambda: session_token(SHOP, aud="someone-elses-app"),
    "dest of an invalid shop": lambda: session_token(SHOP, dest="https://evil.example.com", iss="https://evil.example.com/admin"),
    "iss of another shop": lambda: session_token(SHOP, iss=f"https://{OTHER}/admin"),
    "bad signature": lambda: session_token(SHOP, secret="not-our-secret"),
    "nbf beyond leeway": lambda: session_token(SHOP, nbf=int(__import__("time").time()) + 30),
    "exp not a time": lambda: session_token(SHOP, exp=None),
    "garbage": lambda: "not.a.jwt",
}


@pytest.mark.parametrize("kind", BAD_TOKENS)
def test_fetch_with_a_bad_session_token_gets_401_and_the_retry_header(client, installed_shop, kind):
    token = BAD_TOKENS[kind]()
    response = client.get("/probe/fetch", HTTP_AUTHORIZATION=f"Bearer {token}")

    assert response.status_code == 401
    assert response["X-Shopify-Retry-Invalid-Session-Request"] == "1"
    assert response.json()["error"] == "invalid_session_token"


def test_fetch_without_a_bearer_token_gets_401(client, installed_shop):
    response = client.get("/probe/fetch")
    assert response.status_code == 401
    assert response["X-Shopify-Retry-Invalid-Session-Request"] == "1"


@pytest.mark.parametrize("kind", BAD_TOKENS)
def test_page_load_with_a_bad_session_token_bounces(client, installed_shop, kind):
    token = BAD_TOKENS[kind]()
    response = client.get(f"/probe/page?embedded=1&host=abc&shop={SHOP}&id_token={token}&locale=de")

    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert location.path == "/auth/session-token-bounce"
    query = parse_qs(location.query)
    assert "id_token" not in query
    assert query["shop"] == [SHOP]
    assert unquote(query["shopify-reload"][0]) == f"/probe/page?embedded=1&host=abc&shop={SHOP}&locale=de"


def test_page_load_without_id_token_bounces(client, installed_shop):
    response = client.get(f"/probe/page?embedded=1&shop={SHOP}&host=abc")
    assert response.status_code == 302
    assert response["Location"].startswith("/auth/session-token-bounce?")


def test_bounce_page_renders_only_app_bridge(client, settings):
    settings.SHOPIFY_APP_BRIDGE_URL = "https://cdn.example/app-bridge.js"
    response = client.get(f"/auth/session-token-bounce?shop={SHOP}&host=abc&shopify-reload=%2F%3Fshop%3D{SHOP}")

    assert response.status_code == 200
    body = response.content.decode()
    assert '<script data-api-key="test-api-key" src="https://cdn.example/app-bridge.js"></script>' in body
    assert body.count("<script") == 1
    assert f"https://{SHOP}" in response["Content-Security-Policy"]


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", ""])
def test_bounce_page_refuses_a_reload_target_outside_the_app(client, target):
    response = client.get(f"/auth/session-token-bounce?shop={SHOP}&shopify-reload={target}")
    assert response.status_code == 400


@pytest.mark.parametrize("offset", [-65, 8])
def test_leeway_of_up_to_10_seconds_is_accepted(client, installed_shop, offset):
    # exp 5 s ago (offset -65: issued 65 s ago, 60 s lifetime) or nbf/iat 8 s ahead of our clock
    token = session_token(SHOP, offset=offset)
    response = client.get("/probe/fetch", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200, response.content
    assert response.json() == {"shop": SHOP, "sub": "42"}


def test_token_signed_with_the_old_secret_is_accepted_during_rotation(client, installed_shop, settings):
    settings.SHOPIFY_API_SECRET_OLD = settings.SHOPIFY_API_SECRET
    settings.SHOPIFY_API_SECRET = "rotated-new-secret"
    response = client.get("/probe/fetch", HTTP_AUTHORIZATION=f"Bearer {session_token(SHOP)}")
    assert response.status_code == 200


def test_embedded_page_gets_csp_frame_ancestors_and_no_x_frame_options(client, installed_shop, fake_shopify):
    response = client.get(f"/probe/page?embedded=1&shop={SHOP}&id_token={session_token(SHOP)}")

    assert response.status_code == 200
    csp = response["Content-Security-Policy"]
    assert csp.startswith(f"frame-ancestors https://{SHOP} https://admin.shopify.com")
    assert fake_shopify.base_url in csp  # the development store's admin frames the app in the dev setup
    assert "X-Frame-Options" not in response


def test_csp_has_only_shopify_origins_in_production(client, installed_shop, settings):
    settings.SHOPIFY_BASE_URL = "https://{shop}"
    response = client.get(f"/probe/page?embedded=1&shop={SHOP}&id_token={session_token(SHOP)}")
    assert response["Content-Security-Policy"] == f"frame-ancestors https://{SHOP} https://admin.shopify.com;"


def test_non_embedded_pages_keep_x_frame_options_deny(client, db):
    response = client.get("/")
    assert response["X-Frame-Options"] == "DENY"


# --- Cross-shop isolation ---------------------------------------------------------------------------


def test_a_session_token_for_shop_a_only_ever_yields_shop_a(client, installed_shop, fake_shopify):
    Shop.objects.create(domain=OTHER, installed_at=installed_shop.installed_at, access_token_encrypted="x")
    token_a = session_token(SHOP)

    fetch = client.get(f"/probe/fetch?shop={OTHER}", HTTP_AUTHORIZATION=f"Bearer {token_a}")
    page = client.get(f"/probe/page?embedded=1&shop={OTHER}&id_token={token_a}")
    own = client.get("/probe/fetch", HTTP_AUTHORIZATION=f"Bearer {token_a}")

    assert fetch.status_code == 401  # shop B named in the URL, token of A: refused, not served as B
    assert page.status_code == 302 and page["Location"].startswith("/auth/session-token-bounce")
    assert own.json()["shop"] == SHOP


# --- Token exchange -------------------------------------------------------------------------------


def test_first_embedded_load_installs_the_shop_by_token_exchange(client, fake_shopify, sync_calls):
    response = client.get(f"/?embedded=1&host=abc&shop={SHOP}&id_token={session_token(SHOP)}")

    assert response.status_code == 200
    (grant,) = fake_shopify.grants("urn:ietf:params:oauth:grant-type:token-exchange")
    body = grant[2]
    assert body["requested_token_type"] == "urn:shopify:params:oauth:token-type:offline-access-token"
    assert body["subject_token_type"] == "urn:ietf:params:oauth:token-type:id_token"
    assert str(body["expiring"]) == "1"
    shop = Shop.objects.get(domain=SHOP)
    assert shop.is_installed and shop.name == "Alpha-Shop" and shop.primary_locale == "et"
    assert sync_calls.webhooks_register == [SHOP] and sync_calls.sync_start == [(SHOP, "backfill")]
    assert f"https://{SHOP}" in response["Content-Security-Policy"]

    # a second load uses the stored token: no new exchange, no second setup
    assert client.get(f"/?embedded=1&shop={SHOP}&id_token={session_token(SHOP)}").status_code == 200
    assert len(fake_shopify.grants("urn:ietf:params:oauth:grant-type:token-exchange")) == 1
    assert sync_calls.webhooks_register == [SHOP]


def test_token_exchange_refused_as_invalid_subject_token_bounces_or_401s(client, fake_shopify, sync_calls):
    # The token passes our checks, but Shopify's token endpoint refuses it as a subject token.
    fake_shopify.reject_subject_tokens = True
    token = session_token(SHOP)

    page = client.get(f"/?embedded=1&host=abc&shop={SHOP}&id_token={token}")
    fetch = client.get("/probe/fetch", HTTP_AUTHORIZATION=f"Bearer {token}")

    assert page.status_code == 302 and page["Location"].startswith("/auth/session-token-bounce")
    assert fetch.status_code == 401 and fetch["X-Shopify-Retry-Invalid-Session-Request"] == "1"
    assert sync_calls.webhooks_register == []
    assert not Shop.objects.filter(access_token_encrypted__gt="").exists()


def test_reinstall_after_uninstall_exchanges_a_new_token_and_sets_up_again(client, installed_shop, fake_shopify, sync_calls):
    shop_mark_uninstalled(installed_shop)
    installed_shop.refresh_from_db()
    assert not installed_shop.is_installed and installed_shop.access_token_encrypted == ""

    response = client.get(f"/?embedded=1&shop={SHOP}&id_token={session_token(SHOP)}")

    assert response.status_code == 200
    installed_shop.refresh_from_db()
    assert installed_shop.is_installed and installed_shop.uninstalled_at is None
    assert installed_shop.name == "Alpha-Shop"  # details fetched again
    assert sync_calls.webhooks_register == [SHOP]


def test_reinstall_after_redaction_starts_clean(client, installed_shop, fake_shopify, sync_calls):
    from django.utils import timezone

    shop_mark_uninstalled(installed_shop)
    Shop.objects.filter(pk=installed_shop.pk).update(redacted_at=timezone.now(), name="Old name", email="old@example.com")
    fake_shopify.shop_details[SHOP] = {"name": "Fresh Start", "email": ""}

    assert client.get(f"/?embedded=1&shop={SHOP}&id_token={session_token(SHOP)}").status_code == 200

    installed_shop.refresh_from_db()
    assert installed_shop.redacted_at is None and installed_shop.is_installed
    assert (installed_shop.name, installed_shop.email) == ("Fresh Start", "")


@pytest.mark.django_db(transaction=True)
def test_concurrent_first_loads_install_once(fake_shopify, sync_calls):
    fake_shopify.exchange_delay = 0.3  # keep the first exchange in flight while the others arrive
    barrier = threading.Barrier(3)
    results = []

    def load():
        try:
            barrier.wait()
            response = Client().get("/probe/fetch", HTTP_AUTHORIZATION=f"Bearer {session_token(SHOP)}")
            results.append(response.status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=load) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert results == [200, 200, 200]
    assert Shop.objects.filter(domain=SHOP).count() == 1
    assert len(fake_shopify.grants("urn:ietf:params:oauth:grant-type:token-exchange")) == 1
    assert sync_calls.webhooks_register == [SHOP]
    assert sync_calls.sync_start == [(SHOP, "backfill")]
