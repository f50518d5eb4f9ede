"""Install, OAuth callback, session-token bounce page and the app entry `/`. Thin: verify, call a service,
render. The shop always comes from something verified: the request HMAC or a session token."""
from __future__ import annotations

import importlib
import logging
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_GET

from . import services
from .embedded import embedded_headers_apply, embedded_view
from .models import Shop
from .request_signing import InvalidShopDomain, InvalidShopifyRequest, admin_request_verify, shop_domain_clean
from .shopify_urls import admin_app_url
from .token_endpoint import TokenEndpointError

logger = logging.getLogger(__name__)


def _error(request: HttpRequest, message: str, *, status: int = 400) -> HttpResponse:
    return render(request, "shops/auth_error.html", {"message": message}, status=status)


def _loaded_in_iframe(request: HttpRequest) -> bool:
    # Shopify adds embedded=1 when the admin loads the app in its iframe; browsers also say so.
    return request.GET.get("embedded") == "1" or request.headers.get("Sec-Fetch-Dest") == "iframe"


def _redirect_to_authorize(request: HttpRequest, shop_domain: str) -> HttpResponse:
    authorize_url = services.oauth_begin(shop_domain=shop_domain)
    if not _loaded_in_iframe(request):
        return HttpResponseRedirect(authorize_url)
    # Shopify's consent page refuses to be framed: leave the admin iframe with App Bridge
    # (`open(url, '_top')`), falling back to window.top when App Bridge is unavailable.
    response = render(request, "shops/oauth_breakout.html", {"authorize_url": authorize_url})
    return embedded_headers_apply(response, shop_domain)


@require_GET
def auth_install(request: HttpRequest) -> HttpResponse:
    """`GET /auth/install?shop&timestamp&hmac...`: start the authorization-code grant."""
    try:
        shop_domain = admin_request_verify(request.GET)
    except InvalidShopifyRequest as exc:
        return _error(request, str(exc))
    return _redirect_to_authorize(request, shop_domain)


@require_GET
def auth_callback(request: HttpRequest) -> HttpResponse:
    """`GET /auth/callback?code&hmac&shop&state&timestamp...`: finish the install, enter the app."""
    try:
        shop_domain = admin_request_verify(request.GET)
        shop = services.shop_install_from_code(
            shop_domain=shop_domain, code=request.GET.get("code", ""), state=request.GET.get("state", "")
        )
    except (InvalidShopifyRequest, services.InvalidOAuthState) as exc:
        return _error(request, str(exc))
    except TokenEndpointError as exc:
        logger.warning("authorization code exchange failed: %s", exc.code)
        if exc.transient:
            return _error(request, "Shopify could not be reached. Start the install again in a moment.", status=502)
        return _error(request, "Shopify refused the authorization code. Start the install again.", status=400)
    except (services.ShopTokenError, services.ShopSetupError) as exc:
        logger.exception("setup after OAuth failed")
        return _error(request, f"The app was authorised but its setup failed ({exc}). Open it from your Shopify admin to retry.", status=502)
    return HttpResponseRedirect(admin_app_url(shop.domain))


@require_GET
def session_token_bounce(request: HttpRequest) -> HttpResponse:
    """The page App Bridge uses to fetch a fresh session token, then reload `shopify-reload`."""
    reload_target = request.GET.get("shopify-reload", "")
    try:
        shop_domain = shop_domain_clean(request.GET.get("shop"))
    except InvalidShopDomain as exc:
        return _error(request, str(exc))
    # Only a path on this app: never let the parameter send App Bridge to another site.
    if not reload_target.startswith("/") or reload_target.startswith("//") or "\\" in reload_target:
        return _error(request, "The shopify-reload parameter must be a path of this app.")
    response = render(request, "shops/session_token_bounce.html")
    return embedded_headers_apply(response, shop_domain)


def _reports_home() -> Callable[..., HttpResponse] | None:
    """`reports.views.home` when the reports app provides it (the lead writes it), else None."""
    try:
        module = importlib.import_module("reports.views")
    except ModuleNotFoundError as exc:
        if exc.name != "reports.views":
            raise  # a real import error inside reports.views must not be hidden
        return None
    return getattr(module, "home", None)


def embedded_home(request: HttpRequest) -> HttpResponse:
    home = _reports_home()
    if home is not None:
        return home(request)  # authenticates the session token itself (@embedded_view)
    return _fallback_home(request)


@embedded_view
def _fallback_home(request: HttpRequest) -> HttpResponse:
    return render(request, "shops/home.html", {"shop": request.shop})


@require_GET
def app_entry(request: HttpRequest) -> HttpResponse:
    """`GET /`, Shopify's application_url.

    Embedded (inside the admin): session token, token exchange if needed, then the home page.
    Top-level with `shop` (install link, app opened outside the admin): HMAC-verified; an installed shop
    is sent into the admin, any other starts OAuth.
    """
    if request.GET.get("embedded") == "1" or "id_token" in request.GET:
        return embedded_home(request)
    if "shop" not in request.GET:
        return render(request, "shops/landing.html")
    try:
        shop_domain = admin_request_verify(request.GET)
    except InvalidShopifyRequest as exc:
        return _error(request, str(exc))
    shop = Shop.objects.filter(domain=shop_domain).first()
    if shop is not None and shop.is_installed and shop.access_token_encrypted:
        return HttpResponseRedirect(admin_app_url(shop_domain))
    return _redirect_to_authorize(request, shop_domain)
