"""The loyalty programme of a shop: its settings, VIP tiers, members' points accounts, the append-only
points ledger, the rewards catalogue and redemptions.

Conventions:
- Every row belongs to a shop (ShopScopedModel) and `shop` is in every unique constraint.
- Customers are referenced by Shopify's numeric id (`customer_shopify_id`), like commerce's tables, not by
  foreign key: a member may earn before commerce has stored the customer row.
- Points are integers; money is Decimal(20,3) beside a currency code (core.money).
- Only loyalty.services write these rows.
"""
from __future__ import annotations

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.money import currency_field, money_field
from shops.models import ShopScopedModel, ShopScopedQuerySet


class Programme(ShopScopedModel):
    """A shop's points programme settings (one per shop, created with defaults on first use)."""

    class Rounding(models.TextChoices):
        # Applied once, to the points of one order (never per line): 12.99 points -> 12 with DOWN.
        DOWN = "down", _("Round down (12.9 → 12)")
        HALF_UP = "half_up", _("Round to nearest (12.5 → 13)")
        UP = "up", _("Round up (12.1 → 13)")

    class NegativePolicy(models.TextChoices):
        # Points taken back for a refund that the member has already spent.
        FLOOR = "floor", _("Stop at zero (the shop absorbs the difference)")
        OWE = "owe", _("Allow a negative balance (future points repay it first)")

    class TierBasis(models.TextChoices):
        SPEND = "spend", _("Money spent")
        POINTS = "points", _("Points earned")

    class TierPeriod(models.TextChoices):
        ROLLING_12_MONTHS = "rolling_12_months", _("Rolling 12 months")
        CALENDAR_YEAR = "calendar_year", _("Calendar year")

    paused = models.BooleanField(default=False, help_text=_("While paused nobody earns or redeems."))
    launched_at = models.DateTimeField(
        help_text=_("Orders processed before this instant are past orders (see earn_past_orders).")
    )

    # --- earning on orders
    order_earning_enabled = models.BooleanField(default=True)
    points_per_currency_unit = models.DecimalField(
        max_digits=10, decimal_places=4, default=Decimal("1"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100000"))],
        help_text=_("Points for each 1.00 of the shop's currency in the earning amount."),
    )
    rounding = models.CharField(max_length=8, choices=Rounding.choices, default=Rounding.DOWN)
    # The earning amount is the subtotal after discounts; these add to it (see
    # services.programme.earning_amount for the rule on tax-inclusive prices and gift cards).
    include_shipping = models.BooleanField(default=False)
    include_taxes = models.BooleanField(
        default=False,
        help_text=_("Off: points are earned on amounts without tax, also in shops whose prices include tax."),
    )
    include_gift_cards = models.BooleanField(
        default=False, help_text=_("Whether gift cards bought in an order earn points."),
    )
    earn_past_orders = models.BooleanField(
        default=False, help_text=_("Whether orders placed before the programme started earn points.")
    )
    holding_days = models.PositiveIntegerField(
        default=14, validators=[MaxValueValidator(365)],
        help_text=_("Days points stay pending before they can be spent (covers returns)."),
    )

    # --- bonuses (each switchable)
    signup_enabled = models.BooleanField(default=True)
    signup_points = models.PositiveIntegerField(default=100)
    birthday_enabled = models.BooleanField(default=True)
    birthday_points = models.PositiveIntegerField(default=200)
    anniversary_enabled = models.BooleanField(default=False)
    anniversary_points = models.PositiveIntegerField(default=100)
    review_enabled = models.BooleanField(default=False)
    review_points = models.PositiveIntegerField(default=50)
    social_follow_enabled = models.BooleanField(default=False)
    social_follow_points = models.PositiveIntegerField(default=25)

    # --- expiry
    expiry_inactivity_days = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(30), MaxValueValidator(3650)],
        help_text=_("Points expire after this many days without earning or redeeming; empty = never."),
    )
    expiry_reminder_days = models.PositiveIntegerField(
        default=14, validators=[MaxValueValidator(365)], help_text=_("Remind members this many days before.")
    )

    negative_policy = models.CharField(max_length=8, choices=NegativePolicy.choices, default=NegativePolicy.FLOOR)
    refund_expired_rewards = models.BooleanField(
        default=True, help_text=_("Give the points back when a redeemed code expires unused.")
    )

    tier_basis = models.CharField(max_length=8, choices=TierBasis.choices, default=TierBasis.SPEND)
    tier_period = models.CharField(max_length=20, choices=TierPeriod.choices, default=TierPeriod.ROLLING_12_MONTHS)

    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["shop"], name="loyalty_programme_one_per_shop")]

    def __str__(self) -> str:
        return f"Programme of shop {self.shop_id}"

    def bonus_points(self, kind: str) -> int | None:
        """Points of a fixed bonus ('signup', 'birthday', ...) or None when that rule is switched off."""
        if not getattr(self, f"{kind}_enabled"):
            return None
        return int(getattr(self, f"{kind}_points"))


