"""Celery tasks of referrals: JSON-safe ids in, re-read the rows, call one service."""
from __future__ import annotations

import logging

from celery import shared_task

from shops.models import Shop

log = logging.getLogger(__name__)
TASK_OPTIONS = {"acks_late": True, "soft_time_limit": 240, "time_limit": 300}


def _shop(shop_id: int) -> Shop | None:
    return Shop.objects.installed().filter(pk=shop_id).first()


@shared_task(name="referrals.tasks.order_referral_sync", **TASK_OPTIONS)
def order_referral_sync_task(shop_id: int, order_shopify_id: int) -> str:
    from .services import order_referral_sync

    shop = _shop(shop_id)
    referral = order_referral_sync(shop=shop, order_shopify_id=order_shopify_id) if shop else None
    return referral.status if referral is not None else ""


@shared_task(name="referrals.tasks.send_friend_email", **TASK_OPTIONS)
def friend_email_send_task(shop_id: int, referral_id: int) -> bool:
    from .services.emails import friend_email_send

    shop = _shop(shop_id)
    return friend_email_send(shop=shop, referral_id=referral_id) if shop else False


@shared_task(name="referrals.tasks.send_reward_email", **TASK_OPTIONS)
def reward_email_send_task(shop_id: int, reward_id: int) -> bool:
    from .services.emails import reward_email_send

    shop = _shop(shop_id)
    return reward_email_send(shop=shop, reward_id=reward_id) if shop else False


@shared_task(name="referrals.tasks.rewards_due_all_shops", **TASK_OPTIONS)
def rewards_due_all_shops() -> int:
    """Beat entry: one task per shop with the programme on, so a big shop never delays the others."""
    from .models import ReferralProgramme

    shop_ids = list(ReferralProgramme.objects.filter(enabled=True, shop__uninstalled_at__isnull=True)
                    .values_list("shop_id", flat=True))
    for shop_id in shop_ids:
        shop_rewards_due.apply_async((shop_id,), queue="default")
    return len(shop_ids)


@shared_task(name="referrals.tasks.shop_rewards_due", **TASK_OPTIONS)
def shop_rewards_due(shop_id: int) -> dict[str, int]:
    from . import services

    shop = _shop(shop_id)
    if shop is None:
        return {}
    return {"settled": services.referrals_reward_due(shop=shop), "codes_retried": services.rewards_issue_pending(shop=shop)}
