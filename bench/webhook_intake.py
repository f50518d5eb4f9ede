"""Benchmark: webhook intake under gunicorn, and orders applied per second by one worker.

    .venv/bin/python bench/webhook_intake.py [--rate 200] [--seconds 15] [--connections 64]
        [--config gunicorn.conf.py | --config none --workers 2 --threads 4] [--no-worker]

Starts gunicorn on a free port against a scratch PostgreSQL database (retention_bench_webhooks, Redis db 9)
the way the Procfile does (`-c gunicorn.conf.py`; `--config none` runs it with bare command-line flags,
as before the config file existed), then sends HMAC-signed `orders/create` deliveries at a fixed rate and
reports the rate achieved, the status counts and latency percentiles of POST /webhooks. Then one Celery
worker process applies the stored deliveries and the orders applied per second are reported.

The load generator is built so that it neither distorts nor hides the server's latency:
- Open loop at a fixed rate: request i is due at start + i/rate whatever happened before. Its latency is
  measured from that SCHEDULED time to the last byte of its response, so a request that waited for a free
  connection, or behind a stalled client or server, counts with its wait (no coordinated omission).
- Light: one asyncio event loop in one thread, a pool of persistent HTTP/1.1 keep-alive connections over
  raw asyncio streams (used round-robin, so the load spreads over connections and gunicorn workers), and
  every request's bytes (body, signature, headers) built before the clock starts. On a 2-core machine a
  heavy client would take CPU from the server and show up as server latency. Its CPU use is reported.
- A warm-up phase (two seconds at the same rate) is sent first and not measured.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg2

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _scratch import app_env, scratch_database  # noqa: E402

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


def signed_request(n: int, port: int) -> bytes:
    """The complete HTTP/1.1 request bytes of delivery n (a fresh webhook id and event id each)."""
    body = order_payload(n)
    digest = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    head = (
        f"POST /webhooks HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nX-Shopify-Hmac-Sha256: {digest}\r\nX-Shopify-Topic: orders/create\r\n"
        f"X-Shopify-Shop-Domain: {SHOP}\r\nX-Shopify-API-Version: 2026-10\r\n"
        f"X-Shopify-Webhook-Id: {uuid.uuid4()}\r\nX-Shopify-Event-Id: {uuid.uuid4()}\r\n"
        f"X-Shopify-Triggered-At: 2026-11-20T09:00:00Z\r\n\r\n"
    )
    return head.encode() + body


class Closed(Exception):
    """The server closed a keep-alive connection before answering (e.g. its keep-alive timeout)."""


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """(status, server keeps the connection open). Handles Content-Length and chunked bodies."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        raise Closed from exc
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip().lower()
    if headers.get("transfer-encoding") == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    else:
        await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers.get("connection") != "close"


class Conn:
    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def run_phase(port: int, requests: list[bytes], rate: float, idle: asyncio.Queue, stats: dict) -> float:
    """Send `requests` open-loop at `rate`; record each latency from its scheduled time. Returns the wall
    time from the first scheduled send to the last response."""
    loop = asyncio.get_running_loop()
    latencies: list[float] = stats["latencies"]
    statuses: dict = stats["statuses"]

    async def one(data: bytes, due: float) -> None:
        conn: Conn = await idle.get()  # waiting for a free connection counts: `due` is the clock's zero
        try:
            for attempt in (1, 2):
                if conn.writer is None:
                    await conn.open()
                    stats["connects"] += 1
                try:
                    conn.writer.write(data)
                    await conn.writer.drain()
                    status, keep = await read_response(conn.reader)
                    break
                except (Closed, ConnectionError):
                    # The server closed an idle keep-alive connection as we reused it: nothing of this
                    # request was answered, so it is sent again on a new connection (a webhook delivery
                    # is idempotent by its id, exactly as Shopify's own retries are).
                    conn.close()
                    stats["resends"] += 1
                    if attempt == 2:
                        status, keep = -1, False
            end = loop.time()
            latencies.append(end - due)
            statuses[status] = statuses.get(status, 0) + 1
            if not keep:
                conn.close()
        finally:
            idle.put_nowait(conn)

    tasks = []
    start = loop.time() + 0.05
    for i, data in enumerate(requests):
        due = start + i / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(data, due)))
    await asyncio.gather(*tasks)
    return loop.time() - start


