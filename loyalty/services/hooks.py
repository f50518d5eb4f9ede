"""How commerce's writes reach loyalty: explicit calls, found by grep, never signals.

commerce calls the `*_enqueue` functions inside the transaction that wrote an order, a refund or a
customer; they register `transaction.on_commit` callbacks, so the loyalty task runs only for data that
committed and reads it fresh. Tasks then call the `*_apply` functions here, which run the earning
service and queue the members' e-mails for what changed.

Nothing is enqueued for a shop that never set up a programme (no Programme row): a merchant who has not
opened the loyalty pages has no programme, and their customers must not be enrolled by default rules.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable

from django.db import transaction

from shops.models import Shop

from ..models import PointsAccount, PointsEntry, Programme
from .earning import BonusUnavailable, order_points_sync, signup_bonus_award
from .emails import member_emails_for_entries

log = logging.getLogger(__name__)

# Orders per task when many change at once (a reconcile page): one task per order would flood the queue,
# one task for everything would not spread over workers nor survive a time limit.
BATCH_SIZE = 200


def _has_programme(shop_id: int) -> bool:
    return Programme.objects.filter(shop_id=shop_id).exists()


def orders_points_enqueue(*, shop_id: int, order_shopify_ids: Iterable[int]) -> int:
    """After the caller's transaction commits, apply these orders to points (one task per order, or
    batches of BATCH_SIZE for more). Returns the number of orders that will be applied."""
    ids = sorted({int(i) for i in order_shopify_ids if i is not None})
    if not ids or not _has_programme(shop_id):
        return 0
    from ..tasks import QUEUE, order_points_sync_task, orders_points_sync_batch

    def enqueue() -> None:
        if len(ids) == 1:
            order_points_sync_task.apply_async((shop_id, ids[0]), queue=QUEUE)
            return
        for start in range(0, len(ids), BATCH_SIZE):
            orders_points_sync_batch.apply_async((shop_id, ids[start:start + BATCH_SIZE]), queue=QUEUE)

    transaction.on_commit(enqueue)
    return len(ids)


def signup_bonus_enqueue(*, shop_id: int, customer_shopify_id: int, customer_created_at: dt.datetime) -> bool:
    """customers/create: the account-creation bonus, after commit."""
    if not _has_programme(shop_id):
        return False
    from ..tasks import QUEUE, signup_bonus_task

    created = customer_created_at.isoformat()
    transaction.on_commit(lambda: signup_bonus_task.apply_async((shop_id, customer_shopify_id, created), queue=QUEUE))
    return True


def past_orders_import_enqueue(*, shop_id: int) -> bool:
    """The backfill finished: when the merchant chose that past orders earn, import them in one chain of
    batch tasks (loyalty.tasks.past_orders_import re-enqueues itself per 500 orders), never a task per
    order."""
    programme = Programme.objects.filter(shop_id=shop_id).first()
    if programme is None or not programme.earn_past_orders:
        return False
    from ..tasks import QUEUE, past_orders_import_task

    transaction.on_commit(lambda: past_orders_import_task.apply_async((shop_id, 0), queue=QUEUE))
    return True


def _tier_of(shop: Shop, customer_shopify_id: int) -> int | None:
    return PointsAccount.objects.filter(shop=shop, customer_shopify_id=customer_shopify_id).values_list(
        "tier_id", flat=True).first()


def order_points_apply(*, shop: Shop, order_shopify_id: int) -> list[PointsEntry]:
    """Run one stored order through the earning service and queue the e-mails it causes."""
    from commerce.models import Order

    order = Order.objects.filter(shop=shop, shopify_id=order_shopify_id).first()
    if order is None:
        return []  # a refund that arrived before its order: the order's own upsert brings it here again
    tier_before = _tier_of(shop, order.customer_shopify_id) if order.customer_shopify_id else None
    entries = order_points_sync(shop=shop, order=order)
    if entries and order.customer_shopify_id is not None:
        member_emails_for_entries(shop=shop, customer_shopify_id=order.customer_shopify_id, entries=entries,
                                  tier_before=tier_before)
    return entries


def signup_bonus_apply(*, shop: Shop, customer_shopify_id: int, customer_created_at: dt.datetime) -> PointsEntry | None:
    tier_before = _tier_of(shop, customer_shopify_id)
    try:
        entry = signup_bonus_award(shop=shop, customer_shopify_id=customer_shopify_id,
                                   customer_created_at=customer_created_at)
    except BonusUnavailable:
        return None
    if entry is not None:
        member_emails_for_entries(shop=shop, customer_shopify_id=customer_shopify_id, entries=[entry],
                                  tier_before=tier_before)
    return entry
