"""Fixtures of the loyalty tests: orders written through commerce's real upsert, and a local HTTP server
that answers the Admin GraphQL API like Shopify does (shapes from shopify-protocols.md 4.5), reached
through SHOPIFY_BASE_URL exactly like the real store."""
from __future__ import annotations

import datetime as dt
import http.server
import itertools
import json
import threading
from decimal import Decimal

import pytest
from django.utils import timezone

_ids = itertools.count(5_000_000_000_001)


def order_write(shop, *, customer_id: int | None = 7001, subtotal: str = "100.00", shipping: str = "10.00",
                tax: str = "19.00", total: str | None = None, status: str = "paid", processed_at=None,
                updated_at=None, cancelled_at=None, refunds=(), codes=(), shopify_id: int | None = None,
                test: bool = False, taxes_included: bool = False, lines=()):
    """Write one order through commerce.services.upsert.orders_upsert and return the stored Order.
    `lines`: (unit price, quantity, discount, gift card) of its line items."""
    from commerce.models import Order
    from commerce.services.upsert import orders_upsert
    from commerce.shapes import LineItemRecord, OrderRecord, RefundRecord

    now = timezone.now()
    shopify_id = shopify_id or next(_ids)
    processed_at = processed_at or now
    total = total or str(Decimal(subtotal) + Decimal(shipping) + Decimal(tax))
    record = OrderRecord(
        shopify_id=shopify_id, name=f"#{shopify_id % 10000}", customer_shopify_id=customer_id, email="",
        created_at=processed_at, processed_at=processed_at, updated_at=updated_at or now,
        cancelled_at=cancelled_at, cancel_reason="customer" if cancelled_at else "", financial_status=status,
        fulfillment_status="", currency=shop.currency, presentment_currency=shop.currency,
        subtotal=Decimal(subtotal), total_discounts=Decimal("0"), total_shipping=Decimal(shipping),
        total_tax=Decimal(tax), total=Decimal(total), discount_codes=list(codes), landing_site="",
        referring_site="", test=test, taxes_included=taxes_included,
        line_items=[
            LineItemRecord(shopify_id=next(_ids), order_shopify_id=shopify_id, product_shopify_id=None,
                           variant_shopify_id=None, title=f"Line {i}", sku="", quantity=qty, price=Decimal(price),
                           total_discount=Decimal(discount), gift_card=gift)
            for i, (price, qty, discount, gift) in enumerate(lines)
        ],
        refunds=[
            RefundRecord(shopify_id=rid, order_shopify_id=shopify_id, created_at=now + dt.timedelta(seconds=i),
                         processed_at=now, amount=Decimal(amount), currency=shop.currency, updated_at=now)
            for i, (rid, amount) in enumerate(refunds)
        ],
    )
    orders_upsert(shop=shop, orders=[record])
    return Order.objects.get(shop=shop, shopify_id=shopify_id)


@pytest.fixture
def programme(shop):
    from loyalty.services import programme_get

    programme = programme_get(shop)
    # Launched a year ago so test orders are live orders unless a test says otherwise.
    programme.launched_at = timezone.now() - dt.timedelta(days=365)
    programme.save()
    return programme


class FakeShopify:
    """Answers POST /store/{shop}/admin/api/{version}/graphql.json. `mode`: "ok", "refuse" (userErrors),
    "taken_once" (TAKEN, then ok), "down" (HTTP 503). Records every request body."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.requests: list[dict] = []
        self.codes: dict[str, str] = {}
        self.lock = threading.Lock()
        self._server: http.server.ThreadingHTTPServer | None = None

    def start(self) -> FakeShopify:
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with fake.lock:
                    fake.requests.append(body)
                    status, answer = fake.answer(body)
                raw = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args):
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/store/{{shop}}"

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def answer(self, body: dict) -> tuple[int, dict]:
        query, variables = body.get("query", ""), body.get("variables") or {}
        cost = {"requestedQueryCost": 10, "actualQueryCost": 10,
                "throttleStatus": {"maximumAvailable": 2000.0, "currentlyAvailable": 1990, "restoreRate": 100.0}}
        if self.mode == "down":
            return 503, {"errors": "Service Unavailable"}
        if "codeDiscountNodeByCode" in query:
            gid = self.codes.get(variables["code"])
            return 200, {"data": {"codeDiscountNodeByCode": {"id": gid} if gid else None}, "extensions": {"cost": cost}}
        root, var = (("discountCodeFreeShippingCreate", "freeShippingCodeDiscount") if "FreeShipping" in query
                     else ("discountCodeBasicCreate", "basicCodeDiscount"))
        data = variables[var]
        if self.mode == "refuse":
            errors = [{"field": [var, "minimumRequirement"], "code": "INVALID", "message": "Minimum subtotal is invalid"}]
        elif self.mode == "taken_once" or data["code"] in self.codes:
            self.mode = "ok" if self.mode == "taken_once" else self.mode
            errors = [{"field": [var, "code"], "code": "TAKEN", "message": "Code must be unique."}]
        else:
            errors = []
        if errors:
            return 200, {"data": {root: {"codeDiscountNode": None, "userErrors": errors}}, "extensions": {"cost": cost}}
        gid = f"gid://shopify/DiscountCodeNode/{len(self.codes) + 1}"
        self.codes[data["code"]] = gid
        return 200, {"data": {root: {"codeDiscountNode": {"id": gid}, "userErrors": []}}, "extensions": {"cost": cost}}


@pytest.fixture
def fake_shopify(settings, shop):
    from core.crypto import encrypt

    fake = FakeShopify().start()
    settings.SHOPIFY_BASE_URL = fake.base_url
    shop.access_token_encrypted = encrypt("shpat_test_token")
    shop.access_token_expires_at = None
    shop.save()
    yield fake
    fake.stop()
