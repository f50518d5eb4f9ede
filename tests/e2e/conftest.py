"""The whole stack, as in production but on one machine: the app served over HTTP (pytest-django's
live server), the local Shopify development store as its own process, a real Celery worker process on
Redis, PostgreSQL, and headless Chromium."""
from __future__ import annotations

import itertools
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test import override_settings

from tests.devshop_harness import LEAD_TOML, PROJECT_DIR, PYTHON, DevshopServer, Shop

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
ARTIFACTS = PROJECT_DIR / "test-artifacts"


_shop_numbers = itertools.count(1)


@dataclass
class Stack:
    devshop: DevshopServer
    shop: Shop
    app_url: str
    client_id: str


@pytest.fixture
def browser(monkeypatch):
    """Headless Chromium from Debian's package. CI installs it (.ci/run); a missing browser fails there
    and skips only on a developer machine without it. Per test: Playwright's sync API keeps an event loop
    in this thread while it is open, and Django refuses database work (the test's teardown) under it."""
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"Chromium is required in CI and missing at {CHROMIUM}")
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the test's own ORM reads are ordinary
    # synchronous calls, which Django would otherwise refuse as "async context".
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture(scope="session")
def e2e_devshop():
    # DEVSHOP_TEST_E2E_DB: another database name, for runs side by side on one PostgreSQL.
    server = DevshopServer(db_name=os.environ.get("DEVSHOP_TEST_E2E_DB", "devshop_test_e2e"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _worker_env(app_url: str, devshop: DevshopServer, client_id: str) -> dict[str, str]:
    db = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
                        f"/{connection.settings_dict['NAME']}",
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "REDIS_URL": settings.REDIS_URL,
        "SHOPIFY_API_KEY": client_id,
        "SHOPIFY_API_SECRET": settings.SHOPIFY_API_SECRET,
        "SHOPIFY_APP_URL": app_url,
        "SHOPIFY_BASE_URL": devshop.base_url + "/store/{shop}",
        "SHOPIFY_ADMIN_APP_URL": devshop.base_url + "/store/{shop}/admin/apps/{api_key}",
        "TOKEN_ENCRYPTION_KEYS": ",".join(settings.TOKEN_ENCRYPTION_KEYS),
        "PYTHONUNBUFFERED": "1",
    }
    return env


@pytest.fixture
def stack(live_server, e2e_devshop, transactional_db, tmp_path):
    """The app registered in the development store with the real shopify.app.toml, a seeded shop, the
    app's settings pointed at the store, and a Celery worker consuming every queue."""
    devshop = e2e_devshop
    # A shop per test: the development store outlives a test, and an app installed on a shop by an
    # earlier test would skip the grant screen the next test goes through.
    shop = devshop.create_shop(f"e2e-browser-{next(_shop_numbers)}", currency_code="EUR", iana_timezone="Europe/Berlin",
                               primary_locale="de", country_code="DE")
    devshop.manage("seed_shop", "--domain", shop.domain, "--customers", "120", "--years", "2", "--seed", "7",
                   "--reset")
    devshop.create_staff(shop, first_name="Dana", last_name="Owner", account_owner=True)
    app = devshop.register_app(application_url=live_server.url, toml=LEAD_TOML,
                               client_secret=settings.SHOPIFY_API_SECRET)
    client_id = app["client_id"]
    overrides = override_settings(
        SHOPIFY_API_KEY=client_id,
        SHOPIFY_APP_URL=live_server.url,
        SHOPIFY_BASE_URL=devshop.base_url + "/store/{shop}",
        SHOPIFY_ADMIN_APP_URL=devshop.base_url + "/store/{shop}/admin/apps/{api_key}",
        SHOPIFY_APP_BRIDGE_URL=devshop.base_url + "/cdn/app-bridge.js",
    )
    overrides.enable()
    from retention_app.celery import app as celery_app

    celery_app.control.purge()  # tasks left by earlier tests refer to rows that no longer exist
    log = open(tmp_path / "worker.log", "w")  # noqa: SIM115 - closed below
    worker = subprocess.Popen(  # noqa: S603 - our own interpreter
        [PYTHON, "-m", "celery", "-A", "retention_app", "worker", "--queues", settings.CELERY_QUEUES_ALL,
         "--concurrency", "2", "--loglevel", "INFO", "--without-heartbeat", "--without-gossip",
         "--without-mingle"],
        cwd=PROJECT_DIR, env=_worker_env(live_server.url, devshop, client_id), stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        yield Stack(devshop=devshop, shop=shop, app_url=live_server.url, client_id=client_id)
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
        log.close()
        overrides.disable()
        tail = (tmp_path / "worker.log").read_text()[-4000:]
        print("---- celery worker log (tail) ----\n" + tail)


def wait_until(predicate, timeout: float = 60, interval: float = 0.5, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def screenshot_path(name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / name