class Tier(ShopScopedModel):
    """A VIP tier: reached when the member's spend or points over the qualifying period reach `threshold`.

    `threshold` is money in the shop's currency when the programme's basis is spend, whole points when it
    is points. The programme-wide basis and period keep tiers comparable (one ladder).
    """

    name = models.CharField(max_length=100)
    threshold = models.DecimalField(max_digits=20, decimal_places=3, validators=[MinValueValidator(Decimal("0"))])
    multiplier = models.DecimalField(
        max_digits=5, decimal_places=2, default=Decimal("1"),
        validators=[MinValueValidator(Decimal("1")), MaxValueValidator(Decimal("10"))],
        help_text=_("Order points are multiplied by this (1.5 = 50% more)."),
    )
    free_shipping_perk = models.BooleanField(default=False, help_text=_("Members can redeem free-shipping rewards reserved to this tier."))
    birthday_points = models.PositiveIntegerField(
        null=True, blank=True, help_text=_("Birthday bonus for this tier instead of the programme's; empty = the programme's.")
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["threshold"]
        constraints = [
            models.UniqueConstraint(fields=["shop", "name"], name="loyalty_tier_name_uniq"),
            models.UniqueConstraint(fields=["shop", "threshold"], name="loyalty_tier_threshold_uniq"),
        ]

    def __str__(self) -> str:
        return self.name


class PointsAccount(ShopScopedModel):
    """A member: one customer's points in one shop. Every field except the identity is a cache of the ledger.

    Invariants (each backed by a CheckConstraint):
    - `balance` (spendable) is never negative, whatever the merchant's negative-balance policy. A refund
      that takes back points already spent under the "owe" policy records the shortfall in `owed`
      instead; the member's displayed balance is `balance - owed` and later points repay `owed` first.
      So a redemption can never overdraw, even if the policy changes while one is in flight.
    - `owed` > 0 only when `balance` = 0.
    - `pending` (not yet spendable, inside the holding period) is never negative.
    - `balance - owed` = Sum(delta) of the available bucket, `pending` = Sum(delta) of the pending bucket
      (checked by services.maintenance.ledger_reconcile).
    """

    customer_shopify_id = models.BigIntegerField()
    balance = models.IntegerField(default=0)
    owed = models.IntegerField(default=0)
    pending = models.IntegerField(default=0)
    lifetime_earned = models.IntegerField(default=0, help_text="Points ever credited by earning rules and bonuses.")
    lifetime_redeemed = models.IntegerField(default=0)
    tier = models.ForeignKey(Tier, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    tier_achieved_at = models.DateTimeField(null=True, blank=True)
    # The member keeps the tier at least until then; only a re-evaluation at that point moves them down.
    tier_held_until = models.DateTimeField(null=True, blank=True)
    # Earning or redeeming (not expiry, not maturation): the clock of inactivity expiry.
    last_activity_at = models.DateTimeField()
    expiry_reminded_at = models.DateTimeField(null=True, blank=True)
    enrolled_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "customer_shopify_id"], name="loyalty_account_customer_uniq"),
            models.CheckConstraint(condition=Q(balance__gte=0), name="loyalty_account_balance_not_negative"),
            models.CheckConstraint(condition=Q(owed__gte=0), name="loyalty_account_owed_not_negative"),
            models.CheckConstraint(condition=Q(owed=0) | Q(balance=0), name="loyalty_account_owed_only_at_zero"),
            models.CheckConstraint(condition=Q(pending__gte=0), name="loyalty_account_pending_not_negative"),
        ]
        indexes = [
            models.Index(fields=["shop", "-lifetime_earned"], name="loyalty_account_lifetime"),
            models.Index(fields=["shop", "last_activity_at"], name="loyalty_account_activity"),
            models.Index(fields=["shop", "tier_held_until"], name="loyalty_account_tier_until"),
        ]

    def __str__(self) -> str:
        return f"Points of customer {self.customer_shopify_id}"

    @property
    def net_balance(self) -> int:
        """What the member sees: negative when they owe points."""
        return self.balance - self.owed


