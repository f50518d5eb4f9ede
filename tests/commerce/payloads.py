"""The same order/customer in Shopify's two shapes (GraphQL/bulk and REST webhook), for tests.

Built from one set of facts so a test can assert both shapes map to the same rows. REST dates are
written in the shop's offset and money as strings, like Shopify's webhook bodies.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

BIG_ID = 2**53 + 12345  # beyond float precision: any float round-trip corrupts it


def _utc(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _shop(value: dt.datetime, tz: str = "America/New_York") -> str:
    return value.astimezone(ZoneInfo(tz)).replace(microsecond=0).isoformat()


def _gql_money(amount: Decimal | str, currency: str = "EUR") -> dict:
    return {"shopMoney": {"amount": str(amount), "currencyCode": currency}}


def _rest_set(amount: Decimal | str, currency: str = "EUR", pres: str = "USD") -> dict:
    return {
        "shop_money": {"amount": str(amount), "currency_code": currency},
        "presentment_money": {"amount": str(Decimal(str(amount)) * 2), "currency_code": pres},
    }


def order_facts(**overrides) -> dict:
    base = {
        "id": BIG_ID,
        "name": "#1001",
        "customer_id": BIG_ID + 1,
        "email": "jon@doe.ca",
        "created_at": dt.datetime(2026, 3, 4, 17, 53, 6, tzinfo=dt.UTC),
        "processed_at": dt.datetime(2026, 3, 4, 17, 53, 6, tzinfo=dt.UTC),
        "updated_at": dt.datetime(2026, 3, 5, 9, 0, 0, tzinfo=dt.UTC),
        "cancelled_at": None,
        "cancel_reason": None,
        "financial_status": "paid",
        "fulfillment_status": None,  # REST null == GraphQL UNFULFILLED
        "currency": "EUR",
        "presentment_currency": "USD",
        "subtotal": Decimal("90.00"),
        "discounts": Decimal("10.00"),
        "shipping": Decimal("5.00"),
        "tax": Decimal("17.10"),
        "total": Decimal("112.10"),
        "discount_codes": ["WELCOME10"],
        "landing_site": "/products/mug?utm_source=newsletter",
        "referring_site": "https://www.google.com/",
        "test": False,
        "taxes_included": False,
        "lines": [
            {"id": BIG_ID + 100, "product_id": BIG_ID + 200, "variant_id": BIG_ID + 300, "title": "Mug",
             "sku": "MUG-1", "quantity": 2, "price": Decimal("50.00"), "discount": Decimal("10.00")},
        ],
        "refunds": [],  # [{"id", "created_at", "amount"}]
    }
    base.update(overrides)
    return base


_GQL_FULFILLMENT = {None: "UNFULFILLED", "fulfilled": "FULFILLED", "partial": "PARTIALLY_FULFILLED"}


def graphql_order(f: dict, *, with_lines: bool = True) -> dict:
    node = {
        "id": f"gid://shopify/Order/{f['id']}",
        "name": f["name"],
        "email": f["email"],
        "test": f["test"],
        "createdAt": _utc(f["created_at"]),
        "processedAt": _utc(f["processed_at"]),
        "updatedAt": _utc(f["updated_at"]),
        "cancelledAt": _utc(f["cancelled_at"]) if f["cancelled_at"] else None,
        "cancelReason": f["cancel_reason"].upper() if f["cancel_reason"] else None,
        "displayFinancialStatus": f["financial_status"].upper(),
        "displayFulfillmentStatus": _GQL_FULFILLMENT[f["fulfillment_status"]],
        "currencyCode": f["currency"],
        "presentmentCurrencyCode": f["presentment_currency"],
        "subtotalPriceSet": _gql_money(f["subtotal"]),
        "totalDiscountsSet": _gql_money(f["discounts"]),
        "totalShippingPriceSet": _gql_money(f["shipping"]),
        "totalTaxSet": _gql_money(f["tax"]),
        "totalPriceSet": _gql_money(f["total"]),
        "taxesIncluded": f.get("taxes_included", False),
        "discountCodes": list(f["discount_codes"]),
        "customerJourneySummary": {"lastVisit": {"landingPage": f["landing_site"], "referrerUrl": f["referring_site"]}},
        "customer": {"id": f"gid://shopify/Customer/{f['customer_id']}"} if f["customer_id"] else None,
        "refunds": [
            {"id": f"gid://shopify/Refund/{r['id']}", "createdAt": _utc(r["created_at"]),
             "processedAt": _utc(r["created_at"]), "updatedAt": _utc(r["created_at"]),
             "totalRefundedSet": _gql_money(r["amount"])}
            for r in f["refunds"]
        ],
    }
    if with_lines:
        node["lineItems"] = {"pageInfo": {"hasNextPage": False, "endCursor": None},
                             "nodes": [graphql_line(li) for li in f["lines"]]}
    return node


def graphql_line(li: dict) -> dict:
    return {
        "id": f"gid://shopify/LineItem/{li['id']}",
        "title": li["title"],
        "sku": li["sku"],
        "quantity": li["quantity"],
        "isGiftCard": li.get("gift_card", False),
        "originalUnitPriceSet": _gql_money(li["price"]),
        "totalDiscountSet": _gql_money(li["discount"]),
        "product": {"id": f"gid://shopify/Product/{li['product_id']}"} if li["product_id"] else None,
        "variant": {"id": f"gid://shopify/ProductVariant/{li['variant_id']}"} if li["variant_id"] else None,
    }


def rest_refund(r: dict, order_id: int) -> dict:
    return {
        "id": r["id"],
        "admin_graphql_api_id": f"gid://shopify/Refund/{r['id']}",
        "order_id": order_id,
        "created_at": _shop(r["created_at"]),
        "processed_at": _shop(r["created_at"]),
        "note": None,
        "restock": False,
        "refund_line_items": [],
        "order_adjustments": [],
        "transactions": [
            {"id": r["id"] + 7, "kind": "refund", "status": "success", "amount": str(r["amount"]),
             "currency": "EUR", "amount_set": _rest_set(r["amount"])},
            # A failed attempt moved no money and must not count.
            {"id": r["id"] + 8, "kind": "refund", "status": "failure", "amount": "999.00", "currency": "EUR"},
        ],
    }


def rest_order(f: dict) -> dict:
    return {
        "id": f["id"],
        "admin_graphql_api_id": f"gid://shopify/Order/{f['id']}",
        "name": f["name"],
        "email": f["email"],
        "test": f["test"],
        "created_at": _shop(f["created_at"]),
        "processed_at": _shop(f["processed_at"]),
        "updated_at": _shop(f["updated_at"]),
        "cancelled_at": _shop(f["cancelled_at"]) if f["cancelled_at"] else None,
        "cancel_reason": f["cancel_reason"],
        "financial_status": f["financial_status"],
        "fulfillment_status": f["fulfillment_status"],
        "currency": f["currency"],
        "presentment_currency": f["presentment_currency"],
        "subtotal_price": str(f["subtotal"]),
        "subtotal_price_set": _rest_set(f["subtotal"]),
        "total_discounts": str(f["discounts"]),
        "total_discounts_set": _rest_set(f["discounts"]),
        "total_shipping_price_set": _rest_set(f["shipping"]),
        "total_tax": str(f["tax"]),
        "total_tax_set": _rest_set(f["tax"]),
        "total_price": str(f["total"]),
        "total_price_set": _rest_set(f["total"]),
        "taxes_included": f.get("taxes_included", False),
        "discount_codes": [{"code": c, "amount": "10.00", "type": "fixed_amount"} for c in f["discount_codes"]],
        "landing_site": f["landing_site"],
        "referring_site": f["referring_site"],
        "customer": {"id": f["customer_id"], "email": f["email"]} if f["customer_id"] else None,
        "line_items": [
            {"id": li["id"], "admin_graphql_api_id": f"gid://shopify/LineItem/{li['id']}",
             "product_id": li["product_id"], "variant_id": li["variant_id"], "title": li["title"],
             "sku": li["sku"], "quantity": li["quantity"], "price": str(li["price"]),
             "price_set": _rest_set(li["price"]), "total_discount": str(li["discount"]),
             "total_discount_set": _rest_set(li["discount"]), "discount_allocations": [],
             "gift_card": li.get("gift_card", False)}
            for li in f["lines"]
        ],
        "refunds": [rest_refund(r, f["id"]) for r in f["refunds"]],
    }


def customer_facts(**overrides) -> dict:
    base = {
        "id": BIG_ID + 1,
        "first_name": "Jon",
        "last_name": "Doe",
        "email": "jon@doe.ca",
        "phone": "+16135551212",
        "email_state": "subscribed",
        "sms_state": "not_subscribed",
        "tags": ["vip", "newsletter"],
        "created_at": dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
        "updated_at": dt.datetime(2026, 3, 5, 9, 0, 0, tzinfo=dt.UTC),
        "birth_date": dt.date(1990, 5, 17),
    }
    base.update(overrides)
    return base


def graphql_customer(f: dict) -> dict:
    return {
        "id": f"gid://shopify/Customer/{f['id']}",
        "firstName": f["first_name"],
        "lastName": f["last_name"],
        "defaultEmailAddress": {"emailAddress": f["email"], "marketingState": f["email_state"].upper()},
        "defaultPhoneNumber": {"phoneNumber": f["phone"], "marketingState": f["sms_state"].upper()},
        "tags": list(f["tags"]),
        "createdAt": _utc(f["created_at"]),
        "updatedAt": _utc(f["updated_at"]),
        "birthDate": {"value": f["birth_date"].isoformat()} if f["birth_date"] else None,
    }


def rest_customer(f: dict, *, with_metafields: bool = True) -> dict:
    body = {
        "id": f["id"],
        "admin_graphql_api_id": f"gid://shopify/Customer/{f['id']}",
        "first_name": f["first_name"],
        "last_name": f["last_name"],
        "email": f["email"],
        "phone": f["phone"],
        "email_marketing_consent": {"state": f["email_state"], "opt_in_level": "single_opt_in",
                                    "consent_updated_at": None},
        "sms_marketing_consent": {"state": f["sms_state"], "opt_in_level": "single_opt_in",
                                  "consent_updated_at": None, "consent_collected_from": "OTHER"},
        "tags": ", ".join(f["tags"]),
        "created_at": _shop(f["created_at"]),
        "updated_at": _shop(f["updated_at"]),
    }
    if with_metafields:
        body["metafields"] = (
            [{"namespace": "facts", "key": "birth_date", "value": f["birth_date"].isoformat(), "type": "date"}]
            if f["birth_date"] else []
        )
    return body
