"""A merchant installs the app from the development store's admin in a real browser, through the real
OAuth redirects, and sees it embedded in the admin frame: the page is authenticated with an App Bridge
session token, the first sync runs on the Celery worker, and the home page shows the shop's numbers."""
from __future__ import annotations

import pytest

from shops.models import Shop

from .conftest import screenshot_path, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def test_install_in_browser_then_embedded_home_with_synced_numbers(stack, browser):
    devshop, shop = stack.devshop, stack.shop
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    seen_tokens: list[str] = []
    page.on("request", lambda r: seen_tokens.append(r.url) if "id_token=" in r.url else None)

    # The merchant logs into the store's admin and presses "Install app".
    page.goto(devshop.shop_url(shop, "/admin/login"))
    page.fill("input[name=email]", "owner@example.com")
    page.fill("input[name=password]", "devshop-owner")
    page.click("button[type=submit]")
    page.goto(devshop.shop_url(shop, f"/admin/oauth/install?client_id={stack.client_id}"))

    # Shopify's consent screen (devshop's), reached through the app's /auth/install redirect.
    page.wait_for_url("**/admin/oauth/authorize**")
    assert "read_all_orders" in page.content()
    page.click("button[value=approve]")

    # The callback exchanged the code and sent the merchant into the admin frame.
    page.wait_for_url(f"**/store/{shop.domain}/admin/apps/{stack.client_id}**", timeout=30_000)
    installed = Shop.objects.get(domain=shop.domain)
    assert installed.is_installed and installed.refresh_token_encrypted
    assert installed.currency == "EUR" and installed.iana_timezone == "Europe/Berlin"

    # The app loads inside the iframe with a session token (id_token) and renders its home page.
    frame = wait_until(lambda: next((f for f in page.frames if f.url.startswith(stack.app_url)), None),
                       timeout=30, what="the app's iframe")
    frame.wait_for_selector("#metrics", timeout=30_000)
    assert any(stack.app_url in url for url in seen_tokens), "the embedded load carried no id_token"

    # The backfill runs on the worker; the page polls its progress (fetches with a bearer token) and
    # shows the numbers once it is done.
    frame.wait_for_function(
        "document.querySelector('#sync-summary') && /Up to date|Letzte|Last complete sync/.test("
        "document.querySelector('#sync-summary').textContent)", timeout=90_000)
    frame.wait_for_function(
        "Number(document.querySelector('[data-metric=orders] .metric__value').textContent.replace(/\\D/g,'')) > 0",
        timeout=30_000)
    page.screenshot(path=str(screenshot_path("embedded-home.png")), full_page=True)
