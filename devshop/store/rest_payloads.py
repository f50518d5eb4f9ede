"""Shopify's REST resource shapes, as webhook bodies carry them (orders/*, refunds/create, customers/*).

Snake_case keys, numeric ids beside admin_graphql_api_id, money as two-decimal strings plus `*_set`
objects with shop and presentment money, dates in the shop's UTC offset. Ids are Python ints, which
json encodes exactly (ids above 2**53 survive as long as the reader does not go through a float).
"""
from decimal import Decimal

from django.conf import settings

from .formats import gid, iso_shop, money_str
from .models import Customer, LineItem, Order, Refund, RefundLineItem


def _set(shop_amount, shop_cur: str, pres_amount, pres_cur: str) -> dict:
    return {
        "shop_money": {"amount": money_str(shop_amount), "currency_code": shop_cur},
        "presentment_money": {"amount": money_str(pres_amount), "currency_code": pres_cur},
    }


def _consent(c: Customer, tz: str) -> dict | None:
    if not c.email:
        return None
    return {
        "state": c.email_marketing_state,
        "opt_in_level": c.email_marketing_opt_in_level,
        "consent_updated_at": iso_shop(c.email_marketing_updated_at, tz),
    }


def _address(c: Customer) -> dict | None:
    if not c.country_code:
        return None
    return {
        "id": c.id, "customer_id": c.id, "first_name": c.first_name or None, "last_name": c.last_name or None,
        "company": None, "address1": None, "address2": None, "city": c.city, "province": None,
        "country": c.country_code, "zip": None, "phone": c.phone, "name": c.display_name, "province_code": None,
        "country_code": c.country_code, "country_name": c.country_code, "default": True,
    }


def customer_payload(c: Customer, *, nested: bool = False) -> dict:
    """customers/create and customers/update body; `nested` is the shorter form inside an order."""
    shop = c.shop
    tz = shop.iana_timezone
    body = {
        "id": c.id,
        "email": c.email,
        "created_at": iso_shop(c.created_at, tz),
        "updated_at": iso_shop(c.updated_at, tz),
        "first_name": c.first_name or None,
        "last_name": c.last_name or None,
        "state": c.state,
        "note": c.note,
        "verified_email": c.verified_email,
        "multipass_identifier": None,
        "tax_exempt": False,
        "phone": c.phone,
        "email_marketing_consent": _consent(c, tz),
        "sms_marketing_consent": None,
        "tags": c.tags,
        "currency": shop.currency_code,
        "tax_exemptions": [],
        "admin_graphql_api_id": gid("Customer", c.id),
        "default_address": _address(c),
    }
    if not nested:
        last = Order.objects.filter(customer_id=c.id).order_by("-created_at", "-id").values("id", "name").first()
        body.update({
            "orders_count": c.orders_count,
            "total_spent": money_str(c.amount_spent),
            "last_order_id": last["id"] if last else None,
            "last_order_name": last["name"] if last else None,
            "addresses": [a for a in [_address(c)] if a],
        })
    return body


def customer_deleted_payload(customer_id: int) -> dict:
    """customers/delete carries only the id (Shopify's documented sample)."""
    return {"id": customer_id, "admin_graphql_api_id": gid("Customer", customer_id)}


def _line_item(li: LineItem, o: Order) -> dict:
    cur, pres = o.currency, o.presentment_currency
    return {
        "id": li.id,
        "admin_graphql_api_id": gid("LineItem", li.id),
        "current_quantity": li.quantity - sum(r.quantity for r in getattr(li, "_refunded", ())),
        "fulfillable_quantity": li.quantity if o.fulfillment_status is None and o.cancelled_at is None else 0,
        "fulfillment_service": "manual",
        "fulfillment_status": o.fulfillment_status,
        "gift_card": li.gift_card,
        "grams": 0,
        "name": f"{li.title} - {li.variant_title}" if li.variant_title else li.title,
        "price": money_str(li.price),
        "price_set": _set(li.price, cur, li.price_pres, pres),
        "product_exists": li.product_id is not None,
        "product_id": li.product_id,
        "properties": [],
        "quantity": li.quantity,
        "requires_shipping": li.requires_shipping,
        "sku": li.sku,
        "taxable": li.taxable,
        "title": li.title,
        "total_discount": money_str(li.total_discount),
        "total_discount_set": _set(li.total_discount, cur, li.total_discount_pres, pres),
        "variant_id": li.variant_id,
        "variant_inventory_management": "shopify",
        "variant_title": li.variant_title,
        "vendor": li.vendor,
        "tax_lines": [{
            "price": money_str(li.tax), "rate": float(_rate(o)), "title": "VAT",
            "price_set": _set(li.tax, cur, li.tax_pres, pres), "channel_liable": False,
        }] if li.tax else [],
        "duties": [],
        "discount_allocations": [{
            "amount": money_str(li.total_discount),
            "amount_set": _set(li.total_discount, cur, li.total_discount_pres, pres),
            "discount_application_index": 0,
        }] if li.total_discount else [],
    }


