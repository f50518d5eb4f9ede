"""AdminClient: the one place that sends Admin GraphQL requests to Shopify.

Built on ShopifyAPI's `shopify.GraphQL` (endpoint and headers from a `shopify.Session` for the shop, the
API version of settings.SHOPIFY_API_VERSION). Its urllib request to `https://{shop}/admin/api/...` is
routed by the urllib handler of shops.shopify_urls, so the same code reaches the local development store.

What it adds, because ShopifyAPI has none of it (shopify-protocols.md 1.5, 4.2):
- cost-based throttling by waiting, not failing: a per-shop bucket estimate in Redis (shopify_sync.throttle)
  paces concurrent workers before they send; THROTTLED (HTTP 200) and HTTP 429 (Retry-After) are waited
  out and retried;
- transient failures (5xx, connection errors, timeouts) retried with exponential backoff and jitter, a
  bounded number of times, then AdminAPIError;
- a 401 refreshes the offline token once (shops.services.shop_access_token(force_refresh=True));
- GraphQL `errors` raise AdminAPIError; non-empty mutation `userErrors` raise UserErrors.
Responses are parsed with Python's json: ids beyond 2**53 stay exact.
"""
from __future__ import annotations

import contextlib
import email.utils
import http.client
import json
import logging
import random
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import shopify
from django.conf import settings

from shops.models import Shop

from . import documents, throttle

logger = logging.getLogger(__name__)

Sleep = Callable[[float], None]

# Transient failures (5xx, network) are tried this many times in all, backing off 0.5, 1, 2, 4 ... s.
MAX_ATTEMPTS = 5
BACKOFF_BASE_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 30.0
# Throttling is waited out, but not forever: past this much waiting in one execute() the caller (a task)
# gets Throttled and retries later instead of holding a worker. Shopify's Standard bucket refills in 20 s.
THROTTLE_MAX_WAIT_SECONDS = 300.0
# Before the first response of a document tells us its cost, assume this much (max single query: 1000).
DEFAULT_COST_ESTIMATE = 50.0
# 429 without a usable Retry-After.
DEFAULT_RETRY_AFTER_SECONDS = 1.0
# Never spin: a "Retry-After: 0" answered again and again still costs a bounded number of requests.
MIN_THROTTLE_WAIT_SECONDS = 0.05
MAX_THROTTLED_RETRIES = 100


@dataclass(frozen=True)
class UserError:
    field: tuple[str, ...] | None
    message: str
    code: str | None = None

    def __str__(self) -> str:
        where = ".".join(self.field) if self.field else "-"
        return f"{where}: {self.message}" + (f" ({self.code})" if self.code else "")


class AdminAPIError(Exception):
    """The Admin API call failed: GraphQL errors, an HTTP error, or transient failures beyond the retries."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        errors: list[dict[str, Any]] | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.errors = errors or []
        self.data = data


class ShopUnauthorized(AdminAPIError):
    """Shopify refused the shop's token even after a refresh, or the shop has no usable token."""


class Throttled(AdminAPIError):
    """Throttling lasted longer than the client is allowed to wait; retry the work later."""


class UserErrors(AdminAPIError):
    """A mutation payload came back with non-empty `userErrors` (nothing was changed by that payload)."""

    def __init__(self, payload_key: str, user_errors: list[UserError], data: dict[str, Any]) -> None:
        text = "; ".join(str(e) for e in user_errors)
        super().__init__(f"{payload_key} returned user errors: {text}", data=data)
        self.payload_key = payload_key
        self.user_errors = user_errors

    @property
    def codes(self) -> set[str]:
        return {e.code for e in self.user_errors if e.code}


