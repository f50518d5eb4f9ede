"""The webhook inbox: store a verified delivery once, process it once, recover what was never processed.

Flow: the view verifies the HMAC and calls webhook_delivery_store (INSERT ... ON CONFLICT DO NOTHING on
(shop_domain, webhook_id) and (shop_domain, topic, event_id)), which enqueues process_webhook after commit;
Shopify gets its 200 whether or not the enqueue worked. webhook_delivery_process locks the row (SKIP
LOCKED), runs the topic's handler in a savepoint and marks the row processed in the same transaction, so
the handler's writes and `processed_at` commit together. A failure is recorded and retried with backoff,
a bounded number of times. The sweeper re-enqueues rows that nobody is working on (Redis was down, a
worker died) and purges old processed rows (their payloads hold customers' personal data).
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from shops.models import Shop

from ..models import WebhookDelivery

logger = logging.getLogger(__name__)

# Handler failures are retried after 30 s, 1, 2, 4 ... min (capped at 1 h), MAX_ATTEMPTS attempts in all.
MAX_ATTEMPTS = 8
RETRY_BASE_SECONDS = 30
RETRY_MAX_SECONDS = 3600
COMPLIANCE_TOPICS = frozenset({"customers/data_request", "customers/redact", "shop/redact"})
# Topics that still mean something for a shop that was uninstalled and then erased by shop/redact.
TOPICS_AFTER_REDACT = COMPLIANCE_TOPICS | {"app/uninstalled"}


def _setting(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def sweep_after_seconds() -> int:
    """A stored delivery not processed this long after its last enqueue is enqueued again."""
    return _setting("SHOPIFY_WEBHOOK_SWEEP_AFTER_SECONDS", 120)


def retention_days() -> int:
    """Processed deliveries are deleted after this many days (Shopify retries for at most 4 hours)."""
    return _setting("SHOPIFY_WEBHOOK_RETENTION_DAYS", 30)


@dataclass(frozen=True)
class StoredDelivery:
    id: int | None  # the new row, or the row it duplicates (None if that one was purged meanwhile)
    created: bool


_NANOS_RE = re.compile(r"(\.\d{6})\d+")


def parse_triggered_at(value: str | None) -> dt.datetime | None:
    """X-Shopify-Triggered-At, e.g. 2023-03-29T18:00:27.877041743Z (nanoseconds); None if unparsable."""
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(_NANOS_RE.sub(r"\1", value.strip()))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _decode_payload(body: bytes) -> tuple[str, bool]:
    """(text to store, is a JSON object). PostgreSQL text holds neither NUL nor invalid UTF-8; such a body
    is not JSON anyway and is kept, made storable, for inspection."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return body.decode("utf-8", "replace").replace("\x00", "\ufffd"), False
    if "\x00" in text:
        return text.replace("\x00", "\ufffd"), False
    try:
        parsed = json.loads(text)
    except ValueError:
        return text, False
    return text, isinstance(parsed, dict)


# The table names come from the models; every value is a query parameter.
#
# Two statements outside any transaction (Django's autocommit): the shop's id by its unique domain, then
# the INSERT, which commits on its own (PostgreSQL's synchronous_commit as configured: durable when it
# returns) and so saves the BEGIN and COMMIT round trips an atomic block would cost. The id is read fresh
# per delivery: no cache of domain -> id to invalidate when a shop is (re)installed, and NULL exactly when
# no Shop row exists yet (the delivery is kept all the same, see WebhookDelivery).
# Not one statement with the lookup as a subquery of the INSERT: that holds the inbox table's lock while it
# asks for the shops table's, the opposite order of a TRUNCATE or DDL that locks both, and the two then
# deadlock (seen in the test suite's flush while a development store was still delivering webhooks).
_SHOP_ID = f"SELECT id FROM {Shop._meta.db_table} WHERE domain = %s"  # noqa: S608
_INSERT = f"""
INSERT INTO {WebhookDelivery._meta.db_table}
    (shop_id, shop_domain, topic, webhook_id, event_id, api_version, triggered_at, payload, payload_is_json,
     received_at, status, attempts, next_attempt_at, enqueued_at, processed_at, last_error, redacted_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 0, NULL, %s, %s, %s, NULL)
ON CONFLICT DO NOTHING
RETURNING id
"""  # noqa: S608


