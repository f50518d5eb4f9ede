"""Webhook subscriptions, emission and fault injection.

`webhook_emit` only queues rows (in the caller's transaction): the delivery worker
(devshop/partners/delivery.py) sends them after commit, signs them and retries failures.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import re
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.db import transaction
from django.utils import timezone

from ..models import App, Installation, WebhookDelivery, WebhookFault, WebhookSubscription

log = logging.getLogger(__name__)

# Topics whose payloads carry protected customer data need the matching read scope.
TOPIC_SCOPES = {"orders": "read_orders", "refunds": "read_orders", "customers": "read_customers"}
REORDER_STAGGER = dt.timedelta(milliseconds=300)


@dataclass
class UserError:
    field: list[str]
    message: str


# --- subscriptions -------------------------------------------------------------------------------


def _uri_error(uri: str) -> str | None:
    if not uri:
        return "Address can't be blank"
    if uri.startswith("pubsub://") or uri.startswith("arn:aws:events:"):
        return "devshop delivers over HTTP(S) only: Pub/Sub and EventBridge addresses are not supported"
    parts = urlsplit(uri)
    # Shopify requires https; devshop also accepts http because test receivers listen on loopback.
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return "Address is invalid"
    if parts.hostname.endswith(".myshopify.com") or parts.hostname.endswith("shopify.com"):
        return "Address cannot be a Shopify or an internal domain"
    return None


def webhook_subscription_create(
    *,
    installation: Installation,
    topic: str,
    uri: str,
    format: str = "json",
    include_fields: list[str] | None = None,
    filter: str = "",
    uri_field: str = "uri",
) -> tuple[WebhookSubscription | None, list[UserError]]:
    """Create an API subscription. Errors come back as Shopify userErrors, never exceptions."""
    field = ["webhookSubscription", uri_field]
    error = _uri_error(uri)
    if error:
        return None, [UserError(field, error)]
    if format.lower() != "json":
        return None, [UserError(["webhookSubscription", "format"], "devshop sends JSON webhooks only")]
    needed = TOPIC_SCOPES.get(topic.split("/", 1)[0])
    if needed and needed not in installation.scopes:
        return None, [UserError(["topic"], f"The {topic} topic requires the {needed} access scope")]
    with transaction.atomic():
        exists = WebhookSubscription.objects.select_for_update().filter(
            installation=installation, topic=topic, uri=uri, source=WebhookSubscription.SOURCE_API
        )
        if exists.exists():
            return None, [UserError(field, "Address for this topic has already been taken")]
        sub = WebhookSubscription.objects.create(
            installation=installation,
            topic=topic,
            uri=uri,
            format="json",
            include_fields=list(include_fields or []),
            filter=filter or "",
            source=WebhookSubscription.SOURCE_API,
        )
    return sub, []


def webhook_subscription_delete(*, installation: Installation, subscription_id: int) -> list[UserError]:
    deleted, _ = WebhookSubscription.objects.filter(
        installation=installation, pk=subscription_id, source=WebhookSubscription.SOURCE_API
    ).delete()
    if not deleted:
        return [UserError(["id"], "Webhook subscription does not exist")]
    return []


def toml_subscriptions_sync(*, installation: Installation) -> None:
    """Make the installation's toml subscriptions equal the app's deployed config."""
    wanted = {
        (s["topic"], s["uri"]): s
        for s in installation.app.toml_subscriptions
    }
    current = {
        (s.topic, s.uri): s
        for s in installation.webhook_subscriptions.filter(source=WebhookSubscription.SOURCE_TOML)
    }
    for key, sub in current.items():
        if key not in wanted:
            sub.delete()
    for key, spec in wanted.items():
        sub = current.get(key) or WebhookSubscription(
            installation=installation, topic=spec["topic"], uri=spec["uri"], source=WebhookSubscription.SOURCE_TOML
        )
        sub.include_fields = spec.get("include_fields", [])
        sub.filter = spec.get("filter", "")
        sub.save()


# --- payload shaping -----------------------------------------------------------------------------


def _pick(value: Any, paths: list[list[str]]) -> Any:
    """Keep only the listed (dotted) fields, descending through lists of objects."""
    if isinstance(value, list):
        return [_pick(v, paths) for v in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key in value:
        subpaths = [p[1:] for p in paths if p[0] == key]
        if not subpaths:
            continue
        out[key] = value[key] if any(not p for p in subpaths) else _pick(value[key], [p for p in subpaths if p])
    return out


def apply_include_fields(payload: dict, include_fields: list[str]) -> dict:
    if not include_fields:
        return payload
    return _pick(payload, [f.split(".") for f in include_fields])


_TERM = re.compile(r"^(?P<field>[A-Za-z0-9_.]+):(?P<op><=|>=|<|>)?(?P<value>.*)$")


def _values_at(payload: Any, path: list[str]) -> list[Any]:
    if isinstance(payload, list):
        return [v for item in payload for v in _values_at(item, path)]
    if not path:
        return [payload]
    if isinstance(payload, dict) and path[0] in payload:
        return _values_at(payload[path[0]], path[1:])
    return []


def _term_matches(payload: dict, term: str) -> bool:
    negate = term.startswith("-") or term.upper().startswith("NOT ")
    term = term[1:] if term.startswith("-") else (term[4:] if negate else term)
    match = _TERM.match(term.strip())
    if not match:
        log.warning("webhook filter term %r is not understood by devshop; treating it as a match", term)
        return True
    field, op, raw = match["field"], match["op"], match["value"].strip().strip("'\"")
    found = False
    for value in _values_at(payload, field.split(".")):
        try:
            left, right = float(value), float(raw)
        except (TypeError, ValueError):
            left, right = str(value).lower(), raw.lower()
            if isinstance(value, bool):
                left = "true" if value else "false"
        if (
            (op is None and left == right)
            or (op == ">" and left > right)
            or (op == "<" and left < right)
            or (op == ">=" and left >= right)
            or (op == "<=" and left <= right)
        ):
            found = True
            break
    return found != negate


def filter_matches(payload: dict, query: str) -> bool:
    """A subset of Shopify's search syntax for webhook filters: `field:value`, `field:>n`,
    dotted paths into nested objects and lists, `AND` / `OR` (AND binds tighter), `-` negation."""
    if not query.strip():
        return True
    for alternative in re.split(r"\s+OR\s+", query.strip()):
        terms = [t for t in re.split(r"\s+AND\s+|\s+(?=\S+:)", alternative) if t.strip()]
        if all(_term_matches(payload, t) for t in terms):
            return True
    return False


def encode_payload(payload: dict) -> bytes:
    """Compact JSON like Shopify's bodies; ids stay exact integers (Python ints, never floats)."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False, default=str).encode()


