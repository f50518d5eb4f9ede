"""Webhook handlers for order, refund and customer topics (registered with shopify_sync in apps.ready).

shopify_sync verifies the HMAC, stores the delivery in its inbox, dedupes it and calls the handler for
the topic from a Celery task with the verified shop and the parsed body (parsed with `json`: ids beyond
2**53 stay exact). Handlers are idempotent by construction: each is an upsert keyed by
(shop, shopify_id) that never replaces a newer version, so a duplicate, a retry with the original
payload, or an old event arriving after a newer one changes nothing.

refunds/create: the refund is stored even when its order has not arrived here yet (no API call, so a
burst of refunds costs no rate limit); the order's own upsert later sums it into total_refunded and the
customer's summary, and the orders/updated that Shopify sends with every refund carries it too.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone

from loyalty.services import hooks as loyalty_hooks
from shops.models import Shop

from ..shapes import customer_from_rest, gid_to_id, order_from_rest, parse_datetime, refund_from_rest
from .upsert import customer_mark_deleted, customers_upsert, orders_upsert

log = logging.getLogger(__name__)


def handle_order_webhook(*, shop: Shop, payload: Mapping[str, Any], **_: Any) -> int:
    """orders/create, orders/updated, orders/paid, orders/cancelled: the whole order. Returns rows written."""
    order = order_from_rest(payload)
    written = orders_upsert(shop=shop, orders=[order]).written
    # Loyalty hook: points for the order (earn, refunds, cancellation) and its reward codes marked used,
    # in a task enqueued when this transaction commits. Also for a version that lost to a newer stored
    # one: the task reads the stored order, and the ledger's keys make a repeat a no-op.
    loyalty_hooks.orders_points_enqueue(shop_id=shop.pk, order_shopify_ids=[order.shopify_id])
    # Referrals hook: keep the order's fraud signals (cart attribute, hashed address/phone/IP) and sync the
    # referral it may belong to after commit; a no-op for shops without the referral programme.
    from referrals.services.attribution import order_webhook_received

    order_webhook_received(shop=shop, payload=payload)
    return written


def handle_refund_webhook(*, shop: Shop, payload: Mapping[str, Any], **_: Any) -> int:
    """refunds/create: a refund with order_id."""
    refund = refund_from_rest(payload, shop.currency)
    orders_upsert(shop=shop, refunds=[refund])
    # Loyalty hook: the refund takes back its share of the order's points (after commit).
    loyalty_hooks.orders_points_enqueue(shop_id=shop.pk, order_shopify_ids=[refund.order_shopify_id])
    # Referrals hook: a refund inside the holding period cancels the referrer's pending reward (after commit).
    from referrals.services.attribution import refund_webhook_received

    refund_webhook_received(shop=shop, payload=payload)
    return 1


def handle_customer_webhook(*, shop: Shop, payload: Mapping[str, Any], topic: str = "", **_: Any) -> int:
    """customers/create, customers/update."""
    record = customer_from_rest(payload)
    written = customers_upsert(shop=shop, records=[record]).written
    if topic == "customers/create":
        # Loyalty hook: the sign-up bonus (after commit; once per customer by the ledger's key).
        loyalty_hooks.signup_bonus_enqueue(shop_id=shop.pk, customer_shopify_id=record.shopify_id,
                                           customer_created_at=record.created_at)
    return written


def handle_customer_delete_webhook(
    *, shop: Shop, payload: Mapping[str, Any], triggered_at: dt.datetime | str | None = None, **_: Any
) -> int:
    """customers/delete: the body is little more than the id; no updated_at. The deletion time is
    X-Shopify-Triggered-At when shopify_sync passes it, else now (both are after the last change)."""
    shopify_id = gid_to_id(payload.get("id")) or gid_to_id(payload.get("admin_graphql_api_id"))
    if shopify_id is None:
        log.warning("customers/delete without id for %s", shop.domain)
        return 0
    at = parse_datetime(triggered_at) if isinstance(triggered_at, str) else triggered_at
    return int(customer_mark_deleted(shop=shop, shopify_id=shopify_id, deleted_at=at or timezone.now()))


def handle_bulk_operation_finish_webhook(*, shop: Shop, payload: Mapping[str, Any], **_: Any) -> int:
    """bulk_operations/finish: wake the backfill waiting on that operation (the poll is the fallback)."""
    from ..tasks import enqueue_backfill
    from .backfill import backfill_run_for_bulk_operation

    gid = payload.get("admin_graphql_api_id") or ""
    run = backfill_run_for_bulk_operation(shop_id=shop.pk, bulk_operation_gid=gid)
    if run is None:
        return 0  # another app feature's operation, or a run that already moved on
    run_id = run.pk
    transaction.on_commit(lambda: enqueue_backfill(run_id))
    return 1
