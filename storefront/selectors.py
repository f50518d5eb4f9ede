"""What the storefront widget shows, read for one shop and (when logged in) one customer.

Every text is produced in the active language (the widget passes the storefront's `locale`; the
ShopifyLocaleMiddleware activated it). Merchant-entered names (rewards, tiers) are shown as entered.
Reads only: a visitor who merely looks is never enrolled (no PointsAccount is created here).
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone
from django.utils.formats import date_format, number_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from core.templatetags.money import money
from loyalty.models import PointsAccount, PointsEntry, Programme, Redemption, Reward, Tier
from loyalty.selectors import reward_description
from loyalty.services.tiers import ROLLING, tier_qualifying_amount
from shops.models import Shop

Kind = PointsEntry.Kind
HISTORY_LIMIT = 30
CODES_LIMIT = 20
# Statuses a customer has a code for (FAILED and RESERVED ones have none worth showing).
CODE_STATUSES = (Redemption.Status.ISSUED, Redemption.Status.USED, Redemption.Status.EXPIRED)


def _points(n: int) -> str:
    return ngettext("%(points)s point", "%(points)s points", abs(n)) % {
        "points": number_format(n, decimal_pos=0, use_l10n=True, force_grouping=True)}


def programme_for_shop(shop: Shop) -> Programme | None:
    """The shop's programme, or None when the merchant never set one up (reading must not create it)."""
    return Programme.objects.filter(shop=shop).first()


def _tiers(shop: Shop) -> list[Tier]:
    return list(Tier.objects.filter(shop=shop).order_by("threshold"))


def _threshold_text(programme: Programme, shop: Shop, value: Decimal) -> str:
    if programme.tier_basis == Programme.TierBasis.SPEND:
        return _("Spend %(amount)s") % {"amount": money(value, shop.currency)}
    return _("Earn %(points)s") % {"points": _points(int(value))}


def ways_to_earn(programme: Programme, shop: Shop) -> list[dict[str, Any]]:
    ways: list[dict[str, Any]] = []
    if programme.order_earning_enabled:
        rate = programme.points_per_currency_unit
        ways.append({
            "key": "order",
            "title": _("Shop with us"),
            "detail": _("%(points)s for every %(amount)s spent") % {
                "points": _points(int(rate)) if rate == rate.to_integral_value()
                else number_format(rate, decimal_pos=2, use_l10n=True) + " " + _("points"),
                "amount": money(Decimal("1"), shop.currency)},
            "points": None,
        })
    titles = {
        "signup": _("Create an account"),
        "birthday": _("Celebrate your birthday"),
        "anniversary": _("Anniversary of your first order"),
        "review": _("Write a review"),
        "social_follow": _("Follow us on social media"),
    }
    for kind, title in titles.items():
        points = programme.bonus_points(kind)
        if points:
            ways.append({"key": kind, "title": title, "detail": _points(points), "points": points})
    return ways


def programme_public(shop: Shop) -> dict[str, Any]:
    """How the programme works: for everyone, logged in or not."""
    programme = programme_for_shop(shop)
    if programme is None:
        return {"active": False, "ways_to_earn": [], "tiers": [], "rewards": []}
    tiers = _tiers(shop)
    return {
        "active": not programme.paused,
        "paused_message": _("The rewards programme is paused at the moment.") if programme.paused else "",
        "holding_text": ngettext(
            "Points from orders become available %(days)s day after the order.",
            "Points from orders become available %(days)s days after the order.", programme.holding_days,
        ) % {"days": programme.holding_days} if programme.holding_days else "",
        "expiry_text": ngettext(
            "Points expire after %(days)s day without earning or redeeming.",
            "Points expire after %(days)s days without earning or redeeming.", programme.expiry_inactivity_days,
        ) % {"days": programme.expiry_inactivity_days} if programme.expiry_inactivity_days else "",
        "ways_to_earn": ways_to_earn(programme, shop),
        "tiers": [{
            "id": t.pk, "name": t.name, "threshold_text": _threshold_text(programme, shop, t.threshold),
            "multiplier": str(t.multiplier),
            "perks": ([_("%(times)s× points on orders") % {"times": number_format(t.multiplier, decimal_pos=1,
                                                                                   use_l10n=True)}]
                      if t.multiplier > 1 else [])
            + ([_("Free-shipping rewards")] if t.free_shipping_perk else [])
            + ([_("Birthday bonus: %(points)s") % {"points": _points(t.birthday_points)}] if t.birthday_points else []),
        } for t in tiers],
        "rewards": [_reward_row(r, account=None, tiers=tiers) for r in _rewards(shop)],
    }


def _rewards(shop: Shop) -> list[Reward]:
    return list(Reward.objects.filter(shop=shop, active=True).order_by("points_cost", "pk"))


