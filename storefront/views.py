"""App-proxy endpoints of the storefront widget (`https://{shop}/apps/loyalty/X` -> `/proxy/X`).

Every view is wrapped in `app_proxy_view`: the signature decides the shop, `logged_in_customer_id`
decides whose points are shown. Views parse, call one selector or service, and answer JSON.
"""
from __future__ import annotations

import json
import logging
import re

from django.core.cache import cache
from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from loyalty.models import Redemption
from loyalty.services import RedemptionRefused, redemption_create

from . import selectors
from .proxy_auth import app_proxy_view

log = logging.getLogger(__name__)

IDEMPOTENCY_KEY_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
# Redeem attempts per customer per minute: a stuck button or a script cannot hammer Shopify's API
# (each attempt may create a discount) or our ledger lock.
REDEEM_RATE_PER_MINUTE = 10


@require_GET
@app_proxy_view
def widget(request: HttpRequest) -> JsonResponse:
    """Everything the panel shows (one round trip when the customer opens it)."""
    return JsonResponse(selectors.widget_state(request.shop, request.customer_shopify_id))


@require_GET
@app_proxy_view
def balance(request: HttpRequest) -> JsonResponse:
    """Balance, pending points, tier and progress to the next tier (the launcher's badge)."""
    return JsonResponse(selectors.member_balance(request.shop, request.customer_shopify_id))


@require_GET
@app_proxy_view
def programme(request: HttpRequest) -> JsonResponse:
    """How the programme works: ways to earn, tiers, rewards (also for guests)."""
    return JsonResponse(selectors.programme_public(request.shop))


@require_GET
@app_proxy_view
def rewards(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"rewards": selectors.member_rewards(request.shop, request.customer_shopify_id)})


@require_GET
@app_proxy_view
def codes(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"codes": selectors.member_codes(request.shop, request.customer_shopify_id)})


@require_GET
@app_proxy_view
def history(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"history": selectors.member_history(request.shop, request.customer_shopify_id)})


def _answer(http_status: int, **body) -> JsonResponse:
    return JsonResponse({"ok": http_status < 400, **body}, status=http_status)


def _rate_limited(shop_id: int, customer_id: int) -> bool:
    key = f"storefront:redeem-rate:{shop_id}:{customer_id}"
    cache.add(key, 0, timeout=60)
    try:
        return cache.incr(key) > REDEEM_RATE_PER_MINUTE
    except ValueError:  # the key expired between add and incr: this is the first attempt of a new minute
        cache.set(key, 1, timeout=60)
        return False


@csrf_exempt  # no cookies reach us through the proxy; the proxy signature authenticates (see below)
@require_POST
@app_proxy_view
def redeem(request: HttpRequest) -> JsonResponse:
    """Turn points into a reward. Body: `{"reward_id": 1, "idempotency_key": "<uuid from the client>"}`,
    plus `"cart_subtotal": "84.50", "cart_currency": "EUR"` (from the shop's /cart.js) for a reward whose
    row says `needs_cart`: a capped percentage is then issued as a fixed amount of that cart's subtotal
    (loyalty.services.redemption.capped_percentage_amount).

    The same key twice (a double click, a retry after a lost answer) returns the first redemption; the
    key is scoped to the customer so two customers' keys never meet. Only `application/json` is
    accepted: the shop's cookies identify the customer to Shopify's proxy, and a cross-site HTML form
    cannot send that content type (a cross-site fetch with it needs a CORS preflight nobody answers).
    """
    if request.content_type != "application/json":
        return _answer(415, error="json_required", message=_("Please try again from the shop's page."))
    customer_id = request.customer_shopify_id
    if customer_id is None:
        return _answer(401, error="login_required", message=_("Log in to redeem your points."))
    try:
        body = json.loads(request.body or b"{}")
        reward_id = int(body.get("reward_id"))
        key = str(body.get("idempotency_key") or "")
        cart_subtotal = body.get("cart_subtotal")
        cart_subtotal = str(cart_subtotal)[:32] if isinstance(cart_subtotal, (str, int)) else None
        cart_currency = str(body.get("cart_currency") or "")[:3]
    except (ValueError, TypeError, AttributeError):
        return _answer(400, error="bad_request", message=_("Something went wrong. Please reload the page."))
    if not IDEMPOTENCY_KEY_RE.match(key):
        return _answer(400, error="bad_request", message=_("Something went wrong. Please reload the page."))
    if _rate_limited(request.shop.pk, customer_id):
        return _answer(429, error="rate_limited", message=_("Too many attempts. Please wait a minute."))
    try:
        redemption = redemption_create(shop=request.shop, customer_shopify_id=customer_id, reward_id=reward_id,
                                       idempotency_key=f"proxy:{customer_id}:{key}",
                                       cart_subtotal=cart_subtotal, cart_currency=cart_currency)
    except RedemptionRefused as exc:
        return _answer(409, error="refused", message=exc.message,
                       balance=selectors.member_balance(request.shop, customer_id))
    return _redeem_answer(request, redemption)


def _redeem_answer(request: HttpRequest, redemption: Redemption) -> JsonResponse:
    shop, customer_id = request.shop, request.customer_shopify_id
    status = redemption.status
    if status in (Redemption.Status.ISSUED, Redemption.Status.USED):
        if status == Redemption.Status.ISSUED:
            from loyalty.services.emails import member_email_reward_ready

            member_email_reward_ready(shop=shop, redemption=redemption)
        return _answer(200, status=status, code=selectors.redemption_row(redemption),
                       message=_("Your code is ready. Apply it to your cart with one click."),
                       balance=selectors.member_balance(shop, customer_id))
    if status == Redemption.Status.RESERVED:
        # The first request with this key is still talking to Shopify: the client asks again shortly.
        return _answer(202, status=status, message=_("Your reward is being prepared…"))
    if status == Redemption.Status.FAILED:
        # shopify_check_pending: Shopify gave no answer (down, timed out); otherwise it refused.
        message = (_("We could not reach the shop just now. Your points are back; please try again in a minute.")
                   if redemption.shopify_check_pending
                   else _("The shop could not create this reward right now. Your points are back."))
        log.info("redemption %s of %s failed: %s", redemption.pk, shop.domain, redemption.error)
        return _answer(502 if redemption.shopify_check_pending else 409, status=status, error="not_issued",
                       message=message, balance=selectors.member_balance(shop, customer_id))
    return _answer(409, status=status, error="not_issued", message=_("This reward is no longer available."))
