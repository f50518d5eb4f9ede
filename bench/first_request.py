"""Benchmark: the first requests served by a freshly started web process, against later ones.

    .venv/bin/python bench/first_request.py [--repeat 2] [--later 20]

For each of GET /home (the embedded document, with a valid session token) and POST /webhooks (a signed
orders/create delivery), starts a fresh gunicorn in two ways and times requests from the client (connect
to last byte, a new connection each):
- `cold`: gunicorn serving `django.core.wsgi:get_wsgi_application()` directly with bare flags, i.e. what
  retention_app/wsgi.py and the Procfile were before the warm-up (everything loads on first use);
- `warm`: the Procfile's way, `gunicorn -c gunicorn.conf.py retention_app.wsgi:application`.
One worker (WEB_CONCURRENCY=1) with the default threads, so the first request surely meets a fresh
worker. Before the first request the script waits until the server's processes have stopped using CPU
(booted and idle), so worker start-up is not counted as request time; nothing else is sent before it.
Uses a small scratch database (retention_bench_first, Redis db 9): the point is first versus later
requests, not the 1,000,000-order home page (bench/home_page.py).
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import http.client
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _scratch import app_env, scratch_database  # noqa: E402
from webhook_intake import free_port, loadavg, order_payload, tree_cpu_seconds  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-secret"
API_KEY = "bench"
SHOP = "first-shop.myshopify.com"
DB = "retention_bench_first"


def session_token() -> str:
    import jwt

    now = int(time.time())
    return jwt.encode({"iss": f"https://{SHOP}/admin", "dest": f"https://{SHOP}", "aud": API_KEY, "sub": "1",
                       "exp": now + 600, "nbf": now - 1, "iat": now, "jti": str(uuid.uuid4()), "sid": "bench"},
                      SECRET, algorithm="HS256")


def timed(port: int, endpoint: str, n: int) -> tuple[float, int]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    if endpoint == "home":
        method, path, body, headers = "GET", f"/home?shop={SHOP}&id_token={session_token()}", None, {}
    else:
        body = order_payload(10_000_000 + n + int(time.time() * 1000) % 1_000_000 * 100)
        digest = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
        method, path = "POST", "/webhooks"
        headers = {"Content-Type": "application/json", "X-Shopify-Hmac-Sha256": digest,
                   "X-Shopify-Topic": "orders/create", "X-Shopify-Shop-Domain": SHOP,
                   "X-Shopify-API-Version": "2026-10", "X-Shopify-Webhook-Id": str(uuid.uuid4())}
    t0 = time.perf_counter()
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    response.read()
    elapsed = time.perf_counter() - t0
    conn.close()
    return elapsed * 1000, response.status


def wait_idle(pid: int, port: int) -> float:
    """Wait until the port accepts connections and gunicorn's processes used no CPU for 1.5 s."""
    import socket

    t0 = time.perf_counter()
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()  # no request is sent
            break
        except OSError:
            time.sleep(0.1)
    last, still = tree_cpu_seconds(pid), 0
    while still < 3:
        time.sleep(0.5)
        now = tree_cpu_seconds(pid)
        still = still + 1 if now - last < 0.02 else 0
        last = now
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=2, help="fresh servers per (mode, endpoint)")
    ap.add_argument("--later", type=int, default=20, help="requests after the first two, for the median")
    args = ap.parse_args()

    scratch_database(DB)
    env = app_env(DB, api_key=API_KEY, secret=SECRET, WEB_CONCURRENCY="1", GUNICORN_ACCESS_LOG="")
    py = sys.executable
    subprocess.run([py, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    # An installed shop with a (fake, encrypted) offline token: the page needs no token exchange.
    subprocess.run([py, "manage.py", "shell", "-c",
                    "from shops.models import Shop; from core.crypto import encrypt; from django.utils import timezone; "
                    f"Shop.objects.create(domain='{SHOP}', name='First', currency='EUR', installed_at=timezone.now(), "
                    "access_token_encrypted=encrypt('shpat_bench'), "
                    "access_token_expires_at=timezone.now() + timezone.timedelta(days=1))"],
                   cwd=ROOT, env=env, check=True)
    gunicorn = str(Path(py).parent / "gunicorn")
    print(f"load average at start {loadavg()}")
    rows = []
    for rep in range(args.repeat):
        for endpoint in ("home", "webhooks"):
            for mode in ("cold", "warm"):
                port = free_port()
                if mode == "cold":
                    cmd = [gunicorn, "django.core.wsgi:get_wsgi_application()", "--bind", f"127.0.0.1:{port}",
                           "--workers", "1", "--threads", "4", "--log-level", "warning"]
                else:
                    cmd = [gunicorn, "-c", "gunicorn.conf.py", "retention_app.wsgi:application",
                           "--bind", f"127.0.0.1:{port}", "--log-level", "warning"]
                web = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
                try:
                    ready = wait_idle(web.pid, port)
                    first, status1 = timed(port, endpoint, 0)
                    second, status2 = timed(port, endpoint, 1)
                    later = [timed(port, endpoint, 2 + i)[0] for i in range(args.later)]
                finally:
                    web.terminate()
                    web.wait()
                row = (rep + 1, endpoint, mode, ready, first, status1, second, statistics.median(later),
                       max(later), loadavg())
                rows.append(row)
                print(f"#{row[0]} {endpoint:8} {mode:4}: started+idle in {ready:.1f}s; first {first:.1f} ms "
                      f"({status1}), second {second:.1f} ms ({status2}), later median {row[7]:.1f} ms "
                      f"max {row[8]:.1f} ms (n={args.later}); load average {row[9]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
