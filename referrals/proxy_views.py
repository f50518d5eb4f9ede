"""Storefront pages of the referral programme, served through the app proxy (shop domain):

- `/apps/loyalty/r/CODE`  → `/proxy/r/CODE`: the friend's landing. GET shows the offer in the shop's
  language and counts the click; POST (the friend's e-mail) issues the friend's code and sends the browser
  to Shopify's `/discount/CODE` redirect, which puts the code on the cart (one click). With
  `Accept: application/json` it answers JSON instead (the widget's "have a code?" field).
- `/apps/loyalty/referrals/` → the customer's referral page: their link with copy and share buttons,
  both rewards in plain words and their referrals with status; guests can type a code.
- `/apps/loyalty/referrals/me` → the same as JSON for the storefront widget.
- `/apps/loyalty/referrals/go?code=X` → the landing of a typed code.

Every view is wrapped in storefront's `app_proxy_view` (signature verified; `logged_in_customer_id`
trusted only after it). Cookies never pass the proxy, so POSTs are csrf-exempt: the signature is the
authentication, and the worst a forged POST can do is ask for a code for an e-mail address (which the
per-link daily limit and the one-code-per-friend rule bound).
"""
from __future__ import annotations

from urllib.parse import quote

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from shops.middleware import pick_language
from shops.shopify_urls import shop_url
from storefront.proxy_auth import app_proxy_view

from . import selectors, services
from .codes import referral_code_clean
from .identity import keyed_hash
from .models import Referral, ReferralProgramme
from .services.emails import offer_text, referrer_reward_text
from .services.links import referral_code_active, shop_language

LIQUID = "application/liquid; charset=utf-8"
CUSTOMER_STATUS = {  # what a referrer sees: a review is not an accusation
    Referral.Status.FLAGGED: Referral.Status.PENDING,
}


def _prefix(request: HttpRequest) -> str:
    prefix = request.GET.get("path_prefix") or settings.SHOPIFY_APP_PROXY_PREFIX
    return prefix if prefix.startswith("/") and "//" not in prefix else settings.SHOPIFY_APP_PROXY_PREFIX


def share_link(request: HttpRequest, code: str) -> str:
    """The referral link on the shop's own domain, through the app proxy."""
    return shop_url(request.shop.domain, f"{_prefix(request)}/r/{quote(code)}")


def _visitor(request: HttpRequest) -> str:
    # Shopify's proxy passes the shopper's address in X-Forwarded-For; only a keyed hash is kept.
    ip = (request.META.get("HTTP_X_FORWARDED_FOR") or request.META.get("REMOTE_ADDR") or "").split(",")[0].strip()
    return keyed_hash(request.shop.pk, "visitor", f"{ip}|{request.META.get('HTTP_USER_AGENT', '')[:200]}")


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _page(request: HttpRequest, template: str, context: dict, status: int = 200) -> HttpResponse:
    body = render_to_string(template, context, request=request)
    return HttpResponse(body, content_type=LIQUID, status=status)


