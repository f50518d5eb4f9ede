"""Embedded pages (coupons, segments, campaigns, surveys) and the public pages behind signed links.

Pages load with `@embedded_view`; changes are POSTed by fetch with the session token
(`@session_token_required`, CSRF-exempt because only our page can hold that token) and answer JSON:
{"redirect": url} or {"errors": [...]} in plain words.
"""
from __future__ import annotations

import csv
import io

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from shops.embedded import embedded_view, session_token_required
from shops.models import Shop

from . import emails, kinds, signing
from .forms import CampaignForm, CouponForm, TestSendForm
from .models import Campaign, Coupon, CouponCode, Recipient, SurveyResponse
from .selectors import results, segments, surveys
from .services import codes as code_service
from .services import consent, coupons, runs, sending
from .services import surveys as survey_service
from .shopify import ShopifyRefused, ShopifyUnavailable

UNAVAILABLE = _("Shopify could not be reached just now. Nothing was lost; please try again in a minute.")


def _errors(messages: list[str], status: int = 400) -> JsonResponse:
    return JsonResponse({"errors": [str(m) for m in messages]}, status=status)


def _form_errors(form) -> JsonResponse:
    return _errors([f"{form.fields[f].label if f in form.fields else ''}: {' '.join(e)}".lstrip(": ")
                    for f, e in form.errors.items()])


def _coupon(shop: Shop, coupon_id: int) -> Coupon:
    coupon = Coupon.objects.filter(shop=shop, pk=coupon_id).first()
    if coupon is None:
        raise Http404
    return coupon


def _campaign(shop: Shop, campaign_id: int) -> Campaign:
    campaign = Campaign.objects.filter(shop=shop, pk=campaign_id).select_related("coupon").first()
    if campaign is None:
        raise Http404
    return campaign


# --- coupons -----------------------------------------------------------------------------------------


@embedded_view
@require_GET
def coupon_list(request: HttpRequest) -> HttpResponse:
    return render(request, "campaigns/coupons.html", {
        "nav": "coupons", "rows": results.coupon_list(request.shop)})


@embedded_view
@require_GET
def coupon_new(request: HttpRequest) -> HttpResponse:
    return render(request, "campaigns/coupon_form.html", {
        "nav": "coupons", "coupon": None, "segments": segments.catalogue(request.shop),
        "kinds": Coupon.Kind.choices, "audiences": Coupon.Audience.choices})


@embedded_view
@require_GET
def coupon_detail(request: HttpRequest, coupon_id: int) -> HttpResponse:
    shop = request.shop
    coupon = _coupon(shop, coupon_id)
    return render(request, "campaigns/coupon_detail.html", {
        "nav": "coupons", "coupon": coupon, "usage": results.coupon_usage(shop, [coupon.pk]).get(coupon.pk),
        "progress": code_service.code_progress(shop=shop, coupon=coupon),
        "codes": CouponCode.objects.filter(shop=shop, coupon=coupon).order_by("id")[:20],
        "segments": segments.catalogue(shop), "kinds": Coupon.Kind.choices, "audiences": Coupon.Audience.choices})


def _valid(form, shop: Shop) -> bool:
    """Validate with the shop's time zone active: a date the merchant types is a date in their shop."""
    with timezone.override(segments.shop_zone(shop)):
        return form.is_valid()


def _save_coupon(request: HttpRequest, coupon_id: int | None) -> JsonResponse:
    form = CouponForm(request.POST)
    if not _valid(form, request.shop):
        return _form_errors(form)
    shop = request.shop
    spec = form.spec(segments.shop_zone(shop))
    try:
        if coupon_id is None:
            coupon = coupons.coupon_create(shop=shop, spec=spec)
        else:
            coupon = coupons.coupon_update(shop=shop, coupon_id=_coupon(shop, coupon_id).pk, spec=spec)
    except coupons.CouponInvalid as exc:
        return _errors(exc.messages)
    except ShopifyRefused as exc:
        return _errors(exc.messages, status=422)
    except ShopifyUnavailable:
        return _errors([UNAVAILABLE], status=503)
    return JsonResponse({"redirect": reverse("campaigns:coupon_detail", args=[coupon.pk])})


