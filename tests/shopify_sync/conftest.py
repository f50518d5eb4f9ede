"""Fixtures of the shopify_sync tests: a local HTTP server that plays Shopify's Admin API, signed webhook
deliveries, Redis db 4 for the throttle bucket, and eager Celery."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import redis
from django.utils import timezone

REDIS_URL = "redis://127.0.0.1:6379/4"


@dataclass
class Reply:
    status: int = 200
    body: object = None
    headers: dict = field(default_factory=dict)


@dataclass
class Seen:
    path: str
    headers: dict
    body: dict


class FakeShopify:
    """Answers POST /store/{shop}/admin/api/{version}/graphql.json with queued replies (or `default`),
    and the refresh-token grant on /store/{shop}/admin/oauth/access_token. Records what it was sent."""

    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.default: Reply | None = None
        self.requests: list[Seen] = []
        self.token_requests: list[dict] = []
        self.valid_tokens: set[str] | None = None  # None: any token is accepted
        self.next_token = "token-after-refresh"  # noqa: S105 - test token
        self.handler = None  # optional callable(Seen) -> Reply
        self.port = 0

    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/store/{{shop}}"

    def queue(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def graphql_requests(self) -> list[Seen]:
        return [r for r in self.requests if r.path.endswith("/graphql.json")]


def ok(data: dict, *, available: float = 1990.0, requested: int = 10, maximum: float = 2000.0, rate: float = 100.0) -> Reply:
    return Reply(200, {"data": data, "extensions": {"cost": {
        "requestedQueryCost": requested, "actualQueryCost": requested,
        "throttleStatus": {"maximumAvailable": maximum, "currentlyAvailable": available, "restoreRate": rate}}}})


def throttled(*, available: float = 5.0, requested: int = 55, rate: float = 100.0) -> Reply:
    return Reply(200, {"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED",
        "documentation": "https://shopify.dev/api/usage/rate-limits"}}],
        "extensions": {"cost": {"requestedQueryCost": requested, "actualQueryCost": None,
        "throttleStatus": {"maximumAvailable": 2000.0, "currentlyAvailable": available, "restoreRate": rate}}}})


def _make_handler(fake: FakeShopify):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # keep test output clean
            pass

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                body = {}
            seen = Seen(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            fake.requests.append(seen)
            if self.path.endswith("/admin/oauth/access_token"):
                fake.token_requests.append(body)
                self._send(Reply(200, {"access_token": fake.next_token, "scope": "read_orders",
                                       "expires_in": 3600, "refresh_token": "refresh-2",
                                       "refresh_token_expires_in": 7776000}))
                return
            token = seen.headers.get("x-shopify-access-token")
            if fake.valid_tokens is not None and token not in fake.valid_tokens:
                self._send(Reply(401, {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}))
                return
            if fake.handler is not None:
                self._send(fake.handler(seen))
            elif fake.replies:
                self._send(fake.replies.popleft())
            elif fake.default is not None:
                self._send(fake.default)
            else:
                self._send(Reply(500, {"errors": "no reply queued"}))

        def _send(self, reply: Reply) -> None:
            payload = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for key, value in reply.headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(payload)

    return Handler


@pytest.fixture
def fake_shopify(settings):
    fake = FakeShopify()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(fake))
    fake.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.SHOPIFY_BASE_URL = fake.base_url()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def throttle_redis(settings):
    """The throttle bucket lives in Redis db 4 (ours); clean before and after."""
    settings.REDIS_URL = REDIS_URL
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter("shopify:bucket:*"):
        client.delete(key)
    yield client
    for key in client.scan_iter("shopify:bucket:*"):
        client.delete(key)


@pytest.fixture
def eager_celery():
    from retention_app.celery import app

    app.conf.task_always_eager = True
    try:
        yield app
    finally:
        app.conf.task_always_eager = False


@pytest.fixture
def token_shop(shop):
    """alpha-shop with a live, expiring offline token and a refresh token."""
    from core.crypto import encrypt

    shop.access_token_encrypted = encrypt("token-1")
    shop.access_token_expires_at = timezone.now() + timedelta(hours=1)
    shop.refresh_token_encrypted = encrypt("refresh-1")
    shop.refresh_token_expires_at = timezone.now() + timedelta(days=90)
    shop.save()
    return shop


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps():
    return Sleeps()


@pytest.fixture
def signed():
    """Build (body, headers) of a webhook delivery as Shopify sends it, signed with the test secret."""
    from django.conf import settings

    def build(topic: str, payload: dict | bytes, *, shop: str = "alpha-shop.myshopify.com",
              webhook_id: str | None = None, event_id: str | None = None, secret: str | None = None,
              triggered_at: str = "2026-11-24T10:00:27.877041743Z") -> tuple[bytes, dict]:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        digest = base64.b64encode(
            hmac.new((secret or settings.SHOPIFY_API_SECRET).encode(), body, hashlib.sha256).digest()
        ).decode()
        headers = {
            "HTTP_X_SHOPIFY_HMAC_SHA256": digest,
            "HTTP_X_SHOPIFY_TOPIC": topic,
            "HTTP_X_SHOPIFY_SHOP_DOMAIN": shop,
            "HTTP_X_SHOPIFY_API_VERSION": "2026-10",
            "HTTP_X_SHOPIFY_WEBHOOK_ID": webhook_id or str(uuid.uuid4()),
            "HTTP_X_SHOPIFY_EVENT_ID": event_id or str(uuid.uuid4()),
            "HTTP_X_SHOPIFY_TRIGGERED_AT": triggered_at,
        }
        return body, headers

    return build


@pytest.fixture
def post_webhook(client, signed):
    def post(topic: str, payload, **kwargs):
        body, headers = signed(topic, payload, **kwargs)
        return client.post("/webhooks", data=body, content_type="application/json", **headers)

    return post
