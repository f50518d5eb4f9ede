"""The referral programme of a shop: its settings, customers' personal referral codes, link clicks, the
referred friends (one Referral per friend), the referrer's rewards, the decisions taken on them and the
fraud-relevant facts of orders.

Conventions (as in loyalty):
- Every row belongs to a shop (ShopScopedModel) and `shop` is in every unique constraint.
- Customers and orders are referenced by Shopify's numeric ids, not foreign keys (webhooks arrive in any
  order; a friend may order before commerce stored them).
- "Each friend counts once" and "nothing is rewarded twice" are unique constraints, not checks in Python:
  (shop, friend_email_normalized), (shop, friend_customer_shopify_id), (shop, order_shopify_id) on
  Referral and (shop, referral) on ReferrerReward.
- Only referrals.services write these rows.
"""
from __future__ import annotations

from decimal import Decimal

from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.money import currency_field, money_field
from shops.models import ShopScopedModel


class ReferralProgramme(ShopScopedModel):
    """A shop's referral settings (one per shop, created with defaults on first use)."""

    class Eligibility(models.TextChoices):
        ALL_CUSTOMERS = "all", _("Every customer")
        MEMBERS = "members", _("Loyalty members only")

    class FriendRewardKind(models.TextChoices):
        PERCENTAGE = "percentage", _("Percentage off the first order")
        FIXED_AMOUNT = "fixed_amount", _("Amount off the first order")
        FREE_SHIPPING = "free_shipping", _("Free shipping on the first order")

    class ReferrerRewardKind(models.TextChoices):
        POINTS = "points", _("Loyalty points")
        PERCENTAGE = "percentage", _("Percentage discount code")
        FIXED_AMOUNT = "fixed_amount", _("Amount discount code")

    enabled = models.BooleanField(default=False, help_text=_("Customers see their referral link and friends get the offer."))
    eligibility = models.CharField(max_length=8, choices=Eligibility.choices, default=Eligibility.ALL_CUSTOMERS)

    # --- the friend's reward: a unique single-use code for the first order
    friend_reward_kind = models.CharField(max_length=16, choices=FriendRewardKind.choices, default=FriendRewardKind.PERCENTAGE)
    friend_reward_value = models.DecimalField(
        max_digits=12, decimal_places=2, default=Decimal("10"), validators=[MinValueValidator(Decimal("0"))],
        help_text=_("Percent (10 = 10 %) or amount in the shop's currency; ignored for free shipping."),
    )
    friend_minimum_subtotal = money_field(null=True, blank=True, default=None)
    friend_code_valid_days = models.PositiveIntegerField(default=30, validators=[MinValueValidator(1), MaxValueValidator(365)])
    friend_combines_with_product_discounts = models.BooleanField(default=False)
    friend_combines_with_shipping_discounts = models.BooleanField(default=True)

    # --- the referrer's reward
    referrer_reward_kind = models.CharField(max_length=16, choices=ReferrerRewardKind.choices, default=ReferrerRewardKind.POINTS)
    referrer_points = models.PositiveIntegerField(default=500)
    referrer_reward_value = models.DecimalField(
        max_digits=12, decimal_places=2, default=Decimal("10"), validators=[MinValueValidator(Decimal("0"))],
        help_text=_("Percent or amount of the referrer's discount code."),
    )
    referrer_code_valid_days = models.PositiveIntegerField(default=90, validators=[MinValueValidator(1), MaxValueValidator(3650)])
    holding_days = models.PositiveIntegerField(
        default=14, validators=[MaxValueValidator(365)],
        help_text=_("Days after the friend's paid order before the referrer is rewarded; a refund or cancellation in that time cancels the reward."),
    )
    monthly_cap = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)],
        help_text=_("Most rewards one referrer can earn in a calendar month; empty = no limit."),
    )

    # --- fraud rules (a hit flags the referral for review; nothing is rewarded until approved)
    velocity_window_hours = models.PositiveIntegerField(default=24, validators=[MinValueValidator(1), MaxValueValidator(24 * 90)])
    velocity_max_per_referrer = models.PositiveIntegerField(
        default=5, validators=[MinValueValidator(1)],
        help_text=_("More referred orders than this from one referrer in the window are flagged."),
    )
    velocity_max_per_address = models.PositiveIntegerField(
        default=2, validators=[MinValueValidator(1)],
        help_text=_("More referred orders than this to one shipping address or from one device address in the window are flagged."),
    )
    friend_codes_per_day = models.PositiveIntegerField(
        default=25, validators=[MinValueValidator(1)],
        help_text=_("Most friend codes one referral link hands out per day (stops harvesting from coupon sites)."),
    )

    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["shop"], name="referrals_programme_one_per_shop")]

    def __str__(self) -> str:
        return f"Referral programme of shop {self.shop_id}"


