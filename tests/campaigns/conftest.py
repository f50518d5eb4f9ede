"""Fixtures for campaigns: a local SMTP server (aiosmtpd) on a free port, customers and orders written
through commerce's own services, and the development store for the coupon round trip."""
from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import logging
import os
from decimal import Decimal

import pytest
from django.utils import timezone

from campaigns.mailbox import LocalSMTPServer

_ids = itertools.count(9_000_000_001)
logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every connection at INFO


def _record(cls, **values):
    """commerce's record dataclasses grow while commerce is being finished: pass the fields they have."""
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in values.items() if k in names})


@pytest.fixture
def smtp(settings):
    """Django's SMTP backend pointed at a local aiosmtpd server; yields its Mailbox."""
    server = LocalSMTPServer().start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = server.host
    settings.EMAIL_PORT = server.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    try:
        yield server.mailbox
    finally:
        server.stop()


@pytest.fixture
def make_customer(db):
    from commerce.services.upsert import customers_upsert
    from commerce.shapes import CustomerRecord

    def make(shop, *, email=None, consent="subscribed", first_name="Kim", birth_date=None, shopify_id=None):
        shopify_id = shopify_id or next(_ids)
        now = timezone.now()
        customers_upsert(shop=shop, records=[_record(CustomerRecord,
            shopify_id=shopify_id, first_name=first_name, last_name="Test",
            email=email if email is not None else f"c{shopify_id}@example.com", phone="",
            email_marketing_state=consent, sms_marketing_state="", tags=[],
            created_at=now - dt.timedelta(days=900), updated_at=now, birth_date=birth_date, birth_date_known=True)])
        return shopify_id

    return make


@pytest.fixture
def make_order(db):
    from commerce.services.upsert import orders_upsert
    from commerce.shapes import OrderRecord

    def make(shop, customer_id, *, at, total="50.00", codes=(), cancelled=False, test=False):
        order_id = next(_ids)
        total = Decimal(total)
        orders_upsert(shop=shop, orders=[_record(OrderRecord,
            shopify_id=order_id, name=f"#{order_id % 100000}", customer_shopify_id=customer_id, email="",
            created_at=at, processed_at=at, updated_at=at, cancelled_at=at if cancelled else None,
            cancel_reason="", financial_status="paid", fulfillment_status="", currency=shop.currency,
            presentment_currency=shop.currency, subtotal=total, total_discounts=Decimal(0),
            total_shipping=Decimal(0), total_tax=Decimal(0), total=total, discount_codes=list(codes),
            landing_site="", referring_site="", test=test)])
        return order_id

    return make


# --- the development store ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def devshop_campaigns():
    from tests.devshop_harness import DevshopServer

    server = DevshopServer(db_name=os.environ.get("DEVSHOP_CAMPAIGNS_DB", "devshop_test_h8"))
    try:
        server.start()
    except RuntimeError as exc:
        pytest.skip(f"the development store does not start: {str(exc).strip().splitlines()[-1]}")
    try:
        shop = server.create_shop("campaigns-test")
        server.create_staff(shop, first_name="Dana", last_name="Owner", account_owner=True)
        server.register_app()
        yield server, shop
    finally:
        server.stop()


@pytest.fixture
def devshop_shop(db, settings, devshop_campaigns):
    """Our Shop row for the development store's shop, holding an offline token from token exchange."""
    from shops.models import Shop
    from shops.services import shop_tokens_store
    from shops.session_tokens import session_token_decode
    from shops.token_endpoint import token_exchange

    server, remote = devshop_campaigns
    settings.SHOPIFY_BASE_URL = server.base_url + "/store/{shop}"
    settings.SHOPIFY_API_KEY = server.client_id
    settings.SHOPIFY_API_SECRET = server.client_secret
    settings.SHOPIFY_API_SECRET_OLD = ""
    grant = token_exchange(session_token_decode(server.session_token(remote)))
    shop = Shop(domain=remote.domain, name="Campaigns Test", currency="EUR", iana_timezone="Europe/Berlin",
                primary_locale="en", installed_at=timezone.now(), scopes=grant.scopes)
    shop_tokens_store(shop, grant)
    shop.save()
    shop._server = server
    shop._remote = remote
    return shop


@pytest.fixture
def make_buyers(db):
    """n consenting customers with one order each `days_ago`, in two upserts (one transaction each)."""
    from commerce.services.upsert import customers_upsert, orders_upsert
    from commerce.shapes import CustomerRecord, OrderRecord

    def make(shop, n, *, days_ago, total="50.00"):
        now = timezone.now()
        at = now - dt.timedelta(days=days_ago)
        ids = [next(_ids) for _ in range(n)]
        customers_upsert(shop=shop, records=[_record(
            CustomerRecord, shopify_id=i, first_name="Kim", last_name="Test", email=f"c{i}@example.com", phone="",
            email_marketing_state="subscribed", sms_marketing_state="", tags=[], created_at=at, updated_at=now,
            birth_date=None, birth_date_known=True) for i in ids])
        orders_upsert(shop=shop, orders=[_record(
            OrderRecord, shopify_id=next(_ids), name="#1", customer_shopify_id=i, email="", created_at=at,
            processed_at=at, updated_at=at, cancelled_at=None, cancel_reason="", financial_status="paid",
            fulfillment_status="", currency=shop.currency, presentment_currency=shop.currency,
            subtotal=Decimal(total), total_discounts=Decimal(0), total_shipping=Decimal(0), total_tax=Decimal(0),
            total=Decimal(total), discount_codes=[], landing_site="", referring_site="", test=False) for i in ids])
        return ids

    return make
