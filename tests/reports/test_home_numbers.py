"""The home page's numbers agree with a hand computation on a small fixture."""
import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import jwt
import pytest
from django.conf import settings
from django.utils import timezone

from commerce.services.upsert import orders_upsert
from commerce.shapes import OrderRecord, RefundRecord
from reports import selectors

BERLIN = ZoneInfo("Europe/Berlin")


def at(y, m, d, h=12):
    return dt.datetime(y, m, d, h, tzinfo=BERLIN)


def order(n, customer, when, total, *, cancelled=False, test=False, refunds=()):
    oid = 9_007_199_254_740_993 + n  # above 2**53: ids stay exact
    return OrderRecord(
        shopify_id=oid, name=f"#{1000 + n}", customer_shopify_id=customer, email="", created_at=when,
        processed_at=when, updated_at=when, cancelled_at=when if cancelled else None, cancel_reason="",
        financial_status="paid", fulfillment_status="", currency="EUR", presentment_currency="EUR",
        subtotal=Decimal(total), total_discounts=Decimal("0"), total_shipping=Decimal("0"),
        total_tax=Decimal("0"), total=Decimal(total), discount_codes=[], landing_site="", referring_site="",
        test=test,
        refunds=[RefundRecord(shopify_id=oid * 10 + i, order_shopify_id=oid, created_at=when, processed_at=when,
                              amount=Decimal(a), currency="EUR", updated_at=when) for i, a in enumerate(refunds)],
    )


@pytest.fixture
def fixture_orders(shop):
    # Customer 1: Jan (first), Feb, Feb  -> 3 orders, repeat
    # Customer 2: Feb (first), Mar, refund 10 on Mar order -> 2 orders, repeat
    # Customer 3: Mar (first) -> 1 order
    # Customer 4: Dec of the previous year (first, outside range), Jan -> 1 order in range, returning
    # Guest: Feb -> counts in orders and revenue, not in customers
    # Cancelled (customer 3) and test (customer 5) orders: left out everywhere
    # Outside the range: customer 1 in April
    orders_upsert(shop=shop, orders=[
        order(1, 1, at(2026, 1, 10), "100.00"),
        order(2, 1, at(2026, 2, 3), "50.00"),
        order(3, 1, at(2026, 2, 20), "25.50"),
        order(4, 2, at(2026, 2, 14), "80.00"),
        order(5, 2, at(2026, 3, 2), "40.00", refunds=["10.00"]),
        order(6, 3, at(2026, 3, 30), "60.00"),
        order(7, 4, at(2025, 12, 20), "70.00"),
        order(8, 4, at(2026, 1, 5), "30.00"),
        order(9, None, at(2026, 2, 11), "20.00"),
        order(10, 3, at(2026, 3, 5), "999.00", cancelled=True),
        order(11, 5, at(2026, 3, 6), "555.00", test=True),
        order(12, 1, at(2026, 4, 2), "10.00"),
    ])


def test_overview_matches_hand_computation(shop, fixture_orders):
    period = selectors.DateRange(dt.date(2026, 1, 1), dt.date(2026, 3, 31))
    o = selectors.overview(shop, period)
    # orders 1,2,3,4,5,6,8,9 = 8 orders; customers 1,2,3,4 = 4; customer orders = 7
    assert o.orders == 8
    assert o.customers == 4
    assert o.guest_orders == 1
    # 100 + 50 + 25.50 + 80 + (40 - 10) + 60 + 30 + 20 = 395.50
    assert o.net_revenue == Decimal("395.500")
    assert o.average_order_value == Decimal("395.5") / 8
    assert o.purchase_frequency == Decimal(7) / 4
    assert o.repeat_purchase_rate == Decimal(2) / 4


def test_monthly_new_vs_returning(shop, fixture_orders):
    period = selectors.DateRange(dt.date(2026, 1, 1), dt.date(2026, 3, 31))
    months = selectors.monthly_new_vs_returning(shop, period)
    assert [(m.month, m.new_customer_orders, m.returning_customer_orders, m.guest_orders) for m in months] == [
        (dt.date(2026, 1, 1), 1, 1, 0),  # c1 first order; c4 returning (first in Dec)
        (dt.date(2026, 2, 1), 1, 2, 1),  # c2 first; c1 twice returning; guest
        (dt.date(2026, 3, 1), 1, 1, 0),  # c3 first; c2 returning
    ]


def test_period_is_in_the_shops_time_zone(shop):
    # 23:30 on 31 March in Berlin is already 1 April... no: 21:30 UTC. An order at 00:30 Berlin on
    # 1 April is 22:30 UTC on 31 March and belongs to April for the merchant.
    orders_upsert(shop=shop, orders=[order(20, 7, dt.datetime(2026, 3, 31, 22, 30, tzinfo=dt.UTC), "10.00")])
    march = selectors.DateRange(dt.date(2026, 3, 1), dt.date(2026, 3, 31))
    april = selectors.DateRange(dt.date(2026, 4, 1), dt.date(2026, 4, 30))
    assert selectors.overview(shop, march).orders == 0
    assert selectors.overview(shop, april).orders == 1


def test_other_shops_orders_never_count(shop, other_shop, fixture_orders):
    period = selectors.DateRange(dt.date(2026, 1, 1), dt.date(2026, 3, 31))
    assert selectors.overview(other_shop, period).orders == 0


def _token(shop_domain):
    now = int(timezone.now().timestamp())
    return jwt.encode({"iss": f"https://{shop_domain}/admin", "dest": f"https://{shop_domain}",
                       "aud": settings.SHOPIFY_API_KEY, "sub": "1", "exp": now + 60, "nbf": now - 1, "iat": now,
                       "jti": "x", "sid": "y"}, settings.SHOPIFY_API_SECRET, algorithm="HS256")


def test_overview_fragment_renders_numbers_and_rejects_bad_ranges(client, shop, fixture_orders):
    shop.access_token_encrypted = "present"  # installed with a token: no token exchange needed
    shop.save()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {_token(shop.domain)}"}
    response = client.get("/home/overview", {"start": "2026-01-01", "end": "2026-03-31", "locale": "en"}, **auth)
    assert response.status_code == 200
    html = response.content.decode()
    assert "395.50 EUR" in html
    assert "50.0 %" in html  # repeat purchase rate
    bad = client.get("/home/overview", {"start": "2026-03-01", "end": "2026-01-01"}, **auth)
    assert bad.status_code == 400 and "start date is after the end date" in bad.content.decode()
    garbage = client.get("/home/overview", {"start": "yesterday", "end": "2026-01-01"}, **auth)
    assert garbage.status_code == 400
    assert client.get("/home/overview", {"start": "2026-01-01", "end": "2026-03-31"}).status_code == 401


def test_german_admin_gets_german_number_format(client, shop, fixture_orders):
    shop.access_token_encrypted = "present"
    shop.save()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {_token(shop.domain)}"}
    response = client.get("/home/overview", {"start": "2026-01-01", "end": "2026-03-31", "locale": "de"}, **auth)
    assert "395,50 EUR" in response.content.decode()