class ReferralCode(ShopScopedModel):
    """A customer's personal referral code (one per customer). Its row is also the referrer's lock: the
    monthly cap is counted under `select_for_update` of it, so two rewards maturing at once cannot both
    pass the cap."""

    customer_shopify_id = models.BigIntegerField()
    code = models.CharField(max_length=32)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "customer_shopify_id"], name="referrals_code_customer_uniq"),
            models.UniqueConstraint(fields=["shop", "code"], name="referrals_code_code_uniq"),
            models.CheckConstraint(condition=Q(code__regex=r"^[A-Z0-9-]+$"), name="referrals_code_upper"),
        ]

    def __str__(self) -> str:
        return self.code


class ReferralClick(ShopScopedModel):
    """A visit of a referral link, counted once per visitor and day (`visitor` is a keyed hash of the
    address and browser, never the address itself): the top of the click → first-order funnel."""

    referral_code = models.ForeignKey(ReferralCode, on_delete=models.CASCADE, related_name="clicks")
    visitor = models.CharField(max_length=64)
    day = models.DateField()
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "referral_code", "visitor", "day"], name="referrals_click_uniq"),
        ]
        indexes = [models.Index(fields=["shop", "created_at"], name="referrals_click_created")]


class Referral(ShopScopedModel):
    """One referred friend: from the friend's code (or the first referred order) to the referrer's reward.

    Status flow: CLICKED (friend has a code, no order yet) → ORDERED (first order placed, not paid) →
    PENDING (paid, inside the holding period) → REWARDED or CAPPED (monthly cap reached). Fraud rules
    move it to FLAGGED (waits for the merchant: approve → back to PENDING, reject → REJECTED). A refund or
    cancellation inside the holding period → CANCELLED.
    """

    class Status(models.TextChoices):
        CLICKED = "clicked", _("Clicked")
        ORDERED = "ordered", _("Ordered")
        PENDING = "pending", _("Pending")
        REWARDED = "rewarded", _("Rewarded")
        CAPPED = "capped", _("Monthly limit reached")
        FLAGGED = "flagged", _("Flagged")
        REJECTED = "rejected", _("Rejected")
        CANCELLED = "cancelled", _("Refunded or cancelled")

    class Attribution(models.TextChoices):
        DISCOUNT_CODE = "discount_code", _("Friend's discount code")
        LANDING_SITE = "landing_site", _("Referral link (landing page)")
        CART_ATTRIBUTE = "cart_attribute", _("Referral link (cart attribute)")

    class CodeState(models.TextChoices):
        NONE = "", _("No code")
        ISSUING = "issuing", _("Being created")
        ISSUED = "issued", _("Issued")

    referral_code = models.ForeignKey(ReferralCode, on_delete=models.PROTECT, related_name="referrals")
    referrer_customer_shopify_id = models.BigIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CLICKED)

    friend_email = models.CharField(max_length=255, blank=True, default="")
    # NULL, not "", when unknown: the partial unique constraint "one Referral per friend" skips NULLs.
    friend_email_normalized = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    friend_customer_shopify_id = models.BigIntegerField(null=True, blank=True)
    friend_first_name = models.CharField(max_length=255, blank=True, default="")
    friend_language = models.CharField(max_length=8, blank=True, default="")
    friend_visitor = models.CharField(max_length=64, blank=True, default="")

    # The friend's discount code: chosen before Shopify is called (a lost answer is settled by looking
    # it up), then linked to the DiscountCode row discounts made.
    friend_code = models.CharField(max_length=64, blank=True, default="")
    friend_code_state = models.CharField(max_length=8, choices=CodeState.choices, blank=True, default="")
    friend_discount = models.ForeignKey(
        "discounts.DiscountCode", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    friend_code_error = models.TextField(blank=True, default="")
    friend_email_sent_at = models.DateTimeField(null=True, blank=True)

    # The friend's first order.
    order_shopify_id = models.BigIntegerField(null=True, blank=True)
    order_name = models.CharField(max_length=64, blank=True, default="")
    order_total = money_field(null=True, blank=True, default=None)
    currency = currency_field(blank=True, default="")
    ordered_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    hold_until = models.DateTimeField(null=True, blank=True)
    attribution = models.CharField(max_length=16, choices=Attribution.choices, blank=True, default="")

    fraud_reasons = ArrayField(models.CharField(max_length=32), default=list, blank=True)
    # Set when the merchant approved a flagged referral: the fraud rules do not flag it again.
    approved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "friend_email_normalized"], condition=Q(friend_email_normalized__isnull=False),
                name="referrals_referral_friend_email_uniq",
            ),
            models.UniqueConstraint(
                fields=["shop", "friend_customer_shopify_id"], condition=Q(friend_customer_shopify_id__isnull=False),
                name="referrals_referral_friend_customer_uniq",
            ),
            models.UniqueConstraint(
                fields=["shop", "order_shopify_id"], condition=Q(order_shopify_id__isnull=False),
                name="referrals_referral_order_uniq",
            ),
            models.UniqueConstraint(
                fields=["shop", "friend_code"], condition=~Q(friend_code=""), name="referrals_referral_friend_code_uniq",
            ),
        ]
        indexes = [
            models.Index(fields=["shop", "status", "hold_until"], name="referrals_referral_due"),
            models.Index(fields=["shop", "referral_code", "-created_at"], name="referrals_referral_code"),
            models.Index(fields=["shop", "-created_at"], name="referrals_referral_created"),
        ]

    def __str__(self) -> str:
        return f"Referral {self.pk} ({self.status})"


