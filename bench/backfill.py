# ruff: noqa: S603, S607 - runs our own interpreter and the PostgreSQL client tools with fixed arguments
"""Benchmark the order/customer backfill: orders written per second and the worker's peak RSS.

    .venv/bin/python bench/backfill.py                       # 1,000,000 orders / 200,000 customers
    .venv/bin/python bench/backfill.py --orders 100000 --customers 20000

Source of the bulk results:
- `--source devshop` (default when shopify_sync.admin_api exists): seeds a development store shop with
  devshop's seed_shop command (through tests/devshop_harness.DevshopServer), installs the app, and runs
  the real backfill task path (bulk operations over HTTP, JSONL download).
- `--source file`: writes Shopify-format bulk JSONL files locally (same shape the store returns) and
  runs the same backfill service against them, measuring the app side alone (parse + COPY + upsert +
  summaries). Used while the devshop path is not available.

The backfill runs in a child process (the "worker") so its peak RSS (ru_maxrss) is its own; the
database is DATABASE_URL's with "_bench" appended, created and migrated fresh.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _bench_db_url() -> str:
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/retention")
    return base.rsplit("/", 1)[0] + "/" + base.rsplit("/", 1)[1].split("?")[0] + "_bench"


def _django(db_url: str) -> None:
    os.environ["DATABASE_URL"] = db_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()


def prepare(args) -> dict:
    """Fresh database, generated files (file source). Runs in the parent process."""
    db_url = _bench_db_url()
    name = db_url.rsplit("/", 1)[1]
    server = db_url.rsplit("/", 1)[0]
    subprocess.run(["dropdb", "--if-exists", "-h", "127.0.0.1", "-U", "postgres", name], check=True)
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", name], check=True)
    env = {**os.environ, "DATABASE_URL": db_url, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    workdir = Path(tempfile.mkdtemp(prefix="bench-backfill-"))
    from tests.commerce.bulk_files import write_customers, write_orders

    started = time.monotonic()
    customers = write_customers(workdir / "customers.jsonl", args.customers)
    orders = write_orders(workdir / "orders.jsonl", args.orders, customers=args.customers)
    print(f"generated {args.orders} orders / {args.customers} customers in {time.monotonic() - started:.1f}s "
          f"({orders.stat().st_size / 1e6:.0f} MB JSONL)", flush=True)
    return {"db_url": db_url, "server": server, "customers": str(customers), "orders": str(orders)}


def worker(spec: dict) -> None:
    """The measured part, in its own process: the backfill service from start to done."""
    _django(spec["db_url"])
    from django.utils import timezone

    from commerce.models import Order, OrderLineItem, OrderSyncRun
    from commerce.services.backfill import Step, backfill_advance
    from shops.models import Shop
    from tests.commerce.test_backfill import BulkStandIn, file_opener

    shop = Shop.objects.create(domain="bench-shop.myshopify.com", currency="EUR", iana_timezone="Europe/Berlin",
                               installed_at=timezone.now(), scopes="read_customers,read_orders,read_all_orders")
    api = BulkStandIn({"customers": Path(spec["customers"]), "orders": Path(spec["orders"])})
    run = OrderSyncRun.objects.create(shop=shop, kind="backfill")
    started = time.monotonic()
    timings = {}
    while True:
        step = backfill_advance(run_id=run.pk, client=api, opener=file_opener())
        if step == Step.WAITING:
            run.refresh_from_db()
            stage_started = time.monotonic()
            timings.setdefault(run.stage, stage_started)
            api.complete_all()
            continue
        if step == Step.CONTINUE:
            continue
        break
    elapsed = time.monotonic() - started
    orders_started = timings.get("orders", started)
    orders_elapsed = time.monotonic() - orders_started
    run.refresh_from_db()
    result = {
        "step": str(step),
        "orders": Order.objects.filter(shop=shop).count(),
        "line_items": OrderLineItem.objects.filter(shop=shop).count(),
        "rows_read": run.rows_read,
        "seconds_total": round(elapsed, 2),
        "seconds_orders_stage": round(orders_elapsed, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    result["orders_per_second"] = round(result["orders"] / orders_elapsed) if orders_elapsed else None
    print(json.dumps(result), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--source", choices=["devshop", "file"], default=None)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(json.loads(args.worker))
        return
    source = args.source
    if source is None:
        source = "devshop" if (ROOT / "shopify_sync" / "admin_api.py").exists() else "file"
    if source == "devshop":
        sys.exit("the devshop source needs shopify_sync.admin_api.AdminClient and an installed app; "
                 "run with --source file until the sync helper's client lands")
    spec = prepare(args)
    print("running the backfill worker ...", flush=True)
    subprocess.run([sys.executable, __file__, "--worker", json.dumps(spec)], cwd=ROOT, check=True)


if __name__ == "__main__":
    main()
