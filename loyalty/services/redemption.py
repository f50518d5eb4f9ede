"""Turning points into rewards.

Atomic from the customer's side, in three steps because Shopify cannot join our transaction:
1. reserve (one transaction): lock the account, check the balance, create the Redemption and debit the
   points (REDEEM). Two redemptions racing for the same points queue on the account lock; the second
   sees the first's debit and is refused. The client's idempotency key is unique per shop, so a double
   click finds the first redemption instead of spending twice.
2. create the code in Shopify (no transaction open, no lock held: a slow Shopify never blocks others).
3. confirm (ISSUED, with the code) or, if Shopify refused or did not answer, fail and credit the points
   back (REDEEM_RETURN) with a message the customer can read.
"""
from __future__ import annotations

import datetime as dt
import logging
from decimal import ROUND_DOWN, Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

# Refusals are shown to the customer in the storefront's language (the widget's request activated it).
from django.utils.translation import gettext as _

from core.money import Money
from discounts.codes import code_generate, code_normalize
from discounts.models import DiscountCode
from discounts.services import (
    CodeSpec,
    DiscountCodeRefused,
    DiscountServiceUnavailable,
    discount_code_create,
    discount_code_delete,
    discount_code_lookup,
    discount_code_record_existing,
    discount_codes_mark_used,
)
from shops.models import Shop

from ..models import PointsEntry, Programme, Redemption, Reward, Tier
from .ledger import InsufficientPoints, LoyaltyError, Posting, account_for_update, entry_post
from .programme import programme_get

log = logging.getLogger(__name__)

Kind, Bucket, Source, Status = PointsEntry.Kind, PointsEntry.Bucket, PointsEntry.Source, Redemption.Status
CODE_PREFIX = "REWARD"
# Orders can arrive a while after checkout (webhook retries); an expired code is settled only after this.
EXPIRY_GRACE = dt.timedelta(hours=24)
STUCK_AFTER = dt.timedelta(minutes=10)


class RedemptionRefused(LoyaltyError):
    """The redemption cannot happen (not enough points, reward unavailable, programme paused)."""


def capped_percentage_amount(reward: Reward, cart_subtotal: Decimal | None) -> Decimal | None:
    """The fixed amount a capped percentage reward is issued as for a cart: min(percentage × cart
    subtotal, cap), rounded DOWN to the cent so it never exceeds the percentage. None (issue a plain
    percentage code) when the reward is not a capped percentage or there is no usable cart subtotal.

    Why: Shopify's code discounts have no maximum amount (DiscountCustomerGetsValueInput offers a
    percentage or an amount, nothing to cap a percentage with). A fixed amount whose minimum subtotal is
    that cart subtotal can never take more than the percentage of the order it is used on.
    """
    if reward.kind != Reward.Kind.PERCENTAGE or reward.percentage_cap is None or not reward.percentage:
        return None
    if cart_subtotal is None or cart_subtotal <= 0:
        return None
    amount = min((reward.percentage * cart_subtotal / 100).quantize(Decimal("0.01"), rounding=ROUND_DOWN),
                 reward.percentage_cap)
    return amount if amount > 0 else None


def _cart_subtotal(value, currency: str, shop_currency: str) -> Decimal | None:
    """A cart subtotal the storefront sent (the widget reads /cart.js), in the shop's currency, or None.
    A cart in another (presentment) currency is not used: discount amounts are in the shop's currency."""
    if value in (None, ""):
        return None
    if currency and currency.upper() != shop_currency.upper():
        return None
    try:
        amount = Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
    except (ArithmeticError, ValueError):
        return None
    return amount if amount.is_finite() and Decimal("0") < amount < Decimal("1e12") else None


