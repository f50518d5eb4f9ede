"""The shop's offline access token: reading, refreshing, storing, forgetting.

Shopify's expiring offline tokens live an hour; the refresh token rotates on every use, and since
August 2026 the previous refresh token stays valid only until the new pair is first used. So two workers
that both refresh with the same refresh token can leave the shop with a revoked pair. Refreshes are
therefore serialised per shop by a row lock, and the second worker re-reads the row under the lock and
uses the token the first one stored instead of refreshing again.

The lock is `SELECT ... FOR NO KEY UPDATE` (select_for_update(no_key=True)): it serialises token writers
exactly like FOR UPDATE, but does not block other transactions inserting rows that reference the shop
(webhook inbox, orders...), which would otherwise stall behind an HTTP call to Shopify.

Outer transactions: the rotated refresh token must be committed the moment Shopify has issued it. If
shop_access_token ran its refresh inside a caller's `atomic()` block, the new tokens would stay invisible
to other workers (who would then burn the old refresh token) and vanish if the caller rolled back. So
inside an atomic block the refresh runs on a separate database connection (a short-lived thread) that
commits on its own; see `_run_committed`.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from django.conf import settings
from django.db import OperationalError, connection, connections, transaction
from django.utils import timezone

from core.crypto import decrypt, encrypt

from ..models import Shop
from ..token_endpoint import TokenEndpointError, TokenGrant, refresh_token_exchange

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Refresh this long before the access token expires, so a token handed to a task is good for a while.
REFRESH_MARGIN = timedelta(minutes=5)


class ShopTokenError(Exception):
    """Base of the errors of shop_access_token."""


class ShopTokenMissing(ShopTokenError):
    """The shop has no usable offline token: never installed, uninstalled, or its refresh token died.

    Recovery is on Shopify's side of a merchant action: the next embedded load gets a new token by token
    exchange (shops.embedded), or the merchant reinstalls. Background work for the shop should stop.
    """


class ShopTokenRefreshError(ShopTokenError):
    """The refresh failed for a reason that may pass (network, 5xx, throttling, lock timeout): retry later."""


@dataclass(frozen=True)
class _TokenRow:
    access_token_encrypted: str
    access_token_expires_at: object
    refresh_token_encrypted: str
    uninstalled_at: object

    @classmethod
    def of(cls, shop: Shop) -> _TokenRow:
        return cls(
            shop.access_token_encrypted,
            shop.access_token_expires_at,
            shop.refresh_token_encrypted,
            shop.uninstalled_at,
        )


_TOKEN_FIELDS = [
    "access_token_encrypted",
    "access_token_expires_at",
    "refresh_token_encrypted",
    "refresh_token_expires_at",
    "scopes",
    "uninstalled_at",
    "updated_at",
]


def _is_fresh(shop: Shop) -> bool:
    if not shop.access_token_encrypted or shop.uninstalled_at is not None:
        return False
    expires_at = shop.access_token_expires_at
    # No expiry: a non-expiring token (issued before expiring tokens, or by a custom app).
    return expires_at is None or expires_at - REFRESH_MARGIN > timezone.now()


def _copy_token_fields(source: Shop, target: Shop) -> None:
    for field in _TOKEN_FIELDS:
        setattr(target, field, getattr(source, field))


def shop_tokens_store(shop: Shop, grant: TokenGrant) -> None:
    """Write a newly issued token pair onto `shop` (encrypted). The caller saves inside its lock."""
    shop.access_token_encrypted = encrypt(grant.access_token)
    shop.access_token_expires_at = grant.expires_at
    shop.refresh_token_encrypted = encrypt(grant.refresh_token)
    shop.refresh_token_expires_at = grant.refresh_token_expires_at
    if grant.scopes:
        shop.scopes = grant.scopes


def _tokens_forget(shop: Shop) -> None:
    shop.access_token_encrypted = ""
    shop.access_token_expires_at = None
    shop.refresh_token_encrypted = ""
    shop.refresh_token_expires_at = None


def shop_lock(shop_id: int) -> Shop:
    """Lock the shop's row for token writes (call inside transaction.atomic) and return it fresh."""
    # lock_timeout bounds the wait for another worker's refresh (one token request) and turns a
    # self-deadlock (the caller's own transaction already locks the row while we refresh on another
    # connection) into an error instead of a hang. Reset once we hold the lock so the setting does not
    # leak into the rest of a caller's transaction.
    timeout_ms = int((settings.SHOPIFY_HTTP_TIMEOUT_SECONDS + 15) * 1000)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL lock_timeout = %s", [f"{timeout_ms}ms"])
        locked = Shop.objects.select_for_update(no_key=True).get(pk=shop_id)
        cursor.execute("SET LOCAL lock_timeout TO DEFAULT")
    return locked