def webhook_delivery_store(
    *,
    shop_domain: str,
    topic: str,
    webhook_id: str,
    body: bytes,
    event_id: str = "",
    api_version: str = "",
    triggered_at: dt.datetime | None = None,
) -> StoredDelivery:
    """Store one HMAC-verified delivery unless it is a repeat; enqueue its processing after commit.

    A repeat (same webhook id, or same event id for the topic) stores nothing and enqueues nothing.
    Never raises for a broken broker: the sweeper enqueues what could not be enqueued.
    """
    now = timezone.now()
    payload, is_json = _decode_payload(body)
    status = WebhookDelivery.Status.RECEIVED if is_json else WebhookDelivery.Status.FAILED
    error = "" if is_json else "the body is not a UTF-8 JSON object; kept for inspection, not processed"
    with connection.cursor() as cursor:
        cursor.execute(_SHOP_ID, [shop_domain])
        found = cursor.fetchone()
        cursor.execute(
            _INSERT,
            [found[0] if found else None, shop_domain, topic, webhook_id, event_id, api_version, triggered_at, payload, is_json,
             now, status, now if is_json else None, None if is_json else now, error],
        )
        row = cursor.fetchone()
    if row is None:
        existing = (
            WebhookDelivery.objects.filter(shop_domain=shop_domain, webhook_id=webhook_id).values_list("pk", flat=True).first()
            or (event_id and WebhookDelivery.objects.filter(shop_domain=shop_domain, topic=topic, event_id=event_id)
                .values_list("pk", flat=True).first())
            or None
        )
        logger.info("duplicate webhook %s %s for %s (of delivery %s)", topic, webhook_id, shop_domain, existing)
        return StoredDelivery(existing, created=False)
    delivery_id = row[0]
    if is_json:
        # After commit: at once when the INSERT committed by itself (autocommit), or when the caller's
        # transaction commits if there is one. The row is stored either way before Shopify gets its 200.
        transaction.on_commit(lambda: webhook_delivery_enqueue(delivery_id))
    else:
        logger.error("webhook %s %s for %s has a body that is not a JSON object", topic, webhook_id, shop_domain)
    return StoredDelivery(delivery_id, created=True)


def webhook_delivery_enqueue(delivery_id: int, *, countdown: float | None = None) -> bool:
    """Send process_webhook for a row; False (logged) when the broker is unreachable."""
    from ..tasks import process_webhook

    try:
        # retry=False: a down broker must fail fast, inside Shopify's 5-second budget; the row is stored.
        process_webhook.apply_async((delivery_id,), countdown=countdown, retry=False)
    except Exception as exc:  # any broker/transport error: the sweeper is the fallback
        logger.warning("could not enqueue webhook delivery %s (%s); the sweeper will", delivery_id, exc)
        WebhookDelivery.objects.filter(pk=delivery_id, processed_at__isnull=True).update(enqueued_at=None)
        return False
    return True


class Outcome:
    PROCESSED = "processed"
    NO_HANDLER = "no handler"
    SKIPPED = "skipped"  # already processed, given up, or another worker holds it
    RETRY = "retry"
    FAILED = "failed"


def _retry_delay(attempts: int) -> int:
    return min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2 ** (attempts - 1))


def _resolve_shop(delivery: WebhookDelivery) -> Shop | None:
    if delivery.shop_id is not None:
        return Shop.objects.filter(pk=delivery.shop_id).first()
    shop = Shop.objects.filter(domain=delivery.shop_domain).first()
    if shop is not None:
        delivery.shop = shop
    return shop


def _finish(delivery: WebhookDelivery, status: str, note: str = "") -> None:
    now = timezone.now()
    delivery.status = status
    delivery.processed_at = now
    delivery.next_attempt_at = None
    delivery.last_error = note
    # Never `payload`: a handler (customers/redact) may have scrubbed this very row's payload in SQL.
    delivery.save(update_fields=["shop", "status", "attempts", "processed_at", "next_attempt_at", "last_error"])