# --- emission ------------------------------------------------------------------------------------


def _take_fault(*, shop, topic: str) -> WebhookFault | None:
    """The oldest pending fault for this topic, locked, with one use taken."""
    fault = (
        WebhookFault.objects.select_for_update()
        .filter(shop=shop, topic__in=[topic, "*"], remaining__gt=0)
        .order_by("created_at", "pk")
        .first()
    )
    if fault is not None:
        fault.remaining -= 1
        fault.save(update_fields=["remaining"])
    return fault


def _queue(*, shop, app: App, subscription: WebhookSubscription | None, topic: str, uri: str,
           body: bytes, event_id: uuid.UUID, triggered_at: dt.datetime) -> WebhookDelivery:
    return WebhookDelivery.objects.create(
        shop=shop,
        app=app,
        subscription=subscription,
        topic=topic,
        uri=uri,
        api_version=app.webhooks_api_version,
        payload=body,
        webhook_id=uuid.uuid4(),
        event_id=event_id,
        triggered_at=triggered_at,
        next_attempt_at=triggered_at,
    )


def _queue_with_faults(*, shop, app, subscription, topic, uri, body, event_id, triggered_at) -> None:
    fault = _take_fault(shop=shop, topic=topic)
    delivery = _queue(shop=shop, app=app, subscription=subscription, topic=topic, uri=uri, body=body,
                      event_id=event_id, triggered_at=triggered_at)
    if fault is None:
        return
    delivery.fault = fault.kind
    if fault.kind == WebhookFault.DROP:
        delivery.status, delivery.next_attempt_at = WebhookDelivery.DROPPED, None
    elif fault.kind == WebhookFault.DELAY:
        delivery.next_attempt_at = triggered_at + dt.timedelta(seconds=fault.delay_seconds)
    elif fault.kind == WebhookFault.DUPLICATE:
        # Same event, second webhook: what Shopify's at-least-once delivery does now and then.
        twin = _queue(shop=shop, app=app, subscription=subscription, topic=topic, uri=uri, body=body,
                      event_id=event_id, triggered_at=triggered_at)
        twin.fault = fault.kind
        twin.next_attempt_at = triggered_at + dt.timedelta(seconds=fault.delay_seconds)
        twin.save(update_fields=["fault", "next_attempt_at"])
    elif fault.kind == WebhookFault.REORDER:
        delivery.status, delivery.next_attempt_at = WebhookDelivery.HELD, None
    delivery.save(update_fields=["fault", "status", "next_attempt_at"])
    if fault.kind == WebhookFault.REORDER and fault.remaining == 0:
        held = WebhookDelivery.objects.filter(
            shop=shop, status=WebhookDelivery.HELD, fault=WebhookFault.REORDER, topic=delivery.topic
        ).order_by("-created_at", "-pk")
        now = timezone.now()
        for i, row in enumerate(held):  # newest first: the held batch arrives in reverse order
            row.status, row.next_attempt_at = WebhookDelivery.PENDING, now + i * REORDER_STAGGER
            row.save(update_fields=["status", "next_attempt_at"])


