"""AdminClient against a real local HTTP server that plays Shopify (reached through SHOPIFY_BASE_URL and
the urllib handler of shops.shopify_urls, by ShopifyAPI's GraphQL client)."""
from __future__ import annotations

import threading
import time

import pytest

from shopify_sync.admin_api import AdminAPIError, AdminClient, ShopUnauthorized, Throttled, UserErrors

from .conftest import Reply, ok, throttled

pytestmark = pytest.mark.django_db(transaction=True)

QUERY = "query ShopName { shop { id name } }"
BIG_ID = 820982911946154508  # > 2**53: a float would change it


def test_a_query_reaches_the_store_through_shopifyapi_with_the_shops_token(fake_shopify, token_shop, sleeps):
    # given
    fake_shopify.queue(ok({"shop": {"id": "gid://shopify/Shop/1", "name": "Alpha", "legacyId": BIG_ID}}))

    # when
    data = AdminClient(token_shop, sleep=sleeps).execute(QUERY, {"x": 1})

    # then
    assert data["shop"]["legacyId"] == BIG_ID and isinstance(data["shop"]["legacyId"], int)
    (seen,) = fake_shopify.graphql_requests()
    assert seen.path == "/store/alpha-shop.myshopify.com/admin/api/2026-10/graphql.json"
    assert seen.headers["x-shopify-access-token"] == "token-1"
    assert seen.headers["user-agent"].startswith("ShopifyPythonAPI")  # ShopifyAPI's GraphQL sent it
    assert seen.body == {"query": QUERY, "variables": {"x": 1}, "operationName": "ShopName"}
    assert sleeps == []


def test_a_document_name_is_loaded_from_its_file(fake_shopify, token_shop, sleeps):
    fake_shopify.queue(ok({"webhookSubscriptions": {"nodes": [], "pageInfo": {"hasNextPage": False, "endCursor": None}}}))
    AdminClient(token_shop, sleep=sleeps).execute("webhook_subscriptions", {"topics": ["ORDERS_CREATE"]})
    assert "query WebhookSubscriptions" in fake_shopify.graphql_requests()[0].body["query"]


def test_throttled_with_http_200_waits_for_the_bucket_and_retries(fake_shopify, token_shop, sleeps):
    # given: Shopify needs 55 points, has 5, restores 100/s
    fake_shopify.queue(throttled(available=5, requested=55, rate=100), ok({"shop": {"id": "1", "name": "A"}}))

    # when
    data = AdminClient(token_shop, sleep=sleeps).execute(QUERY)

    # then: waited (55 - 5) / 100 = 0.5 s, then succeeded
    assert data == {"shop": {"id": "1", "name": "A"}}
    assert sleeps == [pytest.approx(0.5)]
    assert len(fake_shopify.graphql_requests()) == 2


def test_http_429_honours_retry_after(fake_shopify, token_shop, sleeps):
    fake_shopify.queue(Reply(429, {"errors": "Exceeded 2 calls per second"}, {"Retry-After": "2.0"}),
                       ok({"shop": {"id": "1", "name": "A"}}))
    AdminClient(token_shop, sleep=sleeps).execute(QUERY)
    assert sleeps == [2.0]
    assert len(fake_shopify.graphql_requests()) == 2


def test_throttling_that_never_ends_raises_throttled_within_the_wait_budget(fake_shopify, token_shop, sleeps):
    fake_shopify.default = Reply(429, {"errors": "Throttled"}, {"Retry-After": "10"})
    with pytest.raises(Throttled):
        AdminClient(token_shop, sleep=sleeps, throttle_max_wait=35).execute(QUERY)
    assert sum(sleeps) <= 35 and len(sleeps) == 3


def test_a_503_is_retried_with_backoff_then_succeeds(fake_shopify, token_shop, sleeps):
    fake_shopify.queue(Reply(503, {"errors": "Service unavailable"}), ok({"shop": {"id": "1", "name": "A"}}))
    assert AdminClient(token_shop, sleep=sleeps).execute(QUERY) == {"shop": {"id": "1", "name": "A"}}
    assert len(sleeps) == 1 and 0.25 <= sleeps[0] <= 0.5  # base 0.5 s with jitter


def test_persistent_5xx_raises_admin_api_error_after_bounded_attempts(fake_shopify, token_shop, sleeps):
    fake_shopify.default = Reply(502, b"<html>Bad gateway</html>")
    with pytest.raises(AdminAPIError, match="failed 5 times; last: HTTP 502"):
        AdminClient(token_shop, sleep=sleeps).execute(QUERY)
    assert len(fake_shopify.graphql_requests()) == 5
    assert len(sleeps) == 4
    assert all(later > earlier / 2 for earlier, later in zip(sleeps, sleeps[1:], strict=False))  # growing


def test_connection_errors_are_retried_then_reported(settings, token_shop, sleeps):
    settings.SHOPIFY_BASE_URL = "http://127.0.0.1:9/store/{shop}"  # nothing listens on the discard port
    with pytest.raises(AdminAPIError, match="failed 3 times"):
        AdminClient(token_shop, sleep=sleeps, max_attempts=3).execute(QUERY)
    assert len(sleeps) == 2


