"""Embedded admin pages of the referral programme: overview (numbers, conversion chart and table, top
referrers), the referrals list by status, the review queue of flagged referrals, a referral's history,
settings, and the conversion CSV. Pages load with @embedded_view; forms post with fetch (App Bridge adds
the session token) to @session_token_required endpoints answering JSON."""
from __future__ import annotations

import csv
import io

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from shops.embedded import embedded_view, session_token_required

from . import selectors, services
from .forms import DecisionForm, ProgrammeForm
from .models import Referral
from .services.fraud import reason_labels


def _errors(form) -> JsonResponse:
    return JsonResponse({"ok": False, "errors": form.errors.get_json_data()}, status=400)


def _staff(request: HttpRequest, typed: str = "") -> str:
    # Session tokens carry the staff member's user id (`sub`), not a name: keep both on the record.
    sub = (getattr(request, "session_claims", None) or {}).get("sub", "")
    return f"{typed} (user {sub})".strip() if sub else typed


def _chart(rows: list[dict]) -> dict:
    return {
        "type": "bar", "y": "number",
        "labels": [r["month"].strftime("%Y-%m") for r in rows],
        "datasets": [
            {"label": str(_("Link clicks")), "data": [r["clicks"] for r in rows]},
            {"label": str(_("Friend codes")), "data": [r["codes"] for r in rows]},
            {"label": str(_("First orders")), "data": [r["orders"] for r in rows]},
        ],
    }


@embedded_view
@require_GET
def overview(request: HttpRequest) -> HttpResponse:
    rows = selectors.conversion_by_month(request.shop)
    return render(request, "referrals/overview.html", {
        "nav": "referrals", "numbers": selectors.programme_numbers(request.shop), "rows": rows,
        "chart": _chart(rows), "top": selectors.top_referrers(request.shop),
        "programme": services.programme_get(request.shop),
    })


@embedded_view
@require_GET
def referrals_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    page = selectors.referrals_page(request.shop, status=status, page=request.GET.get("page") or 1)
    return render(request, "referrals/list.html", {
        "nav": "referrals_list", "page": page, "status": status, "statuses": Referral.Status.choices,
    })


@embedded_view
@require_GET
def review(request: HttpRequest) -> HttpResponse:
    page = selectors.referrals_page(request.shop, status=Referral.Status.FLAGGED, page=request.GET.get("page") or 1)
    items = [(r, reason_labels(r.fraud_reasons)) for r in page]
    return render(request, "referrals/review.html", {"nav": "referrals_review", "page": page, "items": items,
                                                     "form": DecisionForm()})


@embedded_view
@require_GET
def detail(request: HttpRequest, referral_id: int) -> HttpResponse:
    try:
        referral = selectors.referral_get(request.shop, referral_id=referral_id)
    except Referral.DoesNotExist:
        return render(request, "referrals/not_found.html", {"nav": "referrals_list"}, status=404)
    return render(request, "referrals/detail.html", {
        "nav": "referrals_list", "referral": referral, "reasons": reason_labels(referral.fraud_reasons),
        "events": [(e, reason_labels(e.reasons)) for e in referral.events.all().order_by("created_at", "pk")],
        "form": DecisionForm(),
    })


@csrf_exempt  # authenticated by the bearer session token, which no other site can send
@session_token_required
@require_POST
def decide(request: HttpRequest, referral_id: int) -> JsonResponse:
    form = DecisionForm(request.POST)
    if not form.is_valid():
        return _errors(form)
    data = form.cleaned_data
    action = services.referral_approve if data["decision"] == "approve" else services.referral_reject
    try:
        referral = action(shop=request.shop, referral_id=referral_id, staff_name=_staff(request, data["staff_name"]),
                          note=data["note"])
    except services.ReferralRefused as exc:
        return JsonResponse({"ok": False, "errors": {"decision": [{"message": exc.message}]}}, status=400)
    return JsonResponse({"ok": True, "status": referral.status, "message": _("Decision recorded."), "reload": True})


@embedded_view
@require_GET
def settings_page(request: HttpRequest) -> HttpResponse:
    programme = services.programme_get(request.shop)
    return render(request, "referrals/settings.html", {"nav": "referrals_settings", "form": ProgrammeForm(instance=programme),
                                                       "programme": programme})


@csrf_exempt
@session_token_required
@require_POST
def settings_save(request: HttpRequest) -> JsonResponse:
    form = ProgrammeForm(request.POST, instance=services.programme_get(request.shop))
    if not form.is_valid():
        return _errors(form)
    services.programme_update(shop=request.shop, changes={n: form.cleaned_data[n] for n in form.fields},
                              staff_name=_staff(request))
    return JsonResponse({"ok": True, "message": _("Settings saved.")})


@session_token_required
@require_GET
def conversion_csv(request: HttpRequest) -> HttpResponse:
    """Month, clicks, friend codes, first orders, conversion (orders / clicks) — the overview's table."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([_("Month"), _("Link clicks"), _("Friend codes"), _("First orders"), _("Conversion")])
    for row in selectors.conversion_by_month(request.shop, months=int(request.GET.get("months") or 12) if (request.GET.get("months") or "12").isdigit() else 12):
        conversion = "" if row["conversion"] is None else f"{row['conversion']:.4f}"
        writer.writerow([row["month"].strftime("%Y-%m"), row["clicks"], row["codes"], row["orders"], conversion])
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="referral-conversion.csv"'
    return response
