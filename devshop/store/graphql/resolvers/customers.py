"""QueryRoot.customers / customer and the Customer type."""
from graphql import GraphQLError

from ...formats import gid, iso_utc, money_v2
from ...models import Customer, Metafield, Order
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

SORT_KEYS = {"ID": ("id", False), "CREATED_AT": ("created_at", True), "UPDATED_AT": ("updated_at", True)}

SEARCH_FIELDS = {
    "id": SearchField("id", "id", gid_type="Customer"),
    "created_at": SearchField("created_at", "datetime"),
    "updated_at": SearchField("updated_at", "datetime"),
    "email": SearchField("email", "istr"),
    "first_name": SearchField("first_name", "istr"),
    "last_name": SearchField("last_name", "istr"),
    "phone": SearchField("phone", "str"),
    "tag": SearchField("tags", "tag"),
    "orders_count": SearchField("orders_count", "int"),
    "amount_spent": SearchField("amount_spent", "decimal"),
    "total_spent": SearchField("amount_spent", "decimal"),
    "state": SearchField("state", "choice", transform=lambda v: v.lower()),
    "country": SearchField("country_code", "istr"),
    "accepts_marketing": SearchField(
        "email_marketing_state", "choice",
        transform=lambda v: "subscribed" if v.lower() == "true" else ["not_subscribed", "unsubscribed", "pending"],
    ),
    "email_marketing_state": SearchField("email_marketing_state", "choice", transform=lambda v: v.lower()),
}
TEXT_FIELDS = ["first_name", "last_name", "email"]


def customers_queryset(shop):
    return Customer.objects.filter(shop=shop)


def sort_key(value: str | None, keys: dict) -> tuple[str, bool]:
    key = value or "ID"
    if key not in keys:
        raise GraphQLError(
            f"devshop supports sortKey {', '.join(keys)} here, not {key}",
            extensions={"code": "DEVSHOP_NOT_IMPLEMENTED"},
        )
    return keys[key]


def resolve_customers(obj, info, first=None, last=None, after=None, before=None, reverse=False,
                      sortKey=None, query=None):
    require_access(info, "read_customers")
    shop = ctx_shop(info)
    field, is_dt = sort_key(sortKey, SORT_KEYS)
    try:
        search = parse_search(query, SEARCH_FIELDS, TEXT_FIELDS, shop.iana_timezone)
    except SearchError as exc:
        raise GraphQLError(f"Invalid search query: {exc}", extensions={"code": "BAD_REQUEST"}) from exc
    record_search_warnings(info, query, search.warnings)
    qs = customers_queryset(shop).filter(search.q)
    return paginate(qs, sort_field=field, is_datetime=is_dt, first=first, last=last, after=after,
                    before=before, reverse=reverse, connection_name="customers")


def resolve_customer(obj, info, id):
    require_access(info, "read_customers")
    pk = id_arg(id, "Customer")
    return customers_queryset(ctx_shop(info)).filter(pk=pk).first()


def _email_address(c: Customer):
    if not c.email:
        return None
    return {
        "emailAddress": c.email,
        "marketingState": c.email_marketing_state.upper(),
        "marketingOptInLevel": c.email_marketing_opt_in_level.upper() if c.email_marketing_opt_in_level else None,
        "marketingUpdatedAt": iso_utc(c.email_marketing_updated_at),
        "sourceLocation": None,
        "validFormat": "@" in c.email,
        "openTrackingLevel": "UNKNOWN",
    }


def _consent(c: Customer):
    if not c.email:
        return None
    return {
        "marketingState": c.email_marketing_state.upper(),
        "marketingOptInLevel": c.email_marketing_opt_in_level.upper() if c.email_marketing_opt_in_level else None,
        "consentUpdatedAt": iso_utc(c.email_marketing_updated_at),
        "sourceLocation": None,
    }


def _phone(c: Customer):
    if not c.phone:
        return None
    return {"phoneNumber": c.phone}


CUSTOMER_FIELDS = {
    "id": lambda c: gid("Customer", c.id),
    "legacyResourceId": lambda c: str(c.id),
    "firstName": lambda c: c.first_name or None,
    "lastName": lambda c: c.last_name or None,
    "displayName": lambda c: c.display_name,
    "email": lambda c: c.email,
    "phone": lambda c: c.phone,
    "defaultEmailAddress": _email_address,
    "defaultPhoneNumber": _phone,
    "emailMarketingConsent": _consent,
    "tags": lambda c: tag_list(c.tags),
    "locale": lambda c: c.locale,
    "note": lambda c: c.note,
    "state": lambda c: c.state.upper(),
    "verifiedEmail": lambda c: c.verified_email,
    "taxExempt": lambda c: False,
    "taxExemptions": lambda c: [],
    "dataSaleOptOut": lambda c: False,
    "canDelete": lambda c: c.orders_count == 0,
    "createdAt": lambda c: iso_utc(c.created_at),
    "updatedAt": lambda c: iso_utc(c.updated_at),
    "numberOfOrders": lambda c: str(c.orders_count),
    "defaultAddress": lambda c: (
        {"__typename": "MailingAddress", "id": gid("MailingAddress", c.id), "countryCodeV2": c.country_code,
         "city": c.city, "country": c.country_code, "firstName": c.first_name or None,
         "lastName": c.last_name or None}
        if c.country_code else None
    ),
}


def _field(fn):
    return lambda obj, info, **args: fn(obj)


def resolve_customer_metafield(obj, info, key, namespace=None):
    from .metafields import find_metafield

    return find_metafield(obj.shop_id, "Customer", obj.id, namespace, key, info)


def resolve_customer_orders(obj, info, first=None, last=None, after=None, before=None, reverse=False,
                            sortKey=None, query=None):
    from .orders import resolve_orders

    require_access(info, "read_orders")
    return resolve_orders(None, info, first=first, last=last, after=after, before=before, reverse=reverse,
                          sortKey=sortKey, query=query, customer=obj)


def resolve_last_order(obj, info):
    require_access(info, "read_orders")
    qs = Order.objects.filter(shop_id=obj.shop_id, customer_id=obj.id)
    since = orders_visible_since(info)
    if since is not None:
        qs = qs.filter(created_at__gte=since)
    return qs.order_by("-created_at", "-id").first()


def resolve_customer_metafields(obj, info, first=None, last=None, after=None, before=None, reverse=False,
                                namespace=None, keys=None):
    qs = Metafield.objects.filter(shop_id=obj.shop_id, owner_type="Customer", owner_id=obj.id)
    if namespace:
        qs = qs.filter(namespace=namespace)
    if keys:
        from django.db.models import Q

        wanted = Q()
        for k in keys:
            ns, _, key = k.rpartition(".")
            wanted |= Q(namespace=ns, key=key)
        qs = qs.filter(wanted)
    return paginate(qs, sort_field="id", is_datetime=False, first=first, last=last, after=after,
                    before=before, reverse=reverse, connection_name="metafields")


register("QueryRoot", "customers", resolve_customers)
register("QueryRoot", "customer", resolve_customer)
for _name, _fn in CUSTOMER_FIELDS.items():
    register("Customer", _name, _field(_fn))
register("Customer", "amountSpent", lambda c, info: money_v2(c.amount_spent, ctx_shop(info).currency_code))
register("Customer", "metafield", resolve_customer_metafield)
register("Customer", "metafields", resolve_customer_metafields)
register("Customer", "orders", resolve_customer_orders)
register("Customer", "lastOrder", resolve_last_order)
