"""Sync kind -> function, for shopify_sync.services.sync_start. Apps register their kinds from
AppConfig.ready() (commerce: "backfill", "reconcile"); shopify_sync registers none.

A kind function is called as `fn(shop)`; it queues the work on its own machinery (with its own run
record, which shows progress) and returns that run.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ImproperlyConfigured

SyncKind = Callable[..., Any]

_lock = threading.Lock()
_kinds: dict[str, SyncKind] = {}


def register(kind: str, fn: SyncKind) -> None:
    with _lock:
        current = _kinds.get(kind)
        if current is not None and current is not fn:
            raise ImproperlyConfigured(f"sync kind {kind!r} already registered by {current.__module__}")
        _kinds[kind] = fn


def unregister(kind: str) -> None:
    with _lock:
        _kinds.pop(kind, None)


def kind_for(kind: str) -> SyncKind | None:
    return _kinds.get(kind)


def registered_kinds() -> list[str]:
    return sorted(_kinds)
