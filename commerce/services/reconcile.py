"""Reconcile: re-read everything Shopify changed since the last good sync and repair our copy.

Webhooks are at-least-once, unordered and can be lost (after 8 failed retries, or never sent), so a
periodic reconcile asks the Admin API for customers and orders with `updated_at >= last good sync -
overlap` (cursor pagination, oldest change first) and upserts them. The overlap covers clock skew and
changes committed on Shopify's side while the previous sync was reading. Upserts compare updated_at, so
re-reading rows we already have changes nothing.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from typing import Any

from django.utils import timezone

from loyalty.services import hooks as loyalty_hooks

from ..models import OrderSyncRun
from ..shapes import customer_from_graphql, line_item_from_graphql, order_from_graphql
from .runs import (
    last_good_sync_at,
    sync_run_add_progress,
    sync_run_fail,
    sync_run_finish,
    sync_run_mark_running,
)
from .shopify import AdminAPI, admin_client, document
from .upsert import customers_upsert, orders_upsert

log = logging.getLogger(__name__)

OVERLAP = dt.timedelta(minutes=10)


def _search_since(since: dt.datetime) -> str:
    # Shopify search syntax; the quoted ISO timestamp with Z is read as UTC (shopify-protocols.md 4.3).
    return f"updated_at:>='{since.astimezone(dt.UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}'"


def _pages(client: AdminAPI, name: str, root: str, query: str) -> Iterator[list[dict[str, Any]]]:
    after = None
    while True:
        data = client.execute(document(name), {"query": query, "after": after})[root]
        yield data["nodes"]
        info = data["pageInfo"]
        if not info["hasNextPage"]:
            return
        after = info["endCursor"]


def _remaining_line_items(client: AdminAPI, order_node: dict[str, Any], order_id: int) -> list:
    """Line items after the first page of a large order."""
    items = []
    after = order_node["lineItems"]["pageInfo"]["endCursor"]
    while True:
        data = client.execute(document("order_line_items"), {"id": order_node["id"], "after": after})
        connection = data["order"]["lineItems"]
        items.extend(line_item_from_graphql(n, order_id) for n in connection["nodes"])
        if not connection["pageInfo"]["hasNextPage"]:
            return items
        after = connection["pageInfo"]["endCursor"]


def reconcile_execute(*, run_id: int, client: AdminAPI | None = None) -> OrderSyncRun:
    """Run a reconcile to the end (bounded by what changed since the last good sync)."""
    run = OrderSyncRun.objects.select_related("shop").get(pk=run_id)
    if not run.is_active:
        return run
    shop = run.shop
    since = last_good_sync_at(shop)
    if since is None:
        sync_run_fail(run=run, reason="no completed backfill yet: nothing to reconcile against")
        return run
    sync_run_mark_running(run=run)
    client = client or admin_client(shop)
    query = _search_since(since - OVERLAP)
    for nodes in _pages(client, "customers_updated_since", "customers", query):
        records = [customer_from_graphql(n) for n in nodes]
        result = customers_upsert(shop=shop, records=records)
        sync_run_add_progress(run=run, read=len(records), written=result.written)
    for nodes in _pages(client, "orders_updated_since", "orders", query):
        records = []
        for node in nodes:
            record = order_from_graphql(node)
            if not record.line_items_complete:
                record.line_items.extend(_remaining_line_items(client, node, record.shopify_id))
                record.line_items_complete = True
            records.append(record)
        result = orders_upsert(shop=shop, orders=records)
        # Loyalty hook: orders whose webhooks were lost earn (or give back) their points too; batched.
        loyalty_hooks.orders_points_enqueue(shop_id=shop.pk, order_shopify_ids=[r.shopify_id for r in records])
        sync_run_add_progress(run=run, read=len(records), written=result.written)
    sync_run_finish(run=run)
    log.info("reconcile of %s since %s: read %s, wrote %s", shop.domain, since, run.rows_read, run.rows_written)
    return run


def reconcile_due_shops(*, now: dt.datetime | None = None) -> list[int]:
    """Ids of installed shops with a completed backfill and no reconcile running (the beat fan-out)."""
    from shops.models import Shop

    now = now or timezone.now()
    has_backfill = OrderSyncRun.objects.filter(
        kind=OrderSyncRun.Kind.BACKFILL, status=OrderSyncRun.Status.SUCCEEDED
    ).values("shop_id")
    busy = OrderSyncRun.objects.filter(status__in=["queued", "running"]).values("shop_id")
    return list(
        Shop.objects.installed()
        .filter(pk__in=has_backfill)
        .exclude(pk__in=busy)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
