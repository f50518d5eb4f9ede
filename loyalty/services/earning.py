"""Points in and out for orders, bonuses and staff adjustments.

`order_points_sync` is THE path by which an order affects points: commerce calls it after every write of
an order (webhooks, backfill, reconcile) and the install-time import of past orders calls it too. It
brings the ledger to what the order's current state says, so any number of duplicated or reordered
events converges on the same entries; each entry's idempotency key makes a second credit impossible
(the database refuses it), and the account lock serialises two syncs of the same customer.
"""
from __future__ import annotations

import datetime as dt
import logging
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.utils import timezone

from shops.models import Shop

from ..models import OrderEarning, PointsAccount, PointsEntry, Programme, Tier
from .ledger import LoyaltyError, Posting, account_for_update, entry_post
from .programme import earning_amount, holding_until, order_gift_card_amount, points_for_amount, programme_get
from .tiers import tier_evaluate

log = logging.getLogger(__name__)

Kind, Bucket, Source = PointsEntry.Kind, PointsEntry.Bucket, PointsEntry.Source

# Shopify financial statuses (lower-case GraphQL enum / REST) of an order whose money was received.
PAID_STATUSES = frozenset({"paid", "partially_refunded", "refunded"})
BONUS_KINDS = ("signup", "birthday", "anniversary", "review", "social_follow")


def _expires_at(programme: Programme, now: dt.datetime) -> dt.datetime | None:
    if programme.expiry_inactivity_days is None:
        return None
    return now + dt.timedelta(days=programme.expiry_inactivity_days)


def _order_earns(programme: Programme, order) -> bool:
    if order.test or order.cancelled_at is not None or order.financial_status not in PAID_STATUSES:
        return False
    if programme.paused or not programme.order_earning_enabled:
        return False
    return order.processed_at >= programme.launched_at or programme.earn_past_orders


def _share(points: int, part: Decimal, whole: Decimal) -> int:
    """points × part / whole, rounded half up (a refund takes back its proportion of the order's points)."""
    if whole <= 0:
        return points
    return int((Decimal(points) * part / whole).to_integral_value(rounding=ROUND_HALF_UP))


def order_points_sync(*, shop: Shop, order, now: dt.datetime | None = None) -> list[PointsEntry]:
    """Apply one commerce Order's current state to its customer's points. Returns the entries written.

    - A paid order (not test, not cancelled; past orders only when the programme says so) earns once:
      earning amount × rate × tier multiplier, rounded per the programme, pending until the holding
      period after the order ends (straight to available when that is already over, e.g. at import).
    - Each refund takes back its share of the points (refund amount / order total, half up); refunds
      that reach the order's total take back the rest. A cancellation takes back all that is left.
    - Points still pending are taken from pending; spent ones per the negative-balance policy: floor at
      zero (the waived part is recorded on the entry) or owe.
    - Codes of our redemptions used by the order are marked used.
    """
    now = now or timezone.now()
    entries: list[PointsEntry] = []
    from .redemption import redemptions_mark_used_by_order

    redemptions_mark_used_by_order(shop=shop, order=order)
    if order.customer_shopify_id is None:
        return entries  # guests earn nothing (a later issue claims guest orders by e-mail)
    programme = programme_get(shop)
    with transaction.atomic():
        earns = _order_earns(programme, order)
        account = account_for_update(shop=shop, customer_shopify_id=order.customer_shopify_id, create=earns)
        if account is None:
            return entries
        earning = OrderEarning.objects.filter(shop=shop, order_shopify_id=order.shopify_id).first()
        if earning is None and earns:
            earning, entry = _order_earn(shop=shop, programme=programme, account=account, order=order, now=now)
            if entry is not None:
                entries.append(entry)
        if earning is not None and earning.account_id == account.pk:
            entries += _order_reverse(shop=shop, programme=programme, account=account, order=order,
                                      earning=earning, now=now)
        if entries:
            tier_evaluate(shop=shop, account=account, now=now)
    return entries


