"""QueryRoot.orders / order and the Order, LineItem, Refund, Product types."""
from django.db.models import Q, Sum
from graphql import GraphQLError

from ...formats import gid, iso_utc, money_bag
from ...models import LineItem, Metafield, Order, Product, ProductVariant, Refund, RefundLineItem
from ..registry import register
from ..search import SearchError, SearchField, parse_search
from .common import (
    ctx_shop,
    id_arg,
    orders_visible_since,
    paginate,
    record_search_warnings,
    require_access,
    tag_list,
)
from .customers import sort_key

SORT_KEYS = {
    "ID": ("id", False),
    "CREATED_AT": ("created_at", True),
    "UPDATED_AT": ("updated_at", True),
    "PROCESSED_AT": ("processed_at", True),
    "ORDER_NUMBER": ("number", False),
    "TOTAL_PRICE": ("total_price", False),
}

FULFILLMENT_DISPLAY = {None: "UNFULFILLED", "fulfilled": "FULFILLED", "partial": "PARTIALLY_FULFILLED",
                       "restocked": "RESTOCKED"}


def _status_q(value: str) -> Q:
    value = value.lower()
    if value == "open":
        return Q(cancelled_at__isnull=True, closed_at__isnull=True)
    if value == "closed":
        return Q(closed_at__isnull=False)
    if value == "cancelled":
        return Q(cancelled_at__isnull=False)
    if value == "any":
        return Q()
    raise SearchError(f"'{value}' is not an order status (open, closed, cancelled, any)")


def _fulfillment_q(value: str) -> Q:
    value = value.lower()
    mapping = {"shipped": Q(fulfillment_status="fulfilled"), "fulfilled": Q(fulfillment_status="fulfilled"),
               "partial": Q(fulfillment_status="partial"), "unshipped": Q(fulfillment_status__isnull=True),
               "unfulfilled": Q(fulfillment_status__isnull=True), "restocked": Q(fulfillment_status="restocked"),
               "any": Q()}
    if value not in mapping:
        raise SearchError(f"'{value}' is not a fulfillment status")
    return mapping[value]


SEARCH_FIELDS = {
    "id": SearchField("id", "id", gid_type="Order"),
    "created_at": SearchField("created_at", "datetime"),
    "updated_at": SearchField("updated_at", "datetime"),
    "processed_at": SearchField("processed_at", "datetime"),
    "email": SearchField("email", "istr"),
    "customer_id": SearchField("customer_id", "id", gid_type="Customer"),
    "name": SearchField("name", "q", transform=lambda v: Q(name__iexact=v if v.startswith("#") else "#" + v)),
    "financial_status": SearchField("financial_status", "choice", transform=lambda v: v.lower()),
    "fulfillment_status": SearchField("fulfillment_status", "q", transform=_fulfillment_q),
    "status": SearchField("status", "q", transform=_status_q),
    "test": SearchField("test", "bool"),
    "tag": SearchField("tags", "tag"),
    "discount_code": SearchField("discount_codes", "q", transform=lambda v: Q(discount_codes__contains=[{"code": v}])),
    "source_name": SearchField("source_name", "str"),
    "currency": SearchField("presentment_currency", "istr"),
}
TEXT_FIELDS = ["name", "email"]


def visible_orders(info):
    qs = Order.objects.filter(shop=ctx_shop(info))
    since = orders_visible_since(info)
    if since is not None:
        qs = qs.filter(created_at__gte=since)
    return qs


