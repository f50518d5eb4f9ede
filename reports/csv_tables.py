"""The CSV export of each report table: name -> builder(request, shop) -> (filename, header, rows).

Each builder reuses the page's own context builder, so the file holds exactly the numbers on screen
(same range, comparison and rules), only unrounded.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from django.http import HttpRequest
from django.utils.translation import gettext as _

from . import selectors, views
from .presentation import SEGMENT_LABELS

Table = tuple[str, Sequence[str], Iterable[Sequence]]


def _metrics(request: HttpRequest, shop) -> Table:
    ctx = views._metrics_context(request, shop)
    p, c = ctx["period"], ctx["comparison"]
    header = [_("Metric"), _("Value"), _("Comparison value"), _("Change"), _("Definition"), _("Inputs")]
    rows = []
    for card in ctx["cards"]:
        inputs = "; ".join(f"{i.label}: {'' if i.value is None else i.value}" for i in card.inputs)
        rows.append([card.label, card.value, card.previous, card.change, card.definition, inputs])
    name = f"retention-metrics-{p.start}-{p.end}" + (f"-vs-{c.start}-{c.end}" if c else "") + ".csv"
    return name, header, rows


def _second_order(request: HttpRequest, shop) -> Table:
    ctx = views._metrics_context(request, shop)
    return (f"days-to-second-order-{ctx['period'].start}-{ctx['period'].end}.csv",
            [_("Days between first and second order"), _("Customers")], ctx["histogram_rows"])


def _cohorts(kind: str) -> Callable[[HttpRequest, object], Table]:
    def build(request: HttpRequest, shop) -> Table:
        ctx = views._cohorts_context(request, shop)
        matrix = ctx["matrix"]
        header = [_("Cohort"), _("Customers"), *[_("Month %(n)s") % {"n": k} for k in range(matrix.offsets)]]
        rows = []
        for cohort in matrix.cohorts:
            values = cohort.active_share if kind == "customers" else cohort.cumulative_revenue_per_customer
            rows.append([cohort.month.strftime("%Y-%m"), cohort.customers, *values])
        return f"cohorts-{kind}-{matrix.first_month:%Y-%m}-{matrix.last_month:%Y-%m}.csv", header, rows

    return build


def _segments(request: HttpRequest, shop) -> Table:
    rfm = selectors.rfm_overview(shop)
    header = [_("Segment"), _("Customers"), _("Share of customers"), _("Net revenue"), _("Share of revenue"),
              _("Average orders"), _("Average days since last order")]
    rows = [[SEGMENT_LABELS[s.segment], s.customers, s.share_of_customers, s.net_revenue, s.share_of_revenue,
             s.average_orders, s.average_recency_days] for s in rfm.segments]
    return "rfm-segments.csv", header, rows


def _segment_customers(request: HttpRequest, shop) -> Table:
    try:
        segment = selectors.Segment(request.GET.get("segment", ""))
    except ValueError as exc:
        raise views.BadRange(_("Unknown segment.")) from exc
    header = [_("Customer ID"), _("First name"), _("Last name"), _("E-mail"), _("Last order"), _("Orders"),
              _("Net revenue"), "R", "F", "M"]
    rows = ([c.customer_shopify_id, c.first_name, c.last_name, c.email, c.last_order_at, c.orders, c.net_revenue,
             c.recency_score, c.frequency_score, c.monetary_score]
            for c in selectors.rfm_segment_customers_all(shop, segment))
    return f"rfm-{segment.value}.csv", header, rows


def _loyalty(request: HttpRequest, shop) -> Table:
    ctx = views._loyalty_context(request, shop)
    header = [_("Measure"), _("Members"), _("Non-members"), _("Members (comparison)"), _("Non-members (comparison)")]
    rows = [[r["label"], r["members"], r["non_members"], r["previous_members"], r["previous_non_members"]]
            for r in ctx["rows"]]
    impact = ctx["impact"]
    if impact is not None:
        rows.append([_("Revenue from orders that used rewards"), impact.reward_revenue, "", "", ""])
        rows.append([_("Orders that used rewards"), impact.reward_orders, "", "", ""])
    p = ctx["period"]
    return f"loyalty-impact-{p.start}-{p.end}.csv", header, rows


def _predictions(lapsing_only: bool) -> Callable[[HttpRequest, object], Table]:
    def build(request: HttpRequest, shop) -> Table:
        header = [_("Customer ID"), _("Name"), _("E-mail"), _("Orders"), _("Net revenue"), _("P(active)"),
                  _("Expected orders, 90 days"), _("Expected orders, 365 days"), _("Expected order value"),
                  _("Predicted value, 365 days"), _("Likely to lapse")]
        rows = ([c.customer_shopify_id, c.name, c.email, c.orders, c.net_revenue, c.p_alive, c.expected_orders_90,
                 c.expected_orders_365, c.expected_order_value, c.predicted_clv_365, c.likely_to_lapse]
                for c in selectors.predicted_customers_all(shop, lapsing_only=lapsing_only))
        return ("customers-likely-to-lapse.csv" if lapsing_only else "predicted-value.csv"), header, rows

    return build


def _holdout(request: HttpRequest, shop) -> Table:
    fit = selectors.clv_fit_current(shop)
    groups = (fit.holdout or {}).get("by_repeat_orders", []) if fit else []
    header = [_("Repeat orders in calibration"), _("Customers"), _("Predicted orders per customer"),
              _("Actual orders per customer")]
    rows = [[f"{g['repeat_orders']}{'+' if g['or_more'] else ''}", g["customers"], g["predicted"], g["actual"]]
            for g in groups]
    return "clv-holdout-check.csv", header, rows


CSV_TABLES: dict[str, Callable[[HttpRequest, object], Table]] = {
    "metrics": _metrics,
    "second-order": _second_order,
    "cohorts-customers": _cohorts("customers"),
    "cohorts-revenue": _cohorts("revenue"),
    "segments": _segments,
    "segment-customers": _segment_customers,
    "loyalty": _loyalty,
    "predictions": _predictions(False),
    "lapsing": _predictions(True),
    "holdout": _holdout,
}
