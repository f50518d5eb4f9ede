"""Shared fixture builders of the report tests: orders written through commerce's real upsert."""
import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import jwt
from django.conf import settings
from django.utils import timezone

from commerce.shapes import OrderRecord, RefundRecord

BERLIN = ZoneInfo("Europe/Berlin")


def at(y, m, d, h=12):
    return dt.datetime(y, m, d, h, tzinfo=BERLIN)


def order(n, customer, when, total, *, cancelled=False, test=False, refunds=(), codes=()):
    oid = 9_007_199_254_740_993 + n  # above 2**53: ids stay exact
    return OrderRecord(
        shopify_id=oid, name=f"#{1000 + n}", customer_shopify_id=customer, email="", created_at=when,
        processed_at=when, updated_at=when, cancelled_at=when if cancelled else None, cancel_reason="",
        financial_status="paid", fulfillment_status="", currency="EUR", presentment_currency="EUR",
        subtotal=Decimal(total), total_discounts=Decimal("0"), total_shipping=Decimal("0"),
        total_tax=Decimal("0"), total=Decimal(total), discount_codes=list(codes), landing_site="",
        referring_site="", test=test,
        refunds=[RefundRecord(shopify_id=oid * 10 + i, order_shopify_id=oid, created_at=when, processed_at=when,
                              amount=Decimal(a), currency="EUR", updated_at=when) for i, a in enumerate(refunds)],
    )


def session_token(shop_domain):
    now = int(timezone.now().timestamp())
    return jwt.encode({"iss": f"https://{shop_domain}/admin", "dest": f"https://{shop_domain}",
                       "aud": settings.SHOPIFY_API_KEY, "sub": "1", "exp": now + 60, "nbf": now - 1, "iat": now,
                       "jti": "x", "sid": "y"}, settings.SHOPIFY_API_SECRET, algorithm="HS256")


# The fixture of the metric tests (Berlin, EUR). Hand computation in test_metrics.py.
FIXTURE_ORDERS = [
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
    order(13, 6, at(2025, 11, 15), "40.00"),
]