def _rate(o: Order) -> Decimal:
    from .markets import tax_rate

    return tax_rate(o.shop.country_code)


def _refund(r: Refund, o: Order, items_by_id: dict[int, LineItem]) -> dict:
    tz = o.shop.iana_timezone
    cur, pres = o.currency, o.presentment_currency
    lines = []
    for rli in r.refund_line_items.all():
        li = items_by_id.get(rli.line_item_id) or rli.line_item
        lines.append({
            "id": rli.id,
            "line_item_id": rli.line_item_id,
            "location_id": None,
            "quantity": rli.quantity,
            "restock_type": rli.restock_type,
            "subtotal": float(rli.subtotal),  # Shopify sends this one as a number
            "subtotal_set": _set(rli.subtotal, cur, rli.subtotal_pres, pres),
            "total_tax": float(rli.total_tax),
            "total_tax_set": _set(rli.total_tax, cur, rli.total_tax_pres, pres),
            "line_item": _line_item(li, o),
        })
    return {
        "id": r.id,
        "admin_graphql_api_id": gid("Refund", r.id),
        "order_id": o.id,
        "created_at": iso_shop(r.created_at, tz),
        "processed_at": iso_shop(r.processed_at, tz),
        "note": r.note,
        "restock": r.restock,
        "user_id": None,
        "duties": [],
        "total_duties_set": _set(0, cur, 0, pres),
        "additional_fees": [],
        "total_additional_fees_set": _set(0, cur, 0, pres),
        "return": None,
        "refund_line_items": lines,
        "refund_shipping_lines": [{
            "id": r.id,
            "subtotal_amount_set": _set(r.shipping, cur, r.shipping_pres, pres),
        }] if r.shipping else [],
        "order_adjustments": [],
        "transactions": [{
            "id": r.id,
            "admin_graphql_api_id": gid("OrderTransaction", r.id),
            "order_id": o.id,
            "kind": "refund",
            "gateway": "manual" if o.source_name != "web" else "shopify_payments",
            "status": "success",
            "amount": money_str(r.amount_pres),
            "currency": pres,
            "created_at": iso_shop(r.created_at, tz),
            "processed_at": iso_shop(r.processed_at, tz),
            "test": o.test,
            "parent_id": None,
            "message": "Refunded",
        }],
    }


def refund_payload(r: Refund) -> dict:
    o = r.order
    items = {li.id: li for li in o.line_items.all()}
    return _refund(r, o, items)


