"""The embedded pages of the reports: the home page (sync progress, first numbers) and the retention
reports (metrics, cohorts, segments, loyalty impact, predicted value), their fragments and CSV exports.

Pages are document loads (@embedded_view, session token in `id_token`); the pickers then fetch the
report's fragment, the CSV exports and the CLV fit status with the session token in the Authorization
header (@session_token_required). Views parse and authorise, call selectors, render.
"""
from __future__ import annotations

import dataclasses
import datetime as dt

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from core.concurrency import run_together
from shops.embedded import embedded_view, session_token_required

from . import exports, selectors
from .models import ClvFit
from .presentation import LOYALTY_ROWS, SEGMENT_DESCRIPTIONS, SEGMENT_LABELS, metric_cards
from .selectors.periods import Comparison


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
    from commerce.services.runs import last_good_sync_at

    # When the last complete sync finished as of these numbers: the page reloads them when it changes.
    # (A timestamp rather than a count of orders: counting a million orders costs more than the page.)
    shown_sync = last_good_sync_at(shop)
    context = {
        "nav": "home", "error": error, "shown_sync": shown_sync.isoformat() if shown_sync else "",
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


# ------------------------------------------------------------------------------------ retention reports

PAGE_SIZE = 50


def _comparison(request: HttpRequest, period: selectors.DateRange) -> tuple[str, selectors.DateRange | None]:
    raw = request.GET.get("compare") or Comparison.PREVIOUS
    try:
        kind = Comparison(raw)
    except ValueError as exc:
        raise BadRange(_("Unknown comparison period.")) from exc
    custom = None
    if kind == Comparison.CUSTOM:
        try:
            custom = selectors.DateRange(dt.date.fromisoformat(request.GET.get("compare_start", "")),
                                         dt.date.fromisoformat(request.GET.get("compare_end", "")))
        except ValueError as exc:
            raise BadRange(_("Give the comparison period's dates as YYYY-MM-DD.")) from exc
        if custom.start > custom.end:
            raise BadRange(_("The comparison period starts after it ends."))
    return kind.value, selectors.comparison_range(period, kind, custom)


def _page(request: HttpRequest) -> int:
    try:
        return max(1, int(request.GET.get("page", "1")))
    except ValueError:
        return 1


def _metrics_context(request: HttpRequest, shop) -> dict:
    from .services import report_settings_get

    period = _period(request, shop)
    compare, comparison = _comparison(request, period)
    report_settings = report_settings_get(shop)
    margin = report_settings.gross_margin
    periods = [period, comparison] if comparison else [period]
    # Two rounds of independent reads on two connections (core.concurrency): the activity window and
    # both periods' second-order gaps; then each period's numbers, which need the window. When they run
    # together, the previous period computes its own end count (the current period's start count) instead
    # of waiting for it.
    window, gaps = run_together(
        lambda: selectors.active_window_days(shop, report_settings.active_window_days),
        lambda: selectors.second_order_gaps(shop, periods),
    )
    active_counts: dict = {}  # this request's active-customer counts, shared when run in turn

    def current_and_comparison_new_active():
        # The comparison period's new customers still active at its end (a past instant: ~80 ms) run
        # on this connection after the current period (~110 ms), beside the rest of the comparison
        # (~130 ms): the two connections finish together.
        current = selectors.period_metrics(shop, period, window=window, gross_margin=margin,
                                           active_counts=active_counts, second_order=gaps[0])
        return current, (selectors.new_active_at_end(shop, comparison, window=window) if comparison else None)

    (current, comparison_new_active), previous = run_together(
        current_and_comparison_new_active,
        lambda: (selectors.period_metrics(shop, comparison, window=window, gross_margin=margin,
                                          active_counts=active_counts, second_order=gaps[1],
                                          with_new_active_at_end=False)
                 if comparison else None),
    )
    if previous is not None:
        previous = dataclasses.replace(previous, new_active_at_end=comparison_new_active)
    histogram = current.second_order.histogram
    labels = []
    lower = 0
    for upper, _count in histogram:
        labels.append(f"{lower}–{upper}" if upper is not None else f"> {lower - 1}")
        lower = (upper or 0) + 1
    return {
        "period": period, "compare": compare, "comparison": comparison, "metrics": current,
        "previous": previous, "cards": metric_cards(current, previous), "window": window,
        "report_settings": report_settings, "histogram_rows": list(zip(labels, [c for _u, c in histogram],
                                                                       strict=True)),
        "chart": {"type": "bar", "labels": labels, "y": "number",
                  "datasets": [{"label": _("Customers"), "data": [c for _u, c in histogram]}]},
    }


def _cohort_period(request: HttpRequest, shop) -> selectors.DateRange:
    if not request.GET.get("start") and not request.GET.get("end"):
        today = selectors.shop_today(shop)
        start = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
        for _i in range(10):
            start = (start - dt.timedelta(days=1)).replace(day=1)
        return selectors.DateRange(start, today)
    return _period(request, shop)


def _cohorts_context(request: HttpRequest, shop) -> dict:
    period = _cohort_period(request, shop)
    matrix = selectors.cohort_matrix(shop, period.start, period.end)
    average_share = matrix.average_active_share()
    average_revenue = matrix.average_cumulative_revenue()
    recent = matrix.cohorts[-12:]
    labels = [_("Month %(n)s") % {"n": k} for k in range(matrix.offsets)]

    def series(values):
        return [float(v) if v is not None else None for v in values]

    return {
        "period": period, "matrix": matrix, "offsets": list(range(matrix.offsets)),
        "average_share": average_share, "average_revenue": average_revenue,
        "max_revenue": max((v for c in matrix.cohorts for v in c.cumulative_revenue_per_customer if v is not None),
                           default=None),
        "chart_customers": {"type": "line", "labels": labels[1:], "y": "percent", "datasets": [
            {"label": _("All cohorts"), "data": series(average_share[1:]), "emphasis": True},
            *({"label": c.month.strftime("%Y-%m"), "data": series(c.active_share[1:])} for c in recent)]},
        "chart_revenue": {"type": "line", "labels": labels, "y": "money", "currency": shop.currency, "datasets": [
            {"label": _("All cohorts"), "data": series(average_revenue), "emphasis": True},
            *({"label": c.month.strftime("%Y-%m"), "data": series(c.cumulative_revenue_per_customer)}
              for c in recent)]},
    }


def _segments_context(request: HttpRequest, shop) -> dict:
    overview = selectors.rfm_overview(shop)
    grid_rows = [(r, [overview.grid.get((r, f), 0) for f in range(1, 6)]) for r in range(5, 0, -1)]
    return {
        "rfm": overview, "grid_rows": grid_rows, "grid_max": max(overview.grid.values(), default=0),
        "labels": SEGMENT_LABELS, "descriptions": SEGMENT_DESCRIPTIONS,
        "chart": {"type": "bar", "labels": [SEGMENT_LABELS[s.segment] for s in overview.segments],
                  "y": "number", "datasets": [{"label": _("Customers"),
                                                "data": [s.customers for s in overview.segments]}]},
    }


def _segment_customers_context(request: HttpRequest, shop, segment: str) -> dict:
    try:
        seg = selectors.Segment(segment)
    except ValueError as exc:
        raise BadRange(_("Unknown segment.")) from exc
    page = _page(request)
    rows = selectors.rfm_segment_customers(shop, seg, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)
    return {"segment": seg, "segment_label": SEGMENT_LABELS[seg], "customers": rows[:PAGE_SIZE], "page": page,
            "has_next": len(rows) > PAGE_SIZE, "currency": shop.currency}


def _loyalty_context(request: HttpRequest, shop) -> dict:
    period = _period(request, shop)
    compare, comparison = _comparison(request, period)
    if comparison is None:
        impact, previous = selectors.loyalty_impact(shop, period), None
    else:
        # Both periods at once, one per connection (each then runs its own two reads one after the other).
        impact, previous = run_together(lambda: selectors.loyalty_impact(shop, period),
                                        lambda: selectors.loyalty_impact(shop, comparison))
    rows = []
    if impact is not None:
        for label, getter, kind in LOYALTY_ROWS:
            rows.append({"label": label, "kind": kind, "members": getter(impact.members),
                         "non_members": getter(impact.non_members),
                         "previous_members": getter(previous.members) if previous else None,
                         "previous_non_members": getter(previous.non_members) if previous else None})
    return {"period": period, "compare": compare, "comparison": comparison, "impact": impact,
            "previous": previous, "rows": rows, "currency": shop.currency}


def _predicted_context(request: HttpRequest, shop) -> dict:
    latest = selectors.clv_fit_latest(shop)
    current = selectors.clv_fit_current(shop)
    page = _page(request)
    raw_lapsing = request.GET.get("lapsing_page", "1")
    lapsing_page = max(1, int(raw_lapsing)) if raw_lapsing.isdigit() else 1
    context = {"latest": latest, "fit": current, "currency": shop.currency, "page": page,
               "lapsing_page": lapsing_page}
    if current is not None:
        top = selectors.predicted_customers(shop, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)
        lapsing = selectors.predicted_customers(shop, lapsing_only=True, limit=PAGE_SIZE + 1,
                                                offset=(lapsing_page - 1) * PAGE_SIZE)
        groups = current.holdout.get("by_repeat_orders", []) if current.holdout else []
        context.update({
            "summary": selectors.prediction_summary(shop),
            "top": top[:PAGE_SIZE], "top_has_next": len(top) > PAGE_SIZE,
            "lapsing": lapsing[:PAGE_SIZE], "lapsing_has_next": len(lapsing) > PAGE_SIZE,
            "holdout": current.holdout,
            "chart": {"type": "bar", "y": "decimal",
                      "labels": [f"{g['repeat_orders']}{'+' if g['or_more'] else ''}" for g in groups],
                      "datasets": [{"label": _("Predicted"), "data": [g["predicted"] for g in groups]},
                                   {"label": _("Actual"), "data": [g["actual"] for g in groups]}]},
        })
    return context


# name -> (fragment template, context builder, page title, pickers: "range", "compare")
REPORTS: dict[str, tuple[str, object, object, tuple[str, ...]]] = {
    "metrics": ("reports/_metrics.html", _metrics_context, gettext_lazy("Retention metrics"), ("range", "compare")),
    "cohorts": ("reports/_cohorts.html", _cohorts_context, gettext_lazy("Cohorts"), ("range",)),
    "segments": ("reports/_segments.html", _segments_context, gettext_lazy("Segments"), ()),
    "loyalty": ("reports/_loyalty.html", _loyalty_context, gettext_lazy("Loyalty impact"), ("range", "compare")),
    "predicted": ("reports/_predicted.html", _predicted_context, gettext_lazy("Predicted value"), ()),
}


def _report_page(name: str):
    fragment, build, title, pickers = REPORTS[name]

    @embedded_view
    @require_GET
    def page(request: HttpRequest) -> HttpResponse:
        context = {"nav": f"report_{name}", "title": title, "fragment": fragment, "pickers": pickers, "report": name,
                   "fragment_url": reverse(f"reports:{name}_fragment"), "error": ""}
        try:
            context.update(build(request, request.shop))
            status = 200
        except BadRange as exc:
            # Show the page with the default range and the reason, not a blank error page.
            context["error"] = str(exc)
            context.update(build(_without_range(request), request.shop))
            status = 400
        return render(request, "reports/report.html", context, status=status)

    page.__name__ = f"{name}_page"
    return page


def _report_fragment(name: str):
    fragment, build, _title, _pickers = REPORTS[name]

    @session_token_required
    @require_GET
    def view(request: HttpRequest) -> HttpResponse:
        try:
            context = build(request, request.shop)
        except BadRange as exc:
            return render(request, "reports/_error.html", {"error": str(exc)}, status=400)
        return render(request, fragment, {"report": name, **context})

    view.__name__ = f"{name}_fragment"
    return view


def _without_range(request: HttpRequest) -> HttpRequest:
    clean = request.GET.copy()
    for key in ("start", "end", "compare", "compare_start", "compare_end"):
        clean.pop(key, None)
    request.GET = clean
    return request


metrics_page, metrics_fragment = _report_page("metrics"), _report_fragment("metrics")
cohorts_page, cohorts_fragment = _report_page("cohorts"), _report_fragment("cohorts")
segments_page, segments_fragment = _report_page("segments"), _report_fragment("segments")
loyalty_page, loyalty_fragment = _report_page("loyalty"), _report_fragment("loyalty")
predicted_page, predicted_fragment = _report_page("predicted"), _report_fragment("predicted")


@session_token_required
@require_GET
def segment_customers(request: HttpRequest, segment: str) -> HttpResponse:
    try:
        context = _segment_customers_context(request, request.shop, segment)
    except BadRange as exc:
        return render(request, "reports/_error.html", {"error": str(exc)}, status=404)
    return render(request, "reports/_segment_customers.html", context)


def _fit_json(fit: ClvFit | None) -> dict | None:
    if fit is None:
        return None
    return {"id": fit.pk, "status": fit.status, "stage": fit.stage, "progress": fit.progress,
            "reason": fit.reason, "error": fit.error, "customers": fit.customers,
            "created_at": fit.created_at.isoformat() if fit.created_at else None,
            "finished_at": fit.finished_at.isoformat() if fit.finished_at else None}


@session_token_required
@require_GET
def clv_fit_status(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"latest": _fit_json(selectors.clv_fit_latest(request.shop)),
                         "current": _fit_json(selectors.clv_fit_current(request.shop))})


