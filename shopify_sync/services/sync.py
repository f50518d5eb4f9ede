"""Start a sync through the app that owns it.

shopify_sync knows how to talk to Shopify; what a "backfill" or "reconcile" of customers and orders
means belongs to commerce, which registers those kinds (shopify_sync.sync_kinds). The kind's own run
record (commerce.OrderSyncRun) is the one place its progress lives: a second, generic record here would
only say "handed over" and go stale.
"""
from __future__ import annotations

from typing import Any

from shops.models import Shop


class UnknownSyncKind(LookupError):
    """No app registered this sync kind."""


def sync_start(shop: Shop, kind: str = "backfill") -> Any:
    """Start a sync of `kind` for the shop and return the kind's run (commerce: an OrderSyncRun, queued
    on commit; a second request while one is active returns the active one).

    Raises UnknownSyncKind when no app registered `kind`.
    """
    from .. import sync_kinds

    fn = sync_kinds.kind_for(kind)
    if fn is None:
        known = ", ".join(sync_kinds.registered_kinds()) or "none"
        raise UnknownSyncKind(f"no sync kind {kind!r} is registered (known: {known})")
    return fn(shop)
