"""Run the development store (devshop) for black-box tests over HTTP.

    server = DevshopServer()           # fresh database DEVSHOP_TEST_DB (default devshop_test)
    server.start()                     # migrate, `python -m devshop serve` on a free port, wait for health
    server.register_app(application_url="http://127.0.0.1:9000")   # shopify.app.toml, secret below
    shop = server.create_shop("demo")  # demo.myshopify.com
    server.create_staff(shop)          # owner@example.com / devshop-owner
    ...
    server.stop()

As a pytest plugin (`pytest_plugins = ["tests.devshop_harness"]`) it provides the session-scoped
fixture `devshop`: a started server with one shop, its owner login and the app registered (at
the placeholder application URL from the toml; re-register with your live server's URL).

Everything goes through devshop's HTTP control API (`/_devshop/...`) or its management commands:
tests never import devshop's Django project, which runs with its own settings in its own process.
"""
from __future__ import annotations

import http.server
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

PROJECT_DIR = Path(__file__).resolve().parent.parent
PYTHON = str(PROJECT_DIR / ".venv" / "bin" / "python") if (PROJECT_DIR / ".venv").exists() else sys.executable
LEAD_TOML = PROJECT_DIR / "shopify.app.toml"
TEST_TOML = PROJECT_DIR / "tests" / "devshop" / "test_app.toml"
DEFAULT_CLIENT_SECRET = "shpss_d3v5h0p7e5tc11e47500000000000000"  # noqa: S105 - test credentials
OWNER_EMAIL, OWNER_PASSWORD = "owner@example.com", "devshop-owner"
CUSTOMER_PASSWORD = "devshop"  # noqa: S105 - every storefront customer's password in the development store


# Databases of servers this process runs: starting a second server on one of them would drop the
# database under the first (DROP DATABASE ... WITH (FORCE)), so it is refused with a clear error.
_RUNNING_DATABASES: set[str] = set()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def default_toml() -> Path:
    return LEAD_TOML if LEAD_TOML.exists() else TEST_TOML


@dataclass
class Shop:
    domain: str
    id: int | None = None

    @property
    def name(self) -> str:
        return self.domain.split(".", 1)[0]


