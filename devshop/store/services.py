"""Writes of the store (control API): customers, orders, payments, refunds, cancellations.

Each service changes its rows in one transaction, bumps `updated_at` and, after commit, emits the
webhooks Shopify would send (REST-shape bodies from rest_payloads.py) through the partners app's
`webhook_emit`. Errors in the input raise StoreError (the control API answers 422).
"""
import datetime as dt
import logging
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.db import transaction
from django.db.models import F, Max
from django.db.models.functions import Upper
from django.utils import timezone

from . import rest_payloads
from .formats import InvalidGid, parse_gid
from .markets import fx_rate, tax_rate
from .models import (
    Customer,
    DiscountNode,
    DiscountRedeemCode,
    LineItem,
    Order,
    Product,
    ProductVariant,
    Refund,
    RefundLineItem,
    Shop,
)

log = logging.getLogger(__name__)
CENT = Decimal("0.01")
ORDER_NUMBER_START = 1001


class StoreError(ValueError):
    pass


def _q(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _dec(value, name: str) -> Decimal:
    try:
        result = Decimal(str(value))
    except (InvalidOperation, TypeError) as exc:
        raise StoreError(f"{name} must be a decimal number, got {value!r}") from exc
    if result < 0:
        raise StoreError(f"{name} must not be negative")
    return result


def _time(value, name: str) -> dt.datetime | None:
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise StoreError(f"{name} must be an ISO 8601 date-time") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _id(value, type_name: str) -> int:
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    try:
        return parse_gid(value, type_name)[1]
    except InvalidGid as exc:
        raise StoreError(f"{value!r} is not a {type_name} id") from exc


def emit(shop: Shop, topic: str, payload_fn) -> None:
    """Queue a webhook after commit; the payload is built then, from committed rows."""

    def send():
        try:
            from devshop.partners.services import webhook_emit
        except ImportError:
            log.warning("partners' webhook_emit is not available; %s not sent", topic)
            return
        webhook_emit(shop=shop, topic=topic, payload=payload_fn())

    transaction.on_commit(send)


# --- shops -------------------------------------------------------------------------------------------

SHOP_FIELDS = ("name", "email", "currency_code", "iana_timezone", "primary_locale", "country_code", "plan",
               "enabled_presentment_currencies", "taxes_included")


def shop_create(*, domain: str, **fields) -> tuple[Shop, bool]:
    """Create the shop `domain` (name.myshopify.com) or update the given fields of an existing one."""
    if not domain.endswith(".myshopify.com") or not domain[: -len(".myshopify.com")].replace("-", "").isalnum():
        raise StoreError("domain must look like name.myshopify.com")
    unknown = set(fields) - set(SHOP_FIELDS)
    if unknown:
        raise StoreError(f"unknown shop fields: {', '.join(sorted(unknown))}")
    if fields.get("plan") and fields["plan"] not in dict(Shop.PLAN_CHOICES):
        raise StoreError("plan must be basic, advanced or plus")
    name = domain.split(".")[0]
    defaults = {"name": name.replace("-", " ").title(), "email": f"owner@{domain}", **fields}
    with transaction.atomic():
        shop, created = Shop.objects.select_for_update().get_or_create(domain=domain, defaults=defaults)
        if not created and fields:
            for key, value in fields.items():
                setattr(shop, key, value)
            shop.save()
    return shop, created


# --- catalogue ---------------------------------------------------------------------------------------

def product_create(*, shop: Shop, data: dict) -> Product:
    """Add a product to the catalogue: {title, gift_card?, vendor?, product_type?, variants: [{title?, price,
    sku?}]} (one "Default Title" variant at `price` when `variants` is absent). A gift-card product's
    variants are not shipped nor taxed."""
    title = str(data.get("title") or "").strip()
    if not title:
        raise StoreError("title is required")
    gift_card = bool(data.get("gift_card", False))
    variants = data.get("variants") or [{"title": "Default Title", "price": data.get("price")}]
    now = timezone.now()
    with transaction.atomic():
        product = Product.objects.create(
            shop=shop, title=title[:255], handle="-".join(title.lower().split())[:255],
            vendor=str(data.get("vendor") or shop.name)[:255],
            product_type=str(data.get("product_type") or ("Gift Card" if gift_card else ""))[:255],
            created_at=now, updated_at=now, gift_card=gift_card,
        )
        for i, v in enumerate(variants):
            if v.get("price") is None:
                raise StoreError(f"variants[{i}].price is required")
            ProductVariant.objects.create(
                shop=shop, product=product, title=str(v.get("title") or "Default Title")[:255],
                sku=str(v.get("sku") or "")[:64], price=_q(_dec(v["price"], f"variants[{i}].price")),
                requires_shipping=not gift_card, taxable=not gift_card,
            )
    return product


# --- customers ---------------------------------------------------------------------------------------

def note_attributes_clean(value) -> list[dict]:
    """An order's note_attributes from the cart's attributes ({name: value}) or Shopify's REST list
    ([{name, value}]); names and values as text, empty names dropped."""
    if isinstance(value, dict):
        value = [{"name": k, "value": v} for k, v in value.items()]
    rows = []
    for item in value or []:
        if isinstance(item, dict) and str(item.get("name") or "").strip():
            rows.append({"name": str(item["name"]).strip()[:255],
                         "value": "" if item.get("value") is None else str(item["value"])[:2000]})
    return rows


CUSTOMER_FIELDS = ("first_name", "last_name", "email", "phone", "tags", "locale", "note", "country_code", "city",
                   "state", "verified_email")


def _apply_customer_fields(customer: Customer, data: dict, now: dt.datetime) -> None:
    unknown = set(data) - set(CUSTOMER_FIELDS) - {"email_marketing_consent", "created_at", "updated_at"}
    if unknown:
        raise StoreError(f"unknown customer fields: {', '.join(sorted(unknown))}")
    for key in CUSTOMER_FIELDS:
        if key in data:
            value = data[key]
            if key == "tags" and isinstance(value, list):
                value = ", ".join(value)
            setattr(customer, key, value if value is not None or key in ("email", "phone", "note") else "")
    consent = data.get("email_marketing_consent")
    if consent is not None:
        state = consent.get("state")
        if state not in dict(Customer.MARKETING_STATES):
            raise StoreError("email_marketing_consent.state must be one of "
                             + ", ".join(dict(Customer.MARKETING_STATES)))
        customer.email_marketing_state = state
        customer.email_marketing_opt_in_level = consent.get("opt_in_level") or (
            "single_opt_in" if state == "subscribed" else None)
        customer.email_marketing_updated_at = _time(consent.get("consent_updated_at"), "consent_updated_at") or now
    if customer.email and Customer.objects.filter(shop_id=customer.shop_id, email__iexact=customer.email).exclude(
            pk=customer.pk).exists():
        raise StoreError("Email has already been taken")


def customer_create(*, shop: Shop, data: dict) -> Customer:
    now = _time(data.get("created_at"), "created_at") or timezone.now()
    customer = Customer(shop=shop, created_at=now, updated_at=now, locale=data.get("locale") or shop.primary_locale)
    with transaction.atomic():
        _apply_customer_fields(customer, data, now)
        if not (customer.email or customer.phone or customer.first_name or customer.last_name):
            raise StoreError("A customer needs an email, a phone or a name")
        customer.save()
        emit(shop, "customers/create", lambda: rest_payloads.customer_payload(Customer.objects.get(pk=customer.pk)))
    return customer


def customer_update(*, shop: Shop, customer_id: int, data: dict) -> Customer:
    with transaction.atomic():
        customer = Customer.objects.select_for_update().filter(shop=shop, pk=customer_id).first()
        if customer is None:
            raise StoreError("customer not found")
        now = timezone.now()
        _apply_customer_fields(customer, data, now)
        customer.updated_at = _time(data.get("updated_at"), "updated_at") or now
        customer.save()
        emit(shop, "customers/update", lambda: rest_payloads.customer_payload(Customer.objects.get(pk=customer.pk)))
    return customer


def customer_delete(*, shop: Shop, customer_id: int) -> None:
    with transaction.atomic():
        customer = Customer.objects.select_for_update().filter(shop=shop, pk=customer_id).first()
        if customer is None:
            raise StoreError("customer not found")
        if Order.objects.filter(customer_id=customer.pk).exists():
            # Shopify refuses to delete customers with orders ("Error deleting customer").
            raise StoreError("Customer can't be deleted because they have orders")
        customer.delete()
        emit(shop, "customers/delete", lambda: rest_payloads.customer_deleted_payload(customer_id))


# --- orders ------------------------------------------------------------------------------------------

def _resolve_discounts(shop: Shop, codes: list, customer: Customer | None, subtotal: Decimal, quantity: int,
                       now: dt.datetime) -> list[tuple[DiscountRedeemCode, DiscountNode]]:
    found = []
    for raw in codes:
        code = raw["code"] if isinstance(raw, dict) else raw
        redeem = (DiscountRedeemCode.objects.select_for_update().annotate(uc=Upper("code"))
                  .filter(shop=shop, uc=str(code).upper()).select_related("discount").first())
        if redeem is None:
            raise StoreError(f"Discount code {code} is not valid")
        node = redeem.discount
        if node.starts_at > now or (node.ends_at is not None and node.ends_at <= now):
            raise StoreError(f"Discount code {code} is not active")
        if node.usage_limit is not None and redeem.usage_count >= node.usage_limit:
            raise StoreError(f"Discount code {code} has reached its usage limit")
        if not node.context_all and (customer is None or customer.id not in node.context_customer_ids):
            raise StoreError(f"Discount code {code} is not available to this customer")
        if node.applies_once_per_customer:
            if customer is None:
                raise StoreError(f"Discount code {code} needs a customer (once per customer)")
            if Order.objects.filter(shop=shop, customer=customer, discount_codes__contains=[{"code": redeem.code}]
                                    ).exists():
                raise StoreError(f"Discount code {code} was already used by this customer")
        if node.minimum_subtotal is not None and subtotal < node.minimum_subtotal:
            raise StoreError(f"Discount code {code} needs a subtotal of at least {node.minimum_subtotal}")
        if node.minimum_quantity is not None and quantity < node.minimum_quantity:
            raise StoreError(f"Discount code {code} needs at least {node.minimum_quantity} items")
        found.append((redeem, node))
    kinds = [n.kind for _, n in found]
    if kinds.count("basic") > 1:
        raise StoreError("Only one order discount code can be used per order")
    return found


def order_place(*, shop: Shop, data: dict) -> Order:
    """Place an order as checkout would (customer or guest, lines, codes, shipping, tax, currency)."""
    now = timezone.now()
    created_at = _time(data.get("created_at"), "created_at") or now
    items = data.get("line_items") or []
    if not items:
        raise StoreError("line_items must not be empty")
    presentment = (data.get("presentment_currency") or data.get("currency") or shop.currency_code).upper()
    try:
        rate = fx_rate(shop.currency_code, presentment)
    except ValueError as exc:
        raise StoreError(str(exc)) from exc
    taxes_included = data.get("taxes_included", shop.taxes_included)
    vat = _dec(data["tax_rate"], "tax_rate") if data.get("tax_rate") is not None else tax_rate(shop.country_code)
    financial_status = data.get("financial_status", "paid")
    if financial_status not in ("paid", "pending", "authorized"):
        raise StoreError("financial_status of a new order must be paid, pending or authorized")
    with transaction.atomic():
        locked_shop = Shop.objects.select_for_update().get(pk=shop.pk)  # serialises order numbers
        customer = _order_customer(shop, data, created_at)
        lines = []
        for i, item in enumerate(items):
            qty = item.get("quantity", 1)
            if not isinstance(qty, int) or qty <= 0:
                raise StoreError(f"line_items[{i}].quantity must be a positive integer")
            variant = None
            if item.get("variant_id") is not None:
                variant = ProductVariant.objects.filter(shop=shop, pk=_id(item["variant_id"], "ProductVariant")
                                                        ).select_related("product").first()
                if variant is None:
                    raise StoreError(f"line_items[{i}].variant_id does not exist")
            price = _dec(item["price"], f"line_items[{i}].price") if item.get("price") is not None else (
                variant.price if variant else None)
            if price is None:
                raise StoreError(f"line_items[{i}] needs a variant_id or a price")
            title = item.get("title") or (variant.product.title if variant else None)
            if not title:
                raise StoreError(f"line_items[{i}] needs a title")
            lines.append((variant, title, qty, _q(price), item))
        line_total = sum((p * q for _, _, q, p, _ in lines), Decimal(0))
        # Gift cards (a gift-card product, or a custom line with "gift_card": true) are, as on Shopify,
        # neither discounted nor taxed nor shipped.
        gift_cards = [bool(variant.product.gift_card) if variant else bool(item.get("gift_card"))
                      for variant, _, _, _, item in lines]
        discountable_total = sum((p * q for (_, _, q, p, _), g in zip(lines, gift_cards, strict=True) if not g),
                                 Decimal(0))
        quantity = sum(q for _, _, q, _, _ in lines)
        shipping = _q(_dec(data.get("shipping", 0), "shipping"))
        codes = _resolve_discounts(shop, data.get("discount_codes") or [], customer, line_total, quantity,
                                   created_at if data.get("created_at") else now)
        order_discount = Decimal(0)
        discount_rows = []
        for redeem, node in codes:
            if node.kind == "free_shipping":
                if node.maximum_shipping_price is not None and shipping > node.maximum_shipping_price:
                    raise StoreError(f"Discount code {redeem.code} applies to shipping up to "
                                     f"{node.maximum_shipping_price}")
                discount_rows.append({"code": redeem.code, "amount": str(shipping), "type": "shipping"})
                order_discount += shipping
                shipping = Decimal(0)
                continue
            if node.value_type == "percentage":
                amount = _q(discountable_total * node.value)
                discount_rows.append({"code": redeem.code, "amount": str(amount), "type": "percentage",
                                      "value": format((node.value * 100).normalize(), "f")})
            else:
                amount = min(_q(node.value), discountable_total)
                discount_rows.append({"code": redeem.code, "amount": str(amount), "type": "fixed_amount",
                                      "value": str(amount)})
            order_discount += amount
        line_discount_total = sum((Decimal(d["amount"]) for d in discount_rows if d["type"] != "shipping"),
                                  Decimal(0))
        number = (Order.objects.filter(shop=shop).aggregate(m=Max("number"))["m"] or ORDER_NUMBER_START - 1) + 1
        allocations = _allocate_discount(line_discount_total, [
            Decimal(0) if g else p * q for (_, _, q, p, _), g in zip(lines, gift_cards, strict=True)])
        subtotal = line_total - line_discount_total
        if taxes_included:
            tax_lines = [Decimal(0) if g else _q((p * q - a) * vat / (1 + vat))
                         for (_, _, q, p, _), a, g in zip(lines, allocations, gift_cards, strict=True)]
            total = subtotal + shipping
        else:
            tax_lines = [Decimal(0) if g else _q((p * q - a) * vat)
                         for (_, _, q, p, _), a, g in zip(lines, allocations, gift_cards, strict=True)]
            total = subtotal + shipping + sum(tax_lines, Decimal(0))
        total_tax = sum(tax_lines, Decimal(0))
        email = data.get("email") or (customer.email if customer else None)
        order = Order(
            shop=shop, number=number, name=f"#{number}", email=email, phone=data.get("phone"), customer=customer,
            created_at=created_at, processed_at=created_at, updated_at=now if not data.get("created_at") else created_at,
            financial_status=financial_status, currency=shop.currency_code, presentment_currency=presentment,
            subtotal_price=subtotal, total_discounts=order_discount, total_shipping=shipping, total_tax=total_tax,
            total_price=total, subtotal_price_pres=_q(subtotal * rate), total_discounts_pres=_q(order_discount * rate),
            total_shipping_pres=_q(shipping * rate), total_tax_pres=_q(total_tax * rate),
            total_price_pres=_q(total * rate), taxes_included=taxes_included, discount_codes=discount_rows,
            landing_site=data.get("landing_site"), referring_site=data.get("referring_site"),
            note_attributes=note_attributes_clean(data.get("note_attributes")),
            source_name=data.get("source_name", "web"), test=bool(data.get("test", False)),
            tags=", ".join(data["tags"]) if isinstance(data.get("tags"), list) else data.get("tags", ""),
            note=data.get("note"), customer_locale=data.get("customer_locale") or (
                customer.locale if customer else locked_shop.primary_locale),
            buyer_accepts_marketing=bool(data.get("buyer_accepts_marketing", False)),
            fulfillment_status=data.get("fulfillment_status"),
        )
        order.save()
        for (variant, title, qty, price, item), alloc, tax, gift in zip(lines, allocations, tax_lines, gift_cards,
                                                                         strict=True):
            LineItem.objects.create(
                shop=shop, order=order, product=variant.product if variant else None, variant=variant,
                title=title, variant_title=item.get("variant_title") or (variant.title if variant else None),
                sku=item.get("sku") or (variant.sku if variant else None),
                vendor=item.get("vendor") or (variant.product.vendor if variant else None), quantity=qty,
                price=price, price_pres=_q(price * rate), total_discount=alloc, total_discount_pres=_q(alloc * rate),
                tax=tax, tax_pres=_q(tax * rate),
                requires_shipping=False if gift else (
                    variant.requires_shipping if variant else item.get("requires_shipping", True)),
                taxable=not gift, gift_card=gift,
            )
        for redeem, _node in codes:
            DiscountRedeemCode.objects.filter(pk=redeem.pk).update(usage_count=F("usage_count") + 1)
        if customer is not None and not order.test:
            _customer_totals(customer, now)
        emit(shop, "orders/create", lambda: rest_payloads.order_payload(_reload(order)))
        if financial_status == "paid":
            emit(shop, "orders/paid", lambda: rest_payloads.order_payload(_reload(order)))
    return order


def _allocate_discount(total: Decimal, bases: list[Decimal]) -> list[Decimal]:
    """Split a discount over lines in proportion to their value; the last line takes the rounding."""
    base_sum = sum(bases, Decimal(0))
    if not total or not base_sum:
        return [Decimal(0)] * len(bases)
    shares = [_q(total * b / base_sum) for b in bases[:-1]]
    return [*shares, total - sum(shares, Decimal(0))]


def _order_customer(shop: Shop, data: dict, created_at: dt.datetime) -> Customer | None:
    if data.get("customer_id") is not None:
        customer = Customer.objects.filter(shop=shop, pk=_id(data["customer_id"], "Customer")).first()
        if customer is None:
            raise StoreError("customer_id does not exist")
        return customer
    if data.get("customer"):
        info = data["customer"]
        email = info.get("email")
        existing = Customer.objects.filter(shop=shop, email__iexact=email).first() if email else None
        return existing or customer_create(shop=shop, data={**info, "created_at": info.get("created_at") or
                                                            created_at.isoformat()})
    return None  # guest checkout


def _customer_totals(customer: Customer, now: dt.datetime) -> None:
    """orders_count and amount spent (paid, non-test orders net of refunds), as Shopify shows them."""
    from django.db.models import Count, Q, Sum

    agg = Order.objects.filter(customer_id=customer.pk, test=False).aggregate(
        n=Count("id"),
        spent=Sum(F("total_price") - F("total_refunded"),
                  filter=Q(financial_status__in=("paid", "partially_refunded", "refunded"))),
    )
    Customer.objects.filter(pk=customer.pk).update(orders_count=agg["n"], amount_spent=agg["spent"] or 0,
                                                   updated_at=now)


def _reload(order: Order) -> Order:
    return Order.objects.select_related("shop", "customer", "customer__shop").get(pk=order.pk)


def _locked_order(shop: Shop, order_id: int) -> Order:
    order = Order.objects.select_for_update().filter(shop=shop, pk=order_id).first()
    if order is None:
        raise StoreError("order not found")
    return order


def order_mark_paid(*, shop: Shop, order_id: int) -> Order:
    with transaction.atomic():
        order = _locked_order(shop, order_id)
        if order.financial_status not in ("pending", "authorized", "partially_paid"):
            raise StoreError(f"order is {order.financial_status}; only pending orders can be marked as paid")
        if order.cancelled_at is not None:
            raise StoreError("order is cancelled")
        now = timezone.now()
        order.financial_status, order.updated_at = "paid", now
        order.save(update_fields=["financial_status", "updated_at"])
        if order.customer_id and not order.test:
            _customer_totals(order.customer, now)
        emit(shop, "orders/paid", lambda: rest_payloads.order_payload(_reload(order)))
        emit(shop, "orders/updated", lambda: rest_payloads.order_payload(_reload(order)))
    return order


def order_refund(*, shop: Shop, order_id: int, data: dict) -> Refund:
    """Refund line items (with their tax), shipping, or a plain amount; `full: true` refunds what is left."""
    with transaction.atomic():
        order = _locked_order(shop, order_id)
        refund = _refund_locked(order, data)
        emit(shop, "refunds/create", lambda: rest_payloads.refund_payload(
            Refund.objects.select_related("order__shop").get(pk=refund.pk)))
        emit(shop, "orders/updated", lambda: rest_payloads.order_payload(_reload(order)))
    return refund


def _refund_locked(order: Order, data: dict) -> Refund:
    if order.financial_status not in ("paid", "partially_refunded"):
        raise StoreError(f"order is {order.financial_status}; only paid orders can be refunded")
    now = _time(data.get("created_at"), "created_at") or timezone.now()
    rate = (order.total_price_pres / order.total_price) if order.total_price else Decimal(1)
    items = {li.id: li for li in order.line_items.all()}
    already = {}
    for rli in RefundLineItem.objects.filter(refund__order=order):
        already[rli.line_item_id] = already.get(rli.line_item_id, 0) + rli.quantity
    requested = data.get("line_items") or []
    if data.get("full"):
        requested = [{"line_item_id": li_id, "quantity": li.quantity - already.get(li_id, 0)}
                     for li_id, li in items.items() if li.quantity - already.get(li_id, 0) > 0]
    vat_lines = []
    for i, item in enumerate(requested):
        li = items.get(_id(item.get("line_item_id"), "LineItem"))
        if li is None:
            raise StoreError(f"line_items[{i}].line_item_id is not a line of this order")
        qty = item.get("quantity", 1)
        if not isinstance(qty, int) or qty <= 0 or qty > li.quantity - already.get(li.id, 0):
            raise StoreError(f"line_items[{i}].quantity must be between 1 and the unrefunded quantity")
        net = (li.price * li.quantity - li.total_discount) * qty / li.quantity
        tax = li.tax * qty / li.quantity
        vat_lines.append((li, qty, _q(net), _q(tax)))
    shipping_left = order.total_shipping - order.total_refunded_shipping
    if data.get("full"):
        shipping = shipping_left
    elif data.get("shipping") is not None:
        shipping = _q(_dec(data["shipping"], "shipping"))
    else:
        shipping = Decimal(0)
    if shipping > shipping_left:
        raise StoreError(f"shipping refund exceeds the {shipping_left} not yet refunded")
    lines_amount = sum((s + (Decimal(0) if order.taxes_included else t) for _, _, s, t in vat_lines), Decimal(0))
    extra = _q(_dec(data["amount"], "amount")) if data.get("amount") is not None else Decimal(0)
    amount = lines_amount + shipping + extra
    remaining = order.total_price - order.total_refunded
    if data.get("full"):
        amount = remaining  # rounding of per-line shares must not leave a cent unrefunded
    if amount <= 0:
        raise StoreError("nothing to refund: give line_items, shipping, amount or full")
    if amount > remaining:
        raise StoreError(f"refund of {amount} exceeds the {remaining} not yet refunded")
    amount_pres = _q(amount * rate) if amount != remaining else order.total_price_pres - order.total_refunded_pres
    refund = Refund.objects.create(
        shop_id=order.shop_id, order=order, created_at=now, processed_at=now, note=data.get("note"),
        amount=amount, amount_pres=amount_pres, shipping=shipping, shipping_pres=_q(shipping * rate),
        restock=bool(data.get("restock", False)),
    )
    for li, qty, subtotal, tax in vat_lines:
        RefundLineItem.objects.create(
            refund=refund, line_item=li, quantity=qty, subtotal=subtotal, subtotal_pres=_q(subtotal * rate),
            total_tax=tax, total_tax_pres=_q(tax * rate),
            restock_type="return" if data.get("restock") else "no_restock",
        )
    order.total_refunded += amount
    order.total_refunded_pres += amount_pres
    order.total_refunded_shipping += shipping
    order.total_refunded_shipping_pres += refund.shipping_pres
    order.financial_status = "refunded" if order.total_refunded >= order.total_price else "partially_refunded"
    order.updated_at = timezone.now()
    order.save()
    if order.customer_id and not order.test:
        _customer_totals(order.customer, order.updated_at)
    return refund


def order_cancel(*, shop: Shop, order_id: int, data: dict) -> Order:
    reason = data.get("reason", "customer")
    if reason not in dict(Order.CANCEL_REASONS):
        raise StoreError("reason must be one of " + ", ".join(dict(Order.CANCEL_REASONS)))
    with transaction.atomic():
        order = _locked_order(shop, order_id)
        if order.cancelled_at is not None:
            raise StoreError("order is already cancelled")
        now = timezone.now()
        refund = None
        if order.financial_status in ("paid", "partially_refunded") and data.get("refund", True):
            refund = _refund_locked(order, {"full": True, "note": "Order cancelled"})
        elif order.financial_status in ("pending", "authorized"):
            order.financial_status = "voided"
        order.cancelled_at, order.cancel_reason, order.closed_at, order.updated_at = now, reason, now, now
        order.save()
        if order.customer_id and not order.test:
            _customer_totals(order.customer, now)
        if refund is not None:
            emit(shop, "refunds/create", lambda: rest_payloads.refund_payload(
                Refund.objects.select_related("order__shop").get(pk=refund.pk)))
        emit(shop, "orders/cancelled", lambda: rest_payloads.order_payload(_reload(order)))
        emit(shop, "orders/updated", lambda: rest_payloads.order_payload(_reload(order)))
    return order
