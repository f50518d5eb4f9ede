# ruff: noqa: S105, S106 - test credentials and OAuth token-type URNs, not secrets
"""Fixtures of the shops tests.

`fake_shopify` is a tiny local Shopify over real HTTP (ThreadingHTTPServer on 127.0.0.1): the token
endpoint (authorization code, token exchange, refresh with rotation) and the Admin GraphQL endpoint
answering the shop-details query. SHOPIFY_BASE_URL points at it, so the app's real HTTP clients
(httpx via shops.shopify_urls.http_client, shopifyapp, ShopifyAPI's urllib) talk to it unchanged.
It is used until tests/devshop_harness.py can run the real development store (see test_e2e_install.py).

`sync_calls` replaces the two shopify_sync services install calls (another app's code) and records them.
"""
from __future__ import annotations

import hashlib
import hmac
import importlib.util
import json
import secrets
import sys
import threading
import time
import types
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode

import jwt
import pytest

API_KEY = "test-api-key"
API_SECRET = "test-api-secret-0123456789abcdef0123456789"


# --- Shopify-side signing, written independently of the app's code --------------------------------


def shopify_hmac(params: dict, secret: str = API_SECRET) -> str:
    """Shopify's admin query signature (Ruby reference): escape `&=%` in keys and `&%` in values; arrays
    (`ids[]`) are signed as `ids=["1", "2"]`; pairs sorted, joined by `&`; hex HMAC-SHA256."""
    pairs = []
    for key, value in params.items():
        if key in ("hmac", "signature"):
            continue
        if key.endswith("[]"):
            key = key[:-2]
            value = "[" + ", ".join(f'"{v}"' for v in value) + "]"
        key = key.replace("%", "%25").replace("&", "%26").replace("=", "%3D")
        value = str(value).replace("%", "%25").replace("&", "%26")
        pairs.append(f"{key}={value}")
    return hmac.new(secret.encode(), "&".join(sorted(pairs)).encode(), hashlib.sha256).hexdigest()


def signed_query(params: dict, secret: str = API_SECRET) -> str:
    params = dict(params)
    params.setdefault("timestamp", str(int(time.time())))
    params["hmac"] = shopify_hmac(params, secret)
    return urlencode(params, doseq=True)


def session_token(shop: str, *, secret: str = API_SECRET, aud: str = API_KEY, offset: int = 0, **overrides) -> str:
    now = int(time.time()) + offset
    claims = {
        "iss": f"https://{shop}/admin",
        "dest": f"https://{shop}",
        "aud": aud,
        "sub": "42",
        "exp": now + 60,
        "nbf": now,
        "iat": now,
        "jti": str(uuid.uuid4()),
        "sid": "session-1",
    }
    claims.update(overrides)
    return jwt.encode(claims, secret, algorithm="HS256")


# --- The local Shopify ---------------------------------------------------------------------------


@dataclass
class FakeShopify:
    base_url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)
    codes: dict = field(default_factory=dict)  # code -> shop
    access_tokens: dict = field(default_factory=dict)  # token -> (shop, expires_at)
    refresh_tokens: dict = field(default_factory=dict)  # refresh token -> shop
    requests: list = field(default_factory=list)  # (path, grant_type or "graphql", body)
    refresh_delay: float = 0.0
    exchange_delay: float = 0.0
    reject_subject_tokens: bool = False
    token_ttl: int = 3600
    shop_details: dict = field(default_factory=dict)  # shop -> overrides of the details answer

    def issue_code(self, shop: str) -> str:
        code = secrets.token_hex(16)
        self.codes[code] = shop
        return code

    def issue_tokens(self, shop: str, *, ttl: int | None = None) -> dict:
        access, refresh = "shpat_" + secrets.token_hex(16), "shprt_" + secrets.token_hex(16)
        ttl = self.token_ttl if ttl is None else ttl
        with self.lock:
            self.access_tokens[access] = (shop, time.time() + ttl)
            self.refresh_tokens[refresh] = shop
        return {
            "access_token": access,
            "scope": "read_customers,read_orders,write_discounts",
            "expires_in": ttl,
            "refresh_token": refresh,
            "refresh_token_expires_in": 90 * 24 * 3600,
        }

    def grants(self, grant_type: str) -> list:
        return [r for r in self.requests if r[1] == grant_type]


