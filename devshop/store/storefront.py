"""The development store's cart and checkout, so a customer can buy with an app's discount code in a
browser: `/store/{shop}/cart`, `/cart/add`, `/discount/{CODE}` (Shopify's apply-a-code link),
`/cart.js` and `/cart/update.js` (the Ajax Cart API's read and `attributes` update, which theme app
extensions use to record e.g. a referral code) and `/checkout`. The cart's attributes become the order's
`note_attributes` (REST) / `customAttributes` (GraphQL), as on Shopify.

The cart lives in the Django session (per shop), like Shopify's cart cookie. Codes are only collected
there; the checkout validates and applies them with the store's own order service (services.order_place:
active dates, the discount's customer context, usage limit and once per customer, minimum subtotal,
value), so the order placed here is the same as one placed through the control API and fires
orders/create and orders/paid. The totals shown before paying come from a dry run of that same service
inside a transaction that is rolled back (its webhooks, queued on commit, are dropped with it).

Store credit (StoreCreditAccount, credited by the Admin API's `storeCreditAccountCredit`) is not offered
at this checkout: orders are paid in full and balances never go down here. Tests read balances through
`Customer.storeCreditAccounts` / `node(id:)` instead of spending them.
"""
from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from .models import Order, Product, ProductVariant
from .services import StoreError, order_place

# Flat shipping rate of the development store's checkout (shop currency).
SHIPPING = Decimal("4.90")
MAX_QUANTITY = 99
MAX_ATTRIBUTES = 20


def _session_key(shop) -> str:
    return f"devshop_cart:{shop.domain}"


def cart_get(request: HttpRequest, shop) -> dict:
    cart = request.session.get(_session_key(shop)) or {}
    return {"lines": list(cart.get("lines", [])), "discount_codes": list(cart.get("discount_codes", [])),
            "attributes": dict(cart.get("attributes", {}))}


def _cart_save(request: HttpRequest, shop, cart: dict) -> None:
    request.session[_session_key(shop)] = cart


def _context(request: HttpRequest, shop) -> dict:
    from devshop.partners.views.storefront import storefront_context

    return storefront_context(request, shop)


def _shop(domain: str):
    from devshop.partners.views.common import get_shop

    return get_shop(domain)


def _order_data(shop, cart: dict, customer) -> dict:
    return {
        "customer_id": customer.pk if customer else None,
        "line_items": [{"variant_id": line["variant_id"], "quantity": line["quantity"]} for line in cart["lines"]],
        "discount_codes": cart["discount_codes"],
        "note_attributes": cart.get("attributes") or {},
        "shipping": str(SHIPPING),
        "financial_status": "paid",
        "source_name": "web",
    }


class _DryRun(Exception):
    def __init__(self, totals: dict) -> None:
        self.totals = totals


def checkout_preview(shop, cart: dict, customer) -> tuple[dict | None, str]:
    """(totals, "") as the order would be placed now, or (None, the checkout's error message)."""
    if not cart["lines"]:
        return None, "Your cart is empty."
    try:
        with transaction.atomic():
            order = order_place(shop=shop, data=_order_data(shop, cart, customer))
            raise _DryRun({
                "subtotal_before": sum((li.price * li.quantity for li in order.line_items.all()), Decimal(0)),
                "discounts": order.total_discounts, "discount_codes": order.discount_codes,
                "shipping": order.total_shipping, "tax": order.total_tax, "total": order.total_price,
                "currency": order.currency,
            })
    except _DryRun as done:
        return done.totals, ""
    except StoreError as exc:
        return None, str(exc)


def _lines_view(shop, cart: dict) -> list[dict]:
    variants = {v.pk: v for v in ProductVariant.objects.filter(
        shop=shop, pk__in=[line["variant_id"] for line in cart["lines"]]).select_related("product")}
    rows = []
    for line in cart["lines"]:
        variant = variants.get(line["variant_id"])
        if variant is not None:
            rows.append({"variant": variant, "quantity": line["quantity"], "total": variant.price * line["quantity"]})
    return rows


