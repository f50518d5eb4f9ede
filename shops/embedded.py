"""Authentication of the embedded app's pages and fetches with App Bridge session tokens.

- `@embedded_view` (document loads inside the admin iframe): the token is the `id_token` query
  parameter. Failure -> 302 to the bounce page, where App Bridge fetches a fresh token and reloads.
- `@session_token_required` (fetch/XHR from an embedded page): `Authorization: Bearer <token>`.
  Failure -> 401 with `X-Shopify-Retry-Invalid-Session-Request: 1`, on which App Bridge retries.
Both set `request.shop` (an installed Shop, the one named by the token and nothing else) and
`request.session_claims`, installing the shop by token exchange when it has no usable offline token.
Class-based views use EmbeddedViewMixin / SessionTokenRequiredMixin.
"""
from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable
from urllib.parse import quote, urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.utils.decorators import method_decorator

from .models import Shop
from .request_signing import InvalidShopDomain, shop_domain_clean
from .session_tokens import InvalidSessionToken, SessionToken, bearer_token, session_token_decode
from .shopify_urls import REAL_BASE_URL
from .token_endpoint import TokenEndpointError

logger = logging.getLogger(__name__)

RETRY_HEADER = "X-Shopify-Retry-Invalid-Session-Request"
SHOPIFY_ADMIN_ORIGIN = "https://admin.shopify.com"

View = Callable[..., HttpResponse]


# --- Content-Security-Policy --------------------------------------------------------------------------


def frame_ancestors(shop_domain: str | None) -> list[str]:
    """Origins allowed to frame our embedded pages: the shop and the Shopify admin, plus the development
    store's origin when SHOPIFY_BASE_URL points at one (its admin frames the app from there)."""
    origins = []
    if shop_domain:
        origins.append(f"https://{shop_domain}")
    origins.append(SHOPIFY_ADMIN_ORIGIN)
    if settings.SHOPIFY_BASE_URL != REAL_BASE_URL:
        parts = urlsplit(settings.SHOPIFY_BASE_URL.format(shop=shop_domain or "shop.myshopify.com"))
        if parts.scheme and parts.netloc:
            origins.append(f"{parts.scheme}://{parts.netloc}")
    return list(dict.fromkeys(origins))


def embedded_headers_apply(response: HttpResponse, shop_domain: str | None) -> HttpResponse:
    """Let the admin frame this response: CSP frame-ancestors instead of X-Frame-Options DENY."""
    response.headers["Content-Security-Policy"] = "frame-ancestors " + " ".join(frame_ancestors(shop_domain)) + ";"
    response.xframe_options_exempt = True  # read by XFrameOptionsMiddleware
    return response


# --- Failure responses --------------------------------------------------------------------------------


def _query_without(raw_query: str, name: str) -> str:
    # On the raw query string, so every other parameter keeps its exact encoding (shopifyapp does the same).
    return re.sub(r"(?:^|&)" + re.escape(name) + r"=[^&]*", "", raw_query).lstrip("&")


def bounce_url(request: HttpRequest) -> str:
    """`/auth/session-token-bounce?<query minus id_token>&shopify-reload=<path?query minus id_token>`."""
    query = _query_without(request.META.get("QUERY_STRING", ""), "id_token")
    reload_target = request.path + (f"?{query}" if query else "")
    reload_param = "shopify-reload=" + quote(reload_target, safe="")
    return reverse("shops:session_token_bounce") + "?" + (f"{query}&{reload_param}" if query else reload_param)


def invalid_session_fetch_response(reason: str) -> JsonResponse:
    response = JsonResponse({"error": "invalid_session_token", "reason": reason}, status=401)
    response.headers[RETRY_HEADER] = "1"
    return response


def _page_failure(request: HttpRequest, reason: str) -> HttpResponse:
    logger.info("embedded load of %s bounced: %s", request.path, reason)
    # App Bridge on the bounce page needs to know which admin it is in (`shop`/`host` on the URL);
    # a bare request cannot have come from the Shopify admin, so there is nothing to bounce to.
    if not (request.GET.get("shop") or request.GET.get("host")):
        return HttpResponse(
            "Open this app from your Shopify admin.", status=400, content_type="text/plain; charset=utf-8"
        )
    return HttpResponseRedirect(bounce_url(request))


def _install_failure(reason: str, status: int) -> HttpResponse:
    return HttpResponse(reason, status=status, content_type="text/plain; charset=utf-8")


# --- Authentication -----------------------------------------------------------------------------------


class _Rejected(Exception):
    def __init__(self, reason: str, *, session: bool = True, status: int = 401) -> None:
        super().__init__(reason)
        self.session = session  # a session-token problem (bounce / retry) rather than a server one
        self.status = status


def _shop_for(session: SessionToken) -> Shop:
    from .services import ShopTokenMissing, shop_install_from_session_token

    try:
        return shop_install_from_session_token(session)
    except TokenEndpointError as exc:
        if exc.code == "invalid_subject_token":
            raise _Rejected("Shopify rejected the session token in token exchange") from exc
        logger.warning("token exchange for %s failed: %s", session.shop_domain, exc.code)
        status = 503 if exc.transient else 502
        raise _Rejected(
            "Could not get access to the shop from Shopify. Try again in a moment.", session=False, status=status
        ) from exc
    except ShopTokenMissing as exc:
        raise _Rejected(str(exc)) from exc


def _authenticate(request: HttpRequest, token: str | None) -> None:
    try:
        session = session_token_decode(token)
    except InvalidSessionToken as exc:
        raise _Rejected(f"invalid session token: {exc}") from exc
    claimed_shop = request.GET.get("shop")
    if claimed_shop:
        # The token decides the shop; a differing `shop` parameter is a forged or mixed-up request.
        try:
            if shop_domain_clean(claimed_shop) != session.shop_domain:
                raise _Rejected("the shop parameter does not match the session token")
        except InvalidShopDomain as exc:
            raise _Rejected(str(exc)) from exc
    request.shop = _shop_for(session)
    request.session_claims = session.claims


def embedded_view(view: View) -> View:
    """For document loads inside the admin: session token from `id_token`; bounce when it is bad.
    Adds the frame-ancestors CSP to every response (the bounce and error pages are framed too)."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            _authenticate(request, request.GET.get("id_token"))
        except _Rejected as exc:
            response = _page_failure(request, str(exc)) if exc.session else _install_failure(str(exc), exc.status)
            return embedded_headers_apply(response, _shop_param(request))
        response = view(request, *args, **kwargs)
        return embedded_headers_apply(response, request.shop.domain)

    return wrapped


def session_token_required(view: View) -> View:
    """For fetches from an embedded page: `Authorization: Bearer`; 401 + retry header when it is bad."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            _authenticate(request, bearer_token(request.headers.get("Authorization")))
        except _Rejected as exc:
            if exc.session:
                return invalid_session_fetch_response(str(exc))
            return JsonResponse({"error": "shop_unavailable", "reason": str(exc)}, status=exc.status)
        return view(request, *args, **kwargs)

    return wrapped


def _shop_param(request: HttpRequest) -> str | None:
    try:
        return shop_domain_clean(request.GET.get("shop"))
    except InvalidShopDomain:
        return None


class EmbeddedViewMixin:
    """Class-based-view form of @embedded_view."""

    @method_decorator(embedded_view)
    def dispatch(self, request, *args, **kwargs):
        return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]


class SessionTokenRequiredMixin:
    """Class-based-view form of @session_token_required."""

    @method_decorator(session_token_required)
    def dispatch(self, request, *args, **kwargs):
        return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