def _handler(fake: FakeShopify):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep test output quiet
            pass

        def _send(self, status: int, body: dict) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def do_POST(self):  # noqa: N802
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.headers.get("Content-Type", "").startswith("application/json"):
                body = json.loads(raw or b"{}")
            else:
                body = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
            parts = self.path.split("/")  # /store/{shop}/admin/...
            shop = parts[2] if len(parts) > 2 and parts[1] == "store" else ""
            if self.path.endswith("/admin/oauth/access_token"):
                return self._token(shop, body)
            if self.path.endswith("/graphql.json"):
                return self._graphql(shop, body)
            self._send(404, {"errors": "Not Found"})

        def _token(self, shop: str, body: dict) -> None:
            grant = body.get("grant_type") or ("authorization_code" if "code" in body else "")
            fake.requests.append((self.path, grant, body))
            if body.get("client_id") != API_KEY or body.get("client_secret") != API_SECRET:
                return self._send(400, {"error": "invalid_client"})
            if grant == "authorization_code":
                if fake.codes.pop(body["code"], None) != shop:
                    return self._send(400, {"error": "invalid_request", "error_description": "bad code"})
                if str(body.get("expiring")) != "1":
                    return self._send(400, {"error": "test_expected_expiring_token"})
                return self._send(200, fake.issue_tokens(shop))
            if grant == "refresh_token":
                time.sleep(fake.refresh_delay)  # widen the window in which racing workers could collide
                with fake.lock:
                    owner = fake.refresh_tokens.pop(body.get("refresh_token"), None)
                if owner != shop:
                    return self._send(400, {"error": "invalid_grant"})
                return self._send(200, fake.issue_tokens(shop))
            if grant == "urn:ietf:params:oauth:grant-type:token-exchange":
                time.sleep(fake.exchange_delay)
                if fake.reject_subject_tokens:
                    return self._send(400, {"error": "invalid_subject_token"})
                try:
                    claims = jwt.decode(body["subject_token"], API_SECRET, algorithms=["HS256"], audience=API_KEY)
                except jwt.PyJWTError:
                    return self._send(400, {"error": "invalid_subject_token"})
                if claims["dest"] != f"https://{shop}" or str(body.get("expiring")) != "1":
                    return self._send(400, {"error": "invalid_subject_token"})
                return self._send(200, fake.issue_tokens(shop))
            self._send(400, {"error": "unsupported_grant_type"})

        def _graphql(self, shop: str, body: dict) -> None:
            fake.requests.append((self.path, "graphql", body))
            owner, expires_at = fake.access_tokens.get(self.headers.get("X-Shopify-Access-Token"), ("", 0))
            if owner != shop or expires_at < time.time():
                return self._send(401, {"errors": "[API] Invalid API key or access token"})
            if "shopLocales" not in body.get("query", ""):
                return self._send(200, {"errors": [{"message": "unexpected query in test"}]})
            details = {
                "id": "gid://shopify/Shop/1",
                "name": shop.split(".")[0].title(),
                "email": f"owner@{shop}",
                "myshopifyDomain": shop,
                "currencyCode": "EUR",
                "ianaTimezone": "Europe/Tallinn",
                "shopAddress": {"countryCodeV2": "EE"},
                "plan": {"publicDisplayName": "Basic", "partnerDevelopment": True, "shopifyPlus": False},
            }
            details.update(fake.shop_details.get(shop, {}))
            locales = [{"locale": "en", "primary": False}, {"locale": "et", "primary": True}]
            self._send(200, {"data": {"shop": details, "shopLocales": locales}})

    return Handler


