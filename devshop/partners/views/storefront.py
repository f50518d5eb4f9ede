"""The shop's storefront: home page, customer login, and the app proxy.

Customers are devshop.store Customers. In the development store every customer logs in with
their e-mail and the shop's demo password (DEVSHOP_CUSTOMER_PASSWORD, default "devshop"); the
logged-in customer is kept in the Django session per shop.
"""
from __future__ import annotations

import hmac
import os

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from ..models import App, Installation
from ..proxy import proxy_forward
from .common import get_shop


def demo_customer_password() -> str:
    return getattr(settings, "DEVSHOP_CUSTOMER_PASSWORD", None) or os.environ.get(
        "DEVSHOP_CUSTOMER_PASSWORD", "devshop"
    )


def _session_key(shop) -> str:
    return f"devshop_customer:{shop.domain}"


def logged_in_customer(request: HttpRequest, shop):
    from devshop.store.models import Customer

    customer_id = request.session.get(_session_key(shop))
    if not customer_id:
        return None
    return Customer.objects.filter(shop=shop, pk=customer_id).first()


def storefront_context(request: HttpRequest, shop) -> dict:
    """What every storefront template gets: the shop, the logged-in customer, the installed apps'
    theme app embeds (app_embeds.py) and the cart's item count."""
    from ..app_embeds import storefront_embeds

    customer = logged_in_customer(request, shop)
    cart = request.session.get(f"devshop_cart:{shop.domain}") or {}
    return {"shop": shop, "customer": customer, "app_embeds": storefront_embeds(request, shop, customer),
            "cart_count": sum(int(line.get("quantity", 0)) for line in cart.get("lines", []))}


def storefront_home(request: HttpRequest, shop_domain: str) -> HttpResponse:
    from devshop.store.storefront import featured_variants

    shop = get_shop(shop_domain)
    return render(request, "devshop/storefront_home.html",
                  storefront_context(request, shop) | {"products": featured_variants(shop)})


@require_http_methods(["GET", "POST"])
def customer_login(request: HttpRequest, shop_domain: str) -> HttpResponse:
    from devshop.store.models import Customer

    shop = get_shop(shop_domain)
    next_url = request.POST.get("next") or request.GET.get("return_url") or f"/store/{shop.domain}/account"
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = f"/store/{shop.domain}/account"
    error = ""
    if request.method == "POST":
        email = request.POST.get("email", "").strip()
        customer = Customer.objects.filter(shop=shop, email__iexact=email).order_by("pk").first()
        password_ok = hmac.compare_digest(request.POST.get("password", "").encode(), demo_customer_password().encode())
        if customer is not None and password_ok:
            request.session[_session_key(shop)] = customer.pk
            return redirect(next_url)
        error = "Incorrect email or password."
    context = storefront_context(request, shop) | {"next": next_url, "error": error}
    return render(request, "devshop/customer_login.html", context, status=401 if error else 200)


@require_POST
def customer_logout(request: HttpRequest, shop_domain: str) -> HttpResponse:
    shop = get_shop(shop_domain)
    request.session.pop(_session_key(shop), None)
    return redirect("partners:storefront_home", shop.domain)


def customer_account(request: HttpRequest, shop_domain: str) -> HttpResponse:
    shop = get_shop(shop_domain)
    context = storefront_context(request, shop)
    if context["customer"] is None:
        return redirect("partners:customer_login", shop.domain)
    return render(request, "devshop/customer_account.html", context)


@csrf_exempt  # the app behind the proxy does its own checks; Shopify forwards POSTs as they come
def app_proxy(request: HttpRequest, shop_domain: str, prefix: str, subpath: str, rest: str = "") -> HttpResponse:
    shop = get_shop(shop_domain)
    installed_apps = Installation.objects.filter(shop=shop, uninstalled_at__isnull=True).values("app_id")
    app = App.objects.filter(pk__in=installed_apps, proxy_prefix=prefix, proxy_subpath=subpath).first()
    if app is None or not app.proxy_url:
        return render(request, "devshop/storefront_404.html", storefront_context(request, shop), status=404)
    customer = logged_in_customer(request, shop)
    result = proxy_forward(
        app=app,
        shop_domain=shop.domain,
        customer_id=customer.pk if customer else None,
        rest=rest,
        method=request.method,
        query_pairs=[(k, v) for k, values in request.GET.lists() for v in values],
        headers=dict(request.headers),
        body=request.body,
        client_ip=request.META.get("REMOTE_ADDR", ""),
    )
    if result.is_liquid:
        # Shopify renders Liquid inside the theme layout; devshop has no Liquid engine and wraps
        # the body as HTML in the shop layout (enough for pages that use plain HTML).
        context = storefront_context(request, shop) | {"proxy_body": mark_safe(result.body.decode("utf-8", "replace"))}  # noqa: S308 - the app's own markup, rendered as Shopify would
        return render(request, "devshop/proxy_page.html", context, status=result.status)
    response = HttpResponse(result.body, status=result.status,
                            content_type=result.headers.get("content-type", "application/octet-stream"))
    for header in ("location", "cache-control"):
        if header in result.headers:
            response[header.title()] = result.headers[header]
    return response
