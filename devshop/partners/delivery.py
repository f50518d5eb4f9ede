"""The webhook delivery worker: threads inside `serve` that POST due deliveries.

Each thread claims one due row with SELECT ... FOR UPDATE SKIP LOCKED, so several threads (or
several devshop processes on one database) never send the same attempt twice. The row stays
locked while its HTTP request runs (at most the 5 s timeout), which is what makes the claim safe.

Retry schedule: Shopify retries a failed webhook 8 times in total over 4 hours with exponential
backoff (changelog "updates-to-webhook-retry-mechanism", 2024-09). Here attempt n+1 follows
attempt n after BASE * 2**(n-1) seconds with BASE = 14400 / 127, so the 7 waits add up to 4 h.
DEVSHOP_WEBHOOK_BACKOFF_SCALE (environment or setting) multiplies them: 0.001 makes the whole
schedule last 14.4 s for tests.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import time

import httpx
from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from . import signing
from .models import WebhookDelivery, WebhookDeliveryAttempt, WebhookSubscription

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BASE_DELAY_SECONDS = 14400 / 127
USER_AGENT = "Shopify-Captain-Hook"


def _setting(name: str, default: float) -> float:
    value = getattr(settings, name, None)
    if value is None:
        value = os.environ.get(name, default)
    return float(value)


def backoff_scale() -> float:
    return _setting("DEVSHOP_WEBHOOK_BACKOFF_SCALE", 1.0)


def request_timeout() -> float:
    # Shopify waits 5 s for a response (and 1 s for the connection).
    return _setting("DEVSHOP_WEBHOOK_TIMEOUT", 5.0)


def retry_delay(attempts_made: int) -> dt.timedelta:
    return dt.timedelta(seconds=BASE_DELAY_SECONDS * 2 ** (attempts_made - 1) * backoff_scale())


def delivery_headers(delivery: WebhookDelivery, body: bytes) -> dict[str, str]:
    triggered = delivery.triggered_at.astimezone(dt.UTC)
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Shopify-Hmac-Sha256": signing.webhook_hmac(body, delivery.app.client_secret),
        "X-Shopify-Topic": delivery.topic,
        "X-Shopify-Shop-Domain": delivery.shop.domain,
        "X-Shopify-API-Version": delivery.api_version,
        "X-Shopify-Webhook-Id": str(delivery.webhook_id),
        "X-Shopify-Event-Id": str(delivery.event_id),
        # Shopify sends nanoseconds: 2023-03-29T18:00:27.877041743Z
        "X-Shopify-Triggered-At": triggered.strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z",
    }


def deliver_next(client: httpx.Client) -> bool:
    """Send one due delivery. Returns False when nothing was due."""
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("app", "shop")
            .filter(status=WebhookDelivery.PENDING, next_attempt_at__lte=timezone.now())
            .order_by("next_attempt_at", "pk")
            .first()
        )
        if delivery is None:
            return False
        body = bytes(delivery.payload)
        started = time.monotonic()
        code, error = None, ""
        try:
            response = client.post(delivery.uri, content=body, headers=delivery_headers(delivery, body))
            code = response.status_code
        except httpx.TimeoutException:
            error = "timeout"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        delivery.attempts += 1
        WebhookDeliveryAttempt.objects.create(
            delivery=delivery,
            number=delivery.attempts,
            response_code=code,
            error=error,
            duration_ms=int((time.monotonic() - started) * 1000),
        )
        delivery.last_response_code = code
        if code is not None and 200 <= code < 300:
            delivery.status, delivery.next_attempt_at = WebhookDelivery.DELIVERED, None
        elif delivery.attempts >= MAX_ATTEMPTS:
            delivery.status, delivery.next_attempt_at = WebhookDelivery.FAILED, None
            _drop_failing_api_subscription(delivery)
        else:
            delivery.next_attempt_at = timezone.now() + retry_delay(delivery.attempts)
        delivery.save(update_fields=["attempts", "last_response_code", "status", "next_attempt_at"])
        log.info(
            "webhook %s %s -> %s attempt %s: %s",
            delivery.topic, delivery.uri, delivery.shop.domain, delivery.attempts, code or error,
        )
    return True


def _drop_failing_api_subscription(delivery: WebhookDelivery) -> None:
    """Shopify deletes Admin-API subscriptions after 8 consecutive failed tries; toml ones stay."""
    sub_id = delivery.subscription_id
    if sub_id and WebhookSubscription.objects.filter(pk=sub_id, source=WebhookSubscription.SOURCE_API).exists():
        log.warning("deleting API webhook subscription %s after %s failed tries", sub_id, MAX_ATTEMPTS)
        WebhookSubscription.objects.filter(pk=sub_id).delete()


class DeliveryWorker:
    """N threads that deliver until `stop()`; idle threads poll every `poll_interval` seconds."""

    def __init__(self, threads: int = 4, poll_interval: float = 0.1):
        self.threads_count = threads
        self.poll_interval = poll_interval
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for i in range(self.threads_count):
            thread = threading.Thread(target=self._run, name=f"webhook-delivery-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)

    def _run(self) -> None:
        is_first = threading.current_thread().name.endswith("-0")
        last_redact_check = 0.0
        timeout = request_timeout()
        with httpx.Client(timeout=httpx.Timeout(timeout, connect=min(timeout, 1.0)), follow_redirects=False,
                          trust_env=False) as client:
            while not self._stop.is_set():
                try:
                    close_old_connections()
                    if is_first and time.monotonic() - last_redact_check > 1.0:
                        last_redact_check = time.monotonic()
                        from .services.webhooks import shop_redacts_due

                        shop_redacts_due()
                    if not deliver_next(client):
                        self._stop.wait(self.poll_interval)
                except Exception:  # noqa: BLE001 - keep the worker alive; the next loop retries
                    log.exception("webhook delivery loop failed")
                    self._stop.wait(1.0)
        connection.close()