def webhook_delivery_process(*, delivery_id: int) -> str:
    """Process one stored delivery exactly once. Returns an Outcome.

    Locks the row with SKIP LOCKED (a concurrent duplicate task returns SKIPPED at once), dispatches by
    topic (shopify_sync.webhook_handlers), and commits the handler's writes with `processed_at`. A failing
    handler's writes roll back (savepoint); the failure is recorded and a retry enqueued after commit, up
    to MAX_ATTEMPTS. Unknown topics and unknown shops are marked processed with the reason: kept, not lost.
    """
    from .. import webhook_handlers

    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True)
            .filter(pk=delivery_id, processed_at__isnull=True)
            .exclude(status__in=[WebhookDelivery.Status.FAILED, WebhookDelivery.Status.REDACTED])
            .first()
        )
        if delivery is None:
            return Outcome.SKIPPED
        delivery.attempts += 1
        handler = webhook_handlers.handler_for(delivery.topic)
        if handler is None:
            logger.warning("no handler for webhook topic %s (delivery %s); stored as processed", delivery.topic, delivery.pk)
            _finish(delivery, WebhookDelivery.Status.PROCESSED, f"no handler for topic {delivery.topic}")
            return Outcome.NO_HANDLER
        shop = _resolve_shop(delivery)
        if shop is None:
            # Nothing of this shop is stored here: nothing to apply, report or erase.
            _finish(delivery, WebhookDelivery.Status.PROCESSED, f"unknown shop {delivery.shop_domain}; nothing to do")
            return Outcome.PROCESSED
        if shop.redacted_at is not None and not shop.is_installed and delivery.topic not in TOPICS_AFTER_REDACT:
            # A late retry for a shop whose data shop/redact erased: applying it would bring personal
            # data back. Erase its payload too.
            WebhookDelivery.objects.filter(pk=delivery.pk).update(payload="{}", redacted_at=timezone.now())
            _finish(delivery, WebhookDelivery.Status.REDACTED, "shop data was erased (shop/redact); not applied")
            return Outcome.SKIPPED

        payload: dict[str, Any] = json.loads(delivery.payload)  # Python's json: big ids stay exact ints
        try:
            with transaction.atomic():
                handler(
                    shop=shop, payload=payload, delivery=delivery, topic=delivery.topic,
                    triggered_at=delivery.triggered_at,
                )
        except Exception as exc:
            delivery.last_error = f"{type(exc).__name__}: {exc}"[:4000]
            if delivery.attempts >= MAX_ATTEMPTS:
                delivery.status = WebhookDelivery.Status.FAILED
                delivery.next_attempt_at = None
                delivery.save(update_fields=["shop", "status", "attempts", "next_attempt_at", "last_error"])
                logger.exception("webhook delivery %s (%s) failed for good after %d attempts",
                                 delivery.pk, delivery.topic, delivery.attempts)
                return Outcome.FAILED
            delay = _retry_delay(delivery.attempts)
            delivery.status = WebhookDelivery.Status.RETRYING
            delivery.next_attempt_at = timezone.now() + dt.timedelta(seconds=delay)
            # The sweeper treats the scheduled retry as this row's enqueue.
            delivery.enqueued_at = delivery.next_attempt_at
            delivery.save(update_fields=["shop", "status", "attempts", "next_attempt_at", "enqueued_at", "last_error"])
            logger.warning("webhook delivery %s (%s) failed (attempt %d); retry in %ds: %s",
                           delivery.pk, delivery.topic, delivery.attempts, delay, delivery.last_error)
            pk = delivery.pk
            transaction.on_commit(lambda: webhook_delivery_enqueue(pk, countdown=delay))
            return Outcome.RETRY
        _finish(delivery, WebhookDelivery.Status.PROCESSED)
        return Outcome.PROCESSED


# The table name comes from the model; every value is a query parameter.
_CLAIM_STALE = f"""
UPDATE {WebhookDelivery._meta.db_table} SET enqueued_at = %s
WHERE id IN (
    SELECT id FROM {WebhookDelivery._meta.db_table}
    WHERE processed_at IS NULL AND status IN ('received', 'retrying')
      AND (enqueued_at IS NULL OR enqueued_at <= %s)
    ORDER BY received_at
    LIMIT %s
    FOR UPDATE SKIP LOCKED
)
RETURNING id
"""  # noqa: S608


def webhook_inbox_sweep(*, batch: int = 500) -> list[int]:
    """Enqueue again the unprocessed rows whose last enqueue is older than sweep_after_seconds() (the
    broker was down, a worker died, a message was lost); rows being processed right now are locked and
    skipped. Returns the ids enqueued. Bounded per call; beat calls it every minute."""
    now = timezone.now()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(_CLAIM_STALE, [now, now - dt.timedelta(seconds=sweep_after_seconds()), batch])
            ids = [row[0] for row in cursor.fetchall()]
        for delivery_id in ids:
            transaction.on_commit(lambda delivery_id=delivery_id: webhook_delivery_enqueue(delivery_id))
    if ids:
        logger.warning("webhook sweeper re-enqueued %d stored deliveries", len(ids))
    return ids


def webhook_inbox_purge(*, batch: int = 5000) -> int:
    """Delete processed deliveries older than retention_days(), at most `batch` per call."""
    cutoff = timezone.now() - dt.timedelta(days=retention_days())
    # Failed rows too: they are visible for the retention period, then their personal data goes.
    old = Q(processed_at__lt=cutoff) | Q(status=WebhookDelivery.Status.FAILED, received_at__lt=cutoff)
    ids = list(WebhookDelivery.objects.filter(old).order_by("received_at").values_list("pk", flat=True)[:batch])
    if not ids:
        return 0
    deleted, _ = WebhookDelivery.objects.filter(pk__in=ids).delete()
    return deleted