@csrf_exempt
@require_http_methods(["GET", "POST"])
@app_proxy_view
def landing(request: HttpRequest, code: str) -> HttpResponse:
    shop = request.shop
    programme = services.programme_get(shop)
    language = shop_language(shop)
    clean = referral_code_clean(code)
    referral_code = referral_code_active(shop, clean) if programme.enabled else None
    with translation.override(language):
        context = {"shop_name": shop.name or shop.domain, "language": language, "code": clean, "error": "",
                   "offer": offer_text(shop, programme), "valid": referral_code is not None,
                   "own_link": referral_code is not None and referral_code.customer_shopify_id == request.customer_shopify_id}
        if referral_code is None:
            if _wants_json(request):
                return JsonResponse({"ok": False, "error": _("This referral link is not valid.")}, status=404)
            return _page(request, "referrals/proxy/landing.html", context, status=404)
        if request.method == "GET":
            if not context["own_link"]:
                services.click_record(shop=shop, referral_code=referral_code, visitor=_visitor(request))
            return _page(request, "referrals/proxy/landing.html", context)
        email = (request.POST.get("email") or "").strip()[:255]
        if not email and request.customer_shopify_id:
            from commerce.models import Customer

            email = Customer.objects.filter(shop=shop, shopify_id=request.customer_shopify_id).values_list(
                "email", flat=True).first() or ""
        try:
            referral = services.friend_code_issue(
                shop=shop, code=clean, email=email, customer_shopify_id=request.customer_shopify_id,
                first_name=(request.POST.get("first_name") or "").strip()[:100], language=language,
                visitor=_visitor(request),
            )
        except services.ReferralError as exc:
            if _wants_json(request):
                return JsonResponse({"ok": False, "error": exc.message, "reason": exc.code}, status=400)
            return _page(request, "referrals/proxy/landing.html", {**context, "error": exc.message, "email": email})
    if referral.friend_code_state != Referral.CodeState.ISSUED:
        # The friend already ordered through the link alone: there is no code to apply.
        message = _("You have already placed your first order with this invitation.")
        if _wants_json(request):
            return JsonResponse({"ok": False, "error": message, "reason": "already_ordered"}, status=409)
        return _page(request, "referrals/proxy/landing.html", {**context, "error": message})
    # Shopify's /discount/CODE puts the code on the cart and then redirects; `ref` marks the visit.
    apply_url = shop_url(shop.domain, f"/discount/{quote(referral.friend_code)}?redirect=/%3Fref%3D{quote(clean)}")
    if _wants_json(request):
        return JsonResponse({"ok": True, "code": referral.friend_code, "apply_url": apply_url})
    return HttpResponseRedirect(apply_url)


@require_GET
@app_proxy_view
def go(request: HttpRequest) -> HttpResponse:
    """A code typed by a friend: to its landing (unknown codes land on the 'not valid' page)."""
    code = referral_code_clean(request.GET.get("code")) or "-"
    return HttpResponseRedirect(share_link(request, code))


def _state(request: HttpRequest) -> dict:
    shop, customer = request.shop, request.customer_shopify_id
    programme = services.programme_get(shop)
    state = {"enabled": programme.enabled, "logged_in": customer is not None,
             "friend_offer": offer_text(shop, programme), "referrer_reward": referrer_reward_text(shop, programme),
             "holding_days": programme.holding_days, "link": "", "code": "", "referrals": [], "message": ""}
    if not programme.enabled or customer is None:
        return state
    try:
        referral_code = services.referral_code_for_customer(shop=shop, customer_shopify_id=customer)
    except services.ReferralRefused as exc:
        state["message"] = exc.message
        return state
    rows = selectors.customer_referrals(shop, customer)
    labels = dict(Referral.Status.choices)
    for row in rows:
        shown = CUSTOMER_STATUS.get(row["status"], row["status"])
        row["status"], row["status_label"] = shown, str(labels[shown])
    state.update(link=share_link(request, referral_code.code), code=referral_code.code, referrals=rows)
    return state


def _storefront_language(request: HttpRequest) -> str:
    """The storefront's language (the widget passes `locale`, the storefront's), else the shop's."""
    return pick_language(request.GET.get("locale")) or shop_language(request.shop)


@require_GET
@app_proxy_view
def me(request: HttpRequest) -> JsonResponse:
    """The widget's state in the storefront's language, with the text to share the link with."""
    with translation.override(_storefront_language(request)):
        state = _state(request)
        state["share_text"] = _("%(offer)s at %(shop)s with my link:") % {
            "offer": state["friend_offer"], "shop": request.shop.name or request.shop.domain}
        return JsonResponse(state)


@require_GET
@app_proxy_view
def account(request: HttpRequest) -> HttpResponse:
    language = shop_language(request.shop)
    with translation.override(language):
        state = _state(request)
        share_text = _("%(offer)s at %(shop)s with my link:") % {"offer": state["friend_offer"], "shop": request.shop.name or request.shop.domain}
        return _page(request, "referrals/proxy/account.html", {
            **state, "shop_name": request.shop.name or request.shop.domain, "language": language,
            "share_text": share_text, "go_url": shop_url(request.shop.domain, f"{_prefix(request)}/referrals/go"),
            "Kind": ReferralProgramme.ReferrerRewardKind,
        })
