"""Storefront tests: signed app-proxy requests as Shopify sends them, and the loyalty fixtures
(orders through commerce's upsert, a fake Admin API) of tests/loyalty."""
from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import urlencode

import pytest

from tests.loyalty.conftest import FakeShopify, fake_shopify, order_write, programme  # noqa: F401 - fixtures


def proxy_query(shop_domain: str, customer_id: int | None, secret: str, *, extra: dict | None = None,
                timestamp: int | None = None) -> str:
    """The query string Shopify's proxy appends (shopify-protocols.md §3), signed with `secret`."""
    params = {**(extra or {}), "shop": shop_domain, "logged_in_customer_id": str(customer_id or ""),
              "path_prefix": "/apps/loyalty", "timestamp": str(timestamp or int(time.time()))}
    message = "".join(f"{k}={v}" for k, v in sorted(params.items()))
    params["signature"] = hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()
    return urlencode(params)


@pytest.fixture
def proxy(settings, client):
    """`proxy.get(shop, "balance", customer_id)` / `proxy.post(...)` through the signed proxy."""

    class Proxy:
        def get(self, shop, path, customer_id=None, **extra):
            return client.get(f"/proxy/{path}?" + proxy_query(shop.domain, customer_id, settings.SHOPIFY_API_SECRET,
                                                               extra=extra))

        def post(self, shop, path, body, customer_id=None, content_type="application/json", **extra):
            import json

            return client.post(f"/proxy/{path}?" + proxy_query(shop.domain, customer_id, settings.SHOPIFY_API_SECRET,
                                                                extra=extra),
                               data=json.dumps(body), content_type=content_type)

    return Proxy()