def webhook_emit(*, shop, topic: str, payload: dict, app: App | None = None) -> None:
    """Queue one delivery per subscription to `topic` among the shop's active installations
    (only `app`'s when given). Subscriptions' include_fields and filter apply. All deliveries of
    this call share one event id."""
    installations = Installation.objects.filter(shop=shop, uninstalled_at__isnull=True)
    if app is not None:
        installations = installations.filter(app=app)
    _emit(shop=shop, topic=topic, payload=payload, installations=list(installations))


def _emit(*, shop, topic: str, payload: dict, installations: list[Installation]) -> None:
    event_id = uuid.uuid4()
    triggered_at = timezone.now()
    with transaction.atomic():
        subs = WebhookSubscription.objects.filter(installation__in=installations, topic=topic).select_related(
            "installation__app"
        ).order_by("pk")
        for sub in subs:
            if sub.filter and not filter_matches(payload, sub.filter):
                continue
            body = encode_payload(apply_include_fields(payload, sub.include_fields))
            _queue_with_faults(shop=shop, app=sub.installation.app, subscription=sub, topic=topic, uri=sub.uri,
                               body=body, event_id=event_id, triggered_at=triggered_at)


def compliance_emit(*, shop, app: App, topic: str, payload: dict) -> WebhookDelivery:
    """Compliance webhooks go to the toml's compliance URIs, whether or not the app is installed
    (shop/redact arrives 48 h after uninstall). Raises ValueError if the app declares no URI."""
    uri = app.compliance_uris.get(topic)
    if not uri:
        raise ValueError(f"{app.client_id} declares no URI for the compliance topic {topic}")
    now = timezone.now()
    with transaction.atomic():
        delivery = _queue(shop=shop, app=app, subscription=None, topic=topic, uri=uri,
                          body=encode_payload(payload), event_id=uuid.uuid4(), triggered_at=now)
    return delivery


def shop_redact_send(*, installation: Installation) -> WebhookDelivery | None:
    """Send shop/redact for an uninstalled installation now (once). None if the app declares no
    shop/redact URI or it was sent already."""
    from ..payloads import shop_redact

    with transaction.atomic():
        row = Installation.objects.select_for_update().select_related("app", "shop").get(pk=installation.pk)
        if row.shop_redact_sent_at is not None or "shop/redact" not in row.app.compliance_uris:
            return None
        row.shop_redact_sent_at = timezone.now()
        row.save(update_fields=["shop_redact_sent_at"])
        return compliance_emit(shop=row.shop, app=row.app, topic="shop/redact", payload=shop_redact(shop=row.shop))


def shop_redacts_due() -> int:
    """Send every shop/redact whose 48 h have passed (called by the delivery worker)."""
    due = Installation.objects.filter(uninstalled_at__isnull=False, shop_redact_sent_at__isnull=True,
                                      shop_redact_due_at__lte=timezone.now())
    sent = 0
    for installation in due:
        if shop_redact_send(installation=installation) is not None:
            sent += 1
    return sent


def app_uninstall(*, installation: Installation) -> None:
    """The merchant removes the app: app/uninstalled goes out (the Shop resource), then tokens are
    revoked. Shopify sends shop/redact 48 h later; devshop sends it when the control API asks."""
    from ..payloads import shop_resource
    from .auth import installation_revoke

    with transaction.atomic():
        _emit(shop=installation.shop, topic="app/uninstalled", payload=shop_resource(installation.shop),
              installations=[installation])
        # The queued deliveries keep their URI and app; the subscriptions themselves go away.
        WebhookDelivery.objects.filter(subscription__installation=installation).update(subscription=None)
        installation_revoke(installation=installation)


def webhook_fault_add(*, shop, topic: str, kind: str, count: int = 1, delay_seconds: float = 0) -> WebhookFault:
    if kind not in dict(WebhookFault.KIND_CHOICES):
        raise ValueError(f"unknown fault kind {kind!r}; one of {[k for k, _ in WebhookFault.KIND_CHOICES]}")
    if count < 1:
        raise ValueError("count must be at least 1")
    return WebhookFault.objects.create(shop=shop, topic=topic, kind=kind, remaining=count,
                                       delay_seconds=delay_seconds)
