"""Writes of the reports app: the shop's report settings and the predicted-value (CLV) fit.

The fit (`clv_fit_run`) reads every counted order of the shop once, fits BG/NBD on a calibration
period and checks it on the holdout period that follows (predicted vs actual orders), then fits BG/NBD
and Gamma-Gamma on all the data and stores one CustomerPrediction per customer with enough history.
It runs in a Celery task on the "reports" queue (reports.tasks), requested by `clv_fit_request`:
on a schedule, after a backfill, or by the merchant.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

import numpy as np
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from shops.models import Shop

from .clv import bgnbd, collapse, gamma_gamma
from .models import ClvFit, CustomerPrediction, ReportSettings

log = logging.getLogger(__name__)

DAY_SECONDS = 86400.0
WEEK_DAYS = 7.0  # the models' time unit, as in the paper (parameters are comparable to the published ones)
HOLDOUT_MAX_DAYS = 182
HOLDOUT_MIN_DAYS = 28
# A customer whose first order is younger than this gets no prediction: there is nothing to learn from
# yet, the number would only be the shop's average.
MIN_HISTORY_DAYS = 30
# Below this many customers a four-parameter fit says more about noise than about the shop.
MIN_CUSTOMERS = 50
# Repeat customers whose probability of still being a customer has fallen below this are "likely to lapse".
LAPSE_P_ALIVE = 0.5
CENT = Decimal("0.001")  # money columns keep 3 decimals


# ------------------------------------------------------------------------------------------ settings


def report_settings_get(shop: Shop) -> ReportSettings:
    """The shop's settings row, or an unsaved default one (no write on read)."""
    return ReportSettings.objects.for_shop(shop).first() or ReportSettings(shop=shop)


def report_settings_save(*, shop: Shop, gross_margin: Decimal | None, active_window_days: int | None) -> ReportSettings:
    """Store the shop's gross margin (0..1 or None) and activity window (7..1095 days or None = automatic).

    Raises ValueError for values outside those ranges.
    """
    if gross_margin is not None and not (Decimal(0) <= gross_margin <= Decimal(1)):
        raise ValueError("gross margin must be between 0 and 1")
    if active_window_days is not None and not (7 <= active_window_days <= 1095):
        raise ValueError("the activity window must be between 7 and 1095 days")
    settings_row, _ = ReportSettings.objects.update_or_create(
        shop=shop, defaults={"gross_margin": gross_margin, "active_window_days": active_window_days}
    )
    return settings_row


# ------------------------------------------------------------------------------------------ CLV fit


# A queued fit no worker has taken, or a running one that has not finished, after this long has lost its
# task (a message lost with the broker, a worker killed past the task's hard time limit of 600 s): the next
# request sends its task again instead of waiting on it forever.
STALE_AFTER = dt.timedelta(minutes=15)


def _stale(now: dt.datetime) -> Q:
    return (Q(status=ClvFit.Status.QUEUED, created_at__lt=now - STALE_AFTER)
            | Q(status=ClvFit.Status.RUNNING, started_at__lt=now - STALE_AFTER))


def clv_fit_request(shop: Shop, *, reason: str = ClvFit.Reason.SCHEDULE) -> ClvFit:
    """Queue a fit of the shop's predicted-value model (on a schedule, after a backfill, by the merchant).

    Joins the fit already queued or running, if any (the partial unique constraint decides, so two
    concurrent requests cannot both start one), and sends its task again when it is stale (STALE_AFTER).
    The task is sent after the transaction commits.
    """
    from .tasks import enqueue_clv_fit

    try:
        with transaction.atomic():
            fit = ClvFit.objects.create(shop=shop, reason=reason, currency=shop.currency)
    except IntegrityError:
        active = ClvFit.objects.for_shop(shop).filter(
            status__in=[ClvFit.Status.QUEUED, ClvFit.Status.RUNNING]).first()
        if active is None:
            raise  # the active fit finished in between: let the caller retry rather than guess
        if ClvFit.objects.filter(_stale(timezone.now()), pk=active.pk).exists():
            log.warning("CLV fit %s of shop %s is stale (%s): sending its task again", active.pk, shop.pk,
                        active.status)
            transaction.on_commit(lambda: enqueue_clv_fit(active.pk))
        return active
    transaction.on_commit(lambda: enqueue_clv_fit(fit.pk))
    return fit


def _progress(fit: ClvFit, stage: str, percent: int) -> None:
    # A plain UPDATE outside any transaction, so the admin's polling sees it while the fit runs.
    ClvFit.objects.filter(pk=fit.pk).update(stage=stage, progress=percent)


def clv_fit_fail(*, fit: ClvFit, reason: str) -> None:
    ClvFit.objects.filter(pk=fit.pk).update(status=ClvFit.Status.FAILED, error=reason[:2000],
                                            finished_at=timezone.now())


