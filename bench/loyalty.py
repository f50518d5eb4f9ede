# ruff: noqa: S603, S607 - runs our own interpreter and PostgreSQL's tools with fixed arguments
"""Benchmark loyalty: points applied per second for a burst of paid orders on one Celery worker, and the
p95 latency of the app-proxy balance and redeem endpoints (redeem includes the Admin API call that creates
the discount code in the development store).

    .venv/bin/python bench/loyalty.py [--orders 10000] [--requests 300] [--redeems 100]

1. Burst: a scratch database (DATABASE_URL + "_bench_loyalty"), one shop with a programme, N paid orders
   written through commerce's upsert (as webhooks or a backfill would), then N `loyalty.tasks.order_points_sync`
   tasks enqueued on Redis db 14 and ONE worker process (`--concurrency 1`) started; the clock runs from
   the worker's start until every order's earning row exists.
2. Latency: the development store (tests/devshop_harness.DevshopServer) with the app registered and
   installed by token exchange, the app under gunicorn (2 workers x 4 threads), a member with points and a
   reward; signed app-proxy requests as Shopify's proxy sends them, one after another.
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import hmac
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlencode

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SECRET = "bench-loyalty-secret-0123456789abcdef"
SHOP = "bench-loyalty.myshopify.com"  # the latency part's shop (the devshop shop's domain)
BURST_SHOP = "bench-burst.myshopify.com"
REDIS = "redis://127.0.0.1:6379/14"


_BASE_DB = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/retention")
# Computed once: _django() points DATABASE_URL at the scratch database for this process.
BENCH_DB = _BASE_DB.rsplit("/", 1)[0] + "/" + _BASE_DB.rsplit("/", 1)[1].split("?")[0] + "_bench_loyalty"


def _db_url() -> str:
    return BENCH_DB


def _env(app_url: str = "http://127.0.0.1", base_url: str = "http://127.0.0.1:1/store/{shop}") -> dict[str, str]:
    return {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "DATABASE_URL": _db_url(), "REDIS_URL": REDIS,
            "CELERY_BROKER_URL": REDIS, "SHOPIFY_API_KEY": "retention-demo-api-key", "SHOPIFY_API_SECRET": SECRET,
            "SHOPIFY_APP_URL": app_url, "SHOPIFY_BASE_URL": base_url, "LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1"}


def _fresh_database() -> None:
    name = _db_url().rsplit("/", 1)[1]
    subprocess.run(["dropdb", "--if-exists", "--force", "-h", "127.0.0.1", "-U", "postgres", name], check=True)
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", name], check=True)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=_env(), check=True)


def _django(**env) -> None:
    os.environ.update(_env(**env))
    import django

    django.setup()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


# --- 1. burst of paid orders -------------------------------------------------------------------------


def burst(n: int) -> dict:
    from django.utils import timezone

    from commerce.services.upsert import orders_upsert
    from commerce.shapes import OrderRecord
    from loyalty.models import OrderEarning
    from loyalty.services import programme_get
    from retention_app.celery import app as celery_app
    from shops.models import Shop

    shop = Shop.objects.create(domain=BURST_SHOP, currency="EUR", iana_timezone="Europe/Berlin",
                               installed_at=timezone.now())
    programme = programme_get(shop)
    programme.launched_at = timezone.now() - dt.timedelta(days=1)
    programme.save()
    now = timezone.now()
    records = [OrderRecord(
        shopify_id=5_000_000_000_000 + i, name=f"#{1000 + i}", customer_shopify_id=7_000_000_000_000 + i % 2000,
        email="", created_at=now, processed_at=now, updated_at=now, cancelled_at=None, cancel_reason="",
        financial_status="paid", fulfillment_status="", currency="EUR", presentment_currency="EUR",
        subtotal=Decimal("90.00"), total_discounts=Decimal("0"), total_shipping=Decimal("5.00"),
        total_tax=Decimal("15.97"), total=Decimal("95.00"), discount_codes=[], landing_site="", referring_site="",
        test=False) for i in range(n)]
    for start in range(0, n, 2000):
        orders_upsert(shop=shop, orders=records[start:start + 2000])
    celery_app.control.purge()
    from loyalty.tasks import order_points_sync_task

    for record in records:  # what commerce's hook enqueues for each order's webhook
        order_points_sync_task.apply_async((shop.pk, record.shopify_id), queue="default")
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "retention_app", "worker", "--queues", "default", "--concurrency", "1",
         "--loglevel", "WARNING", "--without-heartbeat", "--without-gossip", "--without-mingle"],
        cwd=ROOT, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    started = time.monotonic()
    try:
        while OrderEarning.objects.filter(shop=shop).count() < n:
            if time.monotonic() - started > 1800:
                raise RuntimeError("the burst did not finish in 30 minutes")
            time.sleep(0.5)
        elapsed = time.monotonic() - started
    finally:
        worker.terminate()
        worker.wait(30)
    return {"orders": n, "seconds": round(elapsed, 1), "orders_per_second": round(n / elapsed, 1)}


# --- 2. proxy latency --------------------------------------------------------------------------------


def signed(customer_id: int, **extra) -> str:
    params = {**extra, "shop": SHOP, "logged_in_customer_id": str(customer_id), "path_prefix": "/apps/loyalty",
              "timestamp": str(int(time.time()))}
    message = "".join(f"{k}={v}" for k, v in sorted(params.items()))
    params["signature"] = hmac.new(SECRET.encode(), message.encode(), hashlib.sha256).hexdigest()
    return urlencode(params)


def latency(requests: int, redeems: int) -> dict:

    from core.crypto import encrypt
    from loyalty.models import Reward
    from loyalty.services import points_adjust
    from shops.models import Shop
    from tests.devshop_harness import DevshopServer, free_port

    port = free_port()
    app_url = f"http://127.0.0.1:{port}"
    devshop = DevshopServer(db_name="devshop_bench_loyalty", client_secret=SECRET).start()
    app = None
    try:
        store_shop = devshop.create_shop("bench-loyalty", currency_code="EUR", primary_locale="de")
        devshop.create_staff(store_shop, account_owner=True)
        devshop.register_app(application_url=app_url)
        # Installed by token exchange (what an embedded first load does): a session token -> offline token.
        token = httpx.post(devshop.shop_url(store_shop, "/admin/oauth/access_token"), json={
            "client_id": devshop.client_id, "client_secret": SECRET,
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "subject_token": devshop.session_token(store_shop),
            "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
            "requested_token_type": "urn:shopify:params:oauth:token-type:offline-access-token"}).json()["access_token"]
        shop = Shop.objects.filter(domain=SHOP).first()
        shop.access_token_encrypted, shop.access_token_expires_at = encrypt(token), None
        shop.scopes = "write_discounts,read_discounts"
        shop.save()
        # Redeems rotate over members: each may redeem 10 times a minute (storefront.views' limit).
        members = []
        for i in range(max(1, redeems // 8)):
            customer = devshop.create_customer(store_shop, email=f"bench{i}@example.com", first_name="Bench")
            members.append(int(customer.get("id") or customer["customer"]["id"]))
            points_adjust(shop=shop, customer_shopify_id=members[-1], points=1_000_000, staff_name="bench",
                          note="bench", idempotency_key=f"bench-points-{i}")
        customer_id = members[0]
        reward = Reward.objects.create(shop=shop, name="5 off", kind=Reward.Kind.FIXED_AMOUNT, points_cost=100,
                                       amount=Decimal("5"), currency="EUR")
        env = _env(app_url=app_url, base_url=devshop.base_url + "/store/{shop}")
        app = subprocess.Popen(
            [str(Path(sys.executable).parent / "gunicorn"), "retention_app.wsgi:application", "--bind",
             f"127.0.0.1:{port}", "--workers", "2", "--threads", "4", "--log-level", "warning"], cwd=ROOT, env=env)
        client = httpx.Client(base_url=app_url, timeout=30)
        for _ in range(100):
            try:
                if client.get("/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        for _ in range(20):  # warm both workers' connections and caches
            client.get("/proxy/balance?" + signed(customer_id, locale="de"))
        balance_ms = []
        for _ in range(requests):
            t0 = time.perf_counter()
            response = client.get("/proxy/balance?" + signed(customer_id, locale="de"))
            balance_ms.append((time.perf_counter() - t0) * 1000)
            assert response.status_code == 200, response.text
        redeem_ms = []
        for i in range(redeems):
            t0 = time.perf_counter()
            response = client.post("/proxy/redeem?" + signed(members[i % len(members)], locale="de"), json={
                "reward_id": reward.pk, "idempotency_key": uuid.uuid4().hex})
            redeem_ms.append((time.perf_counter() - t0) * 1000)
            assert response.status_code == 200, response.text
        ok = redeem_ms
        return {
            "balance": {"n": len(balance_ms), "p50_ms": round(statistics.median(balance_ms), 1),
                        "p95_ms": round(percentile(balance_ms, 95), 1), "max_ms": round(max(balance_ms), 1)},
            "redeem": {"n": len(ok), "p50_ms": round(statistics.median(ok), 1),
                       "p95_ms": round(percentile(ok, 95), 1), "max_ms": round(max(ok), 1)},
        }
    finally:
        if app is not None:
            app.terminate()
            app.wait(20)
        devshop.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--redeems", type=int, default=100)
    parser.add_argument("--skip-burst", action="store_true")
    parser.add_argument("--skip-latency", action="store_true")
    args = parser.parse_args()
    _fresh_database()
    _django()
    result = {}
    if not args.skip_burst:
        result["burst"] = burst(args.orders)
        print(json.dumps({"burst": result["burst"]}), flush=True)
    if not args.skip_latency:
        from django.conf import settings
        from django.utils import timezone

        from shops.models import Shop

        Shop.objects.create(domain=SHOP, currency="EUR", iana_timezone="Europe/Berlin", installed_at=timezone.now())
        settings.SHOPIFY_API_SECRET = SECRET
        result["latency"] = latency(args.requests, args.redeems)
        print(json.dumps({"latency": result["latency"]}), flush=True)


if __name__ == "__main__":
    main()
