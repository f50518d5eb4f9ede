"""Benchmark: webhook intake under gunicorn, and orders applied per second by one worker.

    .venv/bin/python bench/webhook_intake.py [--rate 200] [--seconds 15] [--workers 3]

Starts gunicorn on a free port against a scratch PostgreSQL database, sends HMAC-signed `orders/create`
deliveries at a fixed rate from a thread pool (open loop: a slow server makes requests queue, it does not
slow the sender), and reports requests/s achieved and latency percentiles of POST /webhooks. Then runs one
Celery worker process over the stored deliveries and reports orders applied per second.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psycopg2

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-secret"
SHOP = "bench-shop.myshopify.com"
DB = "retention_bench_webhooks"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def order_payload(n: int) -> bytes:
    order_id = 5_000_000_000_000 + n
    customer_id = 7_000_000_000_000 + (n % 5000)
    body = {
        "id": order_id, "admin_graphql_api_id": f"gid://shopify/Order/{order_id}", "name": f"#{1000 + n}",
        "email": f"c{n % 5000}@example.com", "created_at": "2026-11-20T10:00:00+01:00",
        "updated_at": "2026-11-20T10:00:00+01:00", "processed_at": "2026-11-20T10:00:00+01:00",
        "currency": "EUR", "presentment_currency": "EUR", "financial_status": "paid",
        "fulfillment_status": None, "cancelled_at": None, "cancel_reason": None, "test": False,
        "subtotal_price": "90.00", "total_discounts": "0.00", "total_price": "100.00", "total_tax": "15.97",
        "total_shipping_price_set": {"shop_money": {"amount": "10.00", "currency_code": "EUR"},
                                     "presentment_money": {"amount": "10.00", "currency_code": "EUR"}},
        "discount_codes": [], "landing_site": "/", "referring_site": "", "tags": "",
        "customer": {"id": customer_id, "admin_graphql_api_id": f"gid://shopify/Customer/{customer_id}",
                     "email": f"c{n % 5000}@example.com", "first_name": "Bench", "last_name": str(n % 5000),
                     "created_at": "2025-01-01T00:00:00+01:00", "updated_at": "2026-11-20T10:00:00+01:00"},
        "line_items": [{"id": 9_000_000_000_000 + n, "product_id": 1, "variant_id": 2, "title": "Mug",
                        "quantity": 2, "price": "45.00", "sku": "MUG"}],
        "refunds": [],
    }
    return json.dumps(body).encode()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=int, default=200)
    ap.add_argument("--seconds", type=int, default=15)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()

    conn = psycopg2.connect(host="127.0.0.1", user="postgres", dbname="postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
        cur.execute(f'CREATE DATABASE "{DB}"')
    conn.close()

    from cryptography.fernet import Fernet

    env = {
        **os.environ, "DJANGO_SETTINGS_MODULE": "retention_app.settings",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB}", "REDIS_URL": "redis://127.0.0.1:6379/9",
        "DJANGO_SECRET_KEY": "bench", "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "SHOPIFY_API_KEY": "bench", "SHOPIFY_API_SECRET": SECRET, "SHOPIFY_APP_URL": "http://127.0.0.1",
        "ALLOWED_HOSTS": "*", "SECURE_SSL_REDIRECT": "0", "SECURE_HSTS_SECONDS": "0", "SECURE_COOKIES": "0",
        "STATICFILES_STORAGE": "django.contrib.staticfiles.storage.StaticFilesStorage", "LOG_LEVEL": "WARNING",
    }
    py = sys.executable
    subprocess.run([py, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run([py, "manage.py", "shell", "-c",
                    f"from shops.models import Shop; from django.utils import timezone; "
                    f"Shop.objects.create(domain='{SHOP}', currency='EUR', installed_at=timezone.now())"],
                   cwd=ROOT, env=env, check=True)
    subprocess.run(["redis-cli", "-n", "9", "FLUSHDB"], check=True, capture_output=True)
    port = free_port()
    web = subprocess.Popen(
        [str(Path(py).parent / "gunicorn"), "retention_app.wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--workers", str(args.workers), "--threads", "4", "--log-level", "warning"], cwd=ROOT, env=env)
    try:
        url = f"http://127.0.0.1:{port}/webhooks"
        for _ in range(100):
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        total = args.rate * args.seconds
        warmup = args.rate * 2  # not measured: lets every gunicorn thread open its connections and load URLs
        bodies = [order_payload(n) for n in range(total + warmup)]
        latencies: list[float] = []
        statuses: dict[int, int] = {}
        lock = threading.Lock()
        local = threading.local()

        def send(n: int) -> None:
            client = getattr(local, "client", None) or httpx.Client(timeout=10)
            local.client = client
            body = bodies[n]
            digest = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
            headers = {"Content-Type": "application/json", "X-Shopify-Hmac-Sha256": digest,
                       "X-Shopify-Topic": "orders/create", "X-Shopify-Shop-Domain": SHOP,
                       "X-Shopify-API-Version": "2026-10", "X-Shopify-Webhook-Id": str(uuid.uuid4()),
                       "X-Shopify-Event-Id": str(uuid.uuid4()), "X-Shopify-Triggered-At": "2026-11-20T09:00:00Z"}
            t0 = time.perf_counter()
            status = client.post(url, content=body, headers=headers).status_code
            elapsed = time.perf_counter() - t0
            with lock:
                latencies.append(elapsed)
                statuses[status] = statuses.get(status, 0) + 1

        with ThreadPoolExecutor(max_workers=64) as pool:
            for n in range(total, total + warmup):
                pool.submit(send, n)
                time.sleep(1 / args.rate)
        latencies.clear()
        statuses.clear()

        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=64) as pool:
            for n in range(total):
                due = start + n / args.rate
                delay = due - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                pool.submit(send, n)
        wall = time.perf_counter() - start
        latencies.sort()
        q = statistics.quantiles(latencies, n=100)
        print(f"webhook intake (after {warmup} warm-up requests): {total} requests at target {args.rate}/s in {wall:.1f}s "
              f"=> {total / wall:.0f} req/s; statuses {statuses}")
        print(f"latency ms: p50 {q[49]*1000:.1f}  p95 {q[94]*1000:.1f}  p99 {q[98]*1000:.1f}  max {latencies[-1]*1000:.1f}")
    finally:
        web.terminate()
        web.wait()

    # One worker applies the stored deliveries (the enqueued tasks are already in Redis db 9).
    t0 = time.perf_counter()
    worker = subprocess.Popen([py, "-m", "celery", "-A", "retention_app", "worker", "--queues",
                               "webhooks,sync,default", "--concurrency", "1", "--loglevel", "WARNING", "--pool", "solo"],
                              cwd=ROOT, env=env)
    try:
        pg = psycopg2.connect(env["DATABASE_URL"])
        pg.autocommit = True
        while time.perf_counter() - t0 < 600:
            with pg.cursor() as cur:
                cur.execute("SELECT count(*) FROM shopify_sync_webhookdelivery WHERE processed_at IS NULL")
                left = cur.fetchone()[0]
            if left == 0:
                break
            time.sleep(0.5)
        elapsed = time.perf_counter() - t0
        print(f"one worker applied {total + warmup} orders/create deliveries in {elapsed:.1f}s "
              f"=> {(total + warmup) / elapsed:.0f} orders/s (includes worker start-up)")
    finally:
        worker.terminate()
        worker.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