def resolve_orders(obj, info, first=None, last=None, after=None, before=None, reverse=False, sortKey=None,
                   query=None, savedSearchId=None, customer=None):
    require_access(info, "read_orders")
    if savedSearchId is not None:
        raise GraphQLError("devshop does not implement saved searches", extensions={"code": "DEVSHOP_NOT_IMPLEMENTED"})
    shop = ctx_shop(info)
    field, is_dt = sort_key(sortKey, SORT_KEYS)
    try:
        search = parse_search(query, SEARCH_FIELDS, TEXT_FIELDS, shop.iana_timezone)
    except SearchError as exc:
        raise GraphQLError(f"Invalid search query: {exc}", extensions={"code": "BAD_REQUEST"}) from exc
    record_search_warnings(info, query, search.warnings)
    qs = visible_orders(info).filter(search.q).select_related("customer")
    if customer is not None:
        qs = qs.filter(customer_id=customer.id)
    return paginate(qs, sort_field=field, is_datetime=is_dt, first=first, last=last, after=after,
                    before=before, reverse=reverse, connection_name="orders")


def resolve_order(obj, info, id):
    require_access(info, "read_orders")
    return visible_orders(info).filter(pk=id_arg(id, "Order")).select_related("customer").first()


def bag(o: Order, shop_amount, pres_amount):
    return money_bag(shop_amount, o.currency, pres_amount, o.presentment_currency)


def _refunded_tax(o: Order):
    sums = RefundLineItem.objects.filter(refund__order_id=o.id).aggregate(t=Sum("total_tax"), p=Sum("total_tax_pres"))
    return sums["t"] or 0, sums["p"] or 0


def _current_tax(o: Order):
    tax, tax_pres = _refunded_tax(o) if o.total_refunded else (0, 0)
    return bag(o, o.total_tax - tax, o.total_tax_pres - tax_pres)


def _journey(o: Order):
    if not o.landing_site and not o.referring_site:
        return {"ready": True, "firstVisit": None, "lastVisit": None, "customerOrderIndex": None,
                "daysToConversion": None, "momentsCount": None}
    visit = {
        "id": gid("CustomerVisit", o.id),
        "landingPage": o.landing_site,
        "landingPageHtml": None,
        "referrerUrl": o.referring_site,
        "referralCode": None,
        "source": _visit_source(o.referring_site),
        "sourceDescription": None,
        "sourceType": None,
        "occurredAt": iso_utc(o.created_at),
        "marketingEvent": None,
        "utmParameters": None,
        "referralInfoHtml": "",
    }
    return {"ready": True, "firstVisit": visit, "lastVisit": visit, "customerOrderIndex": None,
            "daysToConversion": 0, "momentsCount": None}


def _visit_source(referrer: str | None) -> str:
    if not referrer:
        return "direct"
    for name in ("google", "facebook", "instagram", "bing", "tiktok", "pinterest"):
        if name in referrer:
            return name
    return "unknown"