class LedgerImmutable(Exception):
    """Raised on any attempt to change or remove a ledger row; corrections are new entries."""


class PointsEntryQuerySet(ShopScopedQuerySet):
    def update(self, **kwargs):
        raise LedgerImmutable("points entries are append-only")

    def delete(self):
        raise LedgerImmutable("points entries are append-only")


class PointsEntry(ShopScopedModel):
    """One change of a member's points: the append-only ledger.

    - `delta` is signed and non-zero, except for a reversal the floor policy waived entirely (kind
      REVERSAL with delta 0 and `points_waived` > 0): the merchant's choice is on record either way.
    - `bucket` says which part of the account it moves: PENDING (inside the holding period) or AVAILABLE.
      Maturation is a pair of entries (pending -N, available +N), so both caches are sums of the ledger.
    - `idempotency_key` is unique per shop: a source (an order, a refund, a redemption, a birthday of a
      year) credits once, however often its webhooks or tasks run. That constraint is the guarantee.
    - `balance_after` / `pending_after` are the account's net balance and pending after this entry.
    - Rows cannot be updated or deleted: the model, its queryset and a database trigger refuse (only
      services.ledger.ledger_purge_for_shop may delete, for shop/redact).
    """

    class Bucket(models.TextChoices):
        PENDING = "pending", _("Pending")
        AVAILABLE = "available", _("Available")

    class Kind(models.TextChoices):
        EARN_ORDER = "earn_order", _("Order")
        BONUS = "bonus", _("Bonus")
        MATURE = "mature", _("Became available")
        REVERSAL = "reversal", _("Refund or cancellation")
        REDEEM = "redeem", _("Reward redeemed")
        REDEEM_RETURN = "redeem_return", _("Reward points returned")
        ADJUST = "adjust", _("Adjustment")
        EXPIRE = "expire", _("Expired")

    class Source(models.TextChoices):
        ORDER = "order", _("Order")
        REFUND = "refund", _("Refund")
        REDEMPTION = "redemption", _("Redemption")
        BONUS = "bonus", _("Bonus")
        STAFF = "staff", _("Staff")
        SYSTEM = "system", _("System")

    account = models.ForeignKey(PointsAccount, on_delete=models.CASCADE, related_name="entries")
    delta = models.IntegerField()
    bucket = models.CharField(max_length=9, choices=Bucket.choices)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    reason = models.CharField(max_length=255, blank=True, default="")
    source_type = models.CharField(max_length=16, choices=Source.choices)
    source_id = models.CharField(max_length=64, blank=True, default="")
    idempotency_key = models.CharField(max_length=200)
    balance_after = models.IntegerField()
    pending_after = models.IntegerField()
    available_at = models.DateTimeField()
    expires_at = models.DateTimeField(
        null=True, blank=True,
        help_text="When these points expire if the member stays inactive (activity postpones it).",
    )
    # Clawbacks: what the rule asked for, what the floor policy waived, and the policy applied.
    points_requested = models.IntegerField(null=True, blank=True)
    points_waived = models.IntegerField(default=0)
    policy = models.CharField(max_length=8, blank=True, default="")
    staff_name = models.CharField(max_length=255, blank=True, default="")
    note = models.TextField(blank=True, default="")
    created_at = models.DateTimeField()

    objects = PointsEntryQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "idempotency_key"], name="loyalty_entry_idempotency_uniq"),
            models.CheckConstraint(
                condition=~Q(delta=0) | Q(kind="reversal", points_waived__gt=0),
                name="loyalty_entry_delta_not_zero",
            ),
            models.CheckConstraint(
                condition=~Q(kind="adjust") | (~Q(staff_name="") & ~Q(note="")),
                name="loyalty_entry_adjust_has_staff_and_note",
            ),
        ]
        indexes = [
            models.Index(fields=["shop", "account", "-created_at"], name="loyalty_entry_account"),
            models.Index(fields=["shop", "source_type", "source_id"], name="loyalty_entry_source"),
            models.Index(fields=["shop", "kind", "created_at"], name="loyalty_entry_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.delta:+d} ({self.kind}) for account {self.account_id}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise LedgerImmutable("points entries are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise LedgerImmutable("points entries are append-only")


class Reward(ShopScopedModel):
    """An item of the rewards catalogue: what a member gets for `points_cost` points."""

    class Kind(models.TextChoices):
        FIXED_AMOUNT = "fixed_amount", _("Amount off the order")
        PERCENTAGE = "percentage", _("Percentage off the order")
        FREE_SHIPPING = "free_shipping", _("Free shipping")
        FREE_PRODUCT = "free_product", _("Free product")
        STORE_CREDIT = "store_credit", _("Store credit")

    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    points_cost = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    # FIXED_AMOUNT / STORE_CREDIT: the amount; FREE_PRODUCT: the value of one unit (the code takes at most
    # this much off that variant, so one unit is free whatever quantity is in the cart).
    amount = money_field(null=True, blank=True, default=None)
    currency = currency_field()
    percentage = models.DecimalField(
        max_digits=5, decimal_places=2, null=True, blank=True,
        validators=[MinValueValidator(Decimal("1")), MaxValueValidator(Decimal("100"))],
    )
    # PERCENTAGE only. Shopify's code discounts have no maximum amount, so a capped reward is issued as a
    # fixed amount: see services.redemption (redemption_reserve's cart_subtotal).
    percentage_cap = money_field(
        null=True, blank=True, default=None, validators=[MinValueValidator(Decimal("0.01"))],
        help_text=_(
            "Optional, percentage rewards only: the most the discount may take off. Shopify codes cannot cap a "
            "percentage, so when a customer redeems this reward from their cart the code becomes a fixed "
            "amount of the percentage of their cart subtotal (at most this cap), valid only on an order with "
            "at least that subtotal. Without a cart to work it out from, the customer is asked to fill their cart first."
        ),
    )
    product_variant_gid = models.CharField(max_length=100, blank=True, default="")
    max_shipping_price = money_field(null=True, blank=True, default=None)
    minimum_subtotal = money_field(null=True, blank=True, default=None)
    expires_after_days = models.PositiveIntegerField(null=True, blank=True, validators=[MaxValueValidator(3650)])
    combines_with_order_discounts = models.BooleanField(default=False)
    combines_with_product_discounts = models.BooleanField(default=True)
    combines_with_shipping_discounts = models.BooleanField(default=True)
    min_tier = models.ForeignKey(Tier, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["points_cost", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind__in=["fixed_amount", "store_credit", "free_product"]) | Q(amount__gt=0),
                name="loyalty_reward_amount_required",
            ),
            models.CheckConstraint(
                condition=~Q(kind="percentage") | Q(percentage__isnull=False), name="loyalty_reward_percentage_required"
            ),
            models.CheckConstraint(
                condition=~Q(kind="free_product") | ~Q(product_variant_gid=""), name="loyalty_reward_variant_required"
            ),
        ]
        indexes = [models.Index(fields=["shop", "active", "points_cost"], name="loyalty_reward_active")]

    def __str__(self) -> str:
        return self.name


class Redemption(ShopScopedModel):
    """A member turning points into a reward: reserved, then issued (code made in Shopify), then used.

    Points move only through the ledger: RESERVED debits them (kind REDEEM); FAILED and the refund of an
    EXPIRED code credit them back (kind REDEEM_RETURN). `idempotency_key` comes from the client, so a
    double click finds the first redemption instead of spending twice.
    """

    class Status(models.TextChoices):
        RESERVED = "reserved", _("Reserved")
        ISSUED = "issued", _("Ready to use")
        USED = "used", _("Used")
        FAILED = "failed", _("Failed")
        EXPIRED = "expired", _("Expired")
        REFUNDED = "refunded", _("Points returned")

    account = models.ForeignKey(PointsAccount, on_delete=models.CASCADE, related_name="redemptions")
    reward = models.ForeignKey(Reward, on_delete=models.PROTECT, related_name="redemptions")
    points = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RESERVED)
    idempotency_key = models.CharField(max_length=100)
    # Chosen before Shopify is called, so a crash between the call and the confirmation can be resolved
    # by looking the code up (services.redemption.redemptions_resolve_stuck).
    code = models.CharField(max_length=64, blank=True, default="")
    discount_code = models.ForeignKey(
        "discounts.DiscountCode", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    shopify_discount_gid = models.CharField(max_length=100, blank=True, default="")
    # Snapshot of the reward's value when redeemed (the catalogue may change later).
    value_amount = money_field(null=True, blank=True, default=None)
    value_percentage = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    # A capped percentage reward redeemed from a cart: the cart's subtotal then. The code is then a fixed
    # amount (value_amount = min(percentage × cart_subtotal, cap)) with this as its minimum subtotal.
    cart_subtotal = money_field(null=True, blank=True, default=None)
    currency = currency_field()
    error = models.TextField(blank=True, default="")
    # Set when Shopify gave no answer and the points went back: the code might still have been made, so
    # services.redemption.redemptions_resolve deletes it once Shopify answers again.
    shopify_check_pending = models.BooleanField(default=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    order_shopify_id = models.BigIntegerField(null=True, blank=True)
    used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "idempotency_key"], name="loyalty_redemption_idempotency_uniq"),
        ]
        indexes = [
            models.Index(fields=["shop", "account", "-created_at"], name="loyalty_redemption_account"),
            models.Index(fields=["shop", "status", "expires_at"], name="loyalty_redemption_status"),
            models.Index(fields=["shop", "code"], name="loyalty_redemption_code"),
        ]

    def __str__(self) -> str:
        return f"Redemption {self.pk} ({self.status})"


