"""Celery tasks: thin wrappers that re-read by id and call one service.

Beat calls `campaigns_tick` (fan-out per shop) and `campaigns_sweep` (resume what a dead worker left).
Sending runs on the `mail` queue (`send_*`), everything else on `default`.
"""
from __future__ import annotations

import datetime as dt
import logging

from celery import shared_task
from django.utils import timezone

from shops.models import Shop

from .shopify import ShopifyUnavailable

log = logging.getLogger(__name__)

SEND_CHUNK = 200
TASK_OPTIONS = {"acks_late": True, "soft_time_limit": 540, "time_limit": 600}


def _shop(shop_id: int) -> Shop | None:
    return Shop.objects.installed().filter(pk=shop_id).first()


@shared_task(**TASK_OPTIONS)
def campaigns_tick() -> int:
    """Every quarter hour: each installed shop checks its campaigns in its own time zone."""
    ids = list(Shop.objects.installed().values_list("pk", flat=True))
    for shop_id in ids:
        shop_campaigns_tick.delay(shop_id)
    return len(ids)


@shared_task(**TASK_OPTIONS)
def shop_campaigns_tick(shop_id: int) -> None:
    from .services.runs import campaigns_due

    shop = _shop(shop_id)
    if shop is None:
        return
    for campaign_id, run_date in campaigns_due(shop=shop):
        campaign_run_task.delay(shop_id, campaign_id, run_date.isoformat())


@shared_task(bind=True, max_retries=5, **TASK_OPTIONS)
def campaign_run_task(self, shop_id: int, campaign_id: int, run_date: str) -> None:
    from .services.runs import campaign_run, run_refresh
    from .services.sending import queued_ids

    shop = _shop(shop_id)
    if shop is None:
        return
    try:
        run = campaign_run(shop=shop, campaign_id=campaign_id, run_date=dt.date.fromisoformat(run_date))
    except ShopifyUnavailable as exc:
        raise self.retry(exc=exc, countdown=min(600, 30 * 2 ** self.request.retries)) from exc
    dispatch(shop_id, queued_ids(shop=shop, run_id=run.pk))
    run_refresh(shop=shop, run_id=run.pk)


def dispatch(shop_id: int, ids: list[int]) -> None:
    for start in range(0, len(ids), SEND_CHUNK):
        send_recipients.delay(shop_id, ids[start:start + SEND_CHUNK])


@shared_task(bind=True, max_retries=8, **TASK_OPTIONS)
def send_recipients(self, shop_id: int, recipient_ids: list[int]) -> int:
    from .models import Recipient
    from .services.runs import run_refresh
    from .services.sending import TransientSendError, recipients_send

    shop = _shop(shop_id)
    if shop is None:
        return 0
    try:
        result = recipients_send(shop=shop, recipient_ids=recipient_ids)
    except TransientSendError as exc:
        raise self.retry(exc=exc, countdown=min(900, 30 * 2 ** self.request.retries)) from exc
    for run_id in set(Recipient.objects.filter(shop=shop, pk__in=recipient_ids).exclude(run=None)
                      .values_list("run_id", flat=True)):
        run_refresh(shop=shop, run_id=run_id)
    return result.sent


@shared_task(bind=True, max_retries=20, **TASK_OPTIONS)
def coupon_codes_advance(self, shop_id: int, coupon_id: int) -> None:
    """One step of a coupon's code batches; re-schedules itself until every batch is done."""
    from .services.codes import coupon_codes_step

    shop = _shop(shop_id)
    if shop is None:
        return
    try:
        step = coupon_codes_step(shop=shop, coupon_id=coupon_id)
    except ShopifyUnavailable as exc:
        raise self.retry(exc=exc, countdown=min(300, 5 * 2 ** self.request.retries)) from exc
    if step.finished_recipients:
        dispatch(shop_id, step.finished_recipients)
    if not step.done:
        # Shopify imports a batch in about a second; poll again soon.
        coupon_codes_advance.apply_async((shop_id, coupon_id), countdown=1)


@shared_task(**TASK_OPTIONS)
def campaigns_sweep() -> None:
    """Resume work a lost task left behind: stale code batches, queued e-mails, stuck sends."""
    from .models import CouponCodeBatch, Recipient
    from .services.codes import SUBMIT_STALE
    from .services.sending import sending_mark_stale

    now = timezone.now()
    stale = (CouponCodeBatch.objects.exclude(status=CouponCodeBatch.Status.DONE)
             .filter(updated_at__lt=now - SUBMIT_STALE).values_list("shop_id", "coupon_id").distinct())
    for shop_id, coupon_id in stale:
        coupon_codes_advance.delay(shop_id, coupon_id)
    waiting = (Recipient.objects.filter(status=Recipient.Status.QUEUED, assigned_at__lt=now - dt.timedelta(minutes=15))
               .values_list("shop_id", "pk").order_by("shop_id", "pk")[:50_000])
    by_shop: dict[int, list[int]] = {}
    for shop_id, pk in waiting:
        by_shop.setdefault(shop_id, []).append(pk)
    for shop_id, ids in by_shop.items():
        dispatch(shop_id, ids)
    marked = sending_mark_stale(now=now)
    if marked:
        log.warning("campaigns: %s e-mails interrupted while sending were marked unknown", marked)