def pct(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile (no interpolation, nothing dropped)."""
    k = max(0, min(len(sorted_values) - 1, int(round(p / 100 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


async def load(port: int, warmup: list[bytes], measured: list[bytes], rate: float, connections: int,
               server_pid: int) -> dict:
    idle: asyncio.Queue = asyncio.Queue()  # FIFO: connections are used round-robin
    for _ in range(connections):
        idle.put_nowait(Conn(port))
    warm = {"latencies": [], "statuses": {}, "connects": 0, "resends": 0}
    await run_phase(port, warmup, rate, idle, warm)
    stats = {"latencies": [], "statuses": {}, "connects": 0, "resends": 0}
    cpu0, server0, psi0 = time.process_time(), tree_cpu_seconds(server_pid), cpu_pressure_us()
    wall = await run_phase(port, measured, rate, idle, stats)
    stats["client_cpu"] = (time.process_time() - cpu0) / wall
    stats["cpu_pressure"] = (cpu_pressure_us() - psi0) / 1e6 / wall
    stats["server_cpu_ms"] = (tree_cpu_seconds(server_pid) - server0) / len(measured) * 1000
    stats["wall"] = wall
    stats["warm_statuses"] = warm["statuses"]
    while not idle.empty():
        idle.get_nowait().close()
    return stats


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) used so far by gunicorn's master and its worker processes."""
    ticks = os.sysconf("SC_CLK_TCK")
    pids = [pid]
    try:
        pids += [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        pass
    total = 0
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def cpu_pressure_us() -> int:
    """Linux PSI: total microseconds during which some runnable task waited for a CPU (0 if unavailable)."""
    try:
        return int(Path("/proc/pressure/cpu").read_text().split("total=")[1].split()[0])
    except (OSError, IndexError, ValueError):
        return 0


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=int, default=200)
    ap.add_argument("--seconds", type=int, default=15)
    ap.add_argument("--connections", type=int, default=64, help="client keep-alive connection pool size")
    ap.add_argument("--config", default="gunicorn.conf.py",
                    help="gunicorn config file (as the Procfile), or 'none' for bare flags")
    ap.add_argument("--workers", type=int, help="override WEB_CONCURRENCY / --workers")
    ap.add_argument("--threads", type=int, help="override WEB_THREADS / --threads")
    ap.add_argument("--no-worker", action="store_true", help="skip the orders/s measurement")
    args = ap.parse_args()

    scratch_database(DB)
    env = app_env(DB, api_key="bench", secret=SECRET)
    py = sys.executable
    subprocess.run([py, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run([py, "manage.py", "shell", "-c",
                    f"from shops.models import Shop; from django.utils import timezone; "
                    f"Shop.objects.create(domain='{SHOP}', currency='EUR', installed_at=timezone.now())"],
                   cwd=ROOT, env=env, check=True)
    subprocess.run(["redis-cli", "-n", "9", "FLUSHDB"], check=True, capture_output=True)
    port = free_port()
    gunicorn = [str(Path(py).parent / "gunicorn")]
    if args.config == "none":
        cmd = [*gunicorn, "retention_app.wsgi:application", "--bind", f"127.0.0.1:{port}",
               "--workers", str(args.workers or 2), "--threads", str(args.threads or 4), "--log-level", "warning"]
        described = f"bare flags, {args.workers or 2} workers x {args.threads or 4} threads"
    else:
        env["PORT"] = str(port)
        env["GUNICORN_BIND"] = f"127.0.0.1:{port}"
        if args.workers:
            env["WEB_CONCURRENCY"] = str(args.workers)
        if args.threads:
            env["WEB_THREADS"] = str(args.threads)
        cmd = [*gunicorn, "-c", args.config, "retention_app.wsgi:application", "--log-level", "warning"]
        described = (f"-c {args.config}, WEB_CONCURRENCY={env.get('WEB_CONCURRENCY', 'default')} "
                     f"WEB_THREADS={env.get('WEB_THREADS', 'default')}")
    # The access log (on in the config, as in production) goes to /dev/null: its formatting is paid for.
    web = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    total = args.rate * args.seconds
    warmup_n = args.rate * 2  # not measured: lets every gunicorn thread open its connections and load URLs
    try:
        for _ in range(150):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                    if s.recv(64).startswith(b"HTTP/1.1 200"):
                        break
            except OSError:
                pass
            time.sleep(0.2)
        warmup = [signed_request(n, port) for n in range(total, total + warmup_n)]
        measured = [signed_request(n, port) for n in range(total)]
        load_before = loadavg()
        stats = asyncio.run(load(port, warmup, measured, args.rate, args.connections, web.pid))
        load_after = loadavg()
        lat = sorted(stats["latencies"])
        print(f"server: {described}")
        print(f"load average before {load_before}, after {load_after} (1/5/15 min; {os.cpu_count()} cores); "
              f"CPU pressure during the run (PSI some): {stats['cpu_pressure'] * 100:.0f}% of the time")
        print(f"webhook intake (after {warmup_n} warm-up requests, statuses {stats['warm_statuses']}): "
              f"{total} requests scheduled at {args.rate}/s over {args.connections} keep-alive connections, "
              f"done in {stats['wall']:.2f}s => {total / stats['wall']:.1f} req/s; statuses {stats['statuses']}; "
              f"client CPU {stats['client_cpu'] * 100:.1f}% of a core; "
              f"gunicorn CPU {stats['server_cpu_ms']:.2f} ms/request; "
              f"{stats['connects']} (re)connects, {stats['resends']} resends")
        print(f"latency ms (from scheduled send): p50 {pct(lat, 50) * 1000:.1f}  p95 {pct(lat, 95) * 1000:.1f}  "
              f"p99 {pct(lat, 99) * 1000:.1f}  p99.9 {pct(lat, 99.9) * 1000:.1f}  max {lat[-1] * 1000:.1f}")
    finally:
        web.terminate()
        web.wait()

    if args.no_worker:
        return 0
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
        print(f"one worker applied {total + warmup_n} orders/create deliveries in {elapsed:.1f}s "
              f"=> {(total + warmup_n) / elapsed:.0f} orders/s (includes worker start-up); "
              f"load average {loadavg()}")
    finally:
        worker.terminate()
        worker.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
