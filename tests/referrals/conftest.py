"""Fixtures of the referral tests: an enabled programme, customers and orders written through commerce's
real upserts, and (from tests.loyalty.conftest) a local server answering the Admin API's discount calls."""
from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import pytest
from django.utils import timezone

from tests.loyalty.conftest import FakeShopify, fake_shopify  # noqa: F401 - re-exported fixture

_ids = itertools.count(8_000_000_000_001)
REFERRER = 9001


def customer_write(shop, shopify_id: int, *, email: str = "", phone: str = "", first_name: str = "Anna"):
    from commerce.services.upsert import customers_upsert
    from commerce.shapes import CustomerRecord

    now = timezone.now()
    fields = {f: None for f in CustomerRecord.__dataclass_fields__}
    fields.update(shopify_id=shopify_id, first_name=first_name, last_name="Test", email=email, phone=phone,
                  email_marketing_state="", tags=[], birth_date=None, birth_date_known=False,
                  created_at=now - dt.timedelta(days=400), updated_at=now)
    customers_upsert(shop=shop, records=[CustomerRecord(**fields)])


def order_write(shop, *, customer_id: int | None, email: str = "", total: str = "80.00", codes=(), landing_site: str = "",
                status: str = "paid", processed_at=None, updated_at=None, cancelled_at=None, refunds=(),
                shopify_id: int | None = None):
    """One order through commerce's upsert; `refunds` are (refund id, amount, created_at)."""
    from commerce.models import Order
    from commerce.services.upsert import orders_upsert
    from commerce.shapes import OrderRecord, RefundRecord

    now = timezone.now()
    shopify_id = shopify_id or next(_ids)
    processed_at = processed_at or now
    record = OrderRecord(
        shopify_id=shopify_id, name=f"#{shopify_id % 100000}", customer_shopify_id=customer_id, email=email,
        created_at=processed_at, processed_at=processed_at, updated_at=updated_at or processed_at,
        cancelled_at=cancelled_at, cancel_reason="customer" if cancelled_at else "", financial_status=status,
        fulfillment_status="", currency=shop.currency, presentment_currency=shop.currency, subtotal=Decimal(total),
        total_discounts=Decimal("0"), total_shipping=Decimal("0"), total_tax=Decimal("0"), total=Decimal(total),
        discount_codes=list(codes), landing_site=landing_site, referring_site="", test=False,
        refunds=[RefundRecord(shopify_id=rid, order_shopify_id=shopify_id, created_at=at, processed_at=at,
                              amount=Decimal(amount), currency=shop.currency, updated_at=at)
                 for rid, amount, at in refunds],
    )
    orders_upsert(shop=shop, orders=[record])
    return Order.objects.get(shop=shop, shopify_id=shopify_id)


@pytest.fixture
def programme(shop):
    from referrals.services import programme_get, programme_update

    programme_get(shop)
    return programme_update(shop=shop, changes={"enabled": True, "holding_days": 14}, staff_name="test")


@pytest.fixture
def referrer(shop, programme):
    """A referrer with a past order and their referral code."""
    from referrals.services import referral_code_for_customer

    customer_write(shop, REFERRER, email="anna.berg@gmail.com", phone="+49 170 1234567", first_name="Anna")
    order_write(shop, customer_id=REFERRER, email="anna.berg@gmail.com",
                processed_at=timezone.now() - dt.timedelta(days=200))
    return referral_code_for_customer(shop=shop, customer_shopify_id=REFERRER)