def redemption_reserve(
    *, shop: Shop, customer_shopify_id: int, reward_id: int, idempotency_key: str, now: dt.datetime | None = None,
    cart_subtotal: Decimal | str | None = None, cart_currency: str = "",
) -> tuple[Redemption, bool]:
    """Step 1. Returns (redemption, created); created is False when this idempotency key was used before.
    `cart_subtotal` (with its `cart_currency`): the customer's cart subtotal, which a capped percentage
    reward is issued against (see capped_percentage_amount). Raises RedemptionRefused."""
    now = now or timezone.now()
    key = (idempotency_key or "").strip()[:100]
    if not key:
        raise ValueError("an idempotency key is required")
    programme = programme_get(shop)
    with transaction.atomic():
        account = account_for_update(shop=shop, customer_shopify_id=customer_shopify_id, create=False)
        if account is None:
            raise RedemptionRefused(_("You have no points yet."))
        # Under the account lock a concurrent double click has committed (or not started): this read
        # sees it. The unique constraint below is the guarantee if the key is reused for another account.
        existing = Redemption.objects.filter(shop=shop, idempotency_key=key).first()
        if existing is not None:
            if existing.account_id != account.pk:
                raise RedemptionRefused(_("This request was already used."))
            return existing, False
        if programme.paused:
            raise RedemptionRefused(_("The rewards programme is paused at the moment."))
        reward = Reward.objects.filter(shop=shop, pk=reward_id, active=True).first()
        if reward is None:
            raise RedemptionRefused(_("This reward is no longer available."))
        if reward.min_tier_id is not None:
            needed = Tier.objects.get(shop=shop, pk=reward.min_tier_id)
            if account.tier is None or account.tier.threshold < needed.threshold:
                raise RedemptionRefused(_("This reward is for %(tier)s members and above.") % {"tier": needed.name})
        if account.balance < reward.points_cost:
            raise RedemptionRefused(
                _("This reward costs %(cost)s points; you have %(balance)s available.")
                % {"cost": reward.points_cost, "balance": account.balance}
            )
        currency = reward.currency or shop.currency
        cart = _cart_subtotal(cart_subtotal, cart_currency, currency)
        capped = capped_percentage_amount(reward, cart)
        if reward.kind == Reward.Kind.PERCENTAGE and reward.percentage_cap is not None and capped is None:
            # Shopify's code discounts have no maximum: a capped percentage can only be issued against a
            # known cart (as a fixed amount). Without one we refuse rather than issue an uncapped code.
            raise RedemptionRefused(_("Add the products to your cart first: this reward is worked out from your cart."))
        try:
            with transaction.atomic():
                redemption = Redemption.objects.create(
                    shop=shop, account=account, reward=reward, points=reward.points_cost, status=Status.RESERVED,
                    idempotency_key=key,
                    code=code_generate(CODE_PREFIX) if reward.kind != Reward.Kind.STORE_CREDIT else "",
                    value_amount=capped if capped is not None else reward.amount,
                    value_percentage=reward.percentage, cart_subtotal=cart if capped is not None else None,
                    currency=currency,
                    expires_at=now + dt.timedelta(days=reward.expires_after_days) if reward.expires_after_days else None,
                    created_at=now, updated_at=now,
                )
        except IntegrityError:
            return Redemption.objects.get(shop=shop, idempotency_key=key), False
        try:
            entry_post(
                account=account,
                posting=Posting(
                    delta=-reward.points_cost, bucket=Bucket.AVAILABLE, kind=Kind.REDEEM,
                    source_type=Source.REDEMPTION, source_id=str(redemption.pk),
                    idempotency_key=f"redemption:{redemption.pk}:reserve", reason=f"Redeemed: {reward.name}",
                    is_activity=True,
                ),
                now=now,
            )
        except InsufficientPoints as exc:  # pragma: no cover - checked above under the same lock
            raise RedemptionRefused(_("You do not have enough points for this reward.")) from exc
    return redemption, True