class _Retry(Exception):
    """Internal: the attempt failed transiently; `wait` seconds, then try again."""

    def __init__(self, reason: str, wait: float | None = None, throttled: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.wait = wait
        self.throttled = throttled


@dataclass(frozen=True)
class _Response:
    status: int
    headers: http.client.HTTPMessage | None
    body: bytes


class _ShopGraphQL(shopify.GraphQL):
    """ShopifyAPI's GraphQL client with the two changes production needs.

    Upstream `execute` calls urlopen without a timeout (a stalled connection would hold a worker until
    Celery's hard limit) and on an HTTP error prints the body to stdout and re-raises, which loses the
    body we need to read (THROTTLED, error messages). Endpoint, headers and the request body are
    upstream's; the request still goes through urllib's installed opener (shops.shopify_urls).
    """

    def __init__(self, timeout: float) -> None:
        super().__init__()
        # A copy: upstream keeps a reference to the thread's shared header dict, which clear_session edits.
        self.headers = dict(self.headers)
        self.timeout = timeout

    def send(self, query: str, variables: dict[str, Any] | None, operation_name: str | None) -> _Response:
        headers = self.merge_headers({"Accept": "application/json", "Content-Type": "application/json"}, self.headers)
        body = json.dumps({"query": query, "variables": variables, "operationName": operation_name}).encode()
        request = urllib.request.Request(self.endpoint, body, headers)  # noqa: S310 - https (or the dev store)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                return _Response(response.status, response.headers, response.read())
        except urllib.error.HTTPError as exc:
            with contextlib.closing(exc):
                return _Response(exc.code, exc.headers, exc.read())


@contextlib.contextmanager
def _shopify_session(domain: str, token: str) -> Iterator[None]:
    """Activate a ShopifyAPI session on this thread, and always clear it.

    Like shopify.Session.temp, but with finally: temp() skips its restore when the body raises, and a
    worker thread would keep the shop's token active for the next shop's task.
    """
    session = shopify.Session(domain, settings.SHOPIFY_API_VERSION, token)
    shopify.ShopifyResource.activate_session(session)
    try:
        yield
    finally:
        shopify.ShopifyResource.clear_session()


_OPERATION_RE = re.compile(r"^\s*(query|mutation|subscription)\b\s*([_A-Za-z][_0-9A-Za-z]*)?", re.MULTILINE)


@lru_cache(maxsize=256)
def _operation(document: str) -> tuple[str, str]:
    """(operation type, name) of a document, for logs and the cost estimate; ("query", "") if anonymous."""
    without_comments = re.sub(r"#[^\n]*", "", document)
    match = _OPERATION_RE.search(without_comments)
    if match is None:
        return "query", ""
    return match.group(1), match.group(2) or ""


# Learned requestedQueryCost per document text (process-local; a first guess only).
_cost_estimates: dict[str, float] = {}


def _retry_after_seconds(headers: http.client.HTTPMessage | None) -> float | None:
    value = headers.get("Retry-After") if headers is not None else None
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


def _is_throttled(errors: list[dict[str, Any]]) -> bool:
    return any(((e.get("extensions") or {}).get("code") == "THROTTLED") for e in errors if isinstance(e, dict))


def _user_errors(data: dict[str, Any], key: str | None) -> tuple[str, list[UserError]] | None:
    keys = [key] if key else list(data)
    for payload_key in keys:
        payload = data.get(payload_key)
        if not isinstance(payload, dict):
            continue
        raw = payload.get("userErrors")
        if raw:
            return payload_key, [
                UserError(
                    field=tuple(e["field"]) if e.get("field") else None,
                    message=str(e.get("message") or ""),
                    code=e.get("code"),
                )
                for e in raw
            ]
    return None


class AdminClient:
    """Admin GraphQL for one shop. Cheap to create; make one per unit of work.

    `sleep` is injectable (tests record waits instead of sleeping). Not for concurrent use from several
    threads at once (ShopifyAPI's session is per thread, so one client per thread is fine).
    """

    def __init__(
        self,
        shop: Shop,
        *,
        sleep: Sleep = time.sleep,
        max_attempts: int = MAX_ATTEMPTS,
        throttle_max_wait: float = THROTTLE_MAX_WAIT_SECONDS,
        timeout: float | None = None,
    ) -> None:
        self.shop = shop
        self._sleep = sleep
        self.max_attempts = max_attempts
        self.throttle_max_wait = throttle_max_wait
        self.timeout = timeout if timeout is not None else settings.SHOPIFY_HTTP_TIMEOUT_SECONDS

    def execute(
        self,
        document: str,
        variables: dict[str, Any] | None = None,
        *,
        user_errors: bool | str = True,
    ) -> dict[str, Any]:
        """Run a document (a name from documents.load, or GraphQL text) and return its `data`.

        `user_errors`: True raises UserErrors when any top-level payload has non-empty userErrors;
        a payload key checks only that payload; False returns them to the caller.
        Raises AdminAPIError (GraphQL errors, HTTP errors, transient failures past MAX_ATTEMPTS),
        Throttled, ShopUnauthorized, UserErrors. Waits out throttling up to `throttle_max_wait`.
        """
        from shops.services import ShopTokenMissing, ShopTokenRefreshError, shop_access_token

        text = documents.load(document) if documents.is_document_name(document) else document
        op_type, op_name = _operation(text)
        label = op_name or op_type
        failures = 0
        throttled_times = 0
        throttle_waited = 0.0
        refreshed = False  # at most one forced refresh per execute(): a second 401 is final
        force_refresh = False
        pace = True
        while True:
            if pace:
                throttle_waited += self._pace(text, throttle_waited, label)
            pace = True
            try:
                token = shop_access_token(self.shop, force_refresh=force_refresh)
            except ShopTokenMissing as exc:
                raise ShopUnauthorized(str(exc), status=401) from exc
            except ShopTokenRefreshError as exc:
                raise AdminAPIError(f"could not refresh the token of {self.shop.domain}: {exc}") from exc
            force_refresh = False
            try:
                return self._attempt(text, variables, op_name, label, token, user_errors)
            except _Unauthorized as exc:
                if refreshed:
                    raise ShopUnauthorized(
                        f"Shopify refused the access token of {self.shop.domain} after a refresh", status=401
                    ) from exc
                logger.info("admin api %s: 401 for %s; refreshing the token once", label, self.shop.domain)
                refreshed = force_refresh = True
            except _Retry as retry:
                if retry.throttled:
                    wait = retry.wait if retry.wait is not None else DEFAULT_RETRY_AFTER_SECONDS
                    wait = max(wait, MIN_THROTTLE_WAIT_SECONDS)
                    throttled_times += 1
                    if throttle_waited + wait > self.throttle_max_wait or throttled_times > MAX_THROTTLED_RETRIES:
                        raise Throttled(
                            f"{label} for {self.shop.domain} still throttled after {throttle_waited:.1f}s of waiting",
                            status=429,
                        ) from retry
                    logger.info("admin api %s throttled for %s; waiting %.2fs", label, self.shop.domain, wait)
                    self._sleep(wait)
                    throttle_waited += wait
                    # That wait was computed from Shopify's own bucket state; pacing again would wait twice.
                    pace = False
                    continue
                failures += 1
                if failures >= self.max_attempts:
                    raise AdminAPIError(
                        f"{label} for {self.shop.domain} failed {failures} times; last: {retry.reason}"
                    ) from retry
                wait = min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (failures - 1))
                wait = wait / 2 + random.uniform(0, wait / 2)  # noqa: S311 - jitter, not crypto
                logger.warning(
                    "admin api %s for %s failed (%s); retry %d/%d in %.2fs",
                    label, self.shop.domain, retry.reason, failures, self.max_attempts - 1, wait,
                )
                self._sleep(wait)

    # --- one attempt ---------------------------------------------------------------------------------

    def _pace(self, text: str, waited_so_far: float, label: str) -> float:
        """Wait until the shared bucket estimate covers this document's cost. Returns seconds waited."""
        estimate = _cost_estimates.get(text, DEFAULT_COST_ESTIMATE)
        wait = throttle.bucket_acquire(self.shop.domain, estimate)
        if wait <= 0:
            return 0.0
        if waited_so_far + wait > self.throttle_max_wait:
            raise Throttled(
                f"{label} for {self.shop.domain}: the cost bucket stays empty beyond "
                f"{self.throttle_max_wait:.0f}s of waiting",
                status=429,
            )
        logger.debug("admin api %s for %s: pacing %.2fs", label, self.shop.domain, wait)
        self._sleep(wait)
        return wait

    def _attempt(
        self,
        text: str,
        variables: dict[str, Any] | None,
        op_name: str,
        label: str,
        token: str,
        user_errors: bool | str,
    ) -> dict[str, Any]:
        started = time.monotonic()
        try:
            with _shopify_session(self.shop.domain, token):
                response = _ShopGraphQL(self.timeout).send(text, variables, op_name or None)
        except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
            # Connection refused/reset, DNS, timeouts (socket.timeout is an OSError): transient.
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            raise _Retry(f"{type(exc).__name__}: {reason}") from exc
        elapsed_ms = (time.monotonic() - started) * 1000

        if response.status == 401:
            raise _Unauthorized()
        if response.status == 429:
            raise _Retry("HTTP 429", wait=_retry_after_seconds(response.headers), throttled=True)
        if response.status >= 500:
            raise _Retry(f"HTTP {response.status}")
        if response.status >= 400:
            raise AdminAPIError(
                f"{label} for {self.shop.domain}: HTTP {response.status}: {response.body[:500]!r}",
                status=response.status,
            )
        try:
            body = json.loads(response.body)
        except ValueError as exc:
            # A 200 that is not JSON comes from a proxy or an outage page, not from the API: transient.
            raise _Retry(f"HTTP {response.status} with a body that is not JSON") from exc
        if not isinstance(body, dict):
            raise _Retry(f"HTTP {response.status} with a JSON {type(body).__name__}, not an object")

        cost = (body.get("extensions") or {}).get("cost") or {}
        status = throttle.ThrottleStatus.from_cost(cost)
        if status is not None:
            throttle.bucket_observe(self.shop.domain, status)
        requested = cost.get("requestedQueryCost")
        if isinstance(requested, (int, float)):
            _cost_estimates[text] = float(requested)
        logger.info(
            "admin api %s for %s: %.0f ms, cost requested=%s actual=%s available=%s",
            label, self.shop.domain, elapsed_ms, requested, cost.get("actualQueryCost"),
            f"{status.currently_available:.0f}/{status.maximum_available:.0f}" if status else "?",
        )

        errors = body.get("errors")
        if errors:
            if isinstance(errors, list) and _is_throttled(errors):
                needed = float(requested) if isinstance(requested, (int, float)) else DEFAULT_COST_ESTIMATE
                wait = status.seconds_until(needed) if status else DEFAULT_RETRY_AFTER_SECONDS
                raise _Retry("THROTTLED", wait=wait, throttled=True)
            error_list = errors if isinstance(errors, list) else [{"message": str(errors)}]
            messages = "; ".join(str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in error_list)
            raise AdminAPIError(
                f"{label} for {self.shop.domain}: {messages}", status=response.status,
                errors=error_list, data=body.get("data"),
            )
        data = body.get("data")
        if not isinstance(data, dict):
            raise AdminAPIError(f"{label} for {self.shop.domain}: response without data", status=response.status)
        if user_errors:
            found = _user_errors(data, user_errors if isinstance(user_errors, str) else None)
            if found is not None:
                raise UserErrors(found[0], found[1], data)
        return data


class _Unauthorized(Exception):
    """Internal: HTTP 401."""