def order_payload(o: Order) -> dict:
    """orders/create, orders/updated, orders/paid, orders/cancelled body."""
    shop = o.shop
    tz = shop.iana_timezone
    cur, pres = o.currency, o.presentment_currency
    items = list(o.line_items.order_by("id"))
    refunds = list(o.refunds.order_by("created_at", "id").prefetch_related("refund_line_items"))
    refunded_by_line: dict[int, list[RefundLineItem]] = {}
    for r in refunds:
        for rli in r.refund_line_items.all():
            refunded_by_line.setdefault(rli.line_item_id, []).append(rli)
    for li in items:
        li._refunded = refunded_by_line.get(li.id, [])
    items_by_id = {li.id: li for li in items}
    line_total = sum((li.price * li.quantity for li in items), Decimal(0))
    line_total_pres = sum((li.price_pres * li.quantity for li in items), Decimal(0))
    refunded_tax = sum((x.total_tax for rs in refunded_by_line.values() for x in rs), Decimal(0))
    refunded_tax_pres = sum((x.total_tax_pres for rs in refunded_by_line.values() for x in rs), Decimal(0))
    refunded_lines = o.total_refunded - o.total_refunded_shipping
    refunded_lines_pres = o.total_refunded_pres - o.total_refunded_shipping_pres
    current_subtotal = o.subtotal_price - (refunded_lines if o.taxes_included else refunded_lines - refunded_tax)
    current_subtotal_pres = o.subtotal_price_pres - (
        refunded_lines_pres if o.taxes_included else refunded_lines_pres - refunded_tax_pres)
    paid = o.financial_status in ("paid", "partially_refunded", "refunded")
    outstanding = Decimal(0) if paid or o.financial_status == "voided" else o.total_price
    status_url = f"{settings.DEVSHOP_PUBLIC_URL}/store/{shop.domain}/orders/{o.id}/authenticate"
    customer = o.customer
    return {
        "id": o.id,
        "admin_graphql_api_id": gid("Order", o.id),
        "app_id": None,
        "browser_ip": None,
        "buyer_accepts_marketing": o.buyer_accepts_marketing,
        "cancel_reason": o.cancel_reason,
        "cancelled_at": iso_shop(o.cancelled_at, tz),
        "cart_token": None,
        "checkout_id": None,
        "checkout_token": None,
        "client_details": None,
        "closed_at": iso_shop(o.closed_at, tz),
        "confirmation_number": f"D{o.id % 10**9:09d}",
        "confirmed": True,
        "contact_email": o.email,
        "created_at": iso_shop(o.created_at, tz),
        "currency": cur,
        "current_subtotal_price": money_str(current_subtotal),
        "current_subtotal_price_set": _set(current_subtotal, cur, current_subtotal_pres, pres),
        "current_total_additional_fees_set": None,
        "current_total_discounts": money_str(o.total_discounts),
        "current_total_discounts_set": _set(o.total_discounts, cur, o.total_discounts_pres, pres),
        "current_total_duties_set": None,
        "current_total_price": money_str(o.total_price - o.total_refunded),
        "current_total_price_set": _set(o.total_price - o.total_refunded, cur,
                                        o.total_price_pres - o.total_refunded_pres, pres),
        "current_total_tax": money_str(o.total_tax - refunded_tax),
        "current_total_tax_set": _set(o.total_tax - refunded_tax, cur, o.total_tax_pres - refunded_tax_pres, pres),
        "customer_locale": o.customer_locale,
        "device_id": None,
        # Shopify's discount_codes entries are exactly {code, amount, type}; the value lives in discount_applications.
        "discount_codes": [{"code": d["code"], "amount": d["amount"], "type": d["type"]} for d in o.discount_codes],
        "duties_included": False,
        "email": o.email,
        "estimated_taxes": False,
        "financial_status": o.financial_status,
        "fulfillment_status": o.fulfillment_status,
        "landing_site": o.landing_site,
        "landing_site_ref": None,
        "location_id": None,
        "merchant_of_record_app_id": None,
        "name": o.name,
        "note": o.note,
        "note_attributes": [{"name": a["name"], "value": a["value"]} for a in o.note_attributes or []],
        "number": o.number - 1000,
        "order_number": o.number,
        "order_status_url": status_url,
        "original_total_additional_fees_set": None,
        "original_total_duties_set": None,
        "payment_gateway_names": ["manual"] if o.source_name != "web" else ["shopify_payments"],
        "phone": o.phone,
        "po_number": None,
        "presentment_currency": pres,
        "processed_at": iso_shop(o.processed_at, tz),
        "reference": None,
        "referring_site": o.referring_site,
        "source_identifier": None,
        "source_name": o.source_name,
        "source_url": None,
        "subtotal_price": money_str(o.subtotal_price),
        "subtotal_price_set": _set(o.subtotal_price, cur, o.subtotal_price_pres, pres),
        "tags": o.tags,
        "tax_exempt": False,
        "tax_lines": [{
            "price": money_str(o.total_tax), "rate": float(_rate(o)), "title": "VAT",
            "price_set": _set(o.total_tax, cur, o.total_tax_pres, pres), "channel_liable": False,
        }] if o.total_tax else [],
        "taxes_included": o.taxes_included,
        "test": o.test,
        "token": f"{o.id:x}",
        "total_cash_rounding_payment_adjustment_set": _set(0, cur, 0, pres),
        "total_cash_rounding_refund_adjustment_set": _set(0, cur, 0, pres),
        "total_discounts": money_str(o.total_discounts),
        "total_discounts_set": _set(o.total_discounts, cur, o.total_discounts_pres, pres),
        "total_line_items_price": money_str(line_total),
        "total_line_items_price_set": _set(line_total, cur, line_total_pres, pres),
        "total_outstanding": money_str(outstanding),
        "total_price": money_str(o.total_price),
        "total_price_set": _set(o.total_price, cur, o.total_price_pres, pres),
        "total_shipping_price_set": _set(o.total_shipping, cur, o.total_shipping_pres, pres),
        "total_tax": money_str(o.total_tax),
        "total_tax_set": _set(o.total_tax, cur, o.total_tax_pres, pres),
        "total_tip_received": "0.00",
        "total_weight": 0,
        "updated_at": iso_shop(o.updated_at, tz),
        "user_id": None,
        "billing_address": None,
        "customer": customer_payload(customer, nested=True) if customer else None,
        "discount_applications": [{
            "target_type": "line_item" if d.get("type") != "shipping" else "shipping_line",
            "type": "discount_code",
            "value": d.get("value", d["amount"]),
            "value_type": d.get("type") if d.get("type") in ("percentage", "fixed_amount") else "fixed_amount",
            "allocation_method": "across",
            "target_selection": "all",
            "code": d["code"],
        } for d in o.discount_codes],
        "fulfillments": [],
        "line_items": [_line_item(li, o) for li in items],
        "payment_terms": None,
        "refunds": [_refund(r, o, items_by_id) for r in refunds],
        "shipping_address": None,
        "shipping_lines": [{
            "id": o.id,
            "carrier_identifier": None,
            "code": "Standard",
            "discounted_price": money_str(o.total_shipping),
            "discounted_price_set": _set(o.total_shipping, cur, o.total_shipping_pres, pres),
            "price": money_str(o.total_shipping),
            "price_set": _set(o.total_shipping, cur, o.total_shipping_pres, pres),
            "source": "shopify",
            "title": "Standard",
            "tax_lines": [],
            "discount_allocations": [],
        }] if o.total_shipping else [],
    }