ORDER_FIELDS = {
    "id": lambda o: gid("Order", o.id),
    "legacyResourceId": lambda o: str(o.id),
    "name": lambda o: o.name,
    "number": lambda o: o.number,
    "email": lambda o: o.email,
    "phone": lambda o: o.phone,
    "note": lambda o: o.note,
    "createdAt": lambda o: iso_utc(o.created_at),
    "processedAt": lambda o: iso_utc(o.processed_at),
    "updatedAt": lambda o: iso_utc(o.updated_at),
    "cancelledAt": lambda o: iso_utc(o.cancelled_at),
    "cancelReason": lambda o: o.cancel_reason.upper() if o.cancel_reason else None,
    "closed": lambda o: o.closed_at is not None,
    "closedAt": lambda o: iso_utc(o.closed_at),
    "confirmed": lambda o: True,
    "test": lambda o: o.test,
    "tags": lambda o: tag_list(o.tags),
    "sourceName": lambda o: o.source_name,
    "currencyCode": lambda o: o.currency,
    "presentmentCurrencyCode": lambda o: o.presentment_currency,
    "displayFinancialStatus": lambda o: o.financial_status.upper() if o.financial_status else None,
    "displayFulfillmentStatus": lambda o: FULFILLMENT_DISPLAY.get(o.fulfillment_status, "UNFULFILLED"),
    "fullyPaid": lambda o: o.financial_status in ("paid", "partially_refunded", "refunded"),
    "unpaid": lambda o: o.financial_status in ("pending", "authorized"),
    "canMarkAsPaid": lambda o: o.financial_status in ("pending", "partially_paid") and o.cancelled_at is None,
    "refundable": lambda o: o.financial_status in ("paid", "partially_refunded") and o.total_refunded < o.total_price,
    "taxesIncluded": lambda o: o.taxes_included,
    "taxExempt": lambda o: False,
    "requiresShipping": lambda o: o.total_shipping > 0,
    "edited": lambda o: False,
    "customerLocale": lambda o: o.customer_locale,
    "customerAcceptsMarketing": lambda o: o.buyer_accepts_marketing,
    "discountCode": lambda o: o.discount_codes[0]["code"] if o.discount_codes else None,
    "discountCodes": lambda o: [d["code"] for d in o.discount_codes],
    "landingPageUrl": lambda o: o.landing_site,
    "customAttributes": lambda o: [{"key": a["name"], "value": a["value"]} for a in o.note_attributes or []],
    "referrerUrl": lambda o: o.referring_site,
    "customerJourneySummary": _journey,
    "paymentGatewayNames": lambda o: ["manual"] if o.source_name != "web" else ["shopify_payments"],
    "subtotalPriceSet": lambda o: bag(o, o.subtotal_price, o.subtotal_price_pres),
    "currentSubtotalPriceSet": lambda o: bag(
        o,
        o.subtotal_price - (o.total_refunded - o.total_refunded_shipping) if o.taxes_included else o.subtotal_price,
        o.subtotal_price_pres - (o.total_refunded_pres - o.total_refunded_shipping_pres)
        if o.taxes_included else o.subtotal_price_pres,
    ),
    "totalDiscountsSet": lambda o: bag(o, o.total_discounts, o.total_discounts_pres),
    "currentTotalDiscountsSet": lambda o: bag(o, o.total_discounts, o.total_discounts_pres),
    "cartDiscountAmountSet": lambda o: bag(o, o.total_discounts, o.total_discounts_pres),
    "totalShippingPriceSet": lambda o: bag(o, o.total_shipping, o.total_shipping_pres),
    "currentShippingPriceSet": lambda o: bag(o, o.total_shipping - o.total_refunded_shipping,
                                             o.total_shipping_pres - o.total_refunded_shipping_pres),
    "totalTaxSet": lambda o: bag(o, o.total_tax, o.total_tax_pres),
    "currentTotalTaxSet": _current_tax,
    "totalPriceSet": lambda o: bag(o, o.total_price, o.total_price_pres),
    "originalTotalPriceSet": lambda o: bag(o, o.total_price, o.total_price_pres),
    "currentTotalPriceSet": lambda o: bag(o, o.total_price - o.total_refunded, o.total_price_pres - o.total_refunded_pres),
    "totalRefundedSet": lambda o: bag(o, o.total_refunded, o.total_refunded_pres),
    "totalRefundedShippingSet": lambda o: bag(o, o.total_refunded_shipping, o.total_refunded_shipping_pres),
    "totalReceivedSet": lambda o: bag(o, *(
        (o.total_price, o.total_price_pres) if o.financial_status in ("paid", "partially_refunded", "refunded")
        else (0, 0))),
    "netPaymentSet": lambda o: bag(o, *(
        (o.total_price - o.total_refunded, o.total_price_pres - o.total_refunded_pres)
        if o.financial_status in ("paid", "partially_refunded", "refunded") else (0, 0))),
    "totalOutstandingSet": lambda o: bag(o, *(
        (o.total_price, o.total_price_pres) if o.financial_status in ("pending", "authorized") else (0, 0))),
    "totalTipReceivedSet": lambda o: bag(o, 0, 0),
}


def _field(fn):
    return lambda obj, info, **args: fn(obj)


