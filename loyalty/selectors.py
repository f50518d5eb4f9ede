"""Reads of the loyalty app; every selector takes the shop first."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.core.paginator import Page, Paginator
from django.db.models import Count, Q, Sum
from django.db.models.functions import Coalesce
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from core.templatetags.money import money
from shops.models import Shop

from .models import PointsAccount, PointsEntry, Programme, Redemption, Reward

Kind = PointsEntry.Kind


def members_page(shop: Shop, *, search: str = "", page: int = 1, per_page: int = 50) -> Page:
    """Members with their customer's name and e-mail (from commerce), newest first; `search` matches the
    name, e-mail or Shopify id."""
    from commerce.models import Customer

    accounts = PointsAccount.objects.filter(shop=shop).select_related("tier").order_by("-lifetime_earned", "pk")
    search = search.strip()
    if search:
        customers = Customer.objects.filter(shop=shop).filter(
            Q(email__icontains=search) | Q(first_name__icontains=search) | Q(last_name__icontains=search)
        ).values("shopify_id")
        q = Q(customer_shopify_id__in=customers)
        if search.isdigit():
            q |= Q(customer_shopify_id=int(search))
        accounts = accounts.filter(q)
    result = Paginator(accounts, per_page).get_page(page)
    people = {c.shopify_id: c for c in Customer.objects.filter(
        shop=shop, shopify_id__in=[a.customer_shopify_id for a in result.object_list])}
    for account in result.object_list:
        account.customer = people.get(account.customer_shopify_id)
    return result


def member_get(shop: Shop, *, account_id: int) -> PointsAccount:
    from commerce.models import Customer

    account = PointsAccount.objects.select_related("tier").get(shop=shop, pk=account_id)
    account.customer = Customer.objects.filter(shop=shop, shopify_id=account.customer_shopify_id).first()
    return account


def member_ledger(shop: Shop, *, account: PointsAccount, page: int = 1, per_page: int = 100) -> Page:
    return Paginator(
        PointsEntry.objects.filter(shop=shop, account=account).order_by("-created_at", "-pk"), per_page
    ).get_page(page)


def member_redemptions(shop: Shop, *, account: PointsAccount) -> list[Redemption]:
    return list(Redemption.objects.filter(shop=shop, account=account).select_related("reward").order_by("-created_at")[:100])


@dataclass(frozen=True, slots=True)
class ProgrammeNumbers:
    members: int
    points_issued: int
    points_redeemed: int
    points_outstanding: int
    points_pending: int
    liability: Decimal | None
    currency: str
    redemption_rate: Decimal | None
    rewards_used: int
    rewards_expired_unused: int
    revenue_with_rewards: Decimal


def programme_numbers(shop: Shop) -> ProgrammeNumbers:
    """The programme's numbers, computed by the database.

    - issued: points credited by orders and bonuses, less reversals, plus staff additions;
    - redeemed: points spent on rewards less points returned;
    - outstanding: available points of all members (their balances); pending ones shown apart;
    - liability: outstanding points at the catalogue's cheapest money rate (amount per point of the active
      fixed-amount rewards); None when there is no such reward to value a point with;
    - redemption rate: redeemed / issued;
    - revenue with rewards: total less refunds of orders that used one of our reward codes.
    """
    from commerce.models import Order

    from .models import Reward

    entries = PointsEntry.objects.filter(shop=shop).aggregate(
        issued=Coalesce(Sum("delta", filter=Q(kind__in=[Kind.EARN_ORDER, Kind.BONUS, Kind.REVERSAL])
                            | Q(kind=Kind.ADJUST, delta__gt=0)), 0),
        redeemed=Coalesce(Sum("delta", filter=Q(kind__in=[Kind.REDEEM, Kind.REDEEM_RETURN])), 0),
    )
    accounts = PointsAccount.objects.filter(shop=shop).aggregate(
        members=Count("pk"), outstanding=Coalesce(Sum("balance"), 0), pending=Coalesce(Sum("pending"), 0),
    )
    rate = None
    for reward in Reward.objects.filter(shop=shop, active=True, kind=Reward.Kind.FIXED_AMOUNT, currency=shop.currency):
        per_point = reward.amount / reward.points_cost
        rate = per_point if rate is None else min(rate, per_point)
    redemptions = Redemption.objects.filter(shop=shop).aggregate(
        used=Count("pk", filter=Q(status=Redemption.Status.USED)),
        expired=Count("pk", filter=Q(status__in=[Redemption.Status.EXPIRED, Redemption.Status.REFUNDED])),
    )
    used_orders = Redemption.objects.filter(shop=shop, status=Redemption.Status.USED, order_shopify_id__isnull=False).values("order_shopify_id")
    revenue = Order.objects.filter(shop=shop, shopify_id__in=used_orders, test=False, cancelled_at__isnull=True).aggregate(
        v=Coalesce(Sum("total"), Decimal("0")) - Coalesce(Sum("total_refunded"), Decimal("0")))["v"]
    issued, redeemed = entries["issued"], -entries["redeemed"]
    return ProgrammeNumbers(
        members=accounts["members"], points_issued=issued, points_redeemed=redeemed,
        points_outstanding=accounts["outstanding"], points_pending=accounts["pending"],
        liability=(rate * accounts["outstanding"]).quantize(Decimal("0.01")) if rate is not None else None,
        currency=shop.currency,
        redemption_rate=(Decimal(redeemed) / issued * 100).quantize(Decimal("0.1")) if issued > 0 else None,
        rewards_used=redemptions["used"], rewards_expired_unused=redemptions["expired"], revenue_with_rewards=revenue,
    )


def earning_preview(programme: Programme, *, subtotal: Decimal, shipping: Decimal, taxes: Decimal,
                    multiplier: Decimal = Decimal("1"), taxes_included: bool = False,
                    gift_cards: Decimal | None = None) -> dict:
    """What a customer earns on an example order under these settings (the settings page's live preview)."""
    from .services.programme import earning_amount, points_for_amount

    amount = earning_amount(programme=programme, subtotal=subtotal, shipping=shipping, taxes=taxes,
                            taxes_included=taxes_included, gift_cards=gift_cards or Decimal("0"))
    return {"amount": amount, "points": points_for_amount(programme=programme, amount=amount, multiplier=multiplier),
            "holding_days": programme.holding_days}


def reward_description(reward: Reward | None, *, amount: Decimal | None = None, percentage: Decimal | None = None,
                       currency: str = "", cart_subtotal: Decimal | None = None) -> str:
    """What a reward gives, in the active language ("5,00 EUR off your order"): the storefront widget
    and the members' e-mails show it. `cart_subtotal`: a capped percentage redeemed for a cart of that
    subtotal, issued as the fixed `amount` valid from that subtotal on."""
    if reward is None:
        return ""
    amount = reward.amount if amount is None else amount
    percentage = reward.percentage if percentage is None else percentage
    currency = currency or reward.currency
    kind = reward.kind
    if kind == Reward.Kind.FIXED_AMOUNT:
        text = _("%(amount)s off your order") % {"amount": money(amount, currency)}
    elif kind == Reward.Kind.PERCENTAGE and cart_subtotal is not None and amount:
        return _("%(amount)s off your order (%(percent)s %% of your cart), on orders from %(subtotal)s") % {
            "amount": money(amount, currency),
            "subtotal": money(max(cart_subtotal, reward.minimum_subtotal or Decimal("0")), currency),
            "percent": number_format(percentage or 0, decimal_pos=0, use_l10n=True)}
    elif kind == Reward.Kind.PERCENTAGE:
        text = _("%(percent)s %% off your order") % {
            "percent": number_format(percentage or 0, decimal_pos=0, use_l10n=True)}
        if reward.percentage_cap is not None:
            text += " " + _("(up to %(amount)s)") % {"amount": money(reward.percentage_cap, currency)}
    elif kind == Reward.Kind.FREE_SHIPPING:
        text = _("Free shipping")
    elif kind == Reward.Kind.FREE_PRODUCT:
        text = _("A free product (worth up to %(amount)s)") % {"amount": money(amount, currency)}
    else:
        text = _("%(amount)s store credit") % {"amount": money(amount, currency)}
    if reward.minimum_subtotal:
        text += " · " + _("on orders from %(amount)s") % {"amount": money(reward.minimum_subtotal, currency)}
    return text
