"""Both of Shopify's shapes map to the same records, ids beyond 2**53 exact, money exact."""
import datetime as dt
import json
from decimal import Decimal

import pytest

from commerce.shapes import (
    ShapeError,
    customer_from_graphql,
    customer_from_rest,
    gid_to_id,
    order_from_graphql,
    order_from_rest,
    refund_from_rest,
)

from .payloads import (
    BIG_ID,
    customer_facts,
    graphql_customer,
    graphql_order,
    order_facts,
    rest_customer,
    rest_order,
)


def _via_wire(payload: dict) -> dict:
    """What the handler sees: the JSON text a webhook carries, parsed with json (exact ints)."""
    return json.loads(json.dumps(payload))


def test_order_shapes_map_to_the_same_record():
    refund_at = dt.datetime(2026, 3, 6, 10, 0, tzinfo=dt.UTC)
    facts = order_facts(refunds=[{"id": BIG_ID + 50, "created_at": refund_at, "amount": Decimal("20.00")}],
                        fulfillment_status="partial")
    from_gql = order_from_graphql(_via_wire(graphql_order(facts)))
    from_rest = order_from_rest(_via_wire(rest_order(facts)))
    assert from_gql == from_rest
    assert from_rest.shopify_id == BIG_ID  # > 2**53, exact
    assert from_rest.customer_shopify_id == BIG_ID + 1
    assert from_rest.total == Decimal("112.10") and isinstance(from_rest.total, Decimal)
    assert from_rest.created_at == dt.datetime(2026, 3, 4, 17, 53, 6, tzinfo=dt.UTC)  # offset -> UTC
    assert from_rest.fulfillment_status == "partially_fulfilled"
    assert from_rest.discount_codes == ["WELCOME10"]
    assert from_rest.line_items[0].product_shopify_id == BIG_ID + 200
    # The failed refund transaction of the REST body moved no money.
    assert [r.amount for r in from_rest.refunds] == [Decimal("20.00")]
    assert from_rest.line_items_complete and from_gql.line_items_complete


def test_taxes_included_and_gift_card_lines_in_both_shapes():
    gift = {"id": BIG_ID + 101, "product_id": BIG_ID + 201, "variant_id": BIG_ID + 301, "title": "Gift card",
            "sku": "", "quantity": 1, "price": Decimal("25.00"), "discount": Decimal("0"), "gift_card": True}
    facts = order_facts(taxes_included=True, lines=[*order_facts()["lines"], gift])
    from_gql = order_from_graphql(_via_wire(graphql_order(facts)))
    from_rest = order_from_rest(_via_wire(rest_order(facts)))
    assert from_gql == from_rest
    assert from_rest.taxes_included is True
    assert [li.gift_card for li in from_rest.line_items] == [False, True]
    # absent (older payloads, fixtures): neither
    plain = order_from_rest(_via_wire({k: v for k, v in rest_order(order_facts()).items() if k != "taxes_included"}))
    assert plain.taxes_included is False and plain.line_items[0].gift_card is False


def test_guest_order_and_test_flag_and_cancellation():
    facts = order_facts(customer_id=None, test=True, cancelled_at=dt.datetime(2026, 3, 5, tzinfo=dt.UTC),
                        cancel_reason="customer", financial_status="voided")
    for record in (order_from_graphql(graphql_order(facts)), order_from_rest(rest_order(facts))):
        assert record.customer_shopify_id is None
        assert record.test is True
        assert record.cancel_reason == "customer"
        assert record.financial_status == "voided"


def test_customer_shapes_map_to_the_same_record():
    facts = customer_facts()
    from_gql = customer_from_graphql(_via_wire(graphql_customer(facts)))
    from_rest = customer_from_rest(_via_wire(rest_customer(facts)))
    assert from_gql == from_rest
    assert from_rest.tags == ["vip", "newsletter"]
    assert from_rest.birth_date == dt.date(1990, 5, 17)
    assert from_rest.email_marketing_state == "subscribed"


def test_rest_customer_without_metafields_does_not_know_the_birthday():
    record = customer_from_rest(rest_customer(customer_facts(), with_metafields=False))
    assert record.birth_date is None and record.birth_date_known is False


def test_refunds_create_body():
    body = {
        "id": BIG_ID + 9, "order_id": BIG_ID, "created_at": "2026-03-06T05:00:00-05:00",
        "processed_at": "2026-03-06T05:00:00-05:00",
        "transactions": [{"kind": "refund", "status": "success", "amount": "12.50", "currency": "EUR"}],
    }
    refund = refund_from_rest(json.loads(json.dumps(body)), "EUR")
    assert refund.order_shopify_id == BIG_ID
    assert refund.amount == Decimal("12.50")
    assert refund.created_at == dt.datetime(2026, 3, 6, 10, 0, tzinfo=dt.UTC)


def test_ids_and_money_reject_lossy_input():
    assert gid_to_id("gid://shopify/Order/9007199254740993") == 9007199254740993
    assert gid_to_id(9007199254740993) == 9007199254740993
    with pytest.raises(ShapeError):
        gid_to_id("gid://shopify/Order/12.0")
    facts = order_facts()
    body = rest_order(facts)
    body.pop("total_price_set")
    body["total_price"] = 112.1  # a float would lose cents
    with pytest.raises(ShapeError):
        order_from_rest(body)


def test_rest_refund_in_a_foreign_presentment_currency_is_read_in_shop_money():
    # The transaction amount is the buyer's USD; the shop money comes from the refunded parts.
    body = {
        "id": BIG_ID + 9, "order_id": BIG_ID, "created_at": "2026-03-06T05:00:00-05:00",
        "processed_at": "2026-03-06T05:00:00-05:00",
        "refund_line_items": [{"subtotal": 40.0, "subtotal_set": {"shop_money": {"amount": "40.00", "currency_code": "EUR"}},
                               "total_tax": 7.6, "total_tax_set": {"shop_money": {"amount": "7.60", "currency_code": "EUR"}}}],
        "refund_shipping_lines": [{"subtotal_amount_set": {"shop_money": {"amount": "5.00", "currency_code": "EUR"}}}],
        "transactions": [{"kind": "refund", "status": "success", "amount": "57.30", "currency": "USD"}],
    }
    assert refund_from_rest(body, "EUR").amount == Decimal("52.60")