@pytest.fixture
def fake_shopify(settings):
    fake = FakeShopify()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    settings.SHOPIFY_BASE_URL = fake.base_url + "/store/{shop}"
    settings.SHOPIFY_API_KEY = API_KEY
    settings.SHOPIFY_API_SECRET = API_SECRET
    settings.SHOPIFY_API_SECRET_OLD = ""
    settings.SHOPIFY_ADMIN_APP_URL = "https://admin.shopify.com/store/{store_name}/apps/{api_key}"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


# --- The shopify_sync boundary -------------------------------------------------------------------


class _AdminClientStandIn:
    """Only while shopify_sync.admin_api does not exist yet: the contract's AdminClient, doing the same
    real HTTP request (token from shops.services.shop_access_token, POST to the shop's graphql.json)."""

    def __init__(self, shop):
        self.shop = shop

    def execute(self, document: str, variables: dict | None = None) -> dict:
        from django.conf import settings

        from shops.services import shop_access_token
        from shops.shopify_urls import http_client, shop_url

        with http_client() as client:
            response = client.post(
                shop_url(self.shop.domain, f"/admin/api/{settings.SHOPIFY_API_VERSION}/graphql.json"),
                json={"query": document, "variables": variables or {}},
                headers={"X-Shopify-Access-Token": shop_access_token(self.shop)},
            )
        response.raise_for_status()
        return response.json()["data"]


@dataclass
class SyncCalls:
    webhooks_register: list = field(default_factory=list)
    sync_start: list = field(default_factory=list)


@pytest.fixture
def sync_calls(monkeypatch):
    """Record shopify_sync.services.webhooks_register / sync_start instead of running them."""
    import shopify_sync

    calls = SyncCalls()
    lock = threading.Lock()

    def webhooks_register(shop):
        with lock:
            calls.webhooks_register.append(shop.domain)

    def sync_start(shop, kind="backfill"):
        with lock:
            calls.sync_start.append((shop.domain, kind))

    if importlib.util.find_spec("shopify_sync.services") is not None:
        import shopify_sync.services as services

        monkeypatch.setattr(services, "webhooks_register", webhooks_register)
        monkeypatch.setattr(services, "sync_start", sync_start)
    else:
        stub = types.ModuleType("shopify_sync.services")
        stub.webhooks_register = webhooks_register
        stub.sync_start = sync_start
        monkeypatch.setitem(sys.modules, "shopify_sync.services", stub)
        monkeypatch.setattr(shopify_sync, "services", stub, raising=False)
    if importlib.util.find_spec("shopify_sync.admin_api") is None:
        stub_api = types.ModuleType("shopify_sync.admin_api")
        stub_api.AdminClient = _AdminClientStandIn
        monkeypatch.setitem(sys.modules, "shopify_sync.admin_api", stub_api)
        monkeypatch.setattr(shopify_sync, "admin_api", stub_api, raising=False)
    return calls


@pytest.fixture
def installed_shop(db, fake_shopify):
    """alpha-shop installed with a live token pair issued by the fake Shopify."""
    from django.utils import timezone

    from shops.models import Shop
    from shops.services import shop_tokens_store
    from shops.token_endpoint import TokenGrant

    issued = fake_shopify.issue_tokens("alpha-shop.myshopify.com")
    shop = Shop(
        domain="alpha-shop.myshopify.com", name="Alpha", currency="EUR", iana_timezone="Europe/Berlin",
        installed_at=timezone.now(),
    )
    shop_tokens_store(
        shop,
        TokenGrant(
            access_token=issued["access_token"],
            scopes=issued["scope"],
            expires_at=timezone.now() + timedelta(seconds=issued["expires_in"]),
            refresh_token=issued["refresh_token"],
            refresh_token_expires_at=None,
        ),
    )
    shop.save()
    shop._issued = issued
    return shop