@csrf_exempt  # authenticated by the session token in the Authorization header, which no other site can send
@session_token_required
@require_POST
def coupon_create(request: HttpRequest) -> JsonResponse:
    return _save_coupon(request, None)


@csrf_exempt
@session_token_required
@require_POST
def coupon_update(request: HttpRequest, coupon_id: int) -> JsonResponse:
    return _save_coupon(request, coupon_id)


@csrf_exempt
@session_token_required
@require_POST
def coupon_delete(request: HttpRequest, coupon_id: int) -> JsonResponse:
    try:
        coupons.coupon_delete(shop=request.shop, coupon_id=_coupon(request.shop, coupon_id).pk)
    except ShopifyRefused as exc:
        return _errors(exc.messages, status=422)
    except ShopifyUnavailable:
        return _errors([UNAVAILABLE], status=503)
    return JsonResponse({"redirect": reverse("campaigns:coupons")})


@csrf_exempt
@session_token_required
@require_POST
def coupon_resume(request: HttpRequest, coupon_id: int) -> JsonResponse:
    coupon = _coupon(request.shop, coupon_id)
    if not coupon.shopify_discount_gid:
        try:
            coupons.coupon_push(shop=request.shop, coupon_id=coupon.pk)
        except ShopifyRefused as exc:
            return _errors(exc.messages, status=422)
        except ShopifyUnavailable:
            return _errors([UNAVAILABLE], status=503)
    else:
        code_service.codes_schedule(shop=request.shop, coupon_id=coupon.pk)
    return JsonResponse({"redirect": reverse("campaigns:coupon_detail", args=[coupon.pk])})


@session_token_required
@require_GET
def coupon_progress(request: HttpRequest, coupon_id: int) -> JsonResponse:
    coupon = _coupon(request.shop, coupon_id)
    p = code_service.code_progress(shop=request.shop, coupon=coupon)
    return JsonResponse({"requested": p.requested, "active": p.active, "pending": p.pending, "failed": p.failed,
                         "batches_done": p.batches_done, "batches_total": p.batches_total, "percent": p.percent,
                         "finished": p.finished, "stalled": p.stalled, "status": coupon.status,
                         "error": coupon.sync_error})


@session_token_required
@require_GET
def coupon_codes_csv(request: HttpRequest, coupon_id: int) -> HttpResponse:
    """Every active code (and the customer it was made for), streamed from the database in id order."""
    coupon = _coupon(request.shop, coupon_id)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["code", "status", "customer_email"])
    rows = (CouponCode.objects.filter(shop=request.shop, coupon=coupon).order_by("id")
            .values_list("code", "status", "recipient__email"))
    for code, status, email in rows.iterator(chunk_size=5000):
        writer.writerow([code, status, email or ""])
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="coupon-{coupon.pk}-codes.csv"'
    return response


# --- segments ----------------------------------------------------------------------------------------


@embedded_view
@require_GET
def segment_list(request: HttpRequest) -> HttpResponse:
    shop = request.shop
    return render(request, "campaigns/segments.html", {
        "nav": "segments", "segments": segments.segment_overview(shop),
        "suggestion": segments.lapse_suggestion(shop)})


@embedded_view
@require_GET
def segment_detail(request: HttpRequest, key: str) -> HttpResponse:
    shop = request.shop
    try:
        info = segments.segment_info(shop, key)
        preview = segments.segment_preview(shop, key, marketing=request.GET.get("marketing") == "1")
        unavailable = ""
    except segments.UnknownSegment as exc:
        raise Http404 from exc
    except segments.SegmentUnavailable as exc:
        preview, unavailable = [], str(exc)
    return render(request, "campaigns/segment_detail.html", {
        "nav": "segments", "info": info, "preview": preview, "unavailable": unavailable,
        "marketing": request.GET.get("marketing") == "1"})


# --- campaigns ---------------------------------------------------------------------------------------


