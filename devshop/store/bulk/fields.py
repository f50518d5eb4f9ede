"""What each GraphQL field of a bulk query reads, as SQL over the store's tables.

Specs use `{a}` for the alias of the row's table. Objects become `json_build_object(...)` calls, so
PostgreSQL formats each JSONL line and Python only streams text: this is what makes a million orders
take seconds rather than the minutes graphql-core would need per object.
Formats match the GraphQL resolvers exactly (devshop_dec = formats.decimal_str, devshop_ts = iso_utc).
"""
from dataclasses import dataclass, field
from typing import Callable


@dataclass
class S:
    """A scalar SQL expression."""

    sql: str


@dataclass
class O:  # noqa: E742 - short names keep the tables below readable
    """A nested object computed from the same row; null when `null_if` (SQL) is true."""

    fields: dict
    null_if: str | None = None
    typename: str | None = None


@dataclass
class J:
    """A to-one relation through a LEFT JOIN; `on` uses {a} (this row) and {j} (the joined table)."""

    type_name: str
    table: str
    on: str
    scope: str | None = None
    args: Callable | None = None  # (field args, params list) -> extra ON condition with {j}


@dataclass
class C:
    """A nested connection: its nodes become separate JSONL lines with __parentId."""

    type_name: str
    table: str
    fk: str
    scope: str | None = None


@dataclass
class L:
    """A nested list of objects (not a connection): inlined as a JSON array, as Shopify does."""

    type_name: str
    table: str
    fk: str
    order: str = "id"


@dataclass
class TypeSpec:
    table: str
    gid_type: str
    fields: dict = field(default_factory=dict)


def ts(col: str) -> S:
    return S(f"devshop_ts({{a}}.{col})")


def dec(expr: str) -> str:
    return f"devshop_dec({expr})"


def money_v2(amount: str, currency: str) -> O:
    return O({"amount": S(dec(amount)), "currencyCode": S(currency)}, typename="MoneyV2")


def bag(shop: str, pres: str, shop_cur: str = "{a}.currency", pres_cur: str = "{a}.presentment_currency") -> O:
    return O({"shopMoney": money_v2(shop, shop_cur), "presentmentMoney": money_v2(pres, pres_cur)},
             typename="MoneyBag")


def obag(col: str) -> O:
    """MoneyBag of an order column and its `_pres` twin."""
    return bag(f"{{a}}.{col}", f"{{a}}.{col}_pres")


TAGS = ("CASE WHEN {a}.tags = '' THEN '[]'::json "
        "ELSE array_to_json(regexp_split_to_array({a}.tags, '\\s*,\\s*')) END")


def gid_sql(type_name: str) -> S:
    return S(f"'gid://shopify/{type_name}/' || {{a}}.id")


def _metafield_args(args: dict, params: list) -> str:
    namespace, key = args.get("namespace"), args["key"]
    if namespace is None and "." in key:
        namespace, _, key = key.rpartition(".")
    params.extend([namespace, key])
    return "{j}.namespace = %s AND {j}.key = %s"


ORDER_VISIT = O(
    {
        "id": S("'gid://shopify/CustomerVisit/' || {a}.id"),
        "landingPage": S("{a}.landing_site"),
        "referrerUrl": S("{a}.referring_site"),
        "occurredAt": ts("created_at"),
        "source": S("CASE WHEN {a}.referring_site IS NULL THEN 'direct' "
                    "WHEN {a}.referring_site LIKE '%%google%%' THEN 'google' "
                    "WHEN {a}.referring_site LIKE '%%facebook%%' THEN 'facebook' "
                    "WHEN {a}.referring_site LIKE '%%instagram%%' THEN 'instagram' "
                    "WHEN {a}.referring_site LIKE '%%bing%%' THEN 'bing' "
                    "WHEN {a}.referring_site LIKE '%%tiktok%%' THEN 'tiktok' "
                    "WHEN {a}.referring_site LIKE '%%pinterest%%' THEN 'pinterest' ELSE 'unknown' END"),
        "referralCode": S("NULL"),
        "sourceDescription": S("NULL"),
        "sourceType": S("NULL"),
    },
    null_if="{a}.landing_site IS NULL AND {a}.referring_site IS NULL",
)

