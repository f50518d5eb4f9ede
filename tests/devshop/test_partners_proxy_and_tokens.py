"""App proxy forwarding and session-token claims, checked with Shopify's own verifiers."""
from __future__ import annotations

import time

import jwt
import pytest
import shopify_app

from tests.devshop_harness import CUSTOMER_PASSWORD, TEST_TOML, form_fields

pytestmark = pytest.mark.e2e

SECRET = "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"  # noqa: S105 - a test app's client secret


@pytest.fixture()
def installed(devshop, app_stub):
    app = devshop.register_app(application_url=app_stub.url, toml=TEST_TOML, client_secret=SECRET)
    client = devshop.admin_client(devshop.shop)
    page = client.get(f"/store/{devshop.shop.domain}/admin/oauth/install?client_id={app['client_id']}")
    response = client.post(f"/store/{devshop.shop.domain}/admin/oauth/install",
                           data={**form_fields(page.text), "decision": "approve"})
    assert response.status_code == 302, response.text[:300]
    yield app
    devshop.http.post(f"/_devshop/shops/{devshop.shop.domain}/apps/{app['client_id']}/uninstall", json={})


def test_app_proxy_forwards_signed_request_and_strips_cookies(devshop, installed, app_stub):
    app_stub.responder = lambda rec: (200, {"Content-Type": "application/json", "Set-Cookie": "a=b"}, b'{"points": 10}')
    customer_id = devshop.create_customer(devshop.shop, email="proxy@example.com")["id"]
    storefront = devshop.server.http.__class__(base_url=devshop.base_url, trust_env=False)
    login = storefront.get(f"/store/{devshop.shop.domain}/account/login")
    assert storefront.post(f"/store/{devshop.shop.domain}/account/login", data={
        **form_fields(login.text), "email": "proxy@example.com", "password": CUSTOMER_PASSWORD}).status_code == 302

    response = storefront.get(f"/store/{devshop.shop.domain}/apps/loyalty/widget/balance?extra=1&extra=2&shop=evil")

    assert response.status_code == 200
    assert response.json() == {"points": 10}
    assert "set-cookie" not in response.headers
    [request] = app_stub.requests
    assert request.path == "/proxy/widget/balance"
    assert "Cookie" not in request.headers and "cookie" not in request.headers
    assert request.query["shop"] == [devshop.shop.domain]  # the visitor's `shop` is replaced
    assert request.query["logged_in_customer_id"] == [str(customer_id)]
    assert request.query["path_prefix"] == ["/apps/loyalty"]
    assert request.query["extra"] == ["1", "2"]
    url = f"{app_stub.url}{request.path}?" + "&".join(f"{k}={v}" for k, vs in request.query.items() for v in vs)
    verified = shopify_app.verify_app_proxy_req({"method": "GET", "url": url, "headers": {}, "body": ""},
                                                {"client_id": installed["client_id"], "client_secret": SECRET})
    assert verified.ok, verified.log
    assert verified.logged_in_customer_id == str(customer_id)
    bad = shopify_app.verify_app_proxy_req({"method": "GET", "url": url.replace("extra=2", "extra=3"),
                                            "headers": {}, "body": ""},
                                           {"client_id": installed["client_id"], "client_secret": SECRET})
    assert not bad.ok


def test_app_proxy_guest_and_liquid(devshop, installed, app_stub):
    app_stub.responder = lambda rec: (200, {"Content-Type": "application/liquid"}, b"<div id='widget'>Hi</div>")
    response = devshop.http.get(f"/store/{devshop.shop.domain}/apps/loyalty")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "<div id='widget'>Hi</div>" in response.text and devshop.shop.domain.split(".")[0] in response.text.lower()
    assert app_stub.requests[0].query["logged_in_customer_id"] == [""]


def test_session_token_claims(devshop, installed):
    token = devshop.session_token(devshop.shop, installed["client_id"])
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], audience=installed["client_id"],
                        options={"require": ["iss", "dest", "aud", "sub", "exp", "nbf", "iat", "jti", "sid"]})
    assert claims["iss"] == f"https://{devshop.shop.domain}/admin"
    assert claims["dest"] == f"https://{devshop.shop.domain}"
    assert claims["exp"] - claims["iat"] == 60 and abs(claims["iat"] - time.time()) < 10
    assert claims["sub"].isdigit()
    again = jwt.decode(devshop.session_token(devshop.shop, installed["client_id"]), SECRET, algorithms=["HS256"],
                       audience=installed["client_id"])
    assert again["sid"] == claims["sid"] and again["jti"] != claims["jti"]
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, "shpss_ffffffffffffffffffffffffffffffff", algorithms=["HS256"], audience=installed["client_id"])


def test_admin_frame_loads_app_with_signed_embedded_params(devshop, installed, app_stub):
    client = devshop.admin_client(devshop.shop)
    page = client.get(f"/store/{devshop.shop.domain}/admin/apps/{installed['client_id']}/settings?tab=tiers")
    assert page.status_code == 200
    import re
    from html import unescape

    src = unescape(re.search(r'<iframe id="app-iframe"[^>]*src="([^"]+)"', page.text).group(1))
    assert src.startswith(app_stub.url + "/settings?")
    request = {"method": "GET", "url": src, "headers": {}, "body": ""}
    result = shopify_app.verify_app_home_req(request, {"client_id": installed["client_id"], "client_secret": SECRET},
                                             "/auth/patch-id-token")
    assert result.ok, result.log
    assert result.shop == devshop.shop.name
    import shopify

    shopify.Session.setup(api_key=installed["client_id"], secret=SECRET)
    from urllib.parse import parse_qsl, urlsplit

    params = dict(parse_qsl(urlsplit(src).query))
    assert {"embedded", "hmac", "host", "id_token", "locale", "session", "shop", "timestamp", "tab"} <= set(params)
    assert shopify.Session.validate_hmac(params)
