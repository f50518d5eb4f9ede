"""Celery tasks of loyalty: thin, JSON-safe arguments, each re-reads its rows and calls services."""
from __future__ import annotations

import logging

from celery import shared_task

from shops.models import Shop

log = logging.getLogger(__name__)
TASK_OPTIONS = {"acks_late": True, "soft_time_limit": 540, "time_limit": 600}
QUEUE = "default"


def _shop(shop_id: int) -> Shop | None:
    return Shop.objects.installed().filter(pk=shop_id).first()


@shared_task(name="loyalty.tasks.order_points_sync", **TASK_OPTIONS)
def order_points_sync_task(shop_id: int, order_shopify_id: int) -> int:
    """One order's points (commerce enqueues it on commit of an order or refund write; see services.hooks)."""
    from .services.hooks import order_points_apply

    shop = _shop(shop_id)
    return len(order_points_apply(shop=shop, order_shopify_id=order_shopify_id)) if shop else 0


@shared_task(name="loyalty.tasks.orders_points_sync_batch", **TASK_OPTIONS)
def orders_points_sync_batch(shop_id: int, order_shopify_ids: list[int]) -> int:
    """Many orders at once (a reconcile page); each order commits on its own, so a retry after a crash
    redoes only what is left (the ledger's keys make the rest no-ops)."""
    from .services.hooks import order_points_apply

    shop = _shop(shop_id)
    if shop is None:
        return 0
    return sum(len(order_points_apply(shop=shop, order_shopify_id=i)) for i in order_shopify_ids)


@shared_task(name="loyalty.tasks.signup_bonus", **TASK_OPTIONS)
def signup_bonus_task(shop_id: int, customer_shopify_id: int, customer_created_at: str) -> bool:
    import datetime as dt

    from .services.hooks import signup_bonus_apply

    shop = _shop(shop_id)
    if shop is None:
        return False
    return signup_bonus_apply(shop=shop, customer_shopify_id=customer_shopify_id,
                              customer_created_at=dt.datetime.fromisoformat(customer_created_at)) is not None


@shared_task(bind=True, name="loyalty.tasks.send_member_email", max_retries=6, **TASK_OPTIONS)
def send_member_email(self, shop_id: int, email_id: int) -> str:
    """Queue "mail" (the callers pass it): one member e-mail; SMTP trouble is retried with backoff."""
    from .services.emails import TransientSendError, member_email_send

    shop = _shop(shop_id)
    if shop is None:
        return ""
    try:
        return member_email_send(shop=shop, email_id=email_id)
    except TransientSendError as exc:
        raise self.retry(exc=exc, countdown=min(30 * 2 ** self.request.retries, 1800), queue="mail") from exc


@shared_task(name="loyalty.tasks.past_orders_import", **TASK_OPTIONS)
def past_orders_import_task(shop_id: int, after_order_id: int = 0) -> int:
    from .services import past_orders_import

    shop = _shop(shop_id)
    if shop is None:
        return 0
    done, next_after = past_orders_import(shop=shop, after_order_id=after_order_id)
    if next_after is not None:
        past_orders_import_task.apply_async((shop_id, next_after), queue=QUEUE)
    return done


@shared_task(name="loyalty.tasks.maintenance_all_shops", **TASK_OPTIONS)
def maintenance_all_shops() -> int:
    """Beat entry: one task per shop, so a big shop never delays the others."""
    from .services.maintenance import programme_active_shops

    shop_ids = programme_active_shops()
    for shop_id in shop_ids:
        shop_maintenance.apply_async((shop_id,), queue=QUEUE)
    return len(shop_ids)


@shared_task(name="loyalty.tasks.shop_maintenance", **TASK_OPTIONS)
def shop_maintenance(shop_id: int) -> dict[str, int]:
    """Bounded batches of each periodic job for one shop; anything left is picked up by the next run."""
    from . import services
    from .services.emails import member_emails_expiry_reminders

    shop = _shop(shop_id)
    if shop is None:
        return {}
    result = {
        "matured": services.points_mature_due(shop=shop),
        "expired": services.points_expire_inactive(shop=shop),
        "bonuses": services.bonuses_award_due(shop=shop),
        "tiers": services.tiers_reevaluate_due(shop=shop),
        "rewards_expired": len(services.redemptions_expire_due(shop=shop)),
        "redemptions_resolved": services.redemptions_resolve(shop=shop),
        "expiry_reminders": member_emails_expiry_reminders(shop=shop),
        "rewards_waiting": services.rewards_waiting_remind(shop=shop),
    }
    log.info("loyalty maintenance of %s: %s", shop.domain, result)
    return result


@shared_task(name="loyalty.tasks.ledger_reconcile_all_shops", **TASK_OPTIONS)
def ledger_reconcile_all_shops() -> int:
    from .services import ledger_reconcile
    from .services.maintenance import programme_active_shops

    drifted = 0
    for shop in Shop.objects.filter(pk__in=programme_active_shops()):
        drifted += len(ledger_reconcile(shop=shop))
    return drifted