def resolve_order_customer(o, info):
    if o.customer_id is None:
        return None
    require_access(info, "read_customers", "customer")
    return o.customer


def resolve_line_items(o, info, first=None, last=None, after=None, before=None, reverse=False):
    qs = LineItem.objects.filter(order_id=o.id).select_related("product", "variant")
    page = paginate(qs, sort_field="id", is_datetime=False, first=first, last=last, after=after, before=before,
                    reverse=reverse, connection_name="lineItems")
    for item in page["nodes"]:
        item.order = o  # money fields need the order's currencies; avoid one query per line
    return page


def resolve_refunds(o, info, first=None):
    qs = Refund.objects.filter(order_id=o.id).order_by("created_at", "id")
    if first is not None:
        qs = qs[:first]
    return list(qs)


def _subtotal_counts(o: Order):
    return LineItem.objects.filter(order_id=o.id).aggregate(q=Sum("quantity"))["q"] or 0


def _refunded_quantities(line_item_ids):
    rows = (RefundLineItem.objects.filter(line_item_id__in=line_item_ids)
            .values("line_item_id").annotate(q=Sum("quantity")))
    return {r["line_item_id"]: r["q"] for r in rows}


def _li_bag(li: LineItem, shop_amount, pres_amount, info):
    order = li.order if "order" in li._state.fields_cache else None
    shop_cur = order.currency if order else ctx_shop(info).currency_code
    pres_cur = order.presentment_currency if order else _presentment_currency(li)
    return money_bag(shop_amount, shop_cur, pres_amount, pres_cur)


def _presentment_currency(li: LineItem) -> str:
    return Order.objects.values_list("presentment_currency", flat=True).get(pk=li.order_id)


def _current_quantity(li: LineItem) -> int:
    return li.quantity - (_refunded_quantities([li.id]).get(li.id, 0))


LINE_ITEM_FIELDS = {
    "id": lambda li, info: gid("LineItem", li.id),
    "title": lambda li, info: li.title,
    "name": lambda li, info: f"{li.title} - {li.variant_title}" if li.variant_title else li.title,
    "variantTitle": lambda li, info: li.variant_title,
    "sku": lambda li, info: li.sku,
    "vendor": lambda li, info: li.vendor,
    "quantity": lambda li, info: li.quantity,
    "currentQuantity": lambda li, info: _current_quantity(li),
    "refundableQuantity": lambda li, info: _current_quantity(li),
    "requiresShipping": lambda li, info: li.requires_shipping,
    "taxable": lambda li, info: li.taxable,
    "isGiftCard": lambda li, info: li.gift_card,
    "restockable": lambda li, info: True,
    "merchantEditable": lambda li, info: False,
    "originalUnitPriceSet": lambda li, info: _li_bag(li, li.price, li.price_pres, info),
    "originalTotalSet": lambda li, info: _li_bag(li, li.price * li.quantity, li.price_pres * li.quantity, info),
    "totalDiscountSet": lambda li, info: _li_bag(li, li.total_discount, li.total_discount_pres, info),
    "discountedTotalSet": lambda li, info, **a: _li_bag(
        li, li.price * li.quantity - li.total_discount, li.price_pres * li.quantity - li.total_discount_pres, info),
    "discountedUnitPriceSet": lambda li, info: _li_bag(
        li, li.price - li.total_discount / li.quantity, li.price_pres - li.total_discount_pres / li.quantity, info),
    "discountedUnitPriceAfterAllDiscountsSet": lambda li, info: _li_bag(
        li, li.price - li.total_discount / li.quantity, li.price_pres - li.total_discount_pres / li.quantity, info),
    "discountAllocations": lambda li, info: (
        [{"allocatedAmountSet": _li_bag(li, li.total_discount, li.total_discount_pres, info),
          "discountApplication": None}] if li.total_discount else []),
    "product": lambda li, info: li.product,
    "variant": lambda li, info: li.variant,
}

