"""Embedded admin pages of the loyalty programme. Pages load with @embedded_view; forms post with fetch
(App Bridge adds `Authorization: Bearer <session token>`) to @session_token_required endpoints that
answer JSON. Views parse, call one service or selector, and render."""
from __future__ import annotations

import uuid
from decimal import Decimal

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from shops.embedded import embedded_view, session_token_required

from . import selectors, services
from .forms import AdjustForm, PreviewForm, ProgrammeForm, RewardForm, TierForm
from .models import PointsAccount, Reward, Tier


def _errors(form) -> JsonResponse:
    return JsonResponse({"ok": False, "errors": form.errors.get_json_data()}, status=400)


def _staff(request: HttpRequest, typed: str = "") -> str:
    # Session tokens carry the staff member's user id (`sub`), not a name: keep both on the record.
    sub = (getattr(request, "session_claims", None) or {}).get("sub", "")
    return f"{typed} (user {sub})" if sub else typed


@embedded_view
@require_GET
def settings_page(request: HttpRequest) -> HttpResponse:
    programme = services.programme_get(request.shop)
    preview = selectors.earning_preview(programme, subtotal=Decimal("100"), shipping=Decimal("10"), taxes=Decimal("19"))
    return render(request, "loyalty/settings.html", {
        "nav": "loyalty_settings", "form": ProgrammeForm(instance=programme), "preview_form": PreviewForm(),
        "preview": preview, "programme": programme,
    })


@csrf_exempt  # authenticated by the bearer session token, which no other site can send
@session_token_required
@require_POST
def settings_save(request: HttpRequest) -> JsonResponse:
    form = ProgrammeForm(request.POST, instance=services.programme_get(request.shop))
    if not form.is_valid():
        return _errors(form)
    changes = {name: form.cleaned_data[name] for name in form.fields}
    services.programme_update(shop=request.shop, changes=changes, staff_name=_staff(request))
    return JsonResponse({"ok": True, "message": _("Settings saved.")})


@csrf_exempt
@session_token_required
@require_POST
def settings_preview(request: HttpRequest) -> JsonResponse:
    """The preview with the settings as currently typed (not saved)."""
    programme = services.programme_get(request.shop)
    form, example = ProgrammeForm(request.POST, instance=programme), PreviewForm(request.POST)
    if not form.is_valid():
        return _errors(form)
    if not example.is_valid():
        return _errors(example)
    preview = selectors.earning_preview(form.instance, **example.cleaned_data)
    return JsonResponse({"ok": True, "points": preview["points"], "amount": str(preview["amount"]),
                         "holding_days": preview["holding_days"], "currency": request.shop.currency})


@embedded_view
@require_GET
def tiers_page(request: HttpRequest) -> HttpResponse:
    programme = services.programme_get(request.shop)
    tiers = list(Tier.objects.filter(shop=request.shop).order_by("threshold"))
    return render(request, "loyalty/tiers.html", {
        "nav": "loyalty_tiers", "tiers": [(t, TierForm(instance=t, prefix=f"t{t.pk}")) for t in tiers],
        "new_form": TierForm(prefix="new"), "programme": programme,
    })


@csrf_exempt
@session_token_required
@require_POST
def tier_save(request: HttpRequest, tier_id: int | None = None) -> JsonResponse:
    tier = get_object_or_404(Tier, shop=request.shop, pk=tier_id) if tier_id else Tier(shop=request.shop)
    form = TierForm(request.POST, instance=tier, prefix=f"t{tier_id}" if tier_id else "new")
    if not form.is_valid():
        return _errors(form)
    services.tier_save(shop=request.shop, tier=form.instance)
    return JsonResponse({"ok": True, "message": _("Tier saved."), "reload": True})


@csrf_exempt
@session_token_required
@require_POST
def tier_delete(request: HttpRequest, tier_id: int) -> JsonResponse:
    services.tier_delete(shop=request.shop, tier_id=tier_id)
    return JsonResponse({"ok": True, "message": _("Tier removed."), "reload": True})


@embedded_view
@require_GET
def rewards_page(request: HttpRequest) -> HttpResponse:
    rewards = list(Reward.objects.filter(shop=request.shop).select_related("min_tier"))
    return render(request, "loyalty/rewards.html", {
        "nav": "loyalty_rewards",
        "rewards": [(r, RewardForm(instance=r, shop=request.shop, prefix=f"r{r.pk}")) for r in rewards],
        "new_form": RewardForm(shop=request.shop, prefix="new"),
    })


@csrf_exempt
@session_token_required
@require_POST
def reward_save(request: HttpRequest, reward_id: int | None = None) -> JsonResponse:
    reward = get_object_or_404(Reward, shop=request.shop, pk=reward_id) if reward_id else Reward(shop=request.shop, currency=request.shop.currency)
    form = RewardForm(request.POST, instance=reward, shop=request.shop, prefix=f"r{reward_id}" if reward_id else "new")
    if not form.is_valid():
        return _errors(form)
    services.reward_save(shop=request.shop, reward=form.instance)
    return JsonResponse({"ok": True, "message": _("Reward saved."), "reload": True})


@embedded_view
@require_GET
def members_page(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("q", "")[:100]
    page = selectors.members_page(request.shop, search=search, page=request.GET.get("page") or 1)
    return render(request, "loyalty/members.html", {"nav": "loyalty_members", "page": page, "q": search})


@embedded_view
@require_GET
def member_page(request: HttpRequest, account_id: int) -> HttpResponse:
    try:
        account = selectors.member_get(request.shop, account_id=account_id)
    except PointsAccount.DoesNotExist:
        return render(request, "loyalty/not_found.html", {"nav": "loyalty_members"}, status=404)
    return render(request, "loyalty/member.html", {
        "nav": "loyalty_members", "account": account,
        "ledger": selectors.member_ledger(request.shop, account=account, page=request.GET.get("page") or 1),
        "redemptions": selectors.member_redemptions(request.shop, account=account),
        "adjust_form": AdjustForm(initial={"idempotency_key": uuid.uuid4().hex}),
    })


@csrf_exempt
@session_token_required
@require_POST
def member_adjust(request: HttpRequest, account_id: int) -> JsonResponse:
    account = get_object_or_404(PointsAccount, shop=request.shop, pk=account_id)
    form = AdjustForm(request.POST)
    if not form.is_valid():
        return _errors(form)
    data = form.cleaned_data
    try:
        services.points_adjust(
            shop=request.shop, customer_shopify_id=account.customer_shopify_id, points=data["points"],
            staff_name=_staff(request, data["staff_name"]), note=data["note"], idempotency_key=data["idempotency_key"],
        )
    except services.AdjustmentInvalid as exc:
        return JsonResponse({"ok": False, "errors": {"points": [{"message": exc.message}]}}, status=400)
    return JsonResponse({"ok": True, "message": _("Points adjusted."), "reload": True})


@embedded_view
@require_GET
def numbers_page(request: HttpRequest) -> HttpResponse:
    return render(request, "loyalty/numbers.html", {"nav": "loyalty_numbers", "numbers": selectors.programme_numbers(request.shop)})
