"""Lookups shared by the partners views."""
from __future__ import annotations

from django.http import Http404, HttpRequest

from ..models import App, Installation, StaffMember

SCOPE_VERBS = {
    "read": "View",
    "write": "View and edit",
    "unauthenticated_read": "Storefront: view",
    "unauthenticated_write": "Storefront: edit",
    "customer_read": "Customer accounts: view",
    "customer_write": "Customer accounts: edit",
}


def get_shop(domain: str):
    from devshop.store.models import Shop

    shop = Shop.objects.filter(domain=domain.lower()).first()
    if shop is None:
        raise Http404(f"There is no shop {domain} on this development store")
    return shop


def current_staff(request: HttpRequest, shop) -> StaffMember | None:
    if not request.user.is_authenticated:
        return None
    return StaffMember.objects.filter(shop=shop, user=request.user).select_related("shop").first()


def get_app(client_id: str) -> App:
    app = App.objects.filter(client_id=client_id).first()
    if app is None:
        raise Http404(f"No app with client id {client_id}")
    return app


def active_installation(shop, app: App) -> Installation | None:
    return Installation.objects.filter(shop=shop, app=app, uninstalled_at__isnull=True).first()


def scope_in_words(scope: str) -> str:
    """`read_all_orders` -> "View all orders" (the grant screen lists scopes in plain words)."""
    if scope == "read_orders":
        return "View orders (the last 60 days)"
    if scope == "read_all_orders":
        return "View all orders, including those older than 60 days"
    for prefix in sorted(SCOPE_VERBS, key=len, reverse=True):
        if scope.startswith(prefix + "_"):
            return f"{SCOPE_VERBS[prefix]} {scope[len(prefix) + 1:].replace('_', ' ')}"
    return scope