@require_GET
def cart_page(request: HttpRequest, shop_domain: str) -> HttpResponse:
    shop = _shop(shop_domain)
    context = _context(request, shop)
    cart = cart_get(request, shop)
    totals, error = checkout_preview(shop, cart, context["customer"]) if cart["lines"] else (None, "")
    return render(request, "devshop/storefront_cart.html", context | {
        "cart": cart, "lines": _lines_view(shop, cart), "totals": totals, "error": error})


@require_POST
def cart_add(request: HttpRequest, shop_domain: str) -> HttpResponse:
    shop = _shop(shop_domain)
    try:
        variant_id = int(request.POST.get("variant_id", ""))
        quantity = max(1, min(int(request.POST.get("quantity") or 1), MAX_QUANTITY))
    except ValueError:
        return redirect("storefront_cart", shop.domain)
    if ProductVariant.objects.filter(shop=shop, pk=variant_id).exists():
        cart = cart_get(request, shop)
        for line in cart["lines"]:
            if line["variant_id"] == variant_id:
                line["quantity"] = min(line["quantity"] + quantity, MAX_QUANTITY)
                break
        else:
            cart["lines"].append({"variant_id": variant_id, "quantity": quantity})
        _cart_save(request, shop, cart)
    return redirect("storefront_cart", shop.domain)


@require_POST
def cart_update(request: HttpRequest, shop_domain: str) -> HttpResponse:
    """Remove a line or a code, or add a typed code."""
    shop = _shop(shop_domain)
    cart = cart_get(request, shop)
    if request.POST.get("remove_variant"):
        cart["lines"] = [line for line in cart["lines"] if str(line["variant_id"]) != request.POST["remove_variant"]]
    if request.POST.get("remove_code"):
        cart["discount_codes"] = [c for c in cart["discount_codes"] if c != request.POST["remove_code"]]
    code = (request.POST.get("discount_code") or "").strip().upper()
    if code and code not in cart["discount_codes"]:
        cart["discount_codes"].append(code)
    _cart_save(request, shop, cart)
    return redirect("storefront_cart", shop.domain)


def _cart_json(shop, cart: dict) -> dict:
    """The Ajax Cart API's cart object, in the fields a theme app extension reads."""
    rows = _lines_view(shop, cart)
    return {
        "token": "", "note": None, "attributes": cart["attributes"], "currency": shop.currency_code,
        "item_count": sum(row["quantity"] for row in rows),
        "items": [{"variant_id": row["variant"].pk, "quantity": row["quantity"],
                   "title": row["variant"].product.title, "line_price": int(row["total"] * 100)} for row in rows],
        "total_price": int(sum((row["total"] for row in rows), Decimal(0)) * 100),
        # Shopify's subtotal of the lines in cents (codes are applied at checkout here, so = total_price).
        "items_subtotal_price": int(sum((row["total"] for row in rows), Decimal(0)) * 100),
        "cart_level_discount_applications": [{"title": code} for code in cart["discount_codes"]],
    }


@require_GET
def cart_js(request: HttpRequest, shop_domain: str) -> JsonResponse:
    shop = _shop(shop_domain)
    return JsonResponse(_cart_json(shop, cart_get(request, shop)))