REFUND_FIELDS = {
    "id": lambda r, info: gid("Refund", r.id),
    "legacyResourceId": lambda r, info: str(r.id),
    "createdAt": lambda r, info: iso_utc(r.created_at),
    "processedAt": lambda r, info: iso_utc(r.processed_at),
    "updatedAt": lambda r, info: iso_utc(r.processed_at),
    "note": lambda r, info: r.note,
    "order": lambda r, info: r.order,
    "totalRefundedSet": lambda r, info: bag(r.order, r.amount, r.amount_pres),
    "refundLineItems": lambda r, info, first=None, last=None, after=None, before=None, reverse=False: paginate(
        RefundLineItem.objects.filter(refund_id=r.id).select_related("line_item", "refund__order"),
        sort_field="id", is_datetime=False, first=first, last=last, after=after, before=before, reverse=reverse,
        connection_name="refundLineItems"),
}

REFUND_LINE_ITEM_FIELDS = {
    "id": lambda x, info: gid("RefundLineItem", x.id),
    "lineItem": lambda x, info: x.line_item,
    "quantity": lambda x, info: x.quantity,
    "restockType": lambda x, info: x.restock_type.upper(),
    "restocked": lambda x, info: x.restock_type != "no_restock",
    "location": lambda x, info: None,
    "priceSet": lambda x, info: bag(x.refund.order, x.line_item.price, x.line_item.price_pres),
    "subtotalSet": lambda x, info: bag(x.refund.order, x.subtotal, x.subtotal_pres),
    "totalTaxSet": lambda x, info: bag(x.refund.order, x.total_tax, x.total_tax_pres),
}

PRODUCT_FIELDS = {
    "id": lambda p, info: gid("Product", p.id),
    "legacyResourceId": lambda p, info: str(p.id),
    "title": lambda p, info: p.title,
    "handle": lambda p, info: p.handle,
    "vendor": lambda p, info: p.vendor,
    "productType": lambda p, info: p.product_type,
    "isGiftCard": lambda p, info: p.gift_card,
    "status": lambda p, info: p.status.upper(),
    "createdAt": lambda p, info: iso_utc(p.created_at),
    "updatedAt": lambda p, info: iso_utc(p.updated_at),
}

VARIANT_FIELDS = {
    "id": lambda v, info: gid("ProductVariant", v.id),
    "legacyResourceId": lambda v, info: str(v.id),
    "title": lambda v, info: v.title,
    "displayName": lambda v, info: f"{v.product.title} - {v.title}",
    "sku": lambda v, info: v.sku,
    "price": lambda v, info: str(v.price),
    "taxable": lambda v, info: v.taxable,
    "product": lambda v, info: v.product,
}


def resolve_order_metafield(o, info, key, namespace=None):
    from .metafields import find_metafield

    return find_metafield(o.shop_id, "Order", o.id, namespace, key, info)


register("QueryRoot", "orders", resolve_orders)
register("QueryRoot", "order", resolve_order)
for _name, _fn in ORDER_FIELDS.items():
    register("Order", _name, _field(_fn))
register("Order", "customer", resolve_order_customer)
register("Order", "lineItems", resolve_line_items)
register("Order", "refunds", resolve_refunds)
register("Order", "metafield", resolve_order_metafield)
register("Order", "subtotalLineItemsQuantity", lambda o, info: _subtotal_counts(o))
for _type, _fields in (("LineItem", LINE_ITEM_FIELDS), ("Refund", REFUND_FIELDS),
                       ("RefundLineItem", REFUND_LINE_ITEM_FIELDS), ("Product", PRODUCT_FIELDS),
                       ("ProductVariant", VARIANT_FIELDS)):
    for _name, _fn in _fields.items():
        register(_type, _name, _fn)

__all__ = ["Metafield", "Product", "ProductVariant", "resolve_orders", "visible_orders"]
