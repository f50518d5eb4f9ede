# ruff: noqa: S603, S607 - runs our own interpreter and the PostgreSQL client tools with fixed arguments
"""Benchmark the order/customer backfill: orders written per second and the worker's peak memory.

    .venv/bin/python bench/backfill.py                       # devshop, ~1,000,000 orders / 200,000 customers
    .venv/bin/python bench/backfill.py --source file --orders 100000 --customers 20000

Sources of the bulk results:
- `--source devshop` (default): the development store. Starts `python -m devshop serve` on a fresh
  database (tests/devshop_harness.DevshopServer; `--devshop-db`, default devshop_bench_h9-style from
  DATABASE_URL) and seeds it with `seed_shop` (`--customers 200000 --years 4 --rate-scale 7.5 --seed 1`,
  history ending today: ~1,000,000 orders; --rate-scale 4.3 gives ~815,000), or uses a running one (`--devshop-url`, `--shop`,
  `--no-seed`). The app gets its token the way an embedded install does (a session token minted by
  devshop's control API, exchanged at the shop's access-token endpoint by shops.token_endpoint), and
  the shop's details come from the Admin API (shops.services.install.shop_details_refresh). Then the
  backfill task's code (commerce.services.backfill.backfill_advance, the body of the Celery task) runs
  in one worker process against the real Admin API: bulk operations, the JSONL download over HTTP.
  The bulk operation's finish is noticed by polling every 0.2 s (in production the
  bulk_operations/finish webhook calls the task; polling is its fallback).
- `--source file`: Shopify-format bulk JSONL files generated locally (tests/commerce/bulk_files.py),
  served by a stand-in of the two bulk documents: the app side alone.

The worker is a child process, so its peak RSS (ru_maxrss, plus a 0.1 s sampler for the curve) is its
own. It also reports the CPU seconds of itself, of its PostgreSQL backend and (devshop) of the store's
server during the orders stage: on a shared 2-core machine wall time depends on the neighbours, CPU
time much less. The app's database is DATABASE_URL's with "_bench" appended, created and migrated fresh.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# ~1,000,000 orders (999,827 with seed 1). The history ends today 00:00 UTC (seed_shop's default, given
# explicitly so the run prints it): the home page's default range, the last 12 months, is then full.
SEED_DEFAULTS = {"customers": 200_000, "years": 4.0, "rate_scale": 7.5, "seed": 1,
                 "end": time.strftime("%Y-%m-%dT00:00:00Z", time.gmtime())}
POLL_SECONDS = 0.2


def _db_name(url: str) -> str:
    return url.rsplit("/", 1)[1].split("?")[0]


def _bench_db_url() -> str:
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/retention")
    return base.rsplit("/", 1)[0] + "/" + _db_name(base) + "_bench"


def _django(db_url: str, extra_env: dict[str, str] | None = None) -> None:
    os.environ["DATABASE_URL"] = db_url
    os.environ.update(extra_env or {})
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()


def _fresh_app_database() -> str:
    db_url = _bench_db_url()
    name = _db_name(db_url)
    subprocess.run(["dropdb", "--if-exists", "--force", "-h", "127.0.0.1", "-U", "postgres", name], check=True)
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", name], check=True)
    env = {**os.environ, "DATABASE_URL": db_url, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    return db_url


# ------------------------------------------------------------------------------------------ measuring


def _proc_cpu_seconds(pid: int | None) -> float | None:
    """utime + stime of a process (and its reaped children), from /proc: PostgreSQL and devshop run here."""
    if not pid:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def _rss_mb() -> float:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


class RssSampler:
    """The worker's resident memory every 0.1 s, labelled with what the backfill is doing."""

    def __init__(self) -> None:
        self.label = "start"
        self.peaks: dict[str, float] = {}
        self.samples: list[tuple[float, str, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        started = time.monotonic()
        while not self._stop.wait(0.1):
            rss = _rss_mb()
            self.peaks[self.label] = max(self.peaks.get(self.label, 0.0), rss)
            self.samples.append((time.monotonic() - started, self.label, rss))

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


class TimedAdminAPI:
    """Wraps the Admin API client: notes when each bulk operation started and was seen COMPLETED."""

    def __init__(self, client, on_completed) -> None:
        self.client = client
        self.on_completed = on_completed  # (kind, gid), once per operation
        self.kinds: dict[str, str] = {}  # gid -> "customers" | "orders"
        self.started: dict[str, float] = {}
        self.completed: dict[str, float] = {}
        self.ops: dict[str, dict] = {}

    def execute(self, document: str, variables: dict | None = None) -> dict:
        data = self.client.execute(document, variables)
        now = time.monotonic()
        if "bulkOperationRunQuery" in data:
            op = (data["bulkOperationRunQuery"] or {}).get("bulkOperation") or {}
            if op.get("id"):
                self.started[op["id"]] = now
                self.kinds[op["id"]] = "customers" if "customers {" in (variables or {}).get("query", "") else "orders"
        elif data.get("bulkOperation"):
            op = data["bulkOperation"]
            self.ops[op["id"]] = op
            if op.get("status") == "COMPLETED" and op["id"] not in self.completed:
                self.completed[op["id"]] = now
                self.on_completed(self.kinds.get(op["id"], "?"), op["id"])
        return data


# ----------------------------------------------------------------------------------------- the worker


def _install_from_devshop(spec: dict):
    """The shop with an offline token, as an embedded install leaves it (without webhooks or sync)."""
    import httpx
    from django.utils import timezone

    from shops.models import Shop
    from shops.services.install import shop_details_refresh
    from shops.services.tokens import shop_tokens_store
    from shops.session_tokens import session_token_decode
    from shops.token_endpoint import token_exchange

    minted = httpx.post(
        f"{spec['devshop_url']}/_devshop/shops/{spec['shop']}/apps/{spec['client_id']}/session-token",
        json={}, timeout=30,
    )
    minted.raise_for_status()
    grant = token_exchange(session_token_decode(minted.json()["token"]))
    shop = Shop(domain=spec["shop"])
    shop_tokens_store(shop, grant)
    shop.save()
    shop_details_refresh(shop)
    shop.installed_at = timezone.now()
    shop.save(update_fields=["installed_at", "updated_at"])
    return shop


def _file_shop_and_client(spec: dict):
    from django.utils import timezone

    from shops.models import Shop
    from tests.commerce.test_backfill import BulkStandIn

    shop = Shop.objects.create(domain="bench-shop.myshopify.com", currency="EUR", iana_timezone="Europe/Berlin",
                               installed_at=timezone.now(), scopes="read_customers,read_orders,read_all_orders")
    stand_in = BulkStandIn({"customers": Path(spec["customers"]), "orders": Path(spec["orders"])})
    return shop, stand_in


def worker(spec: dict) -> None:
    """The measured part, in its own process: the backfill task's code from start to done."""
    extra_env = {}
    if spec["source"] == "devshop":
        extra_env = {
            "SHOPIFY_API_KEY": spec["client_id"],
            "SHOPIFY_API_SECRET": spec["client_secret"],
            "SHOPIFY_BASE_URL": spec["devshop_url"] + "/store/{shop}",
            # shopify_sync's throttle bucket estimate lives in Redis: the bench's own db.
            "REDIS_URL": spec["redis_url"],
        }
    _django(spec["db_url"], extra_env)
    from django.db import connection

    from commerce.models import (
        Customer,
        CustomerMonthSummary,
        CustomerSummary,
        Order,
        OrderLineItem,
        OrderSyncRun,
    )
    from commerce.services.backfill import Step, backfill_advance
    from commerce.services.runs import sync_run_request

    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        pg_pid = cur.fetchone()[0]

    marks: dict[str, float] = {}
    cpu: dict[str, tuple] = {}
    rss = RssSampler()

    def mark(name: str) -> None:
        marks[name] = time.monotonic()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        cpu[name] = (usage.ru_utime + usage.ru_stime, _proc_cpu_seconds(pg_pid),
                     _proc_cpu_seconds(spec.get("devshop_pid")))

    def on_completed(kind: str, gid: str) -> None:
        mark(f"{kind}_ready")
        rss.label = f"{kind} (writing)"

    opener = None
    if spec["source"] == "devshop":
        from commerce.services.shopify import admin_client

        shop = _install_from_devshop(spec)
        api = TimedAdminAPI(admin_client(shop), on_completed)
    else:
        from tests.commerce.test_backfill import file_opener

        shop, stand_in = _file_shop_and_client(spec)
        api = TimedAdminAPI(stand_in, on_completed)
        opener = file_opener()

    run, _ = sync_run_request(shop=shop, kind=OrderSyncRun.Kind.BACKFILL)
    kwargs = {"opener": opener} if opener else {}
    with rss:
        mark("start")
        steps = 0
        while True:
            steps += 1
            step = backfill_advance(run_id=run.pk, client=api, **kwargs)
            if step == Step.WAITING:
                run.refresh_from_db()
                rss.label = f"{run.stage} (bulk operation running)"
                if run.stage == "orders" and "customers_done" not in marks:
                    mark("customers_done")
                if spec["source"] == "file":
                    api.client.complete_all()
                else:
                    time.sleep(POLL_SECONDS)
                continue
            if step == Step.CONTINUE:
                continue
            break
        mark("done")
    run.refresh_from_db()
    # When the orders' operation was seen completed: the app's side of the orders stage starts there.
    orders_gid = run.bulk_operation_gid
    orders_ready = marks.get("orders_ready", marks["done"])
    orders_started = api.started.get(orders_gid, marks.get("customers_done", marks["start"]))
    customers_gid = next((gid for gid in api.started if gid != orders_gid), None)
    app_orders_seconds = marks["done"] - orders_ready
    orders = Order.objects.filter(shop=shop).count()

    def cpu_between(a: str, b_time_name: str, index: int) -> float | None:
        first, last = cpu.get(a, (None,) * 3)[index], cpu.get(b_time_name, (None,) * 3)[index]
        return round(last - first, 2) if first is not None and last is not None else None

    result = {
        "source": spec["source"],
        "step": str(step),
        "run_status": run.status,
        "error": run.error or None,
        "orders": orders,
        "customers": Customer.objects.filter(shop=shop).count(),
        "line_items": OrderLineItem.objects.filter(shop=shop).count(),
        "customer_summaries": CustomerSummary.objects.filter(shop=shop).count(),
        "customer_month_summaries": CustomerMonthSummary.objects.filter(shop=shop).count(),
        "rows_read": run.rows_read,
        "seconds_backfill_total": round(marks["done"] - marks["start"], 2),
        "seconds_customers_stage": round(marks.get("customers_done", marks["start"]) - marks["start"], 2),
        "seconds_orders_bulk_operation": round(orders_ready - orders_started, 2),
        "seconds_orders_written": round(app_orders_seconds, 2),
        "orders_per_second_written": round(orders / app_orders_seconds) if app_orders_seconds else None,
        "orders_per_second_including_export": round(orders / (marks["done"] - orders_started)),
        "orders_per_second_whole_backfill": round(orders / (marks["done"] - marks["start"])),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "rss_peaks_mb": {k: round(v, 1) for k, v in rss.peaks.items()},
        "steps": steps,
        "customers_bulk_operation": api.ops.get(customers_gid, {}).get("rootObjectCount"),
    }
    # CPU seconds each process spent while the app wrote the orders (operation completed -> done).
    result["cpu_seconds_orders_written"] = {
        name: cpu_between("orders_ready", "done", i)
        for i, name in enumerate(("worker", "postgres_backend", "devshop_server"))
    }
    # The RSS curve through the orders stage, at each tenth: flat means memory does not grow with orders.
    writing = [s for s in rss.samples if s[1] == "orders (writing)"] or [s for s in rss.samples]
    if writing:
        step_size = max(len(writing) // 10, 1)
        result["rss_curve_mb"] = [round(s[2], 1) for s in writing[::step_size]][:11]
    print("RESULT " + json.dumps(result), flush=True)


# ------------------------------------------------------------------------------------------- the parent


def _devshop_pid(port: int) -> int | None:
    """The pid of `python -m devshop serve ... --port <port>` (its CPU time is reported)."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"devshop" in cmd and b"serve" in cmd and str(port).encode() in cmd:
            return int(proc.name)
    return None


def _seed(server, args) -> dict:
    started = time.monotonic()
    out = server.manage(
        "seed_shop", "--preset", "de", "--domain", args.shop, "--customers", str(args.customers),
        "--years", str(args.years), "--rate-scale", str(args.rate_scale), "--seed", str(args.seed),
        "--end", args.end,
    ).stdout
    seeded = json.loads(out.strip().splitlines()[-1])
    print(f"seeded {args.shop}: {seeded['orders']} orders, {seeded['customers']} customers, "
          f"{seeded['line_items']} line items, {seeded['refunds']} refunds in {time.monotonic() - started:.0f}s",
          flush=True)
    return seeded


@contextlib.contextmanager
def _devshop(args):
    """A devshop server with the shop seeded: the one at --devshop-url, or a fresh one we start."""
    from tests.devshop_harness import DEFAULT_CLIENT_SECRET, DevshopServer

    if args.devshop_url:
        import httpx

        port = int(args.devshop_url.rsplit(":", 1)[1].split("/")[0])
        if not args.no_seed:
            sys.exit("seeding a running devshop is not supported: seed it yourself and pass --no-seed")
        stats = httpx.get(f"{args.devshop_url}/_devshop/shops/{args.shop}/stats", timeout=30).json()
        print(f"using {args.devshop_url} {args.shop}: {stats['orders']} orders, {stats['customers']} customers",
              flush=True)
        yield {"devshop_url": args.devshop_url, "client_id": args.client_id,
               "client_secret": args.client_secret or DEFAULT_CLIENT_SECRET, "devshop_pid": _devshop_pid(port)}
        return
    # Installs and token exchange check the app's URLs against the toml; the bench's app never serves.
    server = DevshopServer(db_name=args.devshop_db, extra_env={"DEVSHOP_BUCKET_SCALE": "1"})
    server.start(timeout=120)
    try:
        server.register_app(application_url="http://127.0.0.1:9")
        shop = server.create_shop(args.shop)
        server.create_staff(shop)
        _seed(server, args)
        yield {"devshop_url": server.base_url, "client_id": server.client_id,
               "client_secret": server.client_secret, "devshop_pid": server._process.pid}
    finally:
        server.stop()


def _print_block(result: dict, args, command: str) -> None:
    pg = subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-Atc", "SHOW server_version"],
                        capture_output=True, text=True).stdout.strip()
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    lines = [
        "=" * 78,
        f"backfill benchmark ({result['source']})   {time.strftime('%Y-%m-%d %H:%M')}",
        f"machine: {os.cpu_count()} cores, {mem_gb:.0f} GB RAM, PostgreSQL {pg}, load average at end "
        f"{os.getloadavg()[0]:.1f}",
        f"command: {command}",
        f"run: {result['run_status']} {result['error'] or ''}",
        f"orders {result['orders']:,}  customers {result['customers']:,}  line items {result['line_items']:,}  "
        f"summaries {result['customer_summaries']:,} customers / {result['customer_month_summaries']:,} months",
        "orders stage, app side (download + parse + write + summaries), from the operation's completion:",
        f"    {result['seconds_orders_written']:.1f} s  ->  {result['orders_per_second_written']:,} orders/s written",
        f"orders bulk operation (devshop's export) {result['seconds_orders_bulk_operation']:.1f} s; "
        f"including it: {result['orders_per_second_including_export']:,} orders/s",
        f"whole backfill (customers + orders, both exports) {result['seconds_backfill_total']:.1f} s  ->  "
        f"{result['orders_per_second_whole_backfill']:,} orders/s",
        f"worker peak RSS {result['peak_rss_mb']} MB; per phase {result['rss_peaks_mb']}",
        f"RSS through the run (MB): {result.get('rss_curve_mb')}",
        f"CPU seconds while the orders were written: {result['cpu_seconds_orders_written']}",
        "=" * 78,
    ]
    print("\n".join(lines), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", choices=["devshop", "file"], default="devshop")
    parser.add_argument("--orders", type=int, default=1_000_000, help="file source: orders to generate")
    parser.add_argument("--customers", type=int, default=SEED_DEFAULTS["customers"])
    parser.add_argument("--years", type=float, default=SEED_DEFAULTS["years"])
    parser.add_argument("--rate-scale", type=float, default=SEED_DEFAULTS["rate_scale"])
    parser.add_argument("--seed", type=int, default=SEED_DEFAULTS["seed"])
    parser.add_argument("--end", default=SEED_DEFAULTS["end"])
    parser.add_argument("--shop", default="bench-backfill.myshopify.com")
    parser.add_argument("--devshop-db", default=None, help="database of the devshop we start (recreated)")
    parser.add_argument("--devshop-url", help="use this running devshop (seeded: with --no-seed)")
    parser.add_argument("--no-seed", action="store_true")
    parser.add_argument("--client-id", default="retention-demo-api-key", help="with --devshop-url")
    parser.add_argument("--client-secret", default=None, help="with --devshop-url (default: the harness's)")
    parser.add_argument("--json", help="also write the result to this file")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(json.loads(args.worker))
        return
    command = " ".join([Path(sys.executable).name, "bench/backfill.py", *sys.argv[1:]])
    if args.devshop_db is None:
        args.devshop_db = "devshop_" + _db_name(_bench_db_url())
    db_url = _fresh_app_database()
    spec: dict = {"source": args.source, "db_url": db_url,
                  "redis_url": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")}
    with contextlib.ExitStack() as stack:
        if args.source == "devshop":
            spec.update(stack.enter_context(_devshop(args)), shop=args.shop)
        else:
            from tests.commerce.bulk_files import write_customers, write_orders

            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-backfill-")))
            started = time.monotonic()
            spec["customers"] = str(write_customers(workdir / "customers.jsonl", args.customers))
            spec["orders"] = str(write_orders(workdir / "orders.jsonl", args.orders, customers=args.customers))
            print(f"generated {args.orders} orders / {args.customers} customers in "
                  f"{time.monotonic() - started:.1f}s", flush=True)
        print("running the backfill worker ...", flush=True)
        proc = subprocess.run([sys.executable, __file__, "--worker", json.dumps(spec)], cwd=ROOT,
                              capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"worker failed:\n{proc.stdout}\n{proc.stderr}")
    result = json.loads(next(line for line in proc.stdout.splitlines() if line.startswith("RESULT "))[7:])
    _print_block(result, args, command)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