def _reward_row(reward: Reward, *, account: PointsAccount | None, tiers: list[Tier]) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": reward.pk, "name": reward.name, "description": reward_description(reward),
        "points_cost": reward.points_cost, "points_text": _points(reward.points_cost),
        "redeemable": False, "reason": "",
        # A capped percentage: the widget sends the cart's subtotal with the redemption (see views.redeem).
        "needs_cart": reward.kind == Reward.Kind.PERCENTAGE and reward.percentage_cap is not None,
    }
    needed = next((t for t in tiers if t.pk == reward.min_tier_id), None) if reward.min_tier_id else None
    if needed is not None:
        row["tier_required"] = needed.name
    if account is None:
        return row
    current_rank = account.tier.threshold if account.tier_id and account.tier else None
    if needed is not None and (current_rank is None or current_rank < needed.threshold):
        row["reason"] = _("For %(tier)s members and above") % {"tier": needed.name}
    elif account.balance < reward.points_cost:
        row["reason"] = _("%(points)s more needed") % {"points": _points(reward.points_cost - account.balance)}
    else:
        row["redeemable"] = True
    return row


def member_account(shop: Shop, customer_shopify_id: int | None) -> PointsAccount | None:
    if customer_shopify_id is None:
        return None
    return PointsAccount.objects.select_related("tier").filter(shop=shop, customer_shopify_id=customer_shopify_id).first()


def _progress(shop: Shop, programme: Programme, account: PointsAccount, tiers: list[Tier],
              now: dt.datetime) -> dict[str, Any] | None:
    """Progress toward the next tier above the member's, over the programme's qualifying period."""
    current = account.tier.threshold if account.tier_id and account.tier else Decimal("-1")
    upcoming = next((t for t in tiers if t.threshold > current), None)
    if upcoming is None:
        return None
    if programme.tier_period == Programme.TierPeriod.CALENDAR_YEAR:
        start = dt.datetime(now.astimezone(ZoneInfo(shop.iana_timezone or "UTC")).year, 1, 1,
                            tzinfo=ZoneInfo(shop.iana_timezone or "UTC"))
    else:
        start = now - ROLLING
    amount = tier_qualifying_amount(shop=shop, programme=programme, customer_shopify_id=account.customer_shopify_id,
                                    account=account, start=start, end=now + dt.timedelta(microseconds=1))
    remaining = max(upcoming.threshold - amount, Decimal("0"))
    percent = int(min(amount / upcoming.threshold * 100, Decimal("100"))) if upcoming.threshold > 0 else 100
    if programme.tier_basis == Programme.TierBasis.SPEND:
        text = _("Spend %(amount)s more to reach %(tier)s") % {"amount": money(remaining, shop.currency),
                                                                "tier": upcoming.name}
    else:
        text = _("Earn %(points)s more to reach %(tier)s") % {"points": _points(int(remaining)), "tier": upcoming.name}
    return {"next_tier": upcoming.name, "percent": percent, "text": text}


