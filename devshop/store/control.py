"""`/_devshop/...` control API of the store, for tests and the demo (localhost tool, no auth).

Bodies and answers are JSON; errors are `{"error": "..."}` with 400 (malformed) or 422 (refused) and 404.
Documented in devshop/README.md.
"""
import json
import time
from functools import wraps

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Count, Sum
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from . import rest_payloads, services
from .graphql import throttle
from .models import ApiFault, BulkOperation, Customer, LineItem, Order, Refund, Shop


class _NotFound(Exception):
    pass


def _json(data, status=200) -> JsonResponse:
    return JsonResponse(data, status=status, encoder=DjangoJSONEncoder, safe=False,
                        json_dumps_params={"ensure_ascii": False})


def control_view(*methods):
    def decorate(view):
        @csrf_exempt
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs):
            if request.method not in methods:
                return _json({"error": f"method {request.method} not allowed"}, 405)
            try:
                body = json.loads(request.body or b"{}") if request.method in ("POST", "PUT", "PATCH", "DELETE") else {}
            except ValueError:
                return _json({"error": "the body must be JSON"}, 400)
            if not isinstance(body, dict):
                return _json({"error": "the body must be a JSON object"}, 400)
            try:
                return view(request, body, *args, **kwargs)
            except _NotFound as exc:
                return _json({"error": str(exc)}, 404)
            except services.StoreError as exc:
                return _json({"error": str(exc)}, 422)
            except KeyError as exc:
                return _json({"error": f"missing field {exc}"}, 400)

        return wrapper

    return decorate


def _shop(domain: str) -> Shop:
    shop = Shop.objects.filter(domain=domain).first()
    if shop is None:
        raise _NotFound(f"no shop {domain}")
    return shop


def _shop_json(shop: Shop) -> dict:
    size, rate = throttle.limits_for(shop)
    return {"id": shop.id, "domain": shop.domain, "name": shop.name, "email": shop.email,
            "currency_code": shop.currency_code, "iana_timezone": shop.iana_timezone,
            "primary_locale": shop.primary_locale, "country_code": shop.country_code, "plan": shop.plan,
            "enabled_presentment_currencies": shop.enabled_presentment_currencies,
            "taxes_included": shop.taxes_included, "api_bucket_size": size, "api_restore_rate": rate}


@control_view("GET", "POST")
def shops(request, body):
    """POST {domain, name?, email?, currency_code?, ...}: create (201) or update (200) a shop."""
    if request.method == "GET":
        return _json({"shops": [_shop_json(s) for s in Shop.objects.order_by("id")]})
    shop, created = services.shop_create(domain=body.pop("domain"), **body)
    return _json(_shop_json(shop), 201 if created else 200)


@control_view("GET")
def shop_detail(request, body, shop_domain):
    return _json(_shop_json(_shop(shop_domain)))


@control_view("GET")
def shop_stats(request, body, shop_domain):
    """Counts and sums of the shop's data (seeding determinism, demo sanity checks)."""
    shop = _shop(shop_domain)
    orders = Order.objects.filter(shop=shop).aggregate(
        orders=Count("id"), total_price=Sum("total_price"), total_refunded=Sum("total_refunded"),
        total_tax=Sum("total_tax"), total_discounts=Sum("total_discounts"))
    return _json({
        "customers": Customer.objects.filter(shop=shop).count(),
        "orders": orders["orders"],
        "guest_orders": Order.objects.filter(shop=shop, customer__isnull=True).count(),
        "test_orders": Order.objects.filter(shop=shop, test=True).count(),
        "cancelled_orders": Order.objects.filter(shop=shop, cancelled_at__isnull=False).count(),
        "orders_with_discount": Order.objects.filter(shop=shop).exclude(discount_codes=[]).count(),
        "foreign_currency_orders": Order.objects.filter(shop=shop).exclude(presentment_currency=shop.currency_code
                                                                            ).count(),
        "line_items": LineItem.objects.filter(shop=shop).count(),
        "refunds": Refund.objects.filter(shop=shop).count(),
        "sum_total_price": str(orders["total_price"] or 0),
        "sum_total_refunded": str(orders["total_refunded"] or 0),
        "sum_total_tax": str(orders["total_tax"] or 0),
        "sum_total_discounts": str(orders["total_discounts"] or 0),
        "customers_with_birthday": shop.metafields.filter(owner_type="Customer", namespace="facts",
                                                          key="birth_date").count(),
        "customers_subscribed": Customer.objects.filter(shop=shop, email_marketing_state="subscribed").count(),
    })


@control_view("POST")
def shop_seed(request, body, shop_domain):
    """Seed (more) data into an existing shop: {customers, years, seed, end?}. Synchronous."""
    from .seeding.generate import SeedSpec, seed_shop

    shop = _shop(shop_domain)
    started = time.monotonic()
    spec = SeedSpec(customers=int(body.get("customers", 100)), years=float(body.get("years", 2)),
                    seed=int(body.get("seed", 1)), end=body.get("end"), products=int(body.get("products", 60)))
    result = seed_shop(shop, spec)
    return _json({**result, "seconds": round(time.monotonic() - started, 3)}, 201)


@control_view("POST", "DELETE")
def api_limits(request, body, shop_domain):
    """POST {bucket_size, restore_rate}: shrink or grow the shop's API bucket (null = the plan's). DELETE resets.
    Either way the shop's buckets are refilled."""
    shop = _shop(shop_domain)
    if request.method == "DELETE":
        shop.api_bucket_size = shop.api_restore_rate = None
    else:
        for key, column in (("bucket_size", "api_bucket_size"), ("restore_rate", "api_restore_rate")):
            if key in body:
                value = body[key]
                if value is not None and (not isinstance(value, (int, float)) or value <= 0):
                    raise services.StoreError(f"{key} must be a positive number or null")
                setattr(shop, column, value)
    shop.save(update_fields=["api_bucket_size", "api_restore_rate"])
    throttle.reset(shop)
    return _json(_shop_json(shop))