class ReferrerReward(ShopScopedModel):
    """What a referrer got for one referral: points (a loyalty ledger entry) or a discount code.

    Unique per referral: a referral rewards once, whatever runs twice. A code reward is ISSUING until
    Shopify confirmed the code (retried by the periodic task, which looks the chosen code up first).
    """

    class Status(models.TextChoices):
        ISSUING = "issuing", _("Being issued")
        ISSUED = "issued", _("Issued")

    referral = models.OneToOneField(Referral, on_delete=models.CASCADE, related_name="reward")
    referrer_customer_shopify_id = models.BigIntegerField()
    kind = models.CharField(max_length=16, choices=ReferralProgramme.ReferrerRewardKind.choices)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ISSUING)
    points = models.PositiveIntegerField(null=True, blank=True)
    points_entry_id = models.BigIntegerField(null=True, blank=True)
    value = money_field(null=True, blank=True, default=None)
    currency = currency_field(blank=True, default="")
    code = models.CharField(max_length=64, blank=True, default="")
    discount_code = models.ForeignKey("discounts.DiscountCode", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    error = models.TextField(blank=True, default="")
    # First day of the calendar month (shop time zone) the reward counts against for the monthly cap.
    month = models.DateField()
    email_sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    issued_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "referral"], name="referrals_reward_referral_uniq"),
        ]
        indexes = [
            models.Index(fields=["shop", "referrer_customer_shopify_id", "month"], name="referrals_reward_month"),
            models.Index(fields=["shop", "status"], name="referrals_reward_status"),
        ]

    def __str__(self) -> str:
        return f"Reward of referral {self.referral_id}"


class ReferralEvent(ShopScopedModel):
    """The history of a referral, append-only: every status change, fraud flag and merchant decision,
    with who took it and why."""

    class Kind(models.TextChoices):
        CODE_ISSUED = "code_issued", _("Friend's code issued")
        ORDERED = "ordered", _("First order placed")
        PAID = "paid", _("First order paid")
        FLAGGED = "flagged", _("Flagged for review")
        APPROVED = "approved", _("Approved by the merchant")
        REJECTED = "rejected", _("Rejected by the merchant")
        CANCELLED = "cancelled", _("Refunded or cancelled in the holding period")
        REWARDED = "rewarded", _("Referrer rewarded")
        CAPPED = "capped", _("Not rewarded: monthly limit reached")

    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    staff_name = models.CharField(max_length=255, blank=True, default="")
    note = models.TextField(blank=True, default="")
    reasons = ArrayField(models.CharField(max_length=32), default=list, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["shop", "referral", "created_at"], name="referrals_event_referral")]
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind__in=["approved", "rejected"]) | ~Q(staff_name=""),
                name="referrals_event_decision_has_staff",
            ),
        ]

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("referral events are append-only")
        super().save(*args, **kwargs)


class OrderSignals(ShopScopedModel):
    """Fraud-relevant facts of an order that commerce does not keep: the referral code from the cart
    attributes, and keyed hashes (never the raw values) of the shipping address, phone and browser IP.
    Written from the order webhook hook (services.attribution.order_webhook_received) while the shop's
    programme is on, so the referrer's own earlier orders can be compared with a friend's."""

    order_shopify_id = models.BigIntegerField()
    customer_shopify_id = models.BigIntegerField(null=True, blank=True)
    ref_code = models.CharField(max_length=32, blank=True, default="")
    address_hash = models.CharField(max_length=64, blank=True, default="")
    phone_hash = models.CharField(max_length=64, blank=True, default="")
    ip_hash = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "order_shopify_id"], name="referrals_signals_order_uniq"),
        ]
        indexes = [
            models.Index(fields=["shop", "customer_shopify_id"], name="referrals_signals_customer"),
            models.Index(fields=["shop", "address_hash"], name="referrals_signals_address"),
        ]