class OrderEarning(ShopScopedModel):
    """The points one order earned and what has happened to them since: a cache of that order's ledger
    entries, kept by services.earning under the account's lock, so a refund knows what is left to take
    back and maturation finds due points by index instead of scanning the ledger.
    """

    account = models.ForeignKey(PointsAccount, on_delete=models.CASCADE, related_name="order_earnings")
    order_shopify_id = models.BigIntegerField()
    points_earned = models.IntegerField()
    points_reversed = models.IntegerField(default=0, help_text="Taken back for refunds and cancellation (waived included).")
    points_waived = models.IntegerField(default=0, help_text="Part of the reversals the floor policy did not take.")
    pending_points = models.IntegerField(help_text="Still inside the holding period.")
    available_at = models.DateTimeField()
    matured_at = models.DateTimeField(null=True, blank=True)
    earning_amount = money_field(help_text="The order amount the points were computed on.")
    currency = currency_field()
    multiplier = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("1"))
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "order_shopify_id"], name="loyalty_orderearning_order_uniq"),
            models.CheckConstraint(condition=Q(pending_points__gte=0), name="loyalty_orderearning_pending_gte0"),
            models.CheckConstraint(
                condition=Q(points_reversed__lte=models.F("points_earned")), name="loyalty_orderearning_reversed_lte"
            ),
        ]
        indexes = [
            models.Index(
                fields=["shop", "available_at"], condition=Q(pending_points__gt=0),
                name="loyalty_orderearning_due",
            ),
        ]

    def __str__(self) -> str:
        return f"Points of order {self.order_shopify_id}"

    @property
    def points_remaining(self) -> int:
        return self.points_earned - self.points_reversed