@embedded_view
@require_GET
def campaign_list(request: HttpRequest) -> HttpResponse:
    shop = request.shop
    automated = [runs.campaign_for_kind(shop=shop, kind=k) for k in kinds.KINDS if k != Campaign.Kind.SEASONAL]
    seasonal = list(Campaign.objects.filter(shop=shop, kind=Campaign.Kind.SEASONAL).order_by("-created_at"))
    rows = [(c, kinds.kind_of(c), results.campaign_results(shop, c)) for c in automated + seasonal]
    return render(request, "campaigns/campaigns.html", {
        "nav": "campaigns", "rows": rows, "segments": segments.catalogue(shop),
        # A report's "win them back" link names the segment the new send starts with.
        "chosen_segment": request.GET.get("segment", "")})


@embedded_view
@require_GET
def campaign_detail(request: HttpRequest, campaign_id: int) -> HttpResponse:
    shop = request.shop
    campaign = _campaign(shop, campaign_id)
    kind = kinds.kind_of(campaign)
    return render(request, "campaigns/campaign_detail.html", {
        "nav": "campaigns", "campaign": campaign, "kind": kind, "settings": kinds.campaign_settings(campaign),
        "results": results.campaign_results(shop, campaign), "runs": campaign.runs.order_by("-run_date")[:10],
        "languages": emails.LANGUAGES, "language": emails.language_for(shop, campaign),
        "segments": segments.catalogue(shop), "suggestion": segments.lapse_suggestion(shop),
        "recent": Recipient.objects.filter(shop=shop, campaign=campaign).order_by("-assigned_at")[:20]})


@csrf_exempt
@session_token_required
@require_POST
def campaign_save(request: HttpRequest, campaign_id: int) -> JsonResponse:
    shop = request.shop
    campaign = _campaign(shop, campaign_id)
    form = CampaignForm(request.POST)
    if not _valid(form, shop):
        return _form_errors(form)
    d = form.cleaned_data
    raw = {s.key: request.POST.get(s.key) for s in kinds.kind_of(campaign).settings}
    try:
        runs.campaign_configure(
            shop=shop, campaign_id=campaign.pk, enabled=d["enabled"], settings=raw,
            control_percent=d["control_percent"], attribution_days=d["attribution_days"], send_hour=d["send_hour"],
            language=d.get("language") or "", name=d.get("name"),
            segment_key=d.get("segment_key") or None if campaign.kind == Campaign.Kind.SEASONAL else None,
            scheduled_for=(d["scheduled_for"].replace(tzinfo=segments.shop_zone(shop))
                           if d.get("scheduled_for") and d["scheduled_for"].tzinfo is None else d.get("scheduled_for")))
    except runs.CampaignInvalid as exc:
        return _errors(exc.messages)
    except ShopifyRefused as exc:
        return _errors(exc.messages, status=422)
    except ShopifyUnavailable:
        return _errors([UNAVAILABLE], status=503)
    return JsonResponse({"redirect": reverse("campaigns:campaign_detail", args=[campaign.pk])})


@csrf_exempt
@session_token_required
@require_POST
def seasonal_create(request: HttpRequest) -> JsonResponse:
    form = CampaignForm(request.POST)
    if not _valid(form, request.shop) or not form.cleaned_data.get("scheduled_for") or not form.cleaned_data.get("segment_key"):
        return _errors([_("Give the send a name, a segment and a date.")])
    d = form.cleaned_data
    shop = request.shop
    when = d["scheduled_for"]
    if when.tzinfo is None:
        when = when.replace(tzinfo=segments.shop_zone(shop))
    campaign = runs.seasonal_create(shop=shop, name=d.get("name") or "", segment_key=d["segment_key"],
                                    scheduled_for=when)
    return JsonResponse({"redirect": reverse("campaigns:campaign_detail", args=[campaign.pk])})


@embedded_view
@require_GET
def campaign_preview(request: HttpRequest, campaign_id: int, language: str) -> HttpResponse:
    shop = request.shop
    campaign = _campaign(shop, campaign_id)
    if language not in emails.LANGUAGES:
        raise Http404
    envelope = emails.Envelope(None, "customer@example.com", _("Alex"), None,
                               "PREVIEW-CODE" if kinds.discount_percent(campaign) else "",
                               sending._sample_context(campaign))
    rendered = emails.render(shop, campaign, envelope, language)
    if request.GET.get("format") == "text":
        return HttpResponse(f"Subject: {rendered.subject}\n\n{rendered.text}", content_type="text/plain; charset=utf-8")
    return HttpResponse(rendered.html)


