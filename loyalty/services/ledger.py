"""The one way points move: post an entry to the ledger and update the account's caches with it.

Callers hold the account row locked (`account_for_update`) for their whole transaction; with several
accounts, lock them in primary-key order. Under that lock the new cache values are computed from the
locked row and written together with the entry, so the entry's balance_after and the account always agree;
the CheckConstraints on PointsAccount are the last line of defence.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from shops.models import Shop

from ..models import PointsAccount, PointsEntry

Bucket = PointsEntry.Bucket


class LoyaltyError(Exception):
    """Base of loyalty errors; `message` is fit to show to the merchant or the customer."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InsufficientPoints(LoyaltyError):
    pass


@dataclass(frozen=True, slots=True)
class Posting:
    delta: int
    bucket: str
    kind: str
    source_type: str
    source_id: str
    idempotency_key: str
    reason: str = ""
    available_at: dt.datetime | None = None
    expires_at: dt.datetime | None = None
    points_requested: int | None = None
    points_waived: int = 0
    policy: str = ""
    staff_name: str = ""
    note: str = ""
    # Activity (earning, redeeming, a staff award) restarts the inactivity-expiry clock; maturation,
    # expiry and reversals do not.
    is_activity: bool = False
    # An available-bucket debit beyond the balance is recorded as owed points (the "owe" policy)
    # instead of being refused.
    allow_owe: bool = False


def account_for_update(*, shop: Shop, customer_shopify_id: int, create: bool = True) -> PointsAccount | None:
    """The member's account, locked FOR UPDATE until the transaction ends; created (enrolled) if missing.

    Must run inside transaction.atomic(). Creation is INSERT ... ON CONFLICT DO NOTHING followed by the
    locking read, so two first events of one customer create one account and then queue on its lock.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("account_for_update needs a transaction")
    if create:
        now = timezone.now()
        PointsAccount.objects.bulk_create(
            [PointsAccount(shop=shop, customer_shopify_id=customer_shopify_id, last_activity_at=now, enrolled_at=now)],
            ignore_conflicts=True,
        )
    return (
        PointsAccount.objects.select_for_update()
        .filter(shop=shop, customer_shopify_id=customer_shopify_id)
        .first()
    )


def entry_post(*, account: PointsAccount, posting: Posting, now: dt.datetime | None = None) -> PointsEntry | None:
    """Append one entry and apply it to the (locked) account. Returns None when an entry with the same
    idempotency key exists: the source was applied before, nothing changes.

    Raises InsufficientPoints when an available-bucket debit exceeds the balance and `allow_owe` is off.
    """
    now = now or timezone.now()
    balance, owed, pending = account.balance, account.owed, account.pending
    delta = posting.delta
    if posting.bucket == Bucket.PENDING:
        pending += delta
        if pending < 0:
            raise InsufficientPoints(f"pending points would be negative ({pending})")
    elif delta > 0:
        repaid = min(owed, delta)  # owed points are repaid before anything becomes spendable
        owed -= repaid
        balance += delta - repaid
    elif delta < 0:
        if balance + delta >= 0:
            balance += delta
        elif posting.allow_owe:
            owed += -delta - balance
            balance = 0
        else:
            raise InsufficientPoints(f"{-delta} points needed, {balance} available")
    try:
        with transaction.atomic():  # savepoint: a duplicate key must not abort the caller's transaction
            entry = PointsEntry.objects.create(
                shop_id=account.shop_id,
                account=account,
                delta=delta,
                bucket=posting.bucket,
                kind=posting.kind,
                reason=posting.reason[:255],
                source_type=posting.source_type,
                source_id=str(posting.source_id)[:64],
                idempotency_key=posting.idempotency_key,
                balance_after=balance - owed,
                pending_after=pending,
                available_at=posting.available_at or now,
                expires_at=posting.expires_at,
                points_requested=posting.points_requested,
                points_waived=posting.points_waived,
                policy=posting.policy,
                staff_name=posting.staff_name,
                note=posting.note,
                created_at=now,
            )
    except IntegrityError as exc:
        if "loyalty_entry_idempotency_uniq" in str(exc):
            return None
        raise
    account.balance, account.owed, account.pending = balance, owed, pending
    fields = ["balance", "owed", "pending"]
    Kind = PointsEntry.Kind
    if posting.kind in (Kind.EARN_ORDER, Kind.BONUS):
        account.lifetime_earned += delta
        fields.append("lifetime_earned")
    elif posting.kind == Kind.REVERSAL:
        # Lifetime points count what the order finally earned, whatever the floor policy let us take.
        account.lifetime_earned -= posting.points_requested if posting.points_requested is not None else -delta
        fields.append("lifetime_earned")
    elif posting.kind in (Kind.REDEEM, Kind.REDEEM_RETURN):
        account.lifetime_redeemed -= delta
        fields.append("lifetime_redeemed")
    if posting.is_activity:
        account.last_activity_at = now
        account.expiry_reminded_at = None
        fields += ["last_activity_at", "expiry_reminded_at"]
    account.save(update_fields=fields)
    return entry


def ledger_purge_for_shop(*, shop: Shop) -> int:
    """Erase a shop's ledger (shop/redact, 48 h after uninstall). The append-only trigger lets a DELETE
    through only with `loyalty.ledger_purge` set, and SET LOCAL confines that to this transaction."""
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SET LOCAL loyalty.ledger_purge = 'on'")
        cur.execute("DELETE FROM loyalty_pointsentry WHERE shop_id = %s", [shop.pk])
        return cur.rowcount
