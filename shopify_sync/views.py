"""POST /webhooks: verify, store, acknowledge. Processing happens in shopify_sync.tasks.process_webhook."""
from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.views.decorators.csrf import csrf_exempt

from shops.models import SHOP_DOMAIN_RE

from .services import inbox
from .signing import webhook_hmac_valid

logger = logging.getLogger(__name__)

# Django's DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB) would refuse a big order's payload and Shopify would retry
# it into oblivion; the body is read directly, up to this much.
MAX_BODY_BYTES = 20 * 1024 * 1024


def _header(request: HttpRequest, name: str) -> str:
    # Classic webhooks send X-Shopify-*; Shopify's newer "events" deliveries send the unprefixed names.
    return (request.headers.get(f"X-Shopify-{name}") or request.headers.get(f"Shopify-{name}") or "").strip()


@csrf_exempt
def webhook_receive(request: HttpRequest, topic: str | None = None) -> HttpResponse:
    # `topic` from a per-topic URI (shopify.app.toml) is informational: the signed delivery's header decides.
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_BODY_BYTES:
        return HttpResponse(status=413)
    body = request.read(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        return HttpResponse(status=413)
    # Signature first: an unauthenticated caller learns nothing else about the endpoint.
    if not webhook_hmac_valid(body, _header(request, "Hmac-Sha256")):
        logger.warning("webhook with an invalid HMAC refused (topic %r)", _header(request, "Topic"))
        return HttpResponse(status=401)

    header_topic = _header(request, "Topic")
    shop_domain = _header(request, "Shop-Domain").lower()
    webhook_id = _header(request, "Webhook-Id")
    if not header_topic or not shop_domain or not webhook_id:
        return HttpResponse("missing X-Shopify-Topic, X-Shopify-Shop-Domain or X-Shopify-Webhook-Id", status=400)
    if not SHOP_DOMAIN_RE.match(shop_domain) or len(header_topic) > 128 or len(webhook_id) > 255:
        return HttpResponse("bad shop domain, topic or webhook id", status=400)

    inbox.webhook_delivery_store(
        shop_domain=shop_domain,
        topic=header_topic,
        webhook_id=webhook_id,
        event_id=_header(request, "Event-Id")[:255],
        api_version=_header(request, "API-Version")[:32],
        triggered_at=inbox.parse_triggered_at(_header(request, "Triggered-At")),
        body=body,
    )
    return HttpResponse(status=200)
