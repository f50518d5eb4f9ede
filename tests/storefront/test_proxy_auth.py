"""App-proxy signature: accept what Shopify signs, refuse the rest (and agree with shopifyapp)."""
from __future__ import annotations

import time

import pytest
import shopify_app
from django.http import QueryDict

from shops.request_signing import InvalidShopifyRequest
from storefront.proxy_auth import app_proxy_verify

from .conftest import proxy_query

SECRET = "test-api-secret-0123456789abcdef0123456789"


def test_accepts_shopifys_signature_and_agrees_with_shopifyapp(settings):
    settings.SHOPIFY_API_SECRET = SECRET
    query = proxy_query("alpha-shop.myshopify.com", 42, SECRET, extra={"locale": "de"})
    claims = app_proxy_verify(QueryDict(query))
    assert claims.shop_domain == "alpha-shop.myshopify.com" and claims.customer_shopify_id == 42
    result = shopify_app.ShopifyApp(client_id="k", client_secret=SECRET).verify_app_proxy_req(
        {"method": "GET", "headers": {}, "url": f"https://app.example.com/proxy/balance?{query}", "body": ""})
    assert result.ok and result.logged_in_customer_id == "42"


def test_multi_valued_parameters_are_joined_with_commas(settings):
    settings.SHOPIFY_API_SECRET = SECRET
    import hashlib
    import hmac

    ts = str(int(time.time()))
    message = f"extra=1,2logged_in_customer_id=path_prefix=/apps/loyaltyshop=alpha-shop.myshopify.comtimestamp={ts}"
    sig = hmac.new(SECRET.encode(), message.encode(), hashlib.sha256).hexdigest()
    query = (f"extra=1&extra=2&shop=alpha-shop.myshopify.com&logged_in_customer_id=&path_prefix=%2Fapps%2Floyalty"
             f"&timestamp={ts}&signature={sig}")
    assert app_proxy_verify(QueryDict(query)).customer_shopify_id is None


@pytest.mark.parametrize("tamper", [
    lambda q: q.replace("logged_in_customer_id=42", "logged_in_customer_id=43"),  # another customer's points
    lambda q: q.replace("signature=", "signature=0"),
    lambda q: q + "&timestamp=1",  # repeated timestamp
    lambda q: q + "&shop=beta-shop.myshopify.com",  # repeated shop
    lambda q: q + "&signature=abc",  # repeated signature
])
def test_rejects_tampered_or_polluted_queries(settings, tamper):
    settings.SHOPIFY_API_SECRET = SECRET
    with pytest.raises(InvalidShopifyRequest):
        app_proxy_verify(QueryDict(tamper(proxy_query("alpha-shop.myshopify.com", 42, SECRET))))


def test_rejects_old_and_future_timestamps_and_other_secrets(settings):
    settings.SHOPIFY_API_SECRET = SECRET
    old = proxy_query("alpha-shop.myshopify.com", 42, SECRET, timestamp=int(time.time()) - 91)
    with pytest.raises(InvalidShopifyRequest, match="expired"):
        app_proxy_verify(QueryDict(old))
    future = proxy_query("alpha-shop.myshopify.com", 42, SECRET, timestamp=int(time.time()) + 91)
    with pytest.raises(InvalidShopifyRequest, match="expired"):
        app_proxy_verify(QueryDict(future))
    with pytest.raises(InvalidShopifyRequest, match="signature"):
        app_proxy_verify(QueryDict(proxy_query("alpha-shop.myshopify.com", 42, "another-secret")))


def test_old_secret_accepted_during_rotation(settings):
    settings.SHOPIFY_API_SECRET, settings.SHOPIFY_API_SECRET_OLD = "new-secret", SECRET
    assert app_proxy_verify(QueryDict(proxy_query("alpha-shop.myshopify.com", 7, SECRET))).customer_shopify_id == 7
