"""Every URL of a shop and every HTTP client that talks to Shopify come from here.

Production: SHOPIFY_BASE_URL = "https://{shop}". The local development store serves the same paths under
"http://127.0.0.1:8001/store/{shop}". Shop domains stay in the real `name.myshopify.com` form everywhere;
only this module knows where they are reached (shopify-protocols.md, appendix "reaching the development store").
"""
from __future__ import annotations

import urllib.request
from urllib.parse import urlsplit

import httpx
from django.conf import settings

REAL_BASE_URL = "https://{shop}"


def shop_url(shop_domain: str, path: str = "") -> str:
    """`https://{shop}{path}` in production, the development store's equivalent elsewhere."""
    base = settings.SHOPIFY_BASE_URL.format(shop=shop_domain).rstrip("/")
    return base + path


def admin_app_url(shop_domain: str, path: str = "") -> str:
    """Where the merchant sees this app embedded in the Shopify admin."""
    url = settings.SHOPIFY_ADMIN_APP_URL.format(
        shop=shop_domain, store_name=shop_domain.split(".", 1)[0], api_key=settings.SHOPIFY_API_KEY
    )
    return url.rstrip("/") + path


def _rewrite(url: str) -> str:
    """Send a `https://{name}.myshopify.com/...` URL to SHOPIFY_BASE_URL (identity in production)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if settings.SHOPIFY_BASE_URL == REAL_BASE_URL or not host.endswith(".myshopify.com"):
        return url
    rest = parts.path + (f"?{parts.query}" if parts.query else "")
    return shop_url(host, rest)


class _ShopBaseURLTransport(httpx.HTTPTransport):
    def handle_request(self, request: httpx.Request) -> httpx.Response:
        target = _rewrite(str(request.url))
        if target != str(request.url):
            request.url = httpx.URL(target)
            request.headers["Host"] = request.url.netloc.decode()
        return super().handle_request(request)


def http_client(**kwargs) -> httpx.Client:
    """An httpx client for Shopify (used by `shopifyapp` calls and our own token requests)."""
    kwargs.setdefault("timeout", settings.SHOPIFY_HTTP_TIMEOUT_SECONDS)
    return httpx.Client(transport=_ShopBaseURLTransport(), **kwargs)


class _ShopBaseURLHandler(urllib.request.BaseHandler):
    """ShopifyAPI posts with urllib to `https://{shop}/admin/...` and takes no client to inject;
    this pre-processor rewrites those requests to SHOPIFY_BASE_URL (a no-op in production)."""

    handler_order = 100  # before the protocol handlers

    def https_request(self, req: urllib.request.Request) -> urllib.request.Request:
        target = _rewrite(req.full_url)
        if target != req.full_url:
            req.full_url = target  # the setter re-derives type and host, so http:// works too
            req.remove_header("Host")
        return req

    http_request = https_request


def install_urllib_handler() -> None:
    """Called once from ShopsConfig.ready()."""
    opener = urllib.request.build_opener(_ShopBaseURLHandler())
    urllib.request.install_opener(opener)
