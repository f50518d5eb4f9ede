"""Shopify's signatures, byte for byte: OAuth/admin query `hmac`, app proxy `signature`, webhook HMAC.

The app under test verifies all of these with Shopify's own libraries, so each function names
the algorithm it mirrors. See /work/shared/research/shopify-protocols.md sections 1-3.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Iterable, Mapping


def _escape_value(value: str) -> str:
    return value.replace("%", "%25").replace("&", "%26")


def _escape_key(key: str) -> str:
    return _escape_value(key).replace("=", "%3D")


def admin_query_message(params: Mapping[str, str]) -> str:
    """The message of the `hmac` query parameter (OAuth callback, install and app-home loads).

    Every parameter except `hmac` and `signature`, sorted by key, `k=v` joined by `&`, with `%`
    and `&` escaped in keys and values and `=` in keys: Shopify's documented escaping, as
    ShopifyAPI's `Session.calculate_hmac` rebuilds it. For the values Shopify sends (hex codes,
    digits, shop domains, unpadded base64 `host`, JWTs) this equals the JS library's
    URLSearchParams form as well.
    """
    pairs = [
        f"{_escape_key(k)}={_escape_value(str(v))}" for k, v in params.items() if k not in ("hmac", "signature")
    ]
    return "&".join(sorted(pairs))


def admin_query_hmac(params: Mapping[str, str], secret: str) -> str:
    """Lowercase hex HMAC-SHA256 of `admin_query_message` keyed with the app's client secret."""
    return hmac.new(secret.encode(), admin_query_message(params).encode(), hashlib.sha256).hexdigest()


def signed_admin_query(params: Mapping[str, str], secret: str) -> dict[str, str]:
    """`params` plus `hmac`, in the sorted order Shopify puts them on the URL."""
    signed = dict(params)
    signed["hmac"] = admin_query_hmac(params, secret)
    return dict(sorted(signed.items()))


def app_proxy_signature(params: Iterable[tuple[str, str]], secret: str) -> str:
    """The app proxy `signature`: sorted `k=v` with repeated keys' values joined by `,`, concatenated
    with no separator, hex HMAC-SHA256 (shopify-app-js stringifyQueryForAppProxy, shopifyapp
    verify_app_proxy_req)."""
    grouped: dict[str, list[str]] = {}
    for key, value in params:
        if key == "signature":
            continue
        grouped.setdefault(key, []).append(value)
    message = "".join(f"{k}={','.join(v)}" for k, v in sorted(grouped.items()))
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def webhook_hmac(body: bytes, secret: str) -> str:
    """X-Shopify-Hmac-Sha256: base64 HMAC-SHA256 of the exact body bytes."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def host_param(shop_domain: str) -> str:
    """The `host` parameter: base64 of `admin.shopify.com/store/{name}` without `=` padding, as
    Shopify sends it (e.g. `YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvY2hhbW9peGFwcA`)."""
    name = shop_domain.split(".", 1)[0]
    return base64.b64encode(f"admin.shopify.com/store/{name}".encode()).decode().rstrip("=")


def timestamp() -> str:
    return str(int(time.time()))


def hash_secret(value: str) -> str:
    """How devshop stores tokens and codes: SHA-256 hex (they are random, so no salt is needed)."""
    return hashlib.sha256(value.encode()).hexdigest()


def new_token(prefix: str, nbytes: int = 16) -> str:
    """Shopify-looking opaque tokens: `shpat_` + 32 hex characters."""
    return prefix + secrets.token_hex(nbytes)
