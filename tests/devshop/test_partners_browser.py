"""Headless Chromium: staff login, the admin frame, and devshop's App Bridge inside the iframe."""
from __future__ import annotations

import os

import jwt
import pytest

from tests.devshop_harness import OWNER_EMAIL, OWNER_PASSWORD, TEST_TOML

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

SECRET = "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"  # noqa: S105 - a test app's client secret
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]

APP_PAGE = """<!doctype html><html><head>
<script src="{devshop}/cdn/app-bridge.js" data-api-key="{client_id}"></script></head>
<body><h1>Test app</h1><p id="status">loading</p><p id="api"></p>
<script>
  shopify.idToken().then(function (token) {{
    document.getElementById('status').textContent = 'token:' + token;
    return fetch('/api/whoami').then(function (r) {{ return r.text(); }});
  }}).then(function (text) {{
    document.getElementById('api').textContent = 'api:' + text;
    shopify.toast.show('Saved');
  }}).catch(function (err) {{ document.getElementById('status').textContent = 'error:' + err; }});
</script></body></html>"""


@pytest.fixture()
def browser_page():
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM}")
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        yield page
        browser.close()


def test_admin_frame_embeds_app_and_app_bridge_supplies_tokens(devshop, app_stub, browser_page):
    app = devshop.register_app(application_url=app_stub.url, toml=TEST_TOML, client_secret=SECRET)
    retried = []

    def respond(rec):
        if rec.path == "/api/whoami":
            auth = rec.headers.get("Authorization", "")
            if not retried:  # the first call is refused the way an app refuses a stale token
                retried.append(auth)
                return 401, {"X-Shopify-Retry-Invalid-Session-Request": "1"}, b""
            claims = jwt.decode(auth.removeprefix("Bearer "), SECRET, algorithms=["HS256"], audience=app["client_id"])
            return 200, {"Content-Type": "text/plain"}, claims["dest"].encode()
        html = APP_PAGE.format(devshop=devshop.base_url, client_id=app["client_id"])
        return 200, {"Content-Type": "text/html"}, html.encode()

    app_stub.responder = respond
    page = browser_page
    shop = devshop.shop.domain

    # given a logged-in owner and the app installed through the admin (managed installation)
    page.goto(devshop.url(f"/store/{shop}/admin"))
    page.fill("#email", OWNER_EMAIL)
    page.fill("#password", OWNER_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**/store/{shop}/admin")
    page.click(f"[data-app='{app['client_id']}'] >> text=Install app")
    page.click("button[value=approve]")

    # when the admin frame loads the app
    page.wait_for_url(f"**/store/{shop}/admin/apps/{app['client_id']}")
    frame = page.frame_locator("#app-iframe")

    # then App Bridge in the iframe gets a session token from the admin, and fetch carries it
    status = frame.locator("#status")
    status.wait_for()
    page.wait_for_function(
        "() => document.getElementById('app-iframe').contentDocument === null")  # cross-origin frame
    frame.locator("#api").filter(has_text="api:").wait_for(timeout=15000)
    token = status.inner_text().removeprefix("token:")
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], audience=app["client_id"])
    assert claims["dest"] == f"https://{shop}"
    assert frame.locator("#api").inner_text() == f"api:https://{shop}"
    assert retried and retried[0].startswith("Bearer ")  # retried once after the 401
    page.locator("#toast").filter(has_text="Saved").wait_for(timeout=5000)

    document_load = next(r for r in app_stub.requests if r.path == "/")
    assert document_load.query["embedded"] == ["1"] and document_load.query["shop"] == [shop]
    whoami = [r for r in app_stub.requests if r.path == "/api/whoami"]
    assert len(whoami) == 2 and all(r.headers.get("Authorization", "").startswith("Bearer ") for r in whoami)
    if os.environ.get("DEVSHOP_SCREENSHOTS"):
        page.screenshot(path=os.path.join(os.environ["DEVSHOP_SCREENSHOTS"], "admin-frame.png"))

    devshop.http.post(f"/_devshop/shops/{shop}/apps/{app['client_id']}/uninstall", json={})


def _login_and_install(page, devshop, app):
    shop = devshop.shop.domain
    page.goto(devshop.url(f"/store/{shop}/admin/login"))
    page.fill("#email", OWNER_EMAIL)
    page.fill("#password", OWNER_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**/store/{shop}/admin")
    page.goto(devshop.url(f"/store/{shop}/admin/oauth/install?client_id={app['client_id']}"))
    page.click("button[value=approve]")
    page.wait_for_url(f"**/store/{shop}/admin/apps/{app['client_id']}")


def test_bounce_page_and_top_level_redirect(devshop, app_stub, browser_page):
    app = devshop.register_app(application_url=app_stub.url, toml=TEST_TOML, client_secret=SECRET)
    shop = devshop.shop.domain
    script = f'<script src="{devshop.base_url}/cdn/app-bridge.js" data-api-key="{app["client_id"]}"></script>'
    storefront = devshop.url(f"/store/{shop}/")

    def respond(rec):
        if rec.path == "/bounce":  # shopifyapp's patch-id-token page: nothing but App Bridge
            return 200, {"Content-Type": "text/html"}, script.encode()
        if rec.path == "/target":
            body = (f"<html><head>{script}</head><body><p id='q'>{rec.query.get('foo', [''])[0]}</p>"
                    f"<button id='go' onclick=\"window.open('{storefront}', '_top')\">Go</button></body></html>")
            return 200, {"Content-Type": "text/html"}, body.encode()
        return 200, {"Content-Type": "text/html"}, f"<html><head>{script}</head><body>home</body></html>".encode()

    app_stub.responder = respond
    page = browser_page
    _login_and_install(page, devshop, app)

    # a document load without a valid id_token goes through the bounce page
    page.goto(devshop.url(f"/store/{shop}/admin/apps/{app['client_id']}/bounce?shopify-reload=%2Ftarget%3Ffoo%3Dbar"))
    frame = page.frame_locator("#app-iframe")
    frame.locator("#q").filter(has_text="bar").wait_for(timeout=15000)
    target = next(r for r in app_stub.requests if r.path == "/target")
    claims = jwt.decode(target.query["id_token"][0], SECRET, algorithms=["HS256"], audience=app["client_id"])
    assert claims["dest"] == f"https://{shop}"

    # open(url, '_top') from the cross-origin iframe navigates the admin window
    frame.locator("#go").click()
    page.wait_for_url(storefront)

    devshop.http.post(f"/_devshop/shops/{shop}/apps/{app['client_id']}/uninstall", json={})