@csrf_exempt  # authenticated by the session token in the Authorization header, which no other site can send
@session_token_required
@require_POST
def clv_fit_start(request: HttpRequest) -> JsonResponse:
    from .services import clv_fit_request

    fit = clv_fit_request(request.shop, reason=ClvFit.Reason.MERCHANT)
    return JsonResponse({"fit": _fit_json(fit)}, status=202)


@csrf_exempt  # session token, as above
@session_token_required
@require_POST
def settings_save(request: HttpRequest) -> JsonResponse:
    from decimal import Decimal, InvalidOperation

    from .services import report_settings_save

    try:
        raw_margin = (request.POST.get("gross_margin") or "").strip().replace(",", ".")
        margin = Decimal(raw_margin) / 100 if raw_margin else None
        raw_window = (request.POST.get("active_window_days") or "").strip()
        window = int(raw_window) if raw_window else None
        saved = report_settings_save(shop=request.shop, gross_margin=margin, active_window_days=window)
    except (InvalidOperation, ValueError):
        return JsonResponse({"error": _("Gross margin must be 0–100 % and the activity window 7–1095 days.")},
                            status=400)
    return JsonResponse({"gross_margin": str(saved.gross_margin) if saved.gross_margin is not None else None,
                         "active_window_days": saved.active_window_days})


@session_token_required
@require_GET
def export_csv(request: HttpRequest, table: str) -> HttpResponse:
    """Every table of the reports as CSV, with the same query parameters as its page."""
    from .csv_tables import CSV_TABLES

    builder = CSV_TABLES.get(table)
    if builder is None:
        return JsonResponse({"error": "unknown table"}, status=404)
    try:
        filename, header, rows = builder(request, request.shop)
    except BadRange as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    return exports.csv_response(filename, header, rows)