class DevshopServer:
    def __init__(
        self,
        *,
        db_name: str | None = None,
        port: int | None = None,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        backoff_scale: float = 0.001,
        webhook_timeout: float = 5.0,
        extra_env: dict[str, str] | None = None,
    ):
        self.db_name = db_name or os.environ.get("DEVSHOP_TEST_DB", "devshop_test")
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.client_secret = client_secret
        self.client_id: str | None = None
        self.db_url = f"postgres://postgres@127.0.0.1:5432/{self.db_name}"
        self._tmp = tempfile.TemporaryDirectory(prefix="devshop-")
        self.log_path = Path(self._tmp.name) / "serve.log"
        self.env = {
            **os.environ,
            "DEVSHOP_DATABASE_URL": self.db_url,
            "DEVSHOP_PUBLIC_URL": self.base_url,
            "DEVSHOP_WEBHOOK_BACKOFF_SCALE": str(backoff_scale),
            "DEVSHOP_WEBHOOK_TIMEOUT": str(webhook_timeout),
            "DEVSHOP_FILES_DIR": str(Path(self._tmp.name) / "files"),
            "PYTHONUNBUFFERED": "1",
            **(extra_env or {}),
        }
        self.env.pop("DJANGO_SETTINGS_MODULE", None)  # devshop/__main__ sets its own
        self._process: subprocess.Popen | None = None
        self.http = httpx.Client(base_url=self.base_url, timeout=30, trust_env=False)

    # --- lifecycle -------------------------------------------------------------------------------

    def _recreate_database(self) -> None:
        import psycopg2

        conn = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres")
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
            cur.execute(f'CREATE DATABASE "{self.db_name}"')
        conn.close()

    def manage(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run `python -m devshop <args>` against this server's database."""
        result = subprocess.run(  # noqa: S603 - our own interpreter and module
            [PYTHON, "-m", "devshop", *args], cwd=PROJECT_DIR, env=self.env,
            capture_output=True, text=True, timeout=300,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"devshop {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    def start(self, timeout: float = 60) -> DevshopServer:
        if self.db_name in _RUNNING_DATABASES:
            raise RuntimeError(f"a devshop server of this test run already uses database {self.db_name!r}: "
                               "pass another db_name")
        _RUNNING_DATABASES.add(self.db_name)
        try:
            self._launch(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _launch(self, timeout: float) -> None:
        self._recreate_database()
        self.manage("migrate", "-v0")
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [PYTHON, "-m", "devshop", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=PROJECT_DIR, env=self.env, stdout=self._log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"devshop exited with {self._process.returncode}:\n{self.log_path.read_text()}")
            try:
                if self.http.get("/_devshop/health").text == "ok":
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"devshop did not become healthy in {timeout}s:\n{self.log_path.read_text()}")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()  # SIGTERM: graceful
            try:
                self._process.wait(15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(5)
        self._process = None
        _RUNNING_DATABASES.discard(self.db_name)
        if getattr(self, "_log", None):
            self._log.close()
            self._log = None
        self.http.close()

    def __enter__(self) -> DevshopServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- setup -----------------------------------------------------------------------------------

    def _post(self, path: str, body: dict | None = None, expect: tuple[int, ...] = (200, 201, 202)) -> dict:
        response = self.http.post(path, json=body or {})
        if response.status_code not in expect:
            raise RuntimeError(f"POST {path} -> {response.status_code}: {response.text[:2000]}")
        return response.json()

    def register_app(self, *, application_url: str | None = None, toml: Path | None = None,
                     client_secret: str | None = None) -> dict:
        """Deploy the toml (default: /work/main/shopify.app.toml, else tests/devshop/test_app.toml)."""
        app = self._post("/_devshop/apps", {
            "toml_path": str(toml or default_toml()),
            "client_secret": client_secret or self.client_secret,
            "application_url": application_url,
        })
        self.client_id = app["client_id"]
        return app

    def create_shop(self, name: str, **fields) -> Shop:
        """Create `name`.myshopify.com. Uses the store's control API (POST /_devshop/shops) when it
        exists, else the Django shell of devshop."""
        domain = name if "." in name else f"{name}.myshopify.com"
        response = self.http.post("/_devshop/shops", json={"domain": domain, "name": name.title(), **fields})
        if response.status_code in (200, 201):
            data = response.json()
            return Shop(domain=data.get("domain", domain), id=data.get("id"))
        code = (
            "from devshop.store.models import Shop;"
            f"s, _ = Shop.objects.get_or_create(domain={domain!r}, "
            f"defaults=dict(name={name.title()!r}, email='owner@{domain}', **{fields!r}));print(s.id)"
        )
        out = self.manage("shell", "--no-imports", "-c", code).stdout.strip().splitlines()[-1]
        return Shop(domain=domain, id=int(out))

    def create_staff(self, shop: Shop, email: str = OWNER_EMAIL, password: str = OWNER_PASSWORD,
                     **fields) -> dict:
        return self._post(f"/_devshop/shops/{shop.domain}/staff", {"email": email, "password": password, **fields})

    def create_customer(self, shop: Shop, **fields) -> dict:
        """A storefront customer through the store's control API (REST Customer payload back)."""
        return self._post(f"/_devshop/shops/{shop.domain}/customers", fields)

    def shell(self, code: str) -> str:
        """Run Python in devshop's Django shell (for data the control API does not create)."""
        return self.manage("shell", "--no-imports", "-c", code).stdout

    # --- helpers for tests -----------------------------------------------------------------------

    def url(self, path: str) -> str:
        return self.base_url + path

    def shop_url(self, shop: Shop, path: str = "") -> str:
        """What https://{shop}{path} is in production (the app's SHOPIFY_BASE_URL template)."""
        return f"{self.base_url}/store/{shop.domain}{path}"

    def session_token(self, shop: Shop, client_id: str | None = None, email: str | None = None) -> str:
        body = {"email": email} if email else {}
        return self._post(f"/_devshop/shops/{shop.domain}/apps/{client_id or self.client_id}/session-token",
                          body)["token"]

    def emit(self, shop: Shop, topic: str, payload: dict, client_id: str | None = None) -> None:
        self._post(f"/_devshop/shops/{shop.domain}/webhooks/emit",
                   {"topic": topic, "payload": payload, "client_id": client_id})

    def add_fault(self, shop: Shop, *, kind: str, topic: str = "*", count: int = 1,
                  delay_seconds: float = 0) -> dict:
        return self._post(f"/_devshop/shops/{shop.domain}/webhooks/faults",
                          {"kind": kind, "topic": topic, "count": count, "delay_seconds": delay_seconds})

    def clear_faults(self, shop: Shop) -> None:
        self.http.request("DELETE", f"/_devshop/shops/{shop.domain}/webhooks/faults", json={})

    def deliveries(self, shop: Shop, **filters) -> list[dict]:
        response = self.http.get(f"/_devshop/shops/{shop.domain}/webhooks/deliveries", params=filters)
        response.raise_for_status()
        return response.json()["deliveries"]

    def wait_for_deliveries(self, shop: Shop, predicate: Callable[[list[dict]], bool], timeout: float = 20,
                            **filters) -> list[dict]:
        deadline = time.monotonic() + timeout
        rows: list[dict] = []
        while time.monotonic() < deadline:
            rows = self.deliveries(shop, **filters)
            if predicate(rows):
                return rows
            time.sleep(0.1)
        raise AssertionError(f"deliveries did not reach the expected state in {timeout}s: {rows}")

    def uninstall(self, shop: Shop, client_id: str | None = None) -> None:
        self._post(f"/_devshop/shops/{shop.domain}/apps/{client_id or self.client_id}/uninstall")

    def send_compliance(self, shop: Shop, topic: str, client_id: str | None = None, **body) -> dict:
        return self._post(f"/_devshop/shops/{shop.domain}/apps/{client_id or self.client_id}/compliance/{topic}",
                          body)

    def admin_client(self, shop: Shop, email: str = OWNER_EMAIL, password: str = OWNER_PASSWORD) -> httpx.Client:
        """An HTTP client logged into the shop's admin (cookies kept), redirects not followed."""
        client = httpx.Client(base_url=self.base_url, timeout=30, trust_env=False)
        login = f"/store/{shop.domain}/admin/login"
        page = client.get(login)
        response = client.post(login, data={**form_fields(page.text), "email": email, "password": password})
        if response.status_code != 302:
            raise RuntimeError(f"admin login failed: {response.status_code} {response.text[:500]}")
        return client


def form_fields(html: str, form_index: int = -1) -> dict[str, str]:
    """Named inputs of the n-th <form> of a page, the last by default: the page's own form (the
    admin's top bar holds the logout form first)."""
    forms = re.findall(r"<form\b.*?</form>", html, flags=re.S | re.I)
    if not forms:
        return {}
    fields = {}
    for tag in re.findall(r"<input\b[^>]*>", forms[form_index], flags=re.I):
        name = re.search(r'name="([^"]*)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if name:
            fields[unescape(name.group(1))] = unescape(value.group(1)) if value else ""
    return fields


def query_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


# --- a tiny HTTP app for tests ----------------------------------------------------------------------


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


@dataclass
class AppStub:
    """A threaded local HTTP server standing in for the app: records every request and answers with
    `responder(recorded) -> (status, headers, body)` (default 200 "ok")."""

    responder: Callable[[Recorded], tuple[int, dict[str, str], bytes]] | None = None
    requests: list[Recorded] = field(default_factory=list)

    def start(self) -> AppStub:
        stub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                parts = urlsplit(self.path)
                from urllib.parse import parse_qs

                rec = Recorded(self.command, parts.path, parse_qs(parts.query, keep_blank_values=True),
                               {k: v for k, v in self.headers.items()}, self.rfile.read(length) if length else b"")
                stub.requests.append(rec)
                status, headers, body = (stub.responder or (lambda r: (200, {}, b"ok")))(rec)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = _handle

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, predicate: Callable[[list[Recorded]], bool], timeout: float = 20) -> list[Recorded]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self.requests):
                return self.requests
            time.sleep(0.05)
        raise AssertionError(f"the app stub did not see the expected requests in {timeout}s: "
                             f"{[(r.method, r.path) for r in self.requests]}")


def json_body(rec: Recorded) -> dict:
    return json.loads(rec.body)


# --- pytest fixtures ---------------------------------------------------------------------------------


@dataclass
class Devshop:
    """What the `devshop` fixture yields: the server, its shop and the app's client secret."""

    server: DevshopServer
    shop: Shop
    client_secret: str

    def __getattr__(self, name):
        return getattr(self.server, name)


@pytest.fixture(scope="session")
def devshop():
    server = DevshopServer().start()
    try:
        shop = server.create_shop("devshop-test")
        server.create_staff(shop, first_name="Dana", last_name="Owner", account_owner=True)
        server.register_app()
        yield Devshop(server=server, shop=shop, client_secret=server.client_secret)
    finally:
        server.stop()


@pytest.fixture()
def app_stub():
    stub = AppStub().start()
    yield stub
    stub.stop()
