# ruff: noqa: S105, S106 - test credentials and OAuth token-type URNs, not secrets
"""OAuth authorization-code install: /auth/install and /auth/callback against a local Shopify over HTTP."""
from __future__ import annotations

import time
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.http import QueryDict
from django.utils import timezone

from shops.models import OAuthState, Shop
from shops.request_signing import InvalidShopifyRequest, admin_request_verify, query_hmac

from .conftest import API_KEY, API_SECRET, shopify_hmac, signed_query

SHOP = "alpha-shop.myshopify.com"
OTHER = "beta-shop.myshopify.com"

pytestmark = pytest.mark.django_db


def start_install(client, shop=SHOP, **extra):
    response = client.get("/auth/install?" + signed_query({"shop": shop, **extra}))
    assert response.status_code == 302, response.content
    location = response["Location"]
    return location, parse_qs(urlsplit(location).query)


def callback(client, *, shop=SHOP, code="", state="", **extra):
    return client.get("/auth/callback?" + signed_query({"code": code, "shop": shop, "state": state, **extra}))


# --- HMAC encoding --------------------------------------------------------------------------------


def test_query_hmac_matches_shopify_reference_encoding_including_arrays():
    params = {"shop": SHOP, "timestamp": "1337178173", "ids[]": ["1", "22"], "weird=key": "a&b%c"}
    assert query_hmac(params, API_SECRET) == shopify_hmac(params)


def test_array_parameters_are_signed_as_a_json_style_list():
    query = QueryDict(mutable=True)
    query.setlist("ids[]", ["7", "8"])
    query["shop"] = SHOP
    query["timestamp"] = str(int(time.time()))
    query["hmac"] = shopify_hmac({"ids[]": ["7", "8"], "shop": SHOP, "timestamp": query["timestamp"]})
    assert admin_request_verify(query) == SHOP


def test_repeated_scalar_parameter_is_refused():
    query = QueryDict(f"shop={SHOP}&shop={OTHER}&timestamp={int(time.time())}&hmac=00")
    with pytest.raises(InvalidShopifyRequest, match="more than once"):
        admin_request_verify(query)


def test_old_secret_is_accepted_during_rotation(settings):
    settings.SHOPIFY_API_SECRET = "new-secret"
    settings.SHOPIFY_API_SECRET_OLD = API_SECRET
    query = QueryDict(signed_query({"shop": SHOP}))  # signed with the old secret
    assert admin_request_verify(query) == SHOP


# --- /auth/install ----------------------------------------------------------------------------------


def test_install_redirects_top_level_to_the_shops_authorize_page(client, fake_shopify, settings):
    location, query = start_install(client)

    assert location.startswith(f"{fake_shopify.base_url}/store/{SHOP}/admin/oauth/authorize?")
    assert query["client_id"] == [API_KEY]
    assert query["scope"] == [",".join(settings.SHOPIFY_SCOPES)]
    assert query["redirect_uri"] == [settings.SHOPIFY_APP_URL + "/auth/callback"]
    state = OAuthState.objects.get(nonce=query["state"][0])
    assert state.shop_domain == SHOP
    assert timezone.now() < state.expires_at <= timezone.now() + timedelta(minutes=10)


def test_install_inside_the_admin_iframe_breaks_out_to_the_top_window(client, fake_shopify):
    response = client.get("/auth/install?" + signed_query({"shop": SHOP, "embedded": "1"}))

    assert response.status_code == 200
    body = response.content.decode()
    assert 'window.open(url, "_top")' in body
    assert f"/store/{SHOP}/admin/oauth/authorize?" in body
    assert "frame-ancestors" in response["Content-Security-Policy"]
    assert "X-Frame-Options" not in response


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"shop": SHOP, "hmac": "0" * 64}, "signature"),
        ({"shop": SHOP, "timestamp": str(int(time.time()) - 3600)}, "expired"),
        ({"shop": SHOP, "timestamp": str(int(time.time()) + 3600)}, "expired"),
        ({"shop": "evil.example.com"}, "myshopify.com"),
        ({"shop": "alpha-shop.myshopify.com.evil.com"}, "myshopify.com"),
        ({"shop": "-alpha.myshopify.com"}, "myshopify.com"),
    ],
)
def test_install_rejects_bad_requests_with_a_reason(client, fake_shopify, params, reason):
    query = signed_query({k: v for k, v in params.items() if k != "hmac"})
    if "hmac" in params:
        query = query.rsplit("&hmac=", 1)[0] + "&hmac=" + params["hmac"]

    response = client.get("/auth/install?" + query)

    assert response.status_code == 400
    assert reason in response.content.decode()
    assert not OAuthState.objects.exists()


def test_install_rejects_a_tampered_parameter(client, fake_shopify):
    query = signed_query({"shop": SHOP}).replace(SHOP, "beta-shop.myshopify.com")
    response = client.get("/auth/install?" + query)
    assert response.status_code == 400
    assert "signature" in response.content.decode()


# --- /auth/callback ---------------------------------------------------------------------------------