def _run_committed(fn: Callable[[], T]) -> T:
    """Run `fn` in a transaction that commits on its own, whatever the caller's transaction does.

    Outside an atomic block that is just `transaction.atomic()`. Inside one, `fn` runs on another
    thread, hence another database connection. A shop row the caller created in its still-uncommitted
    transaction is invisible there; but then no other worker can see (or race on) that row either, so
    `fn` runs on the caller's connection in a savepoint.
    """

    def in_transaction() -> T:
        with transaction.atomic():
            return fn()

    if not connection.in_atomic_block:
        return in_transaction()

    outcome: dict[str, object] = {}

    def worker() -> None:
        try:
            outcome["value"] = in_transaction()
        except BaseException as exc:  # re-raised on the calling thread
            outcome["error"] = exc
        finally:
            connections.close_all()  # this thread's connections only

    thread = threading.Thread(target=worker, name="shop-token-refresh", daemon=True)
    thread.start()
    thread.join()
    error = outcome.get("error")
    if isinstance(error, Shop.DoesNotExist):
        return in_transaction()
    if error is not None:
        raise error
    return outcome["value"]  # type: ignore[return-value]


def _refresh_locked(shop_id: int, seen: _TokenRow, force_refresh: bool) -> tuple[Shop, str | None]:
    """Under the row lock: reuse a token another worker just stored, or refresh. Returns the locked shop
    and the plain access token, or None when the refresh token is dead (its tokens are then cleared)."""
    shop = shop_lock(shop_id)
    if shop.uninstalled_at is not None or not shop.access_token_encrypted:
        return shop, None
    rotated_meanwhile = _TokenRow.of(shop) != seen
    if (rotated_meanwhile or not force_refresh) and _is_fresh(shop):
        # Another worker refreshed while we waited for the lock (or nothing is due after all): using
        # its token, instead of refreshing again, keeps the rotated refresh token alive.
        return shop, decrypt(shop.access_token_encrypted)
    refresh_token = decrypt(shop.refresh_token_encrypted)
    if not refresh_token:
        if shop.access_token_expires_at is None:
            return shop, decrypt(shop.access_token_encrypted)  # non-expiring token: nothing to refresh
        _tokens_forget(shop)
        shop.save(update_fields=_TOKEN_FIELDS)
        return shop, None
    try:
        grant = refresh_token_exchange(shop_domain=shop.domain, refresh_token=refresh_token)
    except TokenEndpointError as exc:
        if exc.transient:
            raise ShopTokenRefreshError(f"token refresh for {shop.domain} failed: {exc.code}") from exc
        # invalid_grant (refresh token revoked/expired), invalid_client (app uninstalled or secret
        # rotated away): this pair will never work again. Forget it so the next embedded load
        # re-exchanges a session token instead of every worker hammering the token endpoint.
        logger.warning("offline token of %s is dead (%s); cleared", shop.domain, exc.code)
        _tokens_forget(shop)
        shop.save(update_fields=_TOKEN_FIELDS)
        return shop, None
    shop_tokens_store(shop, grant)
    shop.save(update_fields=_TOKEN_FIELDS)  # access + refresh token in one UPDATE, one commit
    logger.info("refreshed offline token of %s", shop.domain)
    return shop, grant.access_token


def shop_access_token(shop: Shop, *, force_refresh: bool = False) -> str:
    """A valid offline access token for `shop`, refreshed first if it expires within REFRESH_MARGIN.

    `force_refresh=True` after Shopify answered 401 to this token: refresh now, unless another worker
    already rotated it. Refreshes run under the per-shop row lock and commit on their own (module
    docstring), so concurrent callers make one refresh request and all get its token. Updates the token
    fields of the `shop` instance passed in.

    Raises ShopTokenMissing (no token, uninstalled, or refresh token dead: the token is cleared) and
    ShopTokenRefreshError (transient failure; retry later).
    """
    # Re-read: the caller's instance may be minutes old and another worker may have rotated the token.
    current = Shop.objects.filter(pk=shop.pk).first()
    if current is None:
        raise ShopTokenMissing(f"shop {shop.pk} does not exist")
    if current.uninstalled_at is not None or not current.access_token_encrypted:
        _copy_token_fields(current, shop)
        raise ShopTokenMissing(f"{current.domain} has no offline token (not installed or token dead)")
    if not force_refresh and _is_fresh(current):
        _copy_token_fields(current, shop)
        return decrypt(current.access_token_encrypted)

    seen = _TokenRow.of(current)
    try:
        locked, token = _run_committed(lambda: _refresh_locked(current.pk, seen, force_refresh))
    except OperationalError as exc:  # lock_timeout
        raise ShopTokenRefreshError(f"timed out waiting for the token lock of {current.domain}") from exc
    _copy_token_fields(locked, shop)
    if token is None:
        raise ShopTokenMissing(f"the offline token of {current.domain} is dead; the next embedded load renews it")
    return token


def shop_mark_uninstalled(shop: Shop) -> None:
    """Forget the shop's tokens and set uninstalled_at (app/uninstalled webhook). Idempotent.

    Runs under the token lock so a refresh in flight cannot write a token back after the uninstall;
    it may join the caller's transaction (nothing here must outlive a rollback). Keeps the first
    uninstall time when called again (webhooks arrive more than once).
    """
    with transaction.atomic():
        locked = shop_lock(shop.pk)
        _tokens_forget(locked)
        if locked.uninstalled_at is None:
            locked.uninstalled_at = timezone.now()
        locked.save(update_fields=_TOKEN_FIELDS)
    _copy_token_fields(locked, shop)
    logger.info("%s uninstalled; tokens forgotten", locked.domain)