def member_balance(shop: Shop, customer_shopify_id: int | None, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """Balance, pending points, tier and progress: the launcher's numbers (kept to a few indexed reads)."""
    if customer_shopify_id is None:
        return {"customer": False, "message": _("Join our rewards programme: create an account to earn points on "
                                                "every order.")}
    programme = programme_for_shop(shop)
    account = member_account(shop, customer_shopify_id)
    if programme is None or account is None:
        return {"customer": True, "balance": 0, "balance_text": _points(0), "pending": 0, "pending_text": "",
                "tier": None, "progress": None, "member": False,
                "message": _("Place your first order to start earning points.")}
    now = now or timezone.now()
    tiers = _tiers(shop)
    return {
        "customer": True,
        "member": True,
        "balance": account.net_balance,
        "balance_text": _points(account.net_balance),
        "pending": account.pending,
        "pending_text": _("%(points)s pending") % {"points": _points(account.pending)} if account.pending else "",
        "lifetime_earned": account.lifetime_earned,
        "tier": {"name": account.tier.name} if account.tier_id and account.tier else None,
        "progress": _progress(shop, programme, account, tiers, now),
    }


def member_rewards(shop: Shop, customer_shopify_id: int | None) -> list[dict[str, Any]]:
    account = member_account(shop, customer_shopify_id)
    tiers = _tiers(shop)
    return [_reward_row(r, account=account, tiers=tiers) for r in _rewards(shop)]


def redemption_row(redemption: Redemption) -> dict[str, Any]:
    status_text = {
        Redemption.Status.ISSUED: _("Ready to use"),
        Redemption.Status.USED: _("Used"),
        Redemption.Status.EXPIRED: _("Expired"),
        Redemption.Status.REFUNDED: _("Expired, points returned"),
        Redemption.Status.RESERVED: _("Being prepared"),
        Redemption.Status.FAILED: _("Not issued, points returned"),
    }[redemption.status]
    return {
        "id": redemption.pk,
        "code": redemption.code if redemption.status in CODE_STATUSES else "",
        "status": redemption.status,
        "status_text": status_text,
        "reward": redemption.reward.name,
        "description": reward_description(redemption.reward, amount=redemption.value_amount,
                                          percentage=redemption.value_percentage, currency=redemption.currency,
                                          cart_subtotal=redemption.cart_subtotal),
        "points": redemption.points,
        "expires_text": _("Valid until %(date)s") % {"date": date_format(redemption.expires_at, "SHORT_DATE_FORMAT")}
        if redemption.expires_at and redemption.status == Redemption.Status.ISSUED else "",
        "apply_path": f"/discount/{redemption.code}"
        if redemption.code and redemption.status == Redemption.Status.ISSUED else "",
    }


def member_codes(shop: Shop, customer_shopify_id: int | None) -> list[dict[str, Any]]:
    account = member_account(shop, customer_shopify_id)
    if account is None:
        return []
    rows = (Redemption.objects.filter(shop=shop, account=account, status__in=CODE_STATUSES).exclude(code="")
            .select_related("reward").order_by("-created_at")[:CODES_LIMIT])
    return [redemption_row(r) for r in rows]


def _history_label(entry: PointsEntry, orders: dict[str, str], rewards: dict[str, str]) -> str:
    name = orders.get(entry.source_id, "")
    if entry.kind == Kind.EARN_ORDER:
        return _("Order %(name)s") % {"name": name} if name else _("Order")
    if entry.kind == Kind.MATURE:
        return _("Points from order %(name)s became available") % {"name": name} if name else _(
            "Points became available")
    if entry.kind == Kind.REVERSAL:
        return _("Refund or cancellation of order %(name)s") % {"name": name} if name else _("Refund or cancellation")
    if entry.kind == Kind.BONUS:
        kind = entry.source_id.split(":", 1)[0]
        return {
            "signup": _("Welcome bonus"), "birthday": _("Birthday bonus"), "anniversary": _("Anniversary bonus"),
            "review": _("Review bonus"), "social_follow": _("Social follow bonus"),
        }.get(kind, _("Bonus"))
    if entry.kind == Kind.REDEEM:
        return _("Redeemed: %(reward)s") % {"reward": rewards.get(entry.source_id, "")}
    if entry.kind == Kind.REDEEM_RETURN:
        return _("Points returned: %(reward)s") % {"reward": rewards.get(entry.source_id, "")}
    if entry.kind == Kind.EXPIRE:
        return _("Points expired")
    return _("Adjustment by the shop")


def member_history(shop: Shop, customer_shopify_id: int | None, *, limit: int = HISTORY_LIMIT) -> list[dict[str, Any]]:
    account = member_account(shop, customer_shopify_id)
    if account is None:
        return []
    # Maturation is a pair of entries (pending -N, available +N); the customer sees one line, the credit.
    entries = list(
        PointsEntry.objects.filter(shop=shop, account=account)
        .exclude(kind=Kind.MATURE, bucket=PointsEntry.Bucket.PENDING)
        .exclude(delta=0)
        .order_by("-created_at", "-pk")[:limit]
    )
    order_ids = [int(e.source_id) for e in entries
                 if e.source_type in (PointsEntry.Source.ORDER,) and e.source_id.isdigit()]
    from commerce.models import Order

    orders = {str(k): v for k, v in Order.objects.filter(shop=shop, shopify_id__in=order_ids)
              .values_list("shopify_id", "name")}
    refund_entries = [e for e in entries if e.source_type == PointsEntry.Source.REFUND]
    if refund_entries:
        from commerce.models import Refund

        refund_orders = dict(Refund.objects.filter(
            shop=shop, shopify_id__in=[int(e.source_id) for e in refund_entries if e.source_id.isdigit()])
            .values_list("shopify_id", "order_shopify_id"))
        names = dict(Order.objects.filter(shop=shop, shopify_id__in=refund_orders.values()).values_list("shopify_id", "name"))
        for e in refund_entries:
            order_id = refund_orders.get(int(e.source_id)) if e.source_id.isdigit() else None
            if order_id in names:
                orders[e.source_id] = names[order_id]
    redemption_ids = [int(e.source_id) for e in entries
                      if e.source_type == PointsEntry.Source.REDEMPTION and e.source_id.isdigit()]
    rewards = {str(k): v for k, v in Redemption.objects.filter(shop=shop, pk__in=redemption_ids)
               .values_list("pk", "reward__name")}
    return [{
        "date": date_format(timezone.localtime(e.created_at, ZoneInfo(shop.iana_timezone or "UTC")),
                            "SHORT_DATE_FORMAT"),
        "points": e.delta,
        "points_text": ("+" if e.delta > 0 else "−") + _points(abs(e.delta)),
        "pending": e.bucket == PointsEntry.Bucket.PENDING,
        "label": _history_label(e, orders, rewards),
    } for e in entries]


def widget_state(shop: Shop, customer_shopify_id: int | None) -> dict[str, Any]:
    """Everything the panel shows, in one answer (one round trip when the customer opens it)."""
    state = {"programme": programme_public(shop), "balance": member_balance(shop, customer_shopify_id)}
    if customer_shopify_id is not None:
        state.update(rewards=member_rewards(shop, customer_shopify_id), codes=member_codes(shop, customer_shopify_id),
                     history=member_history(shop, customer_shopify_id))
    else:
        state.update(rewards=state["programme"]["rewards"], codes=[], history=[])
    return state