def test_callback_exchanges_the_code_installs_and_enters_the_app(client, fake_shopify, sync_calls):
    _, query = start_install(client)
    code = fake_shopify.issue_code(SHOP)

    response = callback(client, code=code, state=query["state"][0], host="YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvYWxwaGEtc2hvcA")

    # then: into the embedded app in the admin
    assert response.status_code == 302
    assert response["Location"] == f"https://admin.shopify.com/store/alpha-shop/apps/{API_KEY}"
    # the code went to the token endpoint asking for an expiring offline token
    (grant,) = fake_shopify.grants("authorization_code")
    assert grant[2]["code"] == code and str(grant[2]["expiring"]) == "1"
    shop = Shop.objects.get(domain=SHOP)
    assert shop.is_installed
    assert shop.access_token_expires_at > timezone.now() + timedelta(minutes=50)
    assert shop.refresh_token_encrypted and shop.scopes == "read_customers,read_orders,write_discounts"
    # details from the Admin GraphQL API
    assert (shop.name, shop.email, shop.currency, shop.iana_timezone) == (
        "Alpha-Shop", f"owner@{SHOP}", "EUR", "Europe/Tallinn"
    )
    assert (shop.country_code, shop.plan_name, shop.primary_locale, shop.shopify_gid) == (
        "EE", "Basic", "et", "gid://shopify/Shop/1"
    )
    assert sync_calls.webhooks_register == [SHOP]
    assert sync_calls.sync_start == [(SHOP, "backfill")]
    assert not OAuthState.objects.exists()


def test_callback_rejects_a_bad_hmac(client, fake_shopify, sync_calls):
    _, query = start_install(client)
    code = fake_shopify.issue_code(SHOP)
    signed = signed_query({"code": code, "shop": SHOP, "state": query["state"][0]})
    response = client.get("/auth/callback?" + signed.replace(code, fake_shopify.issue_code(SHOP)))

    assert response.status_code == 400
    assert "signature" in response.content.decode()
    assert fake_shopify.grants("authorization_code") == []
    assert not Shop.objects.exists()


def test_callback_rejects_a_stale_timestamp(client, fake_shopify, sync_calls):
    _, query = start_install(client)
    response = callback(
        client, code=fake_shopify.issue_code(SHOP), state=query["state"][0], timestamp=str(int(time.time()) - 600)
    )
    assert response.status_code == 400
    assert "expired" in response.content.decode()
    assert fake_shopify.grants("authorization_code") == []


def test_callback_rejects_a_bad_shop_domain(client, fake_shopify, sync_calls):
    _, query = start_install(client)
    response = callback(client, shop="alpha-shop.example.com", code="x", state=query["state"][0])
    assert response.status_code == 400
    assert "myshopify.com" in response.content.decode()


def test_callback_rejects_an_unknown_state(client, fake_shopify, sync_calls):
    start_install(client)
    response = callback(client, code=fake_shopify.issue_code(SHOP), state="f" * 64)

    assert response.status_code == 400
    assert "state" in response.content.decode()
    assert fake_shopify.grants("authorization_code") == []
    assert not Shop.objects.exists()


def test_callback_rejects_a_reused_state(client, fake_shopify, sync_calls):
    _, query = start_install(client)
    state = query["state"][0]
    assert callback(client, code=fake_shopify.issue_code(SHOP), state=state).status_code == 302

    response = callback(client, code=fake_shopify.issue_code(SHOP), state=state)

    assert response.status_code == 400
    assert "already used" in response.content.decode()
    assert len(fake_shopify.grants("authorization_code")) == 1


def test_callback_rejects_the_state_of_another_shop(client, fake_shopify, sync_calls):
    _, query = start_install(client, shop=OTHER)
    response = callback(client, shop=SHOP, code=fake_shopify.issue_code(SHOP), state=query["state"][0])

    assert response.status_code == 400
    assert "another shop" in response.content.decode()
    assert fake_shopify.grants("authorization_code") == []
    assert not OAuthState.objects.exists()  # burnt: a state is good for one attempt only


def test_callback_rejects_an_expired_state(client, fake_shopify, sync_calls):
    _, query = start_install(client)
    OAuthState.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = callback(client, code=fake_shopify.issue_code(SHOP), state=query["state"][0])
    assert response.status_code == 400
    assert "state expired" in response.content.decode()


def test_callback_with_a_code_shopify_refuses_is_a_clear_400(client, fake_shopify, sync_calls):
    _, query = start_install(client)
    response = callback(client, code="not-a-code", state=query["state"][0])
    assert response.status_code == 400
    assert "refused the authorization code" in response.content.decode()
    assert not Shop.objects.filter(domain=SHOP, access_token_encrypted__gt="").exists()


# --- The app URL, top level ---------------------------------------------------------------------------


def test_app_url_top_level_for_a_new_shop_starts_oauth(client, fake_shopify):
    response = client.get("/?" + signed_query({"shop": SHOP, "host": "abc"}))
    assert response.status_code == 302
    assert "/admin/oauth/authorize?" in response["Location"]


def test_app_url_top_level_for_an_installed_shop_enters_the_admin(client, installed_shop):
    response = client.get("/?" + signed_query({"shop": installed_shop.domain}))
    assert response.status_code == 302
    assert response["Location"] == f"https://admin.shopify.com/store/alpha-shop/apps/{API_KEY}"


def test_app_url_top_level_with_a_bad_hmac_is_refused(client, fake_shopify):
    response = client.get(f"/?shop={SHOP}&timestamp={int(time.time())}&hmac=abc")
    assert response.status_code == 400