@control_view("POST", "DELETE", "GET")
def api_faults(request, body, shop_domain):
    """POST {status: 429|500|502|503|504, count: N, retry_after?: seconds}: the next N Admin API
    requests of the shop fail that way. DELETE clears them. GET lists the pending ones."""
    shop = _shop(shop_domain)
    if request.method == "DELETE":
        ApiFault.objects.filter(shop=shop).delete()
    elif request.method == "POST":
        status = body.get("status")
        if status not in (429, 500, 502, 503, 504):
            raise services.StoreError("status must be 429, 500, 502, 503 or 504")
        count = body.get("count", 1)
        if not isinstance(count, int) or count <= 0:
            raise services.StoreError("count must be a positive integer")
        retry_after = body.get("retry_after", 1 if status == 429 else None)
        ApiFault.objects.create(shop=shop, status=status, remaining=count, retry_after=retry_after)
    faults = [{"status": f.status, "remaining": f.remaining, "retry_after": f.retry_after}
              for f in ApiFault.objects.filter(shop=shop).order_by("id")]
    return _json({"faults": faults}, 201 if request.method == "POST" else 200)


@control_view("GET", "POST")
def customers(request, body, shop_domain):
    shop = _shop(shop_domain)
    if request.method == "GET":
        rows = Customer.objects.filter(shop=shop).order_by("id")[:250]
        return _json({"customers": [rest_payloads.customer_payload(c) for c in rows]})
    customer = services.customer_create(shop=shop, data=body)
    return _json(rest_payloads.customer_payload(Customer.objects.get(pk=customer.pk)), 201)


@control_view("GET", "POST", "PUT", "PATCH", "DELETE")
def customer_detail(request, body, shop_domain, customer_id):
    shop = _shop(shop_domain)
    if request.method == "DELETE":
        services.customer_delete(shop=shop, customer_id=customer_id)
        return _json({"deleted": customer_id})
    if request.method != "GET":
        services.customer_update(shop=shop, customer_id=customer_id, data=body)
    customer = Customer.objects.filter(shop=shop, pk=customer_id).first()
    if customer is None:
        raise _NotFound("customer not found")
    return _json(rest_payloads.customer_payload(customer))


def _order_json(order_id: int) -> dict:
    return rest_payloads.order_payload(Order.objects.select_related("shop", "customer").get(pk=order_id))


@control_view("POST")
def products(request, body, shop_domain):
    """Add a catalogue product: {title, gift_card?, vendor?, product_type?, variants[{title?, price, sku?}] | price}.
    Answers {id, title, gift_card, variants[{id, title, price}]}."""
    product = services.product_create(shop=_shop(shop_domain), data=body)
    return _json({"id": product.pk, "title": product.title, "gift_card": product.gift_card,
                  "variants": [{"id": v.pk, "title": v.title, "price": str(v.price)}
                               for v in product.variants.order_by("id")]}, 201)


@control_view("POST")
def orders(request, body, shop_domain):
    """Place an order: {customer_id | customer{...} | (guest) email, line_items[{variant_id|title,price,
    quantity}], discount_codes[], shipping, tax_rate, taxes_included, presentment_currency,
    financial_status, created_at, test, landing_site, referring_site, note_attributes[{name, value}], source_name, tags, note}."""
    order = services.order_place(shop=_shop(shop_domain), data=body)
    return _json(_order_json(order.pk), 201)


@control_view("GET")
def order_detail(request, body, shop_domain, order_id):
    shop = _shop(shop_domain)
    if not Order.objects.filter(shop=shop, pk=order_id).exists():
        raise _NotFound("order not found")
    return _json(_order_json(order_id))


@control_view("POST")
def order_pay(request, body, shop_domain, order_id):
    order = services.order_mark_paid(shop=_shop(shop_domain), order_id=order_id)
    return _json(_order_json(order.pk))


@control_view("POST")
def order_refund(request, body, shop_domain, order_id):
    """{line_items: [{line_item_id, quantity}], shipping, amount, note, restock} or {full: true}."""
    refund = services.order_refund(shop=_shop(shop_domain), order_id=order_id, data=body)
    return _json(rest_payloads.refund_payload(Refund.objects.select_related("order__shop").get(pk=refund.pk)), 201)


@control_view("POST")
def order_cancel(request, body, shop_domain, order_id):
    """{reason: customer|declined|fraud|inventory|other|staff, refund: true}."""
    order = services.order_cancel(shop=_shop(shop_domain), order_id=order_id, data=body)
    return _json(_order_json(order.pk))


@control_view("GET")
def bulk_wait(request, body, shop_domain, op_id):
    """Wait (up to ?timeout= seconds, default 60) until the bulk operation is finished; returns its state."""
    shop = _shop(shop_domain)
    deadline = time.monotonic() + float(request.GET.get("timeout", 60))
    while True:
        op = BulkOperation.objects.filter(shop=shop, pk=op_id).first()
        if op is None:
            raise _NotFound("bulk operation not found")
        if op.status in ("COMPLETED", "FAILED", "CANCELED", "EXPIRED") or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    return _json({"id": op.id, "status": op.status, "error_code": op.error_code, "error_message": op.error_message,
                  "object_count": op.object_count, "root_object_count": op.root_object_count,
                  "file_size": op.file_size})


__all__ = ["transaction"]