class MemberEmail(ShopScopedModel):
    """One loyalty e-mail to a member about one event: points earned on an order, a reward code ready,
    a tier reached, points about to expire.

    The unique (shop, customer, kind, event_key) constraint is the guarantee that an event is mailed at
    most once, however often the task that notices it runs (services.emails creates the row first and
    sends only a row it moved from QUEUED to SENDING).
    """

    class Kind(models.TextChoices):
        POINTS_EARNED = "points_earned", _("Points earned")
        REWARD_READY = "reward_ready", _("Reward ready")
        TIER_REACHED = "tier_reached", _("Tier reached")
        POINTS_EXPIRING = "points_expiring", _("Points about to expire")

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        SUPPRESSED = "suppressed", _("Not sent: unsubscribed or no e-mail address")
        CAMPAIGN = "campaign", _("Handed to the merchant's campaign")
        FAILED = "failed", _("Failed")

    customer_shopify_id = models.BigIntegerField()
    kind = models.CharField(max_length=16, choices=Kind.choices)
    event_key = models.CharField(max_length=120)
    email = models.CharField(max_length=255, blank=True, default="")
    language = models.CharField(max_length=8, default="en")
    # What the template needs, snapshotted when the event happened (points, code, tier name, dates).
    context = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "customer_shopify_id", "kind", "event_key"],
                                    name="loyalty_memberemail_event_uniq"),
        ]
        indexes = [models.Index(fields=["shop", "status", "created_at"], name="loyalty_memberemail_status")]

    def __str__(self) -> str:
        return f"{self.kind} e-mail to customer {self.customer_shopify_id} ({self.status})"