def _order_earn(*, shop: Shop, programme: Programme, account: PointsAccount, order, now: dt.datetime):
    multiplier = account.tier.multiplier if account.tier_id else Decimal("1")
    amount = earning_amount(
        programme=programme, subtotal=order.subtotal, shipping=order.total_shipping, taxes=order.total_tax,
        taxes_included=order.taxes_included,
        gift_cards=Decimal("0") if programme.include_gift_cards else order_gift_card_amount(
            shop=shop, order_shopify_id=order.shopify_id),
    )
    points = points_for_amount(programme=programme, amount=amount, multiplier=multiplier)
    available_at = holding_until(programme=programme, processed_at=order.processed_at)
    pending = available_at > now
    earning = OrderEarning.objects.create(
        shop=shop, account=account, order_shopify_id=order.shopify_id, points_earned=points,
        pending_points=points if pending else 0, available_at=available_at,
        matured_at=None if pending else now, earning_amount=amount, currency=order.currency or shop.currency,
        multiplier=multiplier, created_at=now,
    )
    if points == 0:
        return earning, None
    entry = entry_post(
        account=account,
        posting=Posting(
            delta=points, bucket=Bucket.PENDING if pending else Bucket.AVAILABLE, kind=Kind.EARN_ORDER,
            source_type=Source.ORDER, source_id=str(order.shopify_id),
            idempotency_key=f"order:{order.shopify_id}:earn",
            reason=f"Order {order.name}" + (f" (×{multiplier} tier)" if multiplier != 1 else ""),
            available_at=available_at, expires_at=_expires_at(programme, now), is_activity=True,
        ),
        now=now,
    )
    return earning, entry


def _take_back(
    *, programme: Programme, account: PointsAccount, earning: OrderEarning, points: int, key: str,
    source_type: str, source_id: str, reason: str, now: dt.datetime,
) -> PointsEntry | None:
    """Reverse `points` of an order: from pending while the order's points are pending, else from the
    balance under the merchant's policy."""
    points = min(points, earning.points_remaining)
    if points <= 0:
        return None
    if earning.pending_points > 0:
        posting = Posting(delta=-points, bucket=Bucket.PENDING, kind=Kind.REVERSAL, source_type=source_type,
                          source_id=source_id, idempotency_key=key, reason=reason, points_requested=points)
        waived = 0
    else:
        owe = programme.negative_policy == Programme.NegativePolicy.OWE
        taken = points if owe else min(points, account.balance)
        waived = points - taken
        posting = Posting(
            delta=-taken, bucket=Bucket.AVAILABLE, kind=Kind.REVERSAL, source_type=source_type,
            source_id=source_id, idempotency_key=key, reason=reason, points_requested=points,
            points_waived=waived, policy=programme.negative_policy, allow_owe=owe,
        )
    entry = entry_post(account=account, posting=posting, now=now)
    if entry is not None:
        earning.points_reversed += points
        earning.points_waived += waived
        if posting.bucket == Bucket.PENDING:
            earning.pending_points -= points
        earning.save(update_fields=["points_reversed", "points_waived", "pending_points"])
    return entry


def _order_reverse(*, shop: Shop, programme: Programme, account: PointsAccount, order, earning: OrderEarning,
                   now: dt.datetime) -> list[PointsEntry]:
    from commerce.models import Refund

    entries: list[PointsEntry] = []
    if earning.points_earned == 0:
        return entries
    refunds = list(Refund.objects.filter(shop=shop, order_shopify_id=order.shopify_id).order_by("created_at", "shopify_id"))
    refunded_total = sum((r.amount for r in refunds), Decimal("0"))
    fully_refunded = order.total > 0 and refunded_total >= order.total
    for i, refund in enumerate(refunds):
        if refund.amount <= 0:
            continue  # a restock-only refund gave no money back
        last = i == len(refunds) - 1
        share = earning.points_remaining if (fully_refunded and last) else _share(earning.points_earned, refund.amount, order.total)
        entry = _take_back(
            programme=programme, account=account, earning=earning, points=share,
            key=f"order:{order.shopify_id}:refund:{refund.shopify_id}", source_type=Source.REFUND,
            source_id=str(refund.shopify_id), reason=f"Refund of {refund.amount} {refund.currency} on order {order.name}",
            now=now,
        )
        if entry is not None:
            entries.append(entry)
    if order.cancelled_at is not None or order.test:
        entry = _take_back(
            programme=programme, account=account, earning=earning, points=earning.points_remaining,
            key=f"order:{order.shopify_id}:cancel", source_type=Source.ORDER, source_id=str(order.shopify_id),
            reason=f"Order {order.name} cancelled", now=now,
        )
        if entry is not None:
            entries.append(entry)
    return entries


class BonusUnavailable(LoyaltyError):
    pass