@csrf_exempt  # Shopify's Ajax Cart API takes plain fetch() POSTs from the storefront's own pages
@require_POST
def cart_update_js(request: HttpRequest, shop_domain: str) -> JsonResponse:
    """`POST /cart/update.js` with `{"attributes": {"name": "value"}}` (JSON or form fields
    `attributes[name]`): sets the cart's attributes; an empty value removes one, as on Shopify."""
    import json

    shop = _shop(shop_domain)
    if request.content_type == "application/json":
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            return JsonResponse({"status": 400, "message": "Bad Request", "description": "invalid JSON"}, status=400)
        attributes = body.get("attributes") if isinstance(body, dict) else None
    else:
        attributes = {key[len("attributes["):-1]: value for key, value in request.POST.items()
                      if key.startswith("attributes[") and key.endswith("]")}
    if attributes is not None and not isinstance(attributes, dict):
        return JsonResponse({"status": 422, "message": "Unprocessable Entity",
                             "description": "attributes must be an object"}, status=422)
    cart = cart_get(request, shop)
    for name, value in (attributes or {}).items():
        name = str(name).strip()[:255]
        if not name:
            continue
        if value in (None, ""):
            cart["attributes"].pop(name, None)
        elif name in cart["attributes"] or len(cart["attributes"]) < MAX_ATTRIBUTES:
            cart["attributes"][name] = str(value)[:2000]
    _cart_save(request, shop, cart)
    return JsonResponse(_cart_json(shop, cart))


@require_GET
def discount_apply(request: HttpRequest, shop_domain: str, code: str) -> HttpResponse:
    """Shopify's `https://{shop}/discount/{CODE}?redirect=/cart`: put the code on the cart (it is checked
    at checkout) and go on to `redirect` (a path on this store) or the storefront."""
    shop = _shop(shop_domain)
    cart = cart_get(request, shop)
    code = code.strip().upper()
    if code and code not in cart["discount_codes"]:
        cart["discount_codes"].append(code)
    _cart_save(request, shop, cart)
    target = request.GET.get("redirect") or f"/store/{shop.domain}/"
    if target.startswith("/") and not target.startswith(("//", "/store/")):
        target = f"/store/{shop.domain}{target}"  # a path on the shop's domain (`/?ref=X`, `/cart`)
    if not target.startswith(f"/store/{shop.domain}/") or not url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}):
        target = f"/store/{shop.domain}/"
    return redirect(target)


@require_http_methods(["GET", "POST"])
def checkout(request: HttpRequest, shop_domain: str) -> HttpResponse:
    shop = _shop(shop_domain)
    context = _context(request, shop)
    cart = cart_get(request, shop)
    customer = context["customer"]
    if not cart["lines"]:
        return redirect("storefront_cart", shop.domain)
    if request.method == "POST":
        try:
            order = order_place(shop=shop, data=_order_data(shop, cart, customer))
        except StoreError as exc:
            totals, _error = checkout_preview(shop, {**cart, "discount_codes": []}, customer)
            return render(request, "devshop/storefront_checkout.html", context | {
                "lines": _lines_view(shop, cart), "totals": totals, "error": str(exc), "cart": cart}, status=422)
        _cart_save(request, shop, {"lines": [], "discount_codes": [], "attributes": {}})
        return redirect("storefront_order_status", shop.domain, order.pk)
    totals, error = checkout_preview(shop, cart, customer)
    return render(request, "devshop/storefront_checkout.html", context | {
        "lines": _lines_view(shop, cart), "totals": totals, "error": error, "cart": cart})


@require_GET
def order_status(request: HttpRequest, shop_domain: str, order_id: int) -> HttpResponse:
    """The thank-you page. Guests and other customers see nothing of an order that is not theirs."""
    shop = _shop(shop_domain)
    context = _context(request, shop)
    order = Order.objects.filter(shop=shop, pk=order_id).first()
    if order is None or order.customer_id is None or context["customer"] is None \
            or order.customer_id != context["customer"].pk:
        return render(request, "devshop/storefront_404.html", context, status=404)
    return render(request, "devshop/storefront_order.html", context | {"order": order})


def featured_variants(shop, limit: int = 6) -> list[ProductVariant]:
    products = Product.objects.filter(shop=shop, status="active").order_by("pk")[:limit]
    return list(ProductVariant.objects.filter(shop=shop, product__in=products).select_related("product")
                .order_by("product_id", "pk").distinct("product_id"))
