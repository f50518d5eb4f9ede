"""Celery tasks of the reports: the predicted-value fit, per shop and on a schedule (queue "reports")."""
from __future__ import annotations

import logging

from celery import shared_task

log = logging.getLogger(__name__)

QUEUE = "reports"
TASK_OPTIONS = {"acks_late": True, "soft_time_limit": 540, "time_limit": 600}


def enqueue_clv_fit(fit_id: int) -> None:
    clv_fit.apply_async((fit_id,), queue=QUEUE)


@shared_task(name="reports.tasks.clv_fit", **TASK_OPTIONS)
def clv_fit(fit_id: int) -> str:
    """Run one fit. Too little data or a fit that does not converge is a recorded failure, not a retry:
    running it again on the same data would fail the same way."""
    from .models import ClvFit
    from .services import clv_fit_fail, clv_fit_run

    try:
        return clv_fit_run(fit_id=fit_id).status
    except Exception as exc:
        fit = ClvFit.objects.filter(pk=fit_id).first()
        if fit is not None:
            clv_fit_fail(fit=fit, reason=f"{exc}")
        log.exception("CLV fit %s failed", fit_id)
        return ClvFit.Status.FAILED


@shared_task(name="reports.tasks.clv_fit_all_shops", **TASK_OPTIONS)
def clv_fit_all_shops() -> int:
    """Celery beat entry: queue a fit for every installed shop that has customers with orders (fan-out:
    one task per shop, so a big shop does not hold up the others)."""
    from django.db.models import Exists, OuterRef

    from commerce.models import CustomerSummary
    from shops.models import Shop

    from .models import ClvFit
    from .services import clv_fit_request

    has_customers = Exists(CustomerSummary.objects.filter(shop=OuterRef("pk")))
    count = 0
    for shop in Shop.objects.installed().filter(has_customers):
        clv_fit_request(shop, reason=ClvFit.Reason.SCHEDULE)
        count += 1
    return count
