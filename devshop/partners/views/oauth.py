"""`/admin/oauth/authorize`, `/admin/oauth/install` and `/admin/oauth/access_token`."""
from __future__ import annotations

import json
from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from .. import signing
from ..models import App
from ..services import (
    AppConfigError,
    OAuthError,
    authorization_code_issue,
    grant_authorization_code,
    grant_refresh_token,
    grant_token_exchange,
    installation_grant,
)
from ..services.apps import parse_scopes
from .common import active_installation, current_staff, get_shop, scope_in_words


def _login_redirect(request: HttpRequest, shop) -> HttpResponse:
    url = reverse("partners:admin_login", args=[shop.domain])
    return redirect(f"{url}?{urlencode({'next': request.get_full_path()})}")


def _oauth_error_page(request: HttpRequest, shop, error: str, description: str) -> HttpResponse:
    return render(
        request,
        "devshop/oauth_error.html",
        {"shop": shop, "error": error, "description": description},
        status=400,
    )


@require_http_methods(["GET", "POST"])
def authorize(request: HttpRequest, shop_domain: str) -> HttpResponse:
    """The grant screen. GET shows it (or redirects at once when nothing new is asked of an app
    that is already installed, as Shopify does); POST carries the merchant's decision."""
    shop = get_shop(shop_domain)
    staff = current_staff(request, shop)
    if staff is None:
        return _login_redirect(request, shop)
    params = request.POST if request.method == "POST" else request.GET
    client_id = params.get("client_id", "")
    app = App.objects.filter(client_id=client_id).first()
    if app is None:
        return _oauth_error_page(request, shop, "invalid_request",
                                 f"Could not find Shopify API application with api_key {client_id}")
    redirect_uri = params.get("redirect_uri", "") or (app.redirect_urls[0] if app.redirect_urls else "")
    if redirect_uri not in app.redirect_urls:
        return _oauth_error_page(request, shop, "invalid_request", "The redirect_uri is not whitelisted")
    try:
        scopes = parse_scopes(params["scope"]) if params.get("scope") else list(app.scopes)
    except AppConfigError as exc:
        return _oauth_error_page(request, shop, "invalid_scope", str(exc))
    per_user = "per-user" in params.getlist("grant_options[]")
    state = params.get("state", "")
    installation = active_installation(shop, app)

    decision = request.POST.get("decision") if request.method == "POST" else None
    already_granted = installation is not None and set(scopes) <= installation.scopes
    if decision == "deny":
        messages.info(request, f"You didn't install {app.name}.")
        return redirect("partners:admin_home", shop.domain)
    if decision != "approve" and not already_granted:
        return render(
            request,
            "devshop/authorize.html",
            {
                "shop": shop,
                "app": app,
                "staff": staff,
                "scopes": [(s, scope_in_words(s)) for s in scopes],
                "fields": {
                    "client_id": client_id,
                    "scope": ",".join(scopes),
                    "redirect_uri": redirect_uri,
                    "state": state,
                },
                "per_user": per_user,
                "reinstall": installation is not None,
            },
        )

    granted = list(dict.fromkeys((installation.granted_scopes if installation else []) + scopes))
    installation = installation_grant(shop=shop, app=app, scopes=granted)
    code = authorization_code_issue(
        installation=installation,
        scopes=installation.granted_scopes,
        redirect_uri=redirect_uri,
        staff_member=staff if per_user else None,
    )
    query = signing.signed_admin_query(
        {
            "code": code,
            "host": signing.host_param(shop.domain),
            "shop": shop.domain,
            "state": state,
            "timestamp": signing.timestamp(),
        },
        app.client_secret,
    )
    separator = "&" if "?" in redirect_uri else "?"
    return HttpResponseRedirect(f"{redirect_uri}{separator}{urlencode(query)}")


