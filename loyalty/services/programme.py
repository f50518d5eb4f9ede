"""The merchant's side: programme settings, tiers and rewards (the admin pages call these)."""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from shops.models import Shop

from ..models import Programme, Reward, Tier

ROUNDING_MODES = {
    Programme.Rounding.DOWN: ROUND_FLOOR,
    Programme.Rounding.HALF_UP: ROUND_HALF_UP,
    Programme.Rounding.UP: ROUND_CEILING,
}


def programme_get(shop: Shop) -> Programme:
    """The shop's programme, created with the defaults (launched now) the first time anyone asks."""
    programme = Programme.objects.filter(shop=shop).first()
    if programme is not None:
        return programme
    with transaction.atomic():
        Programme.objects.bulk_create([Programme(shop=shop, launched_at=timezone.now())], ignore_conflicts=True)
    return Programme.objects.get(shop=shop)


def programme_update(*, shop: Shop, changes: Mapping[str, Any], staff_name: str = "") -> Programme:
    """Save validated settings (a ProgrammeForm's cleaned_data). Changes apply to events from now on:
    points already in the ledger are never recomputed."""
    with transaction.atomic():
        programme_get(shop)
        programme = Programme.objects.select_for_update().get(shop=shop)
        for name, value in changes.items():
            setattr(programme, name, value)
        programme.updated_by = staff_name[:255]
        programme.full_clean(exclude=["shop"])
        programme.save()
    return programme


def points_for_amount(*, programme: Programme, amount: Decimal, multiplier: Decimal = Decimal("1")) -> int:
    """Points for an earning amount in shop money: amount × points per unit × tier multiplier, rounded
    once with the programme's stated mode. Never negative."""
    if amount <= 0:
        return 0
    raw = amount * programme.points_per_currency_unit * multiplier
    return max(int(raw.to_integral_value(rounding=ROUNDING_MODES[programme.rounding])), 0)


def earning_amount(
    *, programme: Programme, subtotal: Decimal, shipping: Decimal = Decimal("0"), taxes: Decimal = Decimal("0"),
    taxes_included: bool = False, gift_cards: Decimal = Decimal("0"),
) -> Decimal:
    """The amount an order earns on: the subtotal after discounts (Shopify's subtotal never contains
    shipping), with shipping, taxes and gift cards each counted only when the merchant includes them.

    - Taxes: Shopify's subtotal contains the taxes when the shop's prices include them (the order's
      `taxes_included`). Excluded (the default): a tax-inclusive subtotal earns on subtotal − the order's
      total tax, an exclusive one on the subtotal as is. Included: an exclusive subtotal earns on
      subtotal + total tax, an inclusive one as is. (The order's tax includes any tax on shipping, so a
      tax-inclusive shop that taxes shipping earns slightly less than its net lines: never on tax.)
    - Shipping: added when included (as the order reports it: with its tax in a tax-inclusive shop).
    - Gift cards: `gift_cards` is the value of the order's gift-card lines (price × quantity − their
      discount; Shopify neither taxes nor discounts gift cards), taken off unless included.
    Never negative."""
    amount = subtotal
    if taxes_included and not programme.include_taxes:
        amount -= taxes
    elif programme.include_taxes and not taxes_included:
        amount += taxes
    if programme.include_shipping:
        amount += shipping
    if not programme.include_gift_cards:
        amount -= gift_cards
    return max(amount, Decimal("0"))


def order_gift_card_amount(*, shop: Shop, order_shopify_id: int) -> Decimal:
    """The value of an order's gift-card lines (commerce.OrderLineItem.gift_card): price × quantity − discount."""
    from django.db.models import F, Sum

    from commerce.models import OrderLineItem

    value = OrderLineItem.objects.filter(shop=shop, order_shopify_id=order_shopify_id, gift_card=True).aggregate(
        v=Sum(F("price") * F("quantity") - F("total_discount")))["v"]
    return max(value or Decimal("0"), Decimal("0"))


def holding_until(*, programme: Programme, processed_at: dt.datetime) -> dt.datetime:
    return processed_at + dt.timedelta(days=programme.holding_days)


def tier_save(*, shop: Shop, tier: Tier) -> Tier:
    """Create or update a tier (a TierForm's instance). Members move on their next evaluation: up at
    once on their next event or the nightly run, down only when their held period ends."""
    if tier.shop_id not in (None, shop.pk):
        raise PermissionError("tier of another shop")
    tier.shop = shop
    with transaction.atomic():
        tier.full_clean(exclude=["shop"])
        tier.save()
    return tier


def tier_delete(*, shop: Shop, tier_id: int) -> None:
    """Remove a tier; its members keep no tier until their next evaluation places them."""
    with transaction.atomic():
        Tier.objects.filter(shop=shop, pk=tier_id).delete()


def reward_save(*, shop: Shop, reward: Reward) -> Reward:
    if reward.shop_id not in (None, shop.pk):
        raise PermissionError("reward of another shop")
    reward.shop = shop
    if not reward.currency:
        reward.currency = shop.currency
    with transaction.atomic():
        reward.full_clean(exclude=["shop"])
        reward.save()
    return reward
