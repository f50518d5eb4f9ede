"""The `serve` process itself: retry exhaustion on a fast schedule and a clean SIGTERM stop."""
from __future__ import annotations

import os
import time

import pytest

from tests.devshop_harness import TEST_TOML, AppStub, DevshopServer

pytestmark = pytest.mark.e2e


def test_retries_stop_after_eight_tries_and_sigterm_stops_cleanly():
    db = os.environ.get("DEVSHOP_TEST_DB", "devshop_test") + "_serve"
    server = DevshopServer(db_name=db, backoff_scale=0.0002, webhook_timeout=0.5,  # 4 h of retries in ~3 s
                           extra_env={"DEVSHOP_SHOP_REDACT_DELAY_SECONDS": "1"}).start()

    def respond(rec):
        if rec.path == "/webhooks/orders" and not any(r.path == "/webhooks/orders" for r in stub.requests[:-1]):
            time.sleep(1.0)  # the first try outlives the timeout
        return 500, {}, b"nope"

    stub = AppStub(responder=respond).start()
    try:
        shop = server.create_shop("retry-shop")
        server.create_staff(shop)
        app = server.register_app(application_url=stub.url, toml=TEST_TOML)
        server.http.post(f"/store/{shop.domain}/admin/oauth/access_token", json={
            "client_id": app["client_id"], "client_secret": server.client_secret,
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "subject_token": server.session_token(shop),
            "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
            "requested_token_type": "urn:shopify:params:oauth:token-type:offline-access-token"}).raise_for_status()

        server.emit(shop, "orders/create", {"id": 1})

        [delivery] = server.wait_for_deliveries(shop, lambda rows: rows and rows[0]["status"] == "failed",
                                                timeout=30, topic="orders/create")
        assert delivery["attempts"] == 8
        log = delivery["attempt_log"]
        assert (log[0]["response_code"], log[0]["error"]) == (None, "timeout")
        assert [a["response_code"] for a in log[1:]] == [500] * 7
        assert len([r for r in stub.requests if r.path == "/webhooks/orders"]) == 8

        # shop/redact follows an uninstall by itself once its delay (48 h on Shopify) has passed
        server.uninstall(shop)
        stub.wait_for(lambda reqs: any(r.headers.get("X-Shopify-Topic") == "shop/redact" for r in reqs), timeout=15)
    finally:
        stub.stop()
        process = server._process
        server.stop()
    assert process.returncode == 0
    assert "devshop stopped" in server.log_path.read_text()