@csrf_exempt
@session_token_required
@require_POST
def campaign_test_send(request: HttpRequest, campaign_id: int) -> JsonResponse:
    campaign = _campaign(request.shop, campaign_id)
    form = TestSendForm(request.POST)
    if not form.is_valid() or form.cleaned_data["language"] not in emails.LANGUAGES:
        return _errors([_("Enter an e-mail address and choose a language.")])
    try:
        sending.test_send(shop=request.shop, campaign=campaign, to=form.cleaned_data["to"],
                          language=form.cleaned_data["language"])
    except OSError as exc:
        return _errors([_("The mail server did not accept the message: %(error)s") % {"error": exc}], status=502)
    return JsonResponse({"message": _("Test e-mail sent to %(to)s.") % {"to": form.cleaned_data["to"]}})


# --- surveys -----------------------------------------------------------------------------------------


@embedded_view
@require_GET
def survey_overview(request: HttpRequest) -> HttpResponse:
    shop = request.shop
    return render(request, "campaigns/surveys.html", {
        "nav": "surveys",
        "nps_months": surveys.scores_by_month(shop, "nps"), "csat_months": surveys.scores_by_month(shop, "csat"),
        "nps_segments": surveys.scores_by_segment(shop, "nps"),
        "csat_segments": surveys.scores_by_segment(shop, "csat"),
        "reasons": surveys.churn_reasons(shop), "comments": surveys.recent_comments(shop)})


# --- public pages behind signed links ----------------------------------------------------------------


@csrf_exempt  # the signed token is the authorisation; mail providers' one-click POST carries no CSRF token
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    try:
        claim = signing.unsubscribe_claim(token)
    except signing.BadToken:
        return render(request, "campaigns/public/message.html", {"message": _("This link is not valid.")}, status=400)
    shop = Shop.objects.filter(pk=claim.shop_id).first()
    if shop is None:
        raise Http404
    if request.method == "POST":
        source = "one-click" if request.POST.get("List-Unsubscribe") == "One-Click" else "link"
        consent.unsubscribe(shop=shop, email=claim.email, customer_shopify_id=claim.customer_shopify_id, source=source)
        return render(request, "campaigns/public/message.html", {"shop": shop, "message": _(
            "You are unsubscribed. %(shop)s will not send you these e-mails any more.") % {"shop": shop.name}})
    # GET only asks: link scanners in mail systems open every link, and must not unsubscribe anyone.
    return render(request, "campaigns/public/unsubscribe.html", {
        "shop": shop, "email": claim.email, "done": consent.is_unsubscribed(shop=shop, email=claim.email)})


@csrf_exempt  # the signed token is the authorisation
@require_http_methods(["GET", "POST"])
def survey(request: HttpRequest, token: str) -> HttpResponse:
    try:
        claim = signing.survey_claim(token)
    except signing.BadToken as exc:
        return render(request, "campaigns/public/message.html", {"message": str(exc)}, status=400)
    shop = Shop.objects.filter(pk=claim.shop_id).first()
    if shop is None:
        raise Http404
    error = ""
    if request.method == "POST":
        raw_score = request.POST.get("score", "")
        try:
            survey_service.survey_answer(
                shop=shop, recipient_id=claim.recipient_id, question=claim.question,
                score=int(raw_score) if raw_score.strip().lstrip("-").isdigit() else None,
                reason=request.POST.get("reason", ""), comment=request.POST.get("comment", ""))
        except survey_service.SurveyInvalid as exc:
            error = str(exc)
        else:
            return render(request, "campaigns/public/message.html", {"shop": shop, "message": _(
                "Thank you! Your answer helps %(shop)s do better.") % {"shop": shop.name}})
    scale = list(range(11)) if claim.question == "nps" else list(range(1, 6)) if claim.question == "csat" else []
    return render(request, "campaigns/public/survey.html", {
        "shop": shop, "question": claim.question, "scale": scale, "error": error,
        "reasons": [(r, str(label)) for r, label in SurveyResponse.Reason.choices],
        "selected_score": request.POST.get("score") or request.GET.get("score", ""),
        "selected_reason": request.POST.get("reason") or request.GET.get("reason", "")},
        status=400 if error else 200)