@dataclass(frozen=True, slots=True)
class _Customers:
    ids: np.ndarray
    first: np.ndarray       # days since epoch (float)
    last: np.ndarray
    orders: np.ndarray
    net: np.ndarray          # shop money, float (the model's input only; stored amounts are Decimal)
    last_cal: np.ndarray     # NaN when no order before the calibration end
    orders_cal: np.ndarray


_LOAD_SQL = """
SELECT customer_shopify_id,
       extract(epoch FROM min(processed_at)) / 86400.0,
       extract(epoch FROM max(processed_at)) / 86400.0,
       count(*),
       sum(total - total_refunded),
       extract(epoch FROM max(processed_at) FILTER (WHERE processed_at < %(cal)s)) / 86400.0,
       count(*) FILTER (WHERE processed_at < %(cal)s)
FROM commerce_order
WHERE shop_id = %(shop)s AND customer_shopify_id IS NOT NULL AND NOT test AND cancelled_at IS NULL
  AND processed_at < %(until)s
GROUP BY customer_shopify_id
"""


def _load(shop: Shop, until: dt.datetime, calibration_end: dt.datetime) -> _Customers:
    with connection.cursor() as cur:
        cur.execute(_LOAD_SQL, {"shop": shop.pk, "until": until, "cal": calibration_end})
        rows = cur.fetchall()
    if not rows:
        empty = np.array([], dtype=float)
        return _Customers(np.array([], dtype=np.int64), empty, empty, empty, empty, empty, empty)
    ids, first, last, orders, net, last_cal, orders_cal = zip(*rows, strict=True)
    return _Customers(
        np.array(ids, dtype=np.int64), np.array(first, dtype=float), np.array(last, dtype=float),
        np.array(orders, dtype=float), np.array([float(v) for v in net]),
        np.array([np.nan if v is None else float(v) for v in last_cal]), np.array(orders_cal, dtype=float),
    )


def _first_order_span_days(shop: Shop, until: dt.datetime) -> float | None:
    with connection.cursor() as cur:
        cur.execute("SELECT extract(epoch FROM %(until)s - min(first_order_at)) / 86400.0 "
                    "FROM commerce_customersummary WHERE shop_id = %(shop)s", {"shop": shop.pk, "until": until})
        value = cur.fetchone()[0]
    return float(value) if value is not None else None