def _code_spec(redemption: Redemption, reward: Reward, customer_shopify_id: int) -> CodeSpec:
    common = dict(
        title=f"{reward.name} (loyalty reward)",
        prefix=CODE_PREFIX,
        purpose=DiscountCode.Purpose.LOYALTY_REWARD,
        source=f"redemption:{redemption.pk}",
        customer_shopify_id=customer_shopify_id,
        minimum_subtotal=reward.minimum_subtotal,
        starts_at=redemption.created_at,
        ends_at=redemption.expires_at,
        combines_with_order_discounts=reward.combines_with_order_discounts,
        combines_with_product_discounts=reward.combines_with_product_discounts,
        combines_with_shipping_discounts=reward.combines_with_shipping_discounts,
        code=redemption.code,
    )
    if reward.kind == Reward.Kind.FREE_SHIPPING:
        return CodeSpec(free_shipping=True, max_shipping_price=reward.max_shipping_price, **common)
    if reward.kind == Reward.Kind.PERCENTAGE and redemption.cart_subtotal is not None and redemption.value_amount:
        # A capped percentage for a known cart: a fixed amount, usable only from that subtotal on.
        common["minimum_subtotal"] = max(redemption.cart_subtotal, reward.minimum_subtotal or Decimal("0"))
        return CodeSpec(amount=Money(redemption.value_amount, redemption.currency), **common)
    if reward.kind == Reward.Kind.PERCENTAGE:
        return CodeSpec(percentage=redemption.value_percentage, **common)
    amount = Money(redemption.value_amount or Decimal("0"), redemption.currency)
    if reward.kind == Reward.Kind.FREE_PRODUCT:
        return CodeSpec(amount=amount, product_variant_gid=reward.product_variant_gid, **common)
    return CodeSpec(amount=amount, **common)


def redemption_create(
    *, shop: Shop, customer_shopify_id: int, reward_id: int, idempotency_key: str, now: dt.datetime | None = None,
    cart_subtotal: Decimal | str | None = None, cart_currency: str = "",
) -> Redemption:
    """Reserve, issue in Shopify, confirm or give the points back. The returned redemption's status says
    which: ISSUED (code ready), FAILED (`error` tells the customer why; points are back) or, for a repeated
    idempotency key, whatever the first request reached. Raises RedemptionRefused."""
    redemption, created = redemption_reserve(
        shop=shop, customer_shopify_id=customer_shopify_id, reward_id=reward_id, idempotency_key=idempotency_key,
        now=now, cart_subtotal=cart_subtotal, cart_currency=cart_currency,
    )
    if not created:
        return redemption
    return redemption_issue(shop=shop, redemption_id=redemption.pk)


def redemption_issue(*, shop: Shop, redemption_id: int) -> Redemption:
    """Steps 2 and 3 for a RESERVED redemption (no transaction may be open: Shopify is called)."""
    # A transaction held open across the Shopify call would keep the account locked for its duration.
    # (The atomic blocks Django's test cases wrap around a test are not ours and are ignored.)
    if any(not getattr(block, "_from_testcase", False) for block in transaction.get_connection().atomic_blocks):
        raise RuntimeError("redemption_issue calls Shopify; call it outside a transaction")
    redemption = Redemption.objects.select_related("reward", "account").get(shop=shop, pk=redemption_id)
    if redemption.status != Status.RESERVED:
        return redemption
    reward = redemption.reward
    if reward.kind == Reward.Kind.STORE_CREDIT:
        return _issue_store_credit(shop=shop, redemption=redemption)
    spec = _code_spec(redemption, reward, redemption.account.customer_shopify_id)
    try:
        code = discount_code_create(shop=shop, spec=spec)
    except DiscountCodeRefused as exc:
        log.warning("Shopify refused redemption %s of %s: %s", redemption.pk, shop.domain, exc.detail)
        return redemption_fail(shop=shop, redemption_id=redemption.pk, message=exc.message)
    except DiscountServiceUnavailable as exc:
        # No verdict: the code may exist (a timeout after Shopify created it). Ask once.
        try:
            gid = discount_code_lookup(shop=shop, code=redemption.code)
        except DiscountServiceUnavailable:
            return redemption_fail(shop=shop, redemption_id=redemption.pk, message=exc.message, check_shopify=True)
        if gid is None:
            return redemption_fail(shop=shop, redemption_id=redemption.pk, message=exc.message)
        code = discount_code_record_existing(shop=shop, spec=spec, code=redemption.code, gid=gid)
    return redemption_confirm(shop=shop, redemption_id=redemption.pk, discount_code=code)


