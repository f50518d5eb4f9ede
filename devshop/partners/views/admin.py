"""The shop admin: staff login, home, the frame that embeds apps, session tokens, uninstall."""
from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, login, logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from .. import signing
from ..models import App, Installation, StaffMember
from ..services import app_uninstall
from ..session_tokens import session_id, session_token_mint
from .common import active_installation, current_staff, get_app, get_shop


def _login_redirect(request: HttpRequest, shop) -> HttpResponse:
    url = reverse("partners:admin_login", args=[shop.domain])
    return redirect(f"{url}?{urlencode({'next': request.get_full_path()})}")


@require_http_methods(["GET", "POST"])
def admin_login(request: HttpRequest, shop_domain: str) -> HttpResponse:
    shop = get_shop(shop_domain)
    next_url = request.POST.get("next") or request.GET.get("next") or reverse("partners:admin_home", args=[shop.domain])
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = reverse("partners:admin_home", args=[shop.domain])
    error = ""
    if request.method == "POST":
        email = request.POST.get("email", "").strip().lower()
        user = authenticate(request, username=email, password=request.POST.get("password", ""))
        if user is not None and StaffMember.objects.filter(shop=shop, user=user).exists():
            login(request, user)
            return HttpResponseRedirect(next_url)
        error = "Incorrect email or password for this store."
    return render(request, "devshop/admin_login.html", {"shop": shop, "next": next_url, "error": error},
                  status=401 if error else 200)


@require_POST
def admin_logout(request: HttpRequest, shop_domain: str) -> HttpResponse:
    shop = get_shop(shop_domain)
    logout(request)
    return redirect("partners:admin_login", shop.domain)


def admin_home(request: HttpRequest, shop_domain: str) -> HttpResponse:
    shop = get_shop(shop_domain)
    staff = current_staff(request, shop)
    if staff is None:
        return _login_redirect(request, shop)
    installed = Installation.objects.filter(shop=shop, uninstalled_at__isnull=True).select_related("app")
    installed_ids = {i.app_id for i in installed}
    available = App.objects.exclude(pk__in=installed_ids).order_by("name")
    return render(
        request,
        "devshop/admin_home.html",
        {"shop": shop, "staff": staff, "installed": installed, "available": available},
    )


def _session_param(staff: StaffMember, app: App) -> str:
    """Shopify's `session` parameter: an opaque per-login value; derived from the JWT `sid`."""
    sid = session_id(staff_member=staff, app=app)
    return hmac.new(settings.SECRET_KEY.encode(), sid.encode(), hashlib.sha256).hexdigest()


def app_url_for(*, staff: StaffMember, app: App, path: str, extra: dict[str, str]) -> str:
    """The app-home URL the admin loads in its iframe: application_url + path, with every
    parameter signed by `hmac` (Shopify's embedded load: embedded, hmac, host, id_token, locale,
    session, shop, timestamp)."""
    shop = staff.shop
    params = dict(extra)
    params.update(
        {
            "embedded": "1",
            "host": signing.host_param(shop.domain),
            "id_token": session_token_mint(staff_member=staff, app=app),
            "locale": staff.locale,
            "session": _session_param(staff, app),
            "shop": shop.domain,
            "timestamp": signing.timestamp(),
        }
    )
    query = signing.signed_admin_query(params, app.client_secret)
    base = app.application_url.rstrip("/")
    return f"{base}/{path.lstrip('/')}?{urlencode(query)}" if path else f"{base}?{urlencode(query)}"


def app_frame(request: HttpRequest, shop_domain: str, client_id: str, path: str = "") -> HttpResponse:
    shop = get_shop(shop_domain)
    staff = current_staff(request, shop)
    if staff is None:
        return _login_redirect(request, shop)
    app = get_app(client_id)
    if active_installation(shop, app) is None:
        return redirect(f"{reverse('partners:install', args=[shop.domain])}?{urlencode({'client_id': app.client_id})}")
    extra = {k: v for k, v in request.GET.items() if k not in ("hmac", "signature")}
    if not app.embedded:
        # Non-embedded apps open in the top window with the install-style signed parameters.
        query = signing.signed_admin_query(
            {**extra, "host": signing.host_param(shop.domain), "shop": shop.domain,
             "timestamp": signing.timestamp()},
            app.client_secret,
        )
        return HttpResponseRedirect(f"{app.application_url.rstrip('/')}/{path}?{urlencode(query)}")
    src = app_url_for(staff=staff, app=app, path=path, extra=extra)
    installed = Installation.objects.filter(shop=shop, uninstalled_at__isnull=True).select_related("app")
    return render(
        request,
        "devshop/app_frame.html",
        {
            "shop": shop,
            "staff": staff,
            "app": app,
            "installed": installed,
            "iframe_src": src,
            "app_origin": _origin(app.application_url),
            "token_url": reverse("partners:session_token", args=[shop.domain]),
        },
    )


def _origin(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@require_POST
def session_token(request: HttpRequest, shop_domain: str) -> HttpResponse:
    """A fresh session token for the logged-in staff member and an installed app; the admin frame
    asks for one each time the embedded app calls `shopify.idToken()`."""
    shop = get_shop(shop_domain)
    staff = current_staff(request, shop)
    if staff is None:
        return JsonResponse({"error": "not logged in to this shop's admin"}, status=401)
    app = App.objects.filter(client_id=request.POST.get("client_id", "")).first()
    if app is None or active_installation(shop, app) is None:
        return JsonResponse({"error": "app not installed on this shop"}, status=404)
    return JsonResponse({"token": session_token_mint(staff_member=staff, app=app)})


@require_POST
def uninstall(request: HttpRequest, shop_domain: str, client_id: str) -> HttpResponse:
    shop = get_shop(shop_domain)
    staff = current_staff(request, shop)
    if staff is None:
        return _login_redirect(request, shop)
    app = get_app(client_id)
    installation = active_installation(shop, app)
    if installation is not None:
        app_uninstall(installation=installation)
        messages.info(request, f"{app.name} was uninstalled.")
    return redirect("partners:admin_home", shop.domain)
