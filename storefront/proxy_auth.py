"""Verification of app-proxy requests: Shopify forwards `https://{shop}/apps/loyalty/X?q` to `/proxy/X?q`
with `shop`, `logged_in_customer_id`, `path_prefix`, `timestamp` and `signature` added
(shopify-protocols.md §3).

The signature is the hex HMAC-SHA256 (app secret) of every query parameter except `signature`, grouped by
key (repeated keys' values joined by ","), sorted by key, each written `key=value` and concatenated with
no separator. Written here rather than through shopifyapp's `verify_app_proxy_req` (see docs/decisions.md,
"App proxy verification"): that function hard-codes the 90 s window, accepts a repeated `timestamp`, and
wants a full URL string to re-parse; ours reads the parsed QueryDict, refuses any repeated `shop`,
`signature`, `timestamp` or `logged_in_customer_id` (how parameter pollution looks; shopify-app-js refuses
them too) and uses SHOPIFY_HMAC_MAX_AGE_SECONDS. tests/storefront/test_proxy_auth.py checks that both
accept the same signatures.

Only after the signature matched is `logged_in_customer_id` trusted (Shopify's security check
APP_PROXY_UNVERIFIED_SIGNATURE): it is the one thing that decides whose points a request sees.
"""
from __future__ import annotations

import functools
import hashlib
import hmac
import time
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest, JsonResponse, QueryDict

from shops.models import Shop
from shops.request_signing import InvalidShopifyRequest, shop_domain_clean

SINGLE_VALUED = ("shop", "signature", "timestamp", "logged_in_customer_id", "path_prefix")


@dataclass(frozen=True, slots=True)
class ProxyClaims:
    shop_domain: str
    customer_shopify_id: int | None


def proxy_message(query: QueryDict) -> str:
    """The signed message: sorted `key=v1,v2` pairs of every parameter but `signature`, no separator."""
    return "".join(f"{key}={','.join(values)}" for key, values in sorted(query.lists()) if key != "signature")


def proxy_signature(query: QueryDict, secret: str) -> str:
    return hmac.new(secret.encode(), proxy_message(query).encode(), hashlib.sha256).hexdigest()


def app_proxy_verify(query: QueryDict, *, now: float | None = None) -> ProxyClaims:
    """Check an app-proxy request's signature, age and shape; return whose request it is.

    Raises InvalidShopifyRequest with a reason (logged, never shown to the visitor in detail).
    """
    for key in SINGLE_VALUED:
        if len(query.getlist(key)) > 1:
            raise InvalidShopifyRequest(f"The parameter {key!r} appears more than once.")
    received = (query.get("signature") or "").strip().lower()
    if not received:
        raise InvalidShopifyRequest("The signature parameter is missing.")
    secrets = [s for s in (settings.SHOPIFY_API_SECRET, settings.SHOPIFY_API_SECRET_OLD) if s]
    if not secrets:
        raise InvalidShopifyRequest("The app has no API secret configured.")
    matched = False
    for secret in secrets:
        # Every secret is tried (no early exit) and compared in constant time.
        matched |= hmac.compare_digest(proxy_signature(query, secret).encode(), received.encode())
    if not matched:
        raise InvalidShopifyRequest("The app proxy signature is invalid.")
    raw_ts = query.get("timestamp") or ""
    if not raw_ts.isdigit():
        raise InvalidShopifyRequest("The timestamp parameter is missing or not a whole number.")
    if abs((time.time() if now is None else now) - int(raw_ts)) > settings.SHOPIFY_HMAC_MAX_AGE_SECONDS:
        raise InvalidShopifyRequest("The request has expired (timestamp too old or in the future).")
    domain = shop_domain_clean(query.get("shop"))
    raw_customer = (query.get("logged_in_customer_id") or "").strip()
    if raw_customer and not raw_customer.isdigit():
        raise InvalidShopifyRequest("logged_in_customer_id is not a number.")
    return ProxyClaims(shop_domain=domain, customer_shopify_id=int(raw_customer) if raw_customer else None)


def _refuse(status: int, error: str) -> JsonResponse:
    response = JsonResponse({"ok": False, "error": error}, status=status)
    response["Cache-Control"] = "no-store"
    return response


def app_proxy_view(view):
    """Decorator: verify the proxy signature, load the installed shop, set `request.shop` and
    `request.customer_shopify_id` (None for guests). Answers are per customer: never cached by the
    proxy or the browser."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        try:
            claims = app_proxy_verify(request.GET)
        except InvalidShopifyRequest:
            return _refuse(401, "unauthorized")
        shop = Shop.objects.installed().filter(domain=claims.shop_domain).first()
        if shop is None:
            return _refuse(404, "unknown shop")
        request.shop = shop
        request.customer_shopify_id = claims.customer_shopify_id
        response = view(request, *args, **kwargs)
        response["Cache-Control"] = "private, no-store"
        return response

    return wrapper
