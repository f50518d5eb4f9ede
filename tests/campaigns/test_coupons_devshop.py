"""Coupons against the development store over HTTP: unique codes in batches of 250, an order using one
attributed from the synced order, edits and deletion reaching Shopify, Shopify's refusal in plain words."""
import time
from decimal import Decimal

import pytest

from campaigns import shopify
from campaigns.models import Coupon, CouponCode, CouponCodeBatch
from campaigns.selectors.results import coupon_usage
from campaigns.services import codes, coupons

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]


def _finish_codes(shop, coupon_id, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        step = codes.coupon_codes_step(shop=shop, coupon_id=coupon_id)
        if step.done:
            return
        time.sleep(0.2)
    raise AssertionError("codes not created in time")


def _node_by_code(shop, code):
    return shopify.execute(shop, "code_discount_node_by_code", {"code": code})["codeDiscountNodeByCode"]


def test_unique_codes_reach_the_store_and_an_order_is_attributed(devshop_shop):
    shop = devshop_shop
    spec = coupons.CouponSpec(title="Spring 20", kind=Coupon.Kind.PERCENTAGE, value=Decimal(20),
                              code_mode=Coupon.CodeMode.UNIQUE, code_prefix="SPR-", codes_requested=601,
                              once_per_customer=True, usage_limit=None)
    coupon = coupons.coupon_create(shop=shop, spec=spec)
    assert coupon.status == "active" and coupon.shopify_discount_gid.startswith("gid://shopify/DiscountCodeNode/")
    assert CouponCodeBatch.objects.filter(coupon=coupon).count() == 3  # 600 more codes, 250 per call

    # interrupted after the first step: the persisted batches resume from where they were
    codes.coupon_codes_step(shop=shop, coupon_id=coupon.pk)
    _finish_codes(shop, coupon.pk)
    progress = codes.code_progress(shop=shop, coupon=coupon)
    assert (progress.active, progress.failed, progress.finished) == (601, 0, True)
    some = list(CouponCode.objects.filter(coupon=coupon).order_by("?").values_list("code", flat=True)[:3])
    for code in some:
        assert code.startswith("SPR-")
        assert _node_by_code(shop, code)["id"] == coupon.shopify_discount_gid

    # a customer orders with one of the codes; the order reaches us like the orders/create webhook
    server, remote = shop._server, shop._remote
    customer = server.create_customer(remote, first_name="Ana", last_name="B", email="ana@example.com")
    order = server._post(f"/_devshop/shops/{remote.domain}/orders", {
        "customer_id": customer["id"], "line_items": [{"title": "Tea", "price": "40.00", "quantity": 2}],
        "discount_codes": [some[0]], "financial_status": "paid"})
    from commerce.services.webhooks import handle_order_webhook

    handle_order_webhook(shop=shop, payload=order)
    usage = coupon_usage(shop, [coupon.pk])[coupon.pk]
    assert usage.orders == 1 and usage.customers == 1
    assert usage.revenue == Decimal(order["total_price"]) and usage.discounts == Decimal("16.00")


def test_edit_delete_and_refusal_in_plain_words(devshop_shop):
    shop = devshop_shop
    spec = coupons.CouponSpec(title="Ten off", kind=Coupon.Kind.FIXED_AMOUNT, value=Decimal("10.00"),
                              code="TENOFF-H8", minimum_subtotal=Decimal("50.00"))
    coupon = coupons.coupon_create(shop=shop, spec=spec)
    assert _node_by_code(shop, "TENOFF-H8")["id"] == coupon.shopify_discount_gid

    # our own code twice: refused here, case-insensitively like Shopify
    with pytest.raises(coupons.CouponInvalid):
        coupons.coupon_create(shop=shop, spec=coupons.CouponSpec(
            title="Dup", kind=Coupon.Kind.PERCENTAGE, value=Decimal(5), code="tenoff-h8"))
    # a code the merchant made in the Shopify admin: Shopify says TAKEN, the merchant reads why
    outside = Coupon(shop=shop, title="Made in Shopify", kind="percentage", value=Decimal(5), starts_at=coupon.starts_at)
    shopify.payload(shopify.execute(shop, "discount_code_basic_create", {
        "basicCodeDiscount": coupons.discount_input(outside, code="ADMIN-MADE-H8")}), "discountCodeBasicCreate")
    with pytest.raises(shopify.ShopifyRefused) as refused:
        coupons.coupon_create(shop=shop, spec=coupons.CouponSpec(
            title="Dup", kind=Coupon.Kind.PERCENTAGE, value=Decimal(5), code="ADMIN-MADE-H8"))
    assert refused.value.messages == [
        "That code is already used by another discount in your store. Choose a different code."]
    failed = Coupon.objects.get(shop=shop, title="Dup")
    assert failed.status == "failed" and "already used" in failed.sync_error

    spec.title, spec.value, spec.code = "Fifteen off", Decimal("15.00"), "FIFTEEN-H8"
    coupons.coupon_update(shop=shop, coupon_id=coupon.pk, spec=spec)
    assert _node_by_code(shop, "FIFTEEN-H8")["id"] == coupon.shopify_discount_gid
    assert _node_by_code(shop, "TENOFF-H8") is None

    # an end date before the start date is refused before Shopify is asked
    bad = coupons.CouponSpec(**{**spec.__dict__})
    bad.ends_at = coupon.starts_at.replace(year=coupon.starts_at.year - 1)
    with pytest.raises(coupons.CouponInvalid):
        coupons.coupon_update(shop=shop, coupon_id=coupon.pk, spec=bad)

    coupons.coupon_delete(shop=shop, coupon_id=coupon.pk)
    assert _node_by_code(shop, "FIFTEEN-H8") is None
    coupon.refresh_from_db()
    assert coupon.status == "deleted"
    coupons.coupon_delete(shop=shop, coupon_id=coupon.pk)  # twice is fine


def test_win_back_with_unique_codes_through_the_store(devshop_shop, make_buyers, smtp):
    import re

    from django.utils import timezone

    from campaigns.models import Campaign, Recipient
    from campaigns.services import runs, sending

    shop = devshop_shop
    campaign = runs.campaign_for_kind(shop=shop, kind=Campaign.Kind.WIN_BACK)
    campaign = runs.campaign_configure(shop=shop, campaign_id=campaign.pk, enabled=True,
                                       settings={"lapse_days": 60, "discount_percent": 15}, control_percent=10,
                                       attribution_days=30, send_hour=0)
    assert campaign.coupon.status == "active" and campaign.coupon.for_campaign
    make_buyers(shop, 300, days_ago=90)

    run = runs.campaign_run(shop=shop, campaign_id=campaign.pk, run_date=timezone.now().date())
    treated = Recipient.objects.filter(run=run, group="treatment")
    assert run.treatment == treated.count() > 250  # two batches of codes
    assert not treated.exclude(status="waiting_code").exists()  # nothing goes out before its code exists
    _finish_codes(shop, campaign.coupon.pk)
    assert not treated.exclude(status="queued").exists()

    sending.recipients_send(shop=shop, recipient_ids=sending.queued_ids(shop=shop, run_id=run.pk))
    assert len(smtp.messages) == run.treatment
    body = smtp.messages[0].get_body(preferencelist=("plain",)).get_content()
    recipient = Recipient.objects.get(email=str(smtp.messages[0]["To"]))
    assert recipient.code and recipient.code in body and "15 % off" in body
    assert re.search(r"/discount/" + recipient.code, body)
    assert _node_by_code(shop, recipient.code)["id"] == campaign.coupon.shopify_discount_gid
    assert len({r.code for r in treated}) == run.treatment  # unique
    assert not Recipient.objects.filter(run=run, group="control").exclude(code="").exists()


def test_merchant_creates_a_coupon_from_the_page_and_downloads_its_codes(client, devshop_shop):
    import csv
    import io

    from django.conf import settings

    from tests.shops.conftest import session_token

    shop = devshop_shop
    auth = {"HTTP_AUTHORIZATION": "Bearer " + session_token(shop.domain, secret=settings.SHOPIFY_API_SECRET,
                                                             aud=settings.SHOPIFY_API_KEY)}
    form = {"title": "Welcome back", "kind": "percentage", "value": "12.5", "audience": "all",
            "code_mode": "unique", "codes_requested": "260", "code_prefix": "wb-", "once_per_customer": "on",
            "combines_with_shipping": "on", "starts_at": "2026-12-01T00:00"}
    response = client.post("/coupons/create", form, **auth)
    assert response.status_code == 200, response.content
    coupon = Coupon.objects.get(shop=shop, title="Welcome back")
    assert response.json()["redirect"] == f"/coupons/{coupon.pk}"
    assert coupon.value == Decimal("12.5") and coupon.starts_at.isoformat() == "2026-11-30T23:00:00+00:00"
    _finish_codes(shop, coupon.pk)
    progress = client.get(f"/coupons/{coupon.pk}/progress", **auth).json()
    assert progress["active"] == 260 and progress["finished"]
    rows = list(csv.reader(io.StringIO(client.get(f"/coupons/{coupon.pk}/codes.csv", **auth).content.decode())))
    assert rows[0] == ["code", "status", "customer_email"] and len(rows) == 261
    assert all(r[0].startswith("WB-") and r[1] == "active" for r in rows[1:])

    # Shopify's refusal reaches the merchant in plain words
    outside = Coupon(shop=shop, title="x", kind="percentage", value=Decimal(5), starts_at=coupon.starts_at)
    shopify.payload(shopify.execute(shop, "discount_code_basic_create", {
        "basicCodeDiscount": coupons.discount_input(outside, code="TAKEN-BY-ADMIN")}), "discountCodeBasicCreate")
    refused = client.post("/coupons/create", {**form, "code_mode": "shared", "code": "TAKEN-BY-ADMIN",
                                              "title": "Again"}, **auth)
    assert refused.status_code == 422
    assert refused.json()["errors"] == [
        "That code is already used by another discount in your store. Choose a different code."]
    # another shop's coupon is not found
    other = client.get(f"/coupons/{coupon.pk + 10_000}/progress", **auth)
    assert other.status_code == 404


def test_coupon_for_named_customers(devshop_shop, make_customer):
    shop = devshop_shop
    server, remote = shop._server, shop._remote
    ana = server.create_customer(remote, first_name="Ana", last_name="N", email="ana.n@example.com")["id"]
    ben = server.create_customer(remote, first_name="Ben", last_name="N", email="ben.n@example.com")["id"]
    spec = coupons.CouponSpec(title="For two", kind=Coupon.Kind.PERCENTAGE, value=Decimal(10), code="TWO-H8",
                              audience=Coupon.Audience.CUSTOMERS, customer_shopify_ids=[ana, ben, ana])
    coupon = coupons.coupon_create(shop=shop, spec=spec)
    assert coupon.status == "active" and coupon.customer_shopify_ids == sorted([ana, ben])
    # only Ana now: the edit reaches Shopify (removes Ben)
    spec.customer_shopify_ids = [ana]
    coupons.coupon_update(shop=shop, coupon_id=coupon.pk, spec=spec)
    # a customer Shopify does not know: Shopify's refusal, in words, and nothing changed here
    spec.customer_shopify_ids = [ana, 999_999_999]
    with pytest.raises(shopify.ShopifyRefused) as refused:
        coupons.coupon_update(shop=shop, coupon_id=coupon.pk, spec=spec)
    assert refused.value.messages[0].startswith("Shopify did not accept who can use it:")
    coupon.refresh_from_db()
    assert coupon.customer_shopify_ids == [ana]


def test_a_batch_interrupted_after_shopify_accepted_it_resumes_without_losing_codes(devshop_shop):
    import datetime as dt

    from django.utils import timezone

    shop = devshop_shop
    coupon = coupons.coupon_create(shop=shop, spec=coupons.CouponSpec(
        title="Crash", kind=Coupon.Kind.PERCENTAGE, value=Decimal(5), code_mode=Coupon.CodeMode.UNIQUE,
        codes_requested=251))
    (batch,) = CouponCodeBatch.objects.filter(coupon=coupon)
    # A worker sent the batch, Shopify created the codes, and the worker died before recording it.
    batch_codes = list(CouponCode.objects.filter(batch=batch).values_list("code", flat=True))
    shopify.execute(shop, "discount_redeem_code_bulk_add", {
        "discountId": coupon.shopify_discount_gid, "codes": [{"code": c} for c in batch_codes]})
    CouponCodeBatch.objects.filter(pk=batch.pk).update(
        status="submitting", attempts=1, updated_at=timezone.now() - dt.timedelta(minutes=5))
    time.sleep(1)  # let the store finish its asynchronous import
    _finish_codes(shop, coupon.pk)
    batch.refresh_from_db()
    assert batch.attempts == 2 and batch.status == "done"
    progress = codes.code_progress(shop=shop, coupon=coupon)
    assert (progress.active, progress.failed) == (251, 0)  # TAKEN by ourselves is success


def test_free_shipping_coupon_edit_reaches_the_store(devshop_shop):
    shop = devshop_shop
    spec = coupons.CouponSpec(title="Ship free", kind=Coupon.Kind.FREE_SHIPPING, value=Decimal("0"),
                              code="SHIPFREE-H8", minimum_subtotal=Decimal("40.00"))
    coupon = coupons.coupon_create(shop=shop, spec=spec)
    spec.title, spec.code, spec.minimum_subtotal = "Ship free over 60", "SHIPFREE60-H8", Decimal("60.00")
    coupons.coupon_update(shop=shop, coupon_id=coupon.pk, spec=spec)
    node = _node_by_code(shop, "SHIPFREE60-H8")
    assert node["id"] == coupon.shopify_discount_gid
    assert _node_by_code(shop, "SHIPFREE-H8") is None
    coupon.refresh_from_db()
    assert coupon.status != "failed" and not coupon.sync_error