def test_a_401_refreshes_the_token_once_and_retries(fake_shopify, token_shop, sleeps):
    # given: Shopify has revoked token-1; the refresh grant issues token-after-refresh
    fake_shopify.valid_tokens = {"token-after-refresh"}
    fake_shopify.default = ok({"shop": {"id": "1", "name": "A"}})

    # when
    AdminClient(token_shop, sleep=sleeps).execute(QUERY)

    # then
    tokens = [r.headers["x-shopify-access-token"] for r in fake_shopify.graphql_requests()]
    assert tokens == ["token-1", "token-after-refresh"]
    assert len(fake_shopify.token_requests) == 1
    assert fake_shopify.token_requests[0]["grant_type"] == "refresh_token"


def test_a_401_after_the_refresh_raises_shop_unauthorized(fake_shopify, token_shop, sleeps):
    fake_shopify.valid_tokens = set()
    with pytest.raises(ShopUnauthorized):
        AdminClient(token_shop, sleep=sleeps).execute(QUERY)
    assert len(fake_shopify.graphql_requests()) == 2
    assert len(fake_shopify.token_requests) == 1


def test_a_shop_without_token_raises_shop_unauthorized(fake_shopify, shop, sleeps):
    with pytest.raises(ShopUnauthorized):
        AdminClient(shop, sleep=sleeps).execute(QUERY)
    assert fake_shopify.requests == []


def test_user_errors_are_raised_with_field_code_and_message(fake_shopify, token_shop, sleeps):
    fake_shopify.queue(ok({"discountCodeBasicCreate": {"codeDiscountNode": None, "userErrors": [
        {"field": ["basicCodeDiscount", "code"], "code": "TAKEN", "message": "Code must be unique."}]}}))
    with pytest.raises(UserErrors) as caught:
        AdminClient(token_shop, sleep=sleeps).execute("mutation M { x }")
    error = caught.value
    assert error.payload_key == "discountCodeBasicCreate"
    assert error.codes == {"TAKEN"}
    assert error.user_errors[0].field == ("basicCodeDiscount", "code")
    assert error.user_errors[0].message == "Code must be unique."
    assert "basicCodeDiscount.code: Code must be unique. (TAKEN)" in str(error)


def test_user_errors_can_be_returned_to_the_caller(fake_shopify, token_shop, sleeps):
    fake_shopify.queue(ok({"m": {"userErrors": [{"field": None, "message": "no"}]}}))
    data = AdminClient(token_shop, sleep=sleeps).execute("mutation M { x }", user_errors=False)
    assert data["m"]["userErrors"][0]["message"] == "no"


def test_graphql_errors_raise_admin_api_error(fake_shopify, token_shop, sleeps):
    fake_shopify.queue(Reply(200, {"errors": [{"message": "Field 'nope' doesn't exist on type 'Shop'"}]}))
    with pytest.raises(AdminAPIError, match="doesn't exist") as caught:
        AdminClient(token_shop, sleep=sleeps).execute(QUERY)
    assert caught.value.errors[0]["message"].startswith("Field 'nope'")
    assert sleeps == []  # not retried


def test_a_403_is_not_retried(fake_shopify, token_shop, sleeps):
    fake_shopify.queue(Reply(403, {"errors": "access denied"}))
    with pytest.raises(AdminAPIError) as caught:
        AdminClient(token_shop, sleep=sleeps).execute(QUERY)
    assert caught.value.status == 403 and len(fake_shopify.graphql_requests()) == 1


def test_concurrent_workers_pace_themselves_from_the_shared_bucket(fake_shopify, token_shop, throttle_redis):
    # given: Shopify reported an empty bucket (0 of 2000, 100 points/s) for a document that costs 50
    fake_shopify.default = ok({"shop": {"id": "1", "name": "A"}}, available=0, requested=50)
    AdminClient(token_shop).execute(QUERY)
    assert throttle_redis.exists("shopify:bucket:alpha-shop.myshopify.com")

    # when: three workers want to send it at once
    waits: list[float] = []
    lock = threading.Lock()
    # Each worker's "sleep" records its wait and holds it until all three have reserved, as real sleeping
    # would (otherwise the first response would reset the estimate before the others ask).
    all_reserved = threading.Barrier(3, timeout=10)

    def sleep(seconds: float) -> None:
        with lock:
            waits.append(seconds)
        all_reserved.wait()

    def worker():
        from django.db import connection

        try:
            AdminClient(token_shop, sleep=sleep).execute(QUERY)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    # then: they queue up behind each other: at most 0.5 s (less the refill since), then 0.5 s more each
    # (50 points at 100/s), instead of all three sending into an empty bucket
    first, second, third = sorted(waits)
    assert 0 < first <= 0.5
    assert second - first == pytest.approx(0.5, abs=0.05)
    assert third - second == pytest.approx(0.5, abs=0.05)


def test_redis_down_means_unpaced_not_failed(fake_shopify, token_shop, sleeps, settings):
    from shopify_sync import throttle

    settings.SHOPIFY_THROTTLE_REDIS_URL = "redis://127.0.0.1:9/4"
    throttle._redis.cache_clear()
    try:
        fake_shopify.queue(ok({"shop": {"id": "1", "name": "A"}}))
        started = time.monotonic()
        assert AdminClient(token_shop, sleep=sleeps).execute(QUERY)["shop"]["name"] == "A"
        assert time.monotonic() - started < 10
    finally:
        throttle._redis.cache_clear()