def _issue_store_credit(*, shop: Shop, redemption: Redemption) -> Redemption:
    from shopify_sync import admin_api

    variables = {
        "id": f"gid://shopify/Customer/{redemption.account.customer_shopify_id}",
        "creditInput": {
            "creditAmount": {"amount": format(redemption.value_amount, "f"), "currencyCode": redemption.currency},
            "expiresAt": redemption.expires_at.isoformat() if redemption.expires_at else None,
            "notify": True,
        },
    }
    try:
        data = admin_api.AdminClient(shop, max_attempts=1).execute("loyalty_store_credit_account_credit", variables)
    except admin_api.UserErrors as exc:
        log.warning("store credit refused for redemption %s: %r", redemption.pk, exc)
        return redemption_fail(shop=shop, redemption_id=redemption.pk,
                               message=_("The shop could not add store credit to your account. Your points are back."))
    except Exception as exc:
        # Store credit has no lookup by our reference: a lost answer is flagged for staff to check.
        log.warning("store credit for redemption %s got no answer: %r", redemption.pk, exc)
        return redemption_fail(shop=shop, redemption_id=redemption.pk, check_shopify=True,
                               message=_("We could not reach the shop. Your points are back; please try again."))
    payload = (data or {}).get("storeCreditAccountCredit") or {}
    if payload.get("userErrors") or not payload.get("storeCreditAccountTransaction"):
        return redemption_fail(shop=shop, redemption_id=redemption.pk,
                               message=_("The shop could not add store credit to your account. Your points are back."))
    with transaction.atomic():
        row = Redemption.objects.select_for_update().get(shop=shop, pk=redemption.pk)
        row.status, row.shopify_discount_gid = Status.USED, payload["storeCreditAccountTransaction"]["id"]
        row.used_at = row.updated_at = timezone.now()
        row.save(update_fields=["status", "shopify_discount_gid", "used_at", "updated_at"])
    return row


def redemption_confirm(*, shop: Shop, redemption_id: int, discount_code: DiscountCode) -> Redemption:
    with transaction.atomic():
        redemption = Redemption.objects.select_for_update().get(shop=shop, pk=redemption_id)
        if redemption.status == Status.RESERVED:
            redemption.status = Status.ISSUED
            redemption.code = discount_code.code
            redemption.discount_code = discount_code
            redemption.shopify_discount_gid = discount_code.shopify_gid
            redemption.updated_at = timezone.now()
            redemption.save(update_fields=["status", "code", "discount_code", "shopify_discount_gid", "updated_at"])
    return redemption


def redemption_fail(*, shop: Shop, redemption_id: int, message: str, check_shopify: bool = False) -> Redemption:
    """Mark a reserved redemption failed and credit its points back (once: the entry's key)."""
    now = timezone.now()
    with transaction.atomic():
        redemption = Redemption.objects.select_related("account").get(shop=shop, pk=redemption_id)
        account = account_for_update(shop=shop, customer_shopify_id=redemption.account.customer_shopify_id, create=False)
        redemption = Redemption.objects.select_for_update().get(shop=shop, pk=redemption_id)
        if redemption.status != Status.RESERVED:
            return redemption
        assert account is not None
        entry_post(
            account=account,
            posting=Posting(
                delta=redemption.points, bucket=Bucket.AVAILABLE, kind=Kind.REDEEM_RETURN,
                source_type=Source.REDEMPTION, source_id=str(redemption.pk),
                idempotency_key=f"redemption:{redemption.pk}:return", reason="Reward could not be issued",
            ),
            now=now,
        )
        redemption.status, redemption.error = Status.FAILED, message
        redemption.shopify_check_pending = check_shopify
        redemption.updated_at = now
        redemption.save(update_fields=["status", "error", "shopify_check_pending", "updated_at"])
    return redemption


def redemptions_mark_used_by_order(*, shop: Shop, order) -> int:
    """An order arrived: redemptions whose code it used become USED and point at it. Idempotent."""
    codes = [code_normalize(c) for c in (order.discount_codes or []) if c]
    if not codes or order.test:
        return 0
    used_at = order.processed_at or timezone.now()
    discount_codes_mark_used(shop=shop, codes=codes, order_shopify_id=order.shopify_id, used_at=used_at)
    marked = 0
    with transaction.atomic():
        for redemption in Redemption.objects.select_for_update().filter(
            shop=shop, code__in=codes, status__in=[Status.RESERVED, Status.ISSUED, Status.EXPIRED]
        ):
            redemption.status = Status.USED
            redemption.order_shopify_id = order.shopify_id
            redemption.used_at = used_at
            redemption.updated_at = timezone.now()
            redemption.save(update_fields=["status", "order_shopify_id", "used_at", "updated_at"])
            marked += 1
    return marked


