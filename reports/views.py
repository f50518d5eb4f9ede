"""The embedded home page: sync progress and the first retention numbers."""
from __future__ import annotations

import datetime as dt

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from shops.embedded import embedded_view, session_token_required

from . import selectors


class BadRange(ValueError):
    pass


def _period(request: HttpRequest, shop) -> selectors.DateRange:
    raw_start, raw_end = request.GET.get("start"), request.GET.get("end")
    if not raw_start and not raw_end:
        return selectors.default_range(shop)
    try:
        start = dt.date.fromisoformat(raw_start or "")
        end = dt.date.fromisoformat(raw_end or "")
    except ValueError as exc:
        raise BadRange(_("Dates must be given as YYYY-MM-DD.")) from exc
    if start > end:
        raise BadRange(_("The start date is after the end date."))
    if (end - start).days > 366 * 20:
        raise BadRange(_("The period can be at most 20 years long."))
    return selectors.DateRange(start, end)


def _overview_context(shop, period: selectors.DateRange) -> dict:
    months = selectors.monthly_new_vs_returning(shop, period)
    return {
        "period": period,
        "overview": selectors.overview(shop, period),
        "months": months,
        "chart": {
            "labels": [m.month.strftime("%Y-%m") for m in months],
            "new": [m.new_customer_orders for m in months],
            "returning": [m.returning_customer_orders for m in months],
            "guest": [m.guest_orders for m in months],
        },
    }


@embedded_view
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    shop = request.shop
    try:
        period = _period(request, shop)
        error = ""
    except BadRange as exc:
        period, error = selectors.default_range(shop), str(exc)
    from commerce.models import Order

    context = {
        "nav": "home", "error": error, "synced_orders": Order.objects.for_shop(shop).count(),
        **_overview_context(shop, period),
    }
    return render(request, "reports/home.html", context, status=400 if error else 200)


@session_token_required
@require_GET
def overview_fragment(request: HttpRequest) -> HttpResponse:
    try:
        period = _period(request, request.shop)
    except BadRange as exc:
        return render(request, "reports/_error.html", {"error": str(exc)}, status=400)
    return render(request, "reports/_overview.html", _overview_context(request.shop, period))


def _run_json(run) -> dict | None:
    if run is None:
        return None
    return {
        "id": run.id, "kind": run.kind, "status": run.status, "stage": run.stage,
        "rows_read": run.rows_read, "rows_written": run.rows_written, "rows_total": run.rows_total,
        "percent": run.percent, "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "error": run.error, "stalled": run.stalled,
    }


@session_token_required
@require_GET
def sync_status(request: HttpRequest) -> JsonResponse:
    from commerce.selectors import sync_status as commerce_sync_status

    status = commerce_sync_status(request.shop)
    return JsonResponse({
        "customers": status.customers,
        "orders": status.orders,
        "last_good_sync_at": status.last_good_sync_at.isoformat() if status.last_good_sync_at else None,
        "active": _run_json(status.active),
        "latest_backfill": _run_json(status.latest_backfill),
        "can_retry": status.can_retry,
    })


@csrf_exempt  # authenticated by the session token in the Authorization header, which no other site can send
@session_token_required
@require_POST
def sync_retry(request: HttpRequest) -> JsonResponse:
    from commerce.selectors import sync_status as commerce_sync_status
    from commerce.services.sync import sync_request

    if not commerce_sync_status(request.shop).can_retry:
        return JsonResponse({"error": _("A sync is already running or the last one succeeded.")}, status=409)
    run = sync_request(shop=request.shop)
    return JsonResponse({"run_id": run.pk, "status": run.status}, status=202)