TYPES: dict[str, TypeSpec] = {
    "Order": TypeSpec("devshop_store_order", "Order", {
        "id": gid_sql("Order"),
        "legacyResourceId": S("{a}.id::text"),
        "name": S("{a}.name"),
        "number": S("{a}.number"),
        "email": S("{a}.email"),
        "phone": S("{a}.phone"),
        "note": S("{a}.note"),
        "createdAt": ts("created_at"),
        "processedAt": ts("processed_at"),
        "updatedAt": ts("updated_at"),
        "cancelledAt": ts("cancelled_at"),
        "cancelReason": S("upper({a}.cancel_reason)"),
        "closed": S("{a}.closed_at IS NOT NULL"),
        "closedAt": ts("closed_at"),
        "test": S("{a}.test"),
        "tags": S(TAGS),
        "sourceName": S("{a}.source_name"),
        "currencyCode": S("{a}.currency"),
        "presentmentCurrencyCode": S("{a}.presentment_currency"),
        "displayFinancialStatus": S("upper({a}.financial_status)"),
        "displayFulfillmentStatus": S("CASE {a}.fulfillment_status WHEN 'fulfilled' THEN 'FULFILLED' "
                                      "WHEN 'partial' THEN 'PARTIALLY_FULFILLED' WHEN 'restocked' THEN 'RESTOCKED' "
                                      "ELSE 'UNFULFILLED' END"),
        "taxesIncluded": S("{a}.taxes_included"),
        "customerLocale": S("{a}.customer_locale"),
        "customerAcceptsMarketing": S("{a}.buyer_accepts_marketing"),
        "discountCode": S("{a}.discount_codes->0->>'code'"),
        "discountCodes": S("(SELECT coalesce(json_agg(d->>'code'), '[]'::json) "
                           "FROM jsonb_array_elements({a}.discount_codes) d)"),
        "landingPageUrl": S("{a}.landing_site"),
        "customAttributes": S("(SELECT coalesce(json_agg(json_build_object('key', e->>'name', 'value', e->>'value')), "
                              "'[]'::json) FROM jsonb_array_elements({a}.note_attributes) e)"),
        "referrerUrl": S("{a}.referring_site"),
        "customerJourneySummary": O({"ready": S("true"), "firstVisit": ORDER_VISIT, "lastVisit": ORDER_VISIT,
                                     "customerOrderIndex": S("NULL"), "daysToConversion": S("0")}),
        "subtotalPriceSet": obag("subtotal_price"),
        "currentSubtotalPriceSet": bag(
            "CASE WHEN {a}.taxes_included THEN {a}.subtotal_price - ({a}.total_refunded - "
            "{a}.total_refunded_shipping) ELSE {a}.subtotal_price END",
            "CASE WHEN {a}.taxes_included THEN {a}.subtotal_price_pres - ({a}.total_refunded_pres - "
            "{a}.total_refunded_shipping_pres) ELSE {a}.subtotal_price_pres END"),
        "totalDiscountsSet": obag("total_discounts"),
        "currentTotalDiscountsSet": obag("total_discounts"),
        "totalShippingPriceSet": obag("total_shipping"),
        "currentShippingPriceSet": bag("{a}.total_shipping - {a}.total_refunded_shipping",
                                       "{a}.total_shipping_pres - {a}.total_refunded_shipping_pres"),
        "totalTaxSet": obag("total_tax"),
        "totalPriceSet": obag("total_price"),
        "originalTotalPriceSet": obag("total_price"),
        "currentTotalPriceSet": bag("{a}.total_price - {a}.total_refunded",
                                    "{a}.total_price_pres - {a}.total_refunded_pres"),
        "totalRefundedSet": obag("total_refunded"),
        "totalRefundedShippingSet": obag("total_refunded_shipping"),
        "customer": J("Customer", "devshop_store_customer", "{j}.id = {a}.customer_id", scope="read_customers"),
        "lineItems": C("LineItem", "devshop_store_lineitem", "order_id"),
        "refunds": L("Refund", "devshop_store_refund", "order_id", order="created_at, {a}.id"),
        "metafield": J("Metafield", "devshop_store_metafield",
                       "{j}.shop_id = {a}.shop_id AND {j}.owner_type = 'Order' AND {j}.owner_id = {a}.id",
                       args=_metafield_args),
    }),
    "Customer": TypeSpec("devshop_store_customer", "Customer", {
        "id": gid_sql("Customer"),
        "legacyResourceId": S("{a}.id::text"),
        "firstName": S("nullif({a}.first_name, '')"),
        "lastName": S("nullif({a}.last_name, '')"),
        "displayName": S("coalesce(nullif(trim({a}.first_name || ' ' || {a}.last_name), ''), {a}.email, "
                         "{a}.phone, '')"),
        "email": S("{a}.email"),
        "phone": S("{a}.phone"),
        "defaultEmailAddress": O({
            "emailAddress": S("{a}.email"),
            "marketingState": S("upper({a}.email_marketing_state)"),
            "marketingOptInLevel": S("upper({a}.email_marketing_opt_in_level)"),
            "marketingUpdatedAt": ts("email_marketing_updated_at"),
            "validFormat": S("position('@' in {a}.email) > 0"),
        }, null_if="{a}.email IS NULL"),
        "emailMarketingConsent": O({
            "marketingState": S("upper({a}.email_marketing_state)"),
            "marketingOptInLevel": S("upper({a}.email_marketing_opt_in_level)"),
            "consentUpdatedAt": ts("email_marketing_updated_at"),
        }, null_if="{a}.email IS NULL"),
        "defaultPhoneNumber": O({"phoneNumber": S("{a}.phone")}, null_if="{a}.phone IS NULL"),
        "tags": S(TAGS),
        "locale": S("{a}.locale"),
        "note": S("{a}.note"),
        "state": S("upper({a}.state)"),
        "verifiedEmail": S("{a}.verified_email"),
        "createdAt": ts("created_at"),
        "updatedAt": ts("updated_at"),
        "numberOfOrders": S("{a}.orders_count::text"),
        "amountSpent": money_v2("{a}.amount_spent", "{shop_currency}"),
        "metafield": J("Metafield", "devshop_store_metafield",
                       "{j}.shop_id = {a}.shop_id AND {j}.owner_type = 'Customer' AND {j}.owner_id = {a}.id",
                       args=_metafield_args),
        "orders": C("Order", "devshop_store_order", "customer_id", scope="read_orders"),
    }),
    "LineItem": TypeSpec("devshop_store_lineitem", "LineItem", {
        "id": gid_sql("LineItem"),
        "title": S("{a}.title"),
        "name": S("CASE WHEN {a}.variant_title IS NULL THEN {a}.title ELSE {a}.title || ' - ' || {a}.variant_title END"),
        "variantTitle": S("{a}.variant_title"),
        "sku": S("{a}.sku"),
        "vendor": S("{a}.vendor"),
        "quantity": S("{a}.quantity"),
        "requiresShipping": S("{a}.requires_shipping"),
        "taxable": S("{a}.taxable"),
        "isGiftCard": S("{a}.gift_card"),
        "originalUnitPriceSet": bag("{a}.price", "{a}.price_pres", *("{o}.currency", "{o}.presentment_currency")),
        "originalTotalSet": bag("{a}.price * {a}.quantity", "{a}.price_pres * {a}.quantity",
                                "{o}.currency", "{o}.presentment_currency"),
        "totalDiscountSet": bag("{a}.total_discount", "{a}.total_discount_pres", "{o}.currency",
                                "{o}.presentment_currency"),
        "discountedTotalSet": bag("{a}.price * {a}.quantity - {a}.total_discount",
                                  "{a}.price_pres * {a}.quantity - {a}.total_discount_pres",
                                  "{o}.currency", "{o}.presentment_currency"),
        "discountedUnitPriceSet": bag("round({a}.price - {a}.total_discount / {a}.quantity, 3)",
                                      "round({a}.price_pres - {a}.total_discount_pres / {a}.quantity, 3)",
                                      "{o}.currency", "{o}.presentment_currency"),
        "product": J("Product", "devshop_store_product", "{j}.id = {a}.product_id"),
        "variant": J("ProductVariant", "devshop_store_productvariant", "{j}.id = {a}.variant_id"),
    }),
    "Refund": TypeSpec("devshop_store_refund", "Refund", {
        "id": gid_sql("Refund"),
        "legacyResourceId": S("{a}.id::text"),
        "createdAt": ts("created_at"),
        "processedAt": ts("processed_at"),
        "updatedAt": ts("processed_at"),
        "note": S("{a}.note"),
        "totalRefundedSet": bag("{a}.amount", "{a}.amount_pres", "{o}.currency", "{o}.presentment_currency"),
    }),
    "Product": TypeSpec("devshop_store_product", "Product", {
        "id": gid_sql("Product"),
        "legacyResourceId": S("{a}.id::text"),
        "title": S("{a}.title"),
        "handle": S("{a}.handle"),
        "vendor": S("{a}.vendor"),
        "productType": S("{a}.product_type"),
        "isGiftCard": S("{a}.gift_card"),
        "status": S("upper({a}.status)"),
        "createdAt": ts("created_at"),
        "updatedAt": ts("updated_at"),
    }),
    "ProductVariant": TypeSpec("devshop_store_productvariant", "ProductVariant", {
        "id": gid_sql("ProductVariant"),
        "legacyResourceId": S("{a}.id::text"),
        "title": S("{a}.title"),
        "sku": S("{a}.sku"),
        "price": S("{a}.price::text"),
        "taxable": S("{a}.taxable"),
    }),
    "Metafield": TypeSpec("devshop_store_metafield", "Metafield", {
        "id": gid_sql("Metafield"),
        "namespace": S("{a}.namespace"),
        "key": S("{a}.key"),
        "type": S("{a}.type"),
        "value": S("{a}.value"),
        "createdAt": ts("created_at"),
        "updatedAt": ts("updated_at"),
    }),
}

# Types whose money needs the order's currencies ({o}): the alias of the order row they belong to.
ORDER_SCOPED = {"LineItem", "Refund"}

# Root connections a bulk query may start from: field -> (type, scope, search module)
ROOTS = {
    "orders": ("Order", "read_orders"),
    "customers": ("Customer", "read_customers"),
}