@require_http_methods(["GET", "POST"])
def install(request: HttpRequest, shop_domain: str) -> HttpResponse:
    """Installing from the admin (Shopify's `/oauth/install?client_id=`).

    Managed installation (toml scopes, the default): devshop shows the grant screen, installs,
    then opens the app in the admin, where the app gets its token by token exchange. With
    `use_legacy_install_flow = true` the browser goes to the app URL with `hmac`, `host`, `shop`
    and `timestamp`, and the app starts the authorization-code flow itself.
    """
    shop = get_shop(shop_domain)
    staff = current_staff(request, shop)
    if staff is None:
        return _login_redirect(request, shop)
    client_id = request.POST.get("client_id") or request.GET.get("client_id", "")
    app = App.objects.filter(client_id=client_id).first()
    if app is None:
        return _oauth_error_page(request, shop, "invalid_request",
                                 f"Could not find Shopify API application with api_key {client_id}")
    if active_installation(shop, app) is not None:
        return redirect("partners:app_frame", shop.domain, app.client_id)
    if app.use_legacy_install_flow:
        query = signing.signed_admin_query(
            {"host": signing.host_param(shop.domain), "shop": shop.domain, "timestamp": signing.timestamp()},
            app.client_secret,
        )
        return HttpResponseRedirect(f"{app.application_url}?{urlencode(query)}")
    if request.method == "POST":
        if request.POST.get("decision") != "approve":
            messages.info(request, f"You didn't install {app.name}.")
            return redirect("partners:admin_home", shop.domain)
        installation_grant(shop=shop, app=app, scopes=list(app.scopes))
        return redirect("partners:app_frame", shop.domain, app.client_id)
    return render(
        request,
        "devshop/authorize.html",
        {
            "shop": shop,
            "app": app,
            "staff": staff,
            "scopes": [(s, scope_in_words(s)) for s in app.scopes],
            "fields": {"client_id": app.client_id},
            "managed": True,
        },
    )


def _token_request_params(request: HttpRequest) -> dict:
    """Shopify accepts JSON (shopify-app-js, shopifyapp) and form bodies (ShopifyAPI)."""
    if request.content_type == "application/json":
        try:
            body = json.loads(request.body or b"{}")
        except ValueError as exc:
            raise OAuthError("invalid_request", "The request body is not valid JSON") from exc
        if not isinstance(body, dict):
            raise OAuthError("invalid_request", "The request body must be a JSON object")
        return {k: v for k, v in body.items()}
    params = {k: v for k, v in request.GET.items()}
    params.update({k: v for k, v in request.POST.items()})
    return params


def _truthy(value) -> bool:
    return str(value).lower() in ("1", "true")


@csrf_exempt
@require_POST
def access_token(request: HttpRequest, shop_domain: str) -> HttpResponse:
    shop = get_shop(shop_domain)
    try:
        p = _token_request_params(request)
        grant_type = p.get("grant_type") or ("authorization_code" if p.get("code") else "")
        common = {"shop": shop, "client_id": str(p.get("client_id", "")),
                  "client_secret": str(p.get("client_secret", ""))}
        if grant_type == "authorization_code":
            issued = grant_authorization_code(**common, code=str(p.get("code", "")),
                                              expiring=_truthy(p.get("expiring", "0")))
        elif grant_type == "urn:ietf:params:oauth:grant-type:token-exchange":
            issued = grant_token_exchange(
                **common,
                subject_token=str(p.get("subject_token", "")),
                subject_token_type=str(p.get("subject_token_type", "")),
                requested_token_type=str(
                    p.get("requested_token_type", "urn:shopify:params:oauth:token-type:offline-access-token")
                ),
                expiring=_truthy(p.get("expiring", "0")),
            )
        elif grant_type == "refresh_token":
            issued = grant_refresh_token(**common, refresh_token=str(p.get("refresh_token", "")))
        else:
            raise OAuthError("unsupported_grant_type", f"The grant type {grant_type!r} is not supported")
    except OAuthError as exc:
        return JsonResponse(exc.as_json(), status=exc.status)
    return JsonResponse(issued.as_json())