def bonus_award(
    *, shop: Shop, customer_shopify_id: int, kind: str, occasion: str, staff_name: str = "", note: str = "",
    now: dt.datetime | None = None,
) -> PointsEntry | None:
    """Credit a fixed bonus once per occasion: ('signup', ''), ('birthday', '2026'), ('anniversary', '2026'),
    ('review', '<review id>'), ('social_follow', 'instagram'). Bonuses are available at once (nothing to
    return). Returns None when that occasion was already credited.

    Raises BonusUnavailable when the rule is off or the programme paused.
    """
    if kind not in BONUS_KINDS:
        raise ValueError(f"unknown bonus {kind!r}")
    now = now or timezone.now()
    programme = programme_get(shop)
    points = programme.bonus_points(kind)
    if programme.paused or points is None:
        raise BonusUnavailable(f"The {kind.replace('_', ' ')} bonus is switched off.")
    with transaction.atomic():
        account = account_for_update(shop=shop, customer_shopify_id=customer_shopify_id)
        assert account is not None
        if kind == "birthday" and account.tier_id:
            tier = Tier.objects.get(shop=shop, pk=account.tier_id)
            if tier.birthday_points is not None:
                points = tier.birthday_points
        if points <= 0:
            return None
        entry = entry_post(
            account=account,
            posting=Posting(
                delta=points, bucket=Bucket.AVAILABLE, kind=Kind.BONUS, source_type=Source.BONUS,
                source_id=f"{kind}:{occasion}"[:64],
                idempotency_key=f"customer:{customer_shopify_id}:bonus:{kind}:{occasion}"[:200],
                reason=f"{kind.replace('_', ' ').capitalize()} bonus", expires_at=_expires_at(programme, now),
                staff_name=staff_name, note=note, is_activity=True,
            ),
            now=now,
        )
        if entry is not None:
            tier_evaluate(shop=shop, account=account, now=now)
    return entry


class AdjustmentInvalid(LoyaltyError):
    pass


def points_adjust(
    *, shop: Shop, customer_shopify_id: int, points: int, staff_name: str, note: str, idempotency_key: str,
    now: dt.datetime | None = None,
) -> PointsEntry | None:
    """A staff member adds (points > 0) or removes (points < 0) points with a reason.

    A removal never takes the balance below zero (refused with AdjustmentInvalid): staff correct
    mistakes, they do not create debts. `idempotency_key` comes from the form, so a resubmitted form
    adjusts once. Returns None for a resubmission.
    """
    note, staff_name = (note or "").strip(), (staff_name or "").strip()
    if points == 0:
        raise AdjustmentInvalid("Enter a number of points other than zero.")
    if not note:
        raise AdjustmentInvalid("A reason is required for every adjustment.")
    if not staff_name:
        raise AdjustmentInvalid("The staff member making the adjustment must be known.")
    now = now or timezone.now()
    programme = programme_get(shop)
    from .ledger import InsufficientPoints

    with transaction.atomic():
        account = account_for_update(shop=shop, customer_shopify_id=customer_shopify_id, create=points > 0)
        if account is None:
            raise AdjustmentInvalid("This customer has no points to remove.")
        try:
            return entry_post(
                account=account,
                posting=Posting(
                    delta=points, bucket=Bucket.AVAILABLE, kind=Kind.ADJUST, source_type=Source.STAFF,
                    source_id=staff_name[:64], idempotency_key=f"adjust:{idempotency_key}"[:200],
                    reason="Adjustment by staff", staff_name=staff_name[:255], note=note,
                    expires_at=_expires_at(programme, now) if points > 0 else None, is_activity=points > 0,
                ),
                now=now,
            )
        except InsufficientPoints as exc:
            raise AdjustmentInvalid(
                f"The member has {account.balance} points available; you cannot remove {-points}."
            ) from exc


def signup_bonus_award(*, shop: Shop, customer_shopify_id: int, customer_created_at: dt.datetime) -> PointsEntry | None:
    """customers/create: the account-creation bonus, for accounts created after the programme started
    (importing existing customers at install is not a sign-up). None when not due or already given."""
    programme = programme_get(shop)
    if customer_created_at < programme.launched_at or programme.bonus_points("signup") is None or programme.paused:
        return None
    return bonus_award(shop=shop, customer_shopify_id=customer_shopify_id, kind="signup", occasion="account")