def _fit_bgnbd(x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> bgnbd.FitResult:
    # Whole days are the data's real resolution for buying behaviour; rounding to them lets customers
    # with the same history collapse into one weighted row (floor keeps t_x <= T).
    x_days = np.floor(t_x * WEEK_DAYS) / WEEK_DAYS
    T_days = np.floor(T * WEEK_DAYS) / WEEK_DAYS
    (ux, ut, uT), weights, _ = collapse(x, x_days, T_days)
    return bgnbd.fit(ux, ut, uT, weights)


def _holdout_check(data: _Customers, cal_day: float, holdout_days: float) -> dict:
    """Fit on the calibration period, predict the holdout period's orders, compare with what happened."""
    in_cal = data.first < cal_day
    x = data.orders_cal[in_cal] - 1
    t_x = (data.last_cal[in_cal] - data.first[in_cal]) / WEEK_DAYS
    T = (cal_day - data.first[in_cal]) / WEEK_DAYS
    fitted = _fit_bgnbd(x, t_x, T)
    predicted = bgnbd.expected_orders(fitted.params, holdout_days / WEEK_DAYS, x, t_x, T)
    actual = data.orders[in_cal] - data.orders_cal[in_cal]
    groups = []
    for k in range(7):
        mask = (x == k) if k < 6 else (x >= 6)
        if mask.any():
            groups.append({"repeat_orders": k, "or_more": k == 6, "customers": int(mask.sum()),
                           "predicted": float(predicted[mask].mean()), "actual": float(actual[mask].mean())})
    total_predicted, total_actual = float(predicted.sum()), float(actual.sum())
    return {
        "calibration_customers": int(in_cal.sum()),
        "holdout_days": round(holdout_days),
        "params": fitted.params.as_dict(),
        "predicted_orders": total_predicted,
        "actual_orders": total_actual,
        "error": (total_predicted - total_actual) / total_actual if total_actual else None,
        # Mean absolute error per customer: how far off one customer's forecast typically is.
        "mae_per_customer": float(np.abs(predicted - actual).mean()) if predicted.size else None,
        "by_repeat_orders": groups,
    }


def _money(value: float) -> Decimal:
    return Decimal(repr(float(value))).quantize(CENT, rounding=ROUND_HALF_EVEN)


def clv_fit_run(*, fit_id: int) -> ClvFit:
    """Run one queued fit to the end: holdout check, final fit, predictions stored.

    Raises ValueError when the shop has too little data to fit (the task records it as the failure
    reason the admin shows). Progress is written to the fit row as it goes.
    """
    fit = ClvFit.objects.select_related("shop").get(pk=fit_id)
    shop = fit.shop
    until = timezone.now()
    # Claim it: a queued fit, or a stale running one (its worker died). A second message for a fit that
    # is running now (a task sent again, a redelivery) leaves it to that worker; a finished fit is left
    # alone.
    claimed = ClvFit.objects.filter(Q(status=ClvFit.Status.QUEUED) | _stale(until), pk=fit.pk).update(
        status=ClvFit.Status.RUNNING, started_at=until, stage="loading", progress=5, observed_until=until, error="")
    if not claimed:
        fit.refresh_from_db()
        return fit
    span = _first_order_span_days(shop, until)
    holdout_days = min(HOLDOUT_MAX_DAYS, span / 3) if span else 0.0
    has_holdout = holdout_days >= HOLDOUT_MIN_DAYS
    calibration_end = until - dt.timedelta(days=holdout_days if has_holdout else 0)
    data = _load(shop, until, calibration_end)
    if data.ids.size < MIN_CUSTOMERS:
        raise ValueError(f"at least {MIN_CUSTOMERS} customers with orders are needed, the shop has {data.ids.size}")
    until_day = until.timestamp() / DAY_SECONDS
    cal_day = calibration_end.timestamp() / DAY_SECONDS

    holdout: dict = {}
    if has_holdout and int((data.first < cal_day).sum()) >= MIN_CUSTOMERS:
        _progress(fit, "holdout", 25)
        holdout = _holdout_check(data, cal_day, holdout_days)
        holdout["calibration_end"] = calibration_end.isoformat()

    _progress(fit, "fitting", 55)
    x = data.orders - 1
    t_x = (data.last - data.first) / WEEK_DAYS
    T = (until_day - data.first) / WEEK_DAYS
    fitted = _fit_bgnbd(x, t_x, T)
    average = data.net / data.orders
    usable = (x >= 1) & (average > 0)
    gg = gamma_gamma.fit(x[usable], average[usable]) if usable.sum() >= MIN_CUSTOMERS else None
    value_frequency_correlation = (float(np.corrcoef(x[usable], average[usable])[0, 1])
                                   if usable.sum() >= 3 else None)

    _progress(fit, "scoring", 75)
    scored = (until_day - data.first) >= MIN_HISTORY_DAYS
    p = fitted.params
    alive = bgnbd.p_alive(p, x, t_x, T)
    e90 = bgnbd.expected_orders(p, 90 / WEEK_DAYS, x, t_x, T)
    e365 = bgnbd.expected_orders(p, 365 / WEEK_DAYS, x, t_x, T)
    if gg is not None:
        population_value = gg.p * gg.gamma / (gg.q - 1) if gg.q > 1 else float(np.mean(average[usable]))
        value = np.where(usable, gamma_gamma.expected_order_value(gg, x, np.where(usable, average, 1.0)),
                         population_value)
    else:
        # Too few repeat customers for Gamma-Gamma: each customer's own average, the shop's for the rest.
        positive = average[average > 0]
        value = np.where(average > 0, average, float(positive.mean()) if positive.size else 0.0)
    lapse = (data.orders >= 2) & (alive < LAPSE_P_ALIVE)

    _progress(fit, "saving", 90)
    from commerce.services.copy import copy_rows

    columns = ("shop_id", "fit_id", "customer_shopify_id", "orders", "p_alive", "expected_orders_90",
               "expected_orders_365", "expected_order_value", "predicted_clv_365", "likely_to_lapse")
    rows = (
        (shop.pk, fit.pk, int(data.ids[i]), int(data.orders[i]), float(alive[i]), float(e90[i]), float(e365[i]),
         _money(value[i]), _money(e365[i] * value[i]), bool(lapse[i]))
        for i in np.flatnonzero(scored)
    )
    with transaction.atomic(), connection.cursor() as cur:
        # Replace the previous fit's predictions wholesale: readers see the old set or the new one.
        CustomerPrediction.objects.for_shop(shop).delete()
        written = copy_rows(cur, CustomerPrediction._meta.db_table, columns, rows)
        ClvFit.objects.filter(pk=fit.pk).update(
            status=ClvFit.Status.SUCCEEDED, stage="done", progress=100, finished_at=timezone.now(),
            customers=written,
            bgnbd_params={**p.as_dict(), "log_likelihood": fitted.log_likelihood, "converged": fitted.converged,
                          "customers": int(data.ids.size)},
            gamma_gamma_params=({**gg.as_dict(), "customers": int(usable.sum()),
                                 "value_frequency_correlation": value_frequency_correlation} if gg else {}),
            holdout=holdout,
        )
    fit.refresh_from_db()
    log.info("CLV fit %s of shop %s: %s customers scored", fit.pk, shop.pk, written)
    return fit
