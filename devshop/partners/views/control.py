"""`/_devshop/...` control API of the partners side, for tests and the demo (localhost tool, no auth).

All bodies are JSON. Errors are `{"error": "..."}` with a 4xx status.
"""
from __future__ import annotations

import json
from functools import wraps
from pathlib import Path

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from .. import payloads
from ..models import Installation, StaffMember, WebhookDelivery, WebhookFault
from ..services import (
    AppConfigError,
    app_register_from_toml,
    app_uninstall,
    compliance_emit,
    staff_member_create,
    webhook_emit,
    webhook_fault_add,
)
from ..services.webhooks import shop_redact_send
from ..session_tokens import session_token_mint
from .common import active_installation, get_app, get_shop


class BadRequest(Exception):
    pass


def json_view(view):
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        try:
            body = json.loads(request.body or b"{}") if request.method in ("POST", "PUT", "DELETE") else {}
            if not isinstance(body, dict):
                raise BadRequest("the body must be a JSON object")
            return view(request, body, *args, **kwargs)
        except (BadRequest, ValueError) as exc:
            return JsonResponse({"error": str(exc)}, status=400)
        except Http404 as exc:
            return JsonResponse({"error": str(exc)}, status=404)

    return csrf_exempt(wrapper)


def health(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


@require_POST
@json_view
def register_app(request, body):
    """{"toml_path", "client_secret", "application_url"?}: the same as `python -m devshop register_app`."""
    try:
        app = app_register_from_toml(
            toml_path=Path(body["toml_path"]),
            client_secret=body["client_secret"],
            application_url=body.get("application_url"),
        )
    except KeyError as exc:
        raise BadRequest(f"missing {exc.args[0]}") from exc
    except (AppConfigError, OSError) as exc:
        raise BadRequest(str(exc)) from exc
    return JsonResponse(_app_json(app), status=201)


def _app_json(app) -> dict:
    return {
        "client_id": app.client_id,
        "name": app.name,
        "application_url": app.application_url,
        "redirect_urls": app.redirect_urls,
        "scopes": app.scopes,
        "embedded": app.embedded,
        "app_proxy": {"prefix": app.proxy_prefix, "subpath": app.proxy_subpath, "url": app.proxy_url},
        "webhooks": {
            "api_version": app.webhooks_api_version,
            "subscriptions": app.toml_subscriptions,
            "compliance": app.compliance_uris,
        },
    }


@require_POST
@json_view
def create_staff(request, body, shop_domain):
    """{"email", "password", "first_name"?, "last_name"?, "locale"?, "account_owner"?}"""
    shop = get_shop(shop_domain)
    if not body.get("email") or not body.get("password"):
        raise BadRequest("email and password are required")
    staff = staff_member_create(
        shop=shop,
        email=body["email"],
        password=body["password"],
        first_name=body.get("first_name", ""),
        last_name=body.get("last_name", ""),
        locale=body.get("locale", "en"),
        account_owner=bool(body.get("account_owner", False)),
    )
    return JsonResponse({"id": staff.user_id, "email": staff.email, "shop": shop.domain}, status=201)


@require_POST
@json_view
def mint_session_token(request, body, shop_domain, client_id):
    """{"email"?}: a session token as App Bridge would get it (default: the account owner)."""
    shop = get_shop(shop_domain)
    app = get_app(client_id)
    staff = StaffMember.objects.filter(shop=shop).select_related("shop").order_by("-account_owner", "pk")
    if body.get("email"):
        staff = staff.filter(email__iexact=body["email"])
    member = staff.first()
    if member is None:
        raise BadRequest("no such staff member on this shop")
    return JsonResponse({"token": session_token_mint(staff_member=member, app=app)})


@require_POST
@json_view
def uninstall_app(request, body, shop_domain, client_id):
    shop = get_shop(shop_domain)
    installation = active_installation(shop, get_app(client_id))
    if installation is None:
        raise BadRequest("the app is not installed on this shop")
    app_uninstall(installation=installation)
    return JsonResponse({"uninstalled": True})


def _customer(shop, body):
    from devshop.store.models import Customer

    customer_id = body.get("customer_id")
    if customer_id is None:
        raise BadRequest("customer_id is required")
    customer = Customer.objects.filter(shop=shop, pk=int(str(customer_id).rsplit("/", 1)[-1])).first()
    if customer is None:
        raise BadRequest(f"no customer {customer_id} on {shop.domain}")
    return customer


@require_POST
@json_view
def compliance(request, body, shop_domain, client_id, topic):
    """Send a compliance webhook now: `customers/data_request` {"customer_id", "data_request_id"?},
    `customers/redact` {"customer_id"}, `shop/redact` {} (Shopify waits 48 h after uninstall)."""
    shop = get_shop(shop_domain)
    app = get_app(client_id)
    topic = topic.replace("__", "/")
    if topic == "customers/data_request":
        payload = payloads.customers_data_request(shop=shop, customer=_customer(shop, body),
                                                  data_request_id=int(body.get("data_request_id", 9999)))
    elif topic == "customers/redact":
        payload = payloads.customers_redact(shop=shop, customer=_customer(shop, body))
    elif topic == "shop/redact":
        installation = Installation.objects.filter(shop=shop, app=app, uninstalled_at__isnull=False).first()
        if installation is not None:  # the scheduled one, sent now instead of 48 h after uninstall
            delivery = shop_redact_send(installation=installation)
            if delivery is None:
                raise BadRequest("shop/redact was already sent for this uninstall")
            return JsonResponse(_delivery_json(delivery), status=201)
        payload = payloads.shop_redact(shop=shop)
    else:
        raise BadRequest(f"{topic} is not a compliance topic")
    delivery = compliance_emit(shop=shop, app=app, topic=topic, payload=payload)
    return JsonResponse(_delivery_json(delivery), status=201)


@require_POST
@json_view
def emit(request, body, shop_domain):
    """{"topic", "payload", "client_id"?}: emit any webhook with a given REST payload."""
    shop = get_shop(shop_domain)
    if not body.get("topic") or not isinstance(body.get("payload"), dict):
        raise BadRequest("topic and payload (an object) are required")
    app = get_app(body["client_id"]) if body.get("client_id") else None
    webhook_emit(shop=shop, topic=body["topic"], payload=body["payload"], app=app)
    return JsonResponse({"queued": True}, status=202)


@require_http_methods(["GET", "POST", "DELETE"])
@json_view
def faults(request, body, shop_domain):
    """POST {"topic" ("*" = all), "kind": drop|duplicate|delay|reorder, "count", "delay_seconds"}.
    drop: the next `count` deliveries are never sent (status "dropped").
    duplicate: the next `count` deliveries are sent twice (same event id, new webhook id; the twin
      after `delay_seconds`).
    delay: the next `count` deliveries wait `delay_seconds` first, so later ones overtake them.
    reorder: the next `count` deliveries are held, then released newest first.
    GET lists pending faults; DELETE clears them."""
    shop = get_shop(shop_domain)
    if request.method == "POST":
        try:
            fault = webhook_fault_add(shop=shop, topic=body.get("topic", "*"), kind=body.get("kind", ""),
                                      count=int(body.get("count", 1)),
                                      delay_seconds=float(body.get("delay_seconds", 0)))
        except ValueError as exc:
            raise BadRequest(str(exc)) from exc
        return JsonResponse(_fault_json(fault), status=201)
    if request.method == "DELETE":
        WebhookFault.objects.filter(shop=shop).delete()
        return JsonResponse({"cleared": True})
    rows = WebhookFault.objects.filter(shop=shop, remaining__gt=0).order_by("pk")
    return JsonResponse({"faults": [_fault_json(f) for f in rows]})


def _fault_json(fault) -> dict:
    return {"id": fault.pk, "topic": fault.topic, "kind": fault.kind, "remaining": fault.remaining,
            "delay_seconds": fault.delay_seconds}


def _delivery_json(d: WebhookDelivery, with_payload: bool = False) -> dict:
    data = {
        "id": d.pk,
        "app": d.app.client_id,
        "topic": d.topic,
        "uri": d.uri,
        "webhook_id": str(d.webhook_id),
        "event_id": str(d.event_id),
        "api_version": d.api_version,
        "triggered_at": d.triggered_at.isoformat(),
        "status": d.status,
        "attempts": d.attempts,
        "next_attempt_at": d.next_attempt_at.isoformat() if d.next_attempt_at else None,
        "last_response_code": d.last_response_code,
        "fault": d.fault,
        "attempt_log": [
            {"number": a.number, "at": a.attempted_at.isoformat(), "response_code": a.response_code,
             "error": a.error, "duration_ms": a.duration_ms}
            for a in sorted(d.attempt_log.all(), key=lambda a: a.number)
        ],
    }
    if with_payload:
        data["payload"] = json.loads(bytes(d.payload))
    return data


@require_GET
def deliveries(request: HttpRequest, shop_domain: str) -> HttpResponse:
    """The delivery log, oldest first. Filters: ?topic=&status=&app=&since_id=; &payload=1 adds bodies."""
    shop = get_shop(shop_domain)
    rows = WebhookDelivery.objects.filter(shop=shop).select_related("app").prefetch_related("attempt_log")
    if request.GET.get("topic"):
        rows = rows.filter(topic=request.GET["topic"])
    if request.GET.get("status"):
        rows = rows.filter(status=request.GET["status"])
    if request.GET.get("app"):
        rows = rows.filter(app__client_id=request.GET["app"])
    if request.GET.get("since_id"):
        rows = rows.filter(pk__gt=int(request.GET["since_id"]))
    with_payload = request.GET.get("payload") == "1"
    return JsonResponse({"deliveries": [_delivery_json(d, with_payload) for d in rows.order_by("pk")]})