def redemptions_expire_due(*, shop: Shop, now: dt.datetime | None = None, limit: int = 500) -> list[Redemption]:
    """Codes that ended unused: EXPIRED, and with the merchant's setting the points come back (REFUNDED).
    Shopify itself stops the code at its endsAt; this settles our side a grace period later."""
    now = now or timezone.now()
    programme = programme_get(shop)
    settled = []
    due = list(
        Redemption.objects.filter(shop=shop, status=Status.ISSUED, expires_at__lte=now - EXPIRY_GRACE)
        .order_by("expires_at").values_list("pk", flat=True)[:limit]
    )
    for pk in due:
        settled.append(_expire_one(shop=shop, programme=programme, redemption_id=pk, now=now))
    return [r for r in settled if r is not None]


def _expire_one(*, shop: Shop, programme: Programme, redemption_id: int, now: dt.datetime) -> Redemption | None:
    with transaction.atomic():
        redemption = Redemption.objects.select_related("account").get(shop=shop, pk=redemption_id)
        account = account_for_update(shop=shop, customer_shopify_id=redemption.account.customer_shopify_id, create=False)
        redemption = Redemption.objects.select_for_update().get(shop=shop, pk=redemption_id)
        if redemption.status != Status.ISSUED or account is None:
            return None
        redemption.status = Status.EXPIRED
        if programme.refund_expired_rewards:
            entry_post(
                account=account,
                posting=Posting(
                    delta=redemption.points, bucket=Bucket.AVAILABLE, kind=Kind.REDEEM_RETURN,
                    source_type=Source.REDEMPTION, source_id=str(redemption.pk),
                    idempotency_key=f"redemption:{redemption.pk}:expired-return", reason="Unused reward expired",
                ),
                now=now,
            )
            redemption.status = Status.REFUNDED
        redemption.updated_at = now
        redemption.save(update_fields=["status", "updated_at"])
    log.info("redemption %s of %s expired unused (%s)", redemption.pk, shop.domain, redemption.status)
    return redemption


def redemptions_resolve(*, shop: Shop, now: dt.datetime | None = None, limit: int = 100) -> int:
    """Settle what a crash or an unanswered Shopify call left open:
    - RESERVED for longer than STUCK_AFTER (the process died between reserving and confirming): confirm
      if Shopify has the code, else fail and give the points back;
    - FAILED with a pending check: delete the code if Shopify made it after all (the points were returned).
    Stops at the first unanswered call (Shopify still down: next run)."""
    now = now or timezone.now()
    done = 0
    for redemption in Redemption.objects.select_related("reward", "account").filter(
        shop=shop, status=Status.RESERVED, created_at__lte=now - STUCK_AFTER
    )[:limit]:
        try:
            gid = discount_code_lookup(shop=shop, code=redemption.code) if redemption.code else None
        except DiscountServiceUnavailable:
            return done
        if gid:
            spec = _code_spec(redemption, redemption.reward, redemption.account.customer_shopify_id)
            code = discount_code_record_existing(shop=shop, spec=spec, code=redemption.code, gid=gid)
            redemption_confirm(shop=shop, redemption_id=redemption.pk, discount_code=code)
        else:
            redemption_fail(shop=shop, redemption_id=redemption.pk,
                            message="The reward could not be issued. Your points are back.")
        done += 1
    for redemption in Redemption.objects.filter(shop=shop, status=Status.FAILED, shopify_check_pending=True)[:limit]:
        try:
            gid = discount_code_lookup(shop=shop, code=redemption.code) if redemption.code else None
            if gid:
                discount_code_delete(shop=shop, shopify_gid=gid)
        except DiscountServiceUnavailable:
            return done
        with transaction.atomic():
            Redemption.objects.filter(shop=shop, pk=redemption.pk).update(shopify_check_pending=False, updated_at=now)
        done += 1
    return done
