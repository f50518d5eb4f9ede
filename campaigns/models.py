"""Coupons (discounts in Shopify, their codes and code batches), automated campaigns, their recipients,
unsubscribes and survey answers.

Conventions:
- Customers are referenced by Shopify id (`customer_shopify_id`), like commerce: no foreign keys into the
  synced tables, whose rows are replaced by upserts.
- "At most once" is carried by unique constraints, never by a check in Python: one recipient row per
  (shop, campaign, customer, window), one run per (shop, campaign, local date), one code per (shop, CODE).
- Only campaigns.services write these rows.
"""
from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models.functions import Upper
from django.utils.translation import gettext_lazy as _

from core.money import currency_field
from shops.models import ShopScopedModel

# --- Coupons ----------------------------------------------------------------------------------------


class Coupon(ShopScopedModel):
    """A code discount in Shopify (basic or free shipping) with one shared code or many unique codes.

    `shopify_discount_gid` is empty until Shopify has accepted the discount; `sync_error` holds the last
    error Shopify gave, in the merchant's words. Usage is read from synced orders, never stored here.
    """

    class Kind(models.TextChoices):
        PERCENTAGE = "percentage", _("Percentage off")
        FIXED_AMOUNT = "fixed_amount", _("Fixed amount off")
        FREE_SHIPPING = "free_shipping", _("Free shipping")

    class Audience(models.TextChoices):
        ALL = "all", _("All customers")
        SEGMENT = "segment", _("A segment")
        CUSTOMERS = "customers", _("Named customers")

    class CodeMode(models.TextChoices):
        SHARED = "shared", _("One shared code")
        UNIQUE = "unique", _("Unique codes")

    class Status(models.TextChoices):
        DRAFT = "draft", _("Not in Shopify yet")
        ACTIVE = "active", _("In Shopify")
        FAILED = "failed", _("Shopify refused it")
        DELETED = "deleted", _("Deleted")

    title = models.CharField(max_length=255)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # Percentage as a number of percent (15 = 15 %); a fixed amount in the shop's currency.
    value = models.DecimalField(max_digits=20, decimal_places=3, null=True, blank=True)
    currency = currency_field()
    audience = models.CharField(max_length=16, choices=Audience.choices, default=Audience.ALL)
    segment_key = models.CharField(max_length=64, blank=True, default="")
    # The customers the discount is limited to in Shopify (audience segment: a snapshot of its members).
    customer_shopify_ids = ArrayField(models.BigIntegerField(), default=list, blank=True)
    minimum_subtotal = models.DecimalField(max_digits=20, decimal_places=3, null=True, blank=True)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(null=True, blank=True)
    usage_limit = models.PositiveIntegerField(null=True, blank=True)
    once_per_customer = models.BooleanField(default=True)
    combines_with_order = models.BooleanField(default=False)
    combines_with_product = models.BooleanField(default=False)
    combines_with_shipping = models.BooleanField(default=True)
    code_mode = models.CharField(max_length=16, choices=CodeMode.choices, default=CodeMode.SHARED)
    code_prefix = models.CharField(max_length=32, blank=True, default="")
    codes_requested = models.PositiveIntegerField(default=1)
    shopify_discount_gid = models.CharField(max_length=128, blank=True, default="")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    sync_error = models.TextField(blank=True, default="")
    # A campaign's reward coupon: its codes are created per recipient, not requested up front.
    for_campaign = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "shopify_discount_gid"],
                condition=~models.Q(shopify_discount_gid=""),
                name="campaigns_coupon_gid_uniq",
            ),
            models.CheckConstraint(
                condition=models.Q(kind="free_shipping") | models.Q(value__gt=0), name="campaigns_coupon_value_pos"
            ),
        ]
        indexes = [models.Index(fields=["shop", "-created_at"], name="campaigns_coupon_shop_created")]

    def __str__(self) -> str:
        return self.title


class CouponCodeBatch(ShopScopedModel):
    """Up to 250 codes sent to Shopify in one `discountRedeemCodeBulkAdd`: the resume point of a coupon's
    code creation. pending -> submitting (request in flight) -> submitted (Shopify's bulk creation id
    stored, polled) -> done. A batch found in `submitting` after a crash is resubmitted; codes Shopify then
    reports as TAKEN are checked against our discount (see services.codes)."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SUBMITTING = "submitting"
        SUBMITTED = "submitted"
        DONE = "done"

    coupon = models.ForeignKey(Coupon, on_delete=models.CASCADE, related_name="batches")
    seq = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    bulk_creation_gid = models.CharField(max_length=128, blank=True, default="")
    attempts = models.PositiveIntegerField(default=0)
    codes_count = models.PositiveIntegerField(default=0)
    imported_count = models.PositiveIntegerField(default=0)
    failed_count = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "coupon", "seq"], name="campaigns_codebatch_seq_uniq"),
        ]
        indexes = [models.Index(fields=["shop", "status", "updated_at"], name="campaigns_codebatch_status")]

    def __str__(self) -> str:
        return f"Batch {self.seq} of coupon {self.coupon_id} ({self.status})"


class CouponCode(ShopScopedModel):
    """One redeemable code of a coupon. Codes are unique per shop regardless of case, like Shopify's."""

    class Status(models.TextChoices):
        PENDING = "pending"
        ACTIVE = "active"
        FAILED = "failed"

    coupon = models.ForeignKey(Coupon, on_delete=models.CASCADE, related_name="codes")
    batch = models.ForeignKey(CouponCodeBatch, null=True, blank=True, on_delete=models.SET_NULL, related_name="codes")
    code = models.CharField(max_length=255)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    error = models.CharField(max_length=255, blank=True, default="")
    # Set when the code was made for one campaign recipient.
    recipient = models.OneToOneField(
        "campaigns.Recipient", null=True, blank=True, on_delete=models.SET_NULL, related_name="coupon_code"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(Upper("code"), "shop", name="campaigns_couponcode_code_uniq"),
        ]
        indexes = [
            models.Index(fields=["shop", "coupon", "status"], name="campaigns_code_coupon_status"),
            models.Index(fields=["batch"], name="campaigns_code_batch"),
        ]

    def __str__(self) -> str:
        return self.code


# --- Campaigns --------------------------------------------------------------------------------------


class Campaign(ShopScopedModel):
    """One automated campaign of a shop (one per kind), or a one-off seasonal send.

    `settings` holds the kind's tunable numbers (see campaigns.kinds); `control_percent` of the customers
    who qualify are held back, chosen by a hash of (shop, campaign, customer) so the choice never changes.
    """

    class Kind(models.TextChoices):
        WIN_BACK = "win_back", _("Win-back")
        BIRTHDAY = "birthday", _("Birthday")
        ANNIVERSARY = "anniversary", _("First-order anniversary")
        POST_PURCHASE = "post_purchase", _("Thank-you and feedback")
        CHURN_SURVEY = "churn_survey", _("Why did you stop?")
        VIP_TIER = "vip_tier", _("VIP tier reached")
        REWARD_WAITING = "reward_waiting", _("Reward waiting")
        POINTS_EXPIRING = "points_expiring", _("Points about to expire")
        SEASONAL = "seasonal", _("Seasonal send")

    kind = models.CharField(max_length=32, choices=Kind.choices)
    name = models.CharField(max_length=255, blank=True, default="")
    enabled = models.BooleanField(default=False)
    settings = models.JSONField(default=dict, blank=True)
    control_percent = models.PositiveSmallIntegerField(default=10)
    attribution_days = models.PositiveSmallIntegerField(default=30)
    send_hour = models.PositiveSmallIntegerField(default=10, help_text="Hour of the day, shop time.")
    language = models.CharField(max_length=8, blank=True, default="", help_text="Empty: the shop's language.")
    # Seasonal sends: the audience and when.
    segment_key = models.CharField(max_length=64, blank=True, default="")
    scheduled_for = models.DateTimeField(null=True, blank=True)
    coupon = models.ForeignKey(Coupon, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "kind"], condition=~models.Q(kind="seasonal"), name="campaigns_campaign_kind_uniq"
            ),
            models.CheckConstraint(condition=models.Q(control_percent__lte=90), name="campaigns_control_pct_max"),
            models.CheckConstraint(condition=models.Q(send_hour__lte=23), name="campaigns_send_hour_range"),
        ]

    def __str__(self) -> str:
        return self.name or self.get_kind_display()


class CampaignRun(ShopScopedModel):
    """One run of a campaign on one day of the shop's calendar (unique: beat may fire many times)."""

    class Status(models.TextChoices):
        SELECTING = "selecting"
        PREPARING = "preparing"  # making codes
        SENDING = "sending"
        DONE = "done"
        FAILED = "failed"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="runs")
    run_date = models.DateField(help_text="The shop-local date the run belongs to.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SELECTING)
    selected = models.PositiveIntegerField(default=0)
    treatment = models.PositiveIntegerField(default=0)
    control = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "campaign", "run_date"], name="campaigns_run_day_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id} on {self.run_date}"


class Recipient(ShopScopedModel):
    """A customer who qualified for a campaign in one window, in the treatment or the control group.

    The unique (shop, campaign, customer, window_key) row is what makes "at most once per window" hold
    under retries and concurrent runs. Sending moves queued -> sending (claimed) -> sent | failed; a row
    left in `sending` by a crash is never sent again (at most once: see services.sending).
    """

    class Group(models.TextChoices):
        TREATMENT = "treatment", _("Sent")
        CONTROL = "control", _("Held back")

    class Status(models.TextChoices):
        HELD_BACK = "held_back", _("Held back (control)")
        WAITING_CODE = "waiting_code", _("Waiting for its code")
        QUEUED = "queued", _("Queued")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        SUPPRESSED = "suppressed", _("Not sent: unsubscribed")
        UNKNOWN = "unknown", _("Interrupted while sending")

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="recipients")
    run = models.ForeignKey(CampaignRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="recipients")
    customer_shopify_id = models.BigIntegerField()
    email = models.CharField(max_length=255)
    first_name = models.CharField(max_length=255, blank=True, default="")
    language = models.CharField(max_length=8, default="en")
    window_key = models.CharField(max_length=64)
    group = models.CharField(max_length=16, choices=Group.choices)
    status = models.CharField(max_length=16, choices=Status.choices)
    code = models.CharField(max_length=255, blank=True, default="")
    context = models.JSONField(default=dict, blank=True)
    assigned_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True, help_text="When a sender took it (status sending).")
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "campaign", "customer_shopify_id", "window_key"], name="campaigns_recipient_once"
            ),
        ]
        indexes = [
            models.Index(fields=["shop", "campaign", "status"], name="campaigns_recipient_status"),
            models.Index(fields=["shop", "customer_shopify_id"], name="campaigns_recipient_customer"),
            models.Index(fields=["run", "status"], name="campaigns_recipient_run"),
        ]

    def __str__(self) -> str:
        return f"{self.email} in {self.campaign_id} ({self.window_key})"


class Unsubscribe(ShopScopedModel):
    """A customer's "no more e-mail from this shop" (from a signed link). Every send checks it."""

    email = models.CharField(max_length=255, help_text="Lower-cased.")
    customer_shopify_id = models.BigIntegerField(null=True, blank=True)
    source = models.CharField(max_length=32, default="link")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["shop", "email"], name="campaigns_unsubscribe_uniq")]

    def __str__(self) -> str:
        return self.email


class SurveyResponse(ShopScopedModel):
    """One answer to one survey question, per recipient (answering again replaces the answer)."""

    class Question(models.TextChoices):
        NPS = "nps", _("How likely are you to recommend us? (0-10)")
        CSAT = "csat", _("How satisfied are you? (1-5)")
        CHURN_REASON = "churn_reason", _("Why did you stop buying?")

    class Reason(models.TextChoices):
        MOVED_ON = "moved_on", _("I don't need it any more")
        COMPETITOR = "competitor", _("I found another shop")
        UNHAPPY = "unhappy", _("I was unhappy with the service")
        IGNORED = "ignored", _("I felt ignored")
        OTHER = "other", _("Something else")

    recipient = models.ForeignKey(Recipient, on_delete=models.CASCADE, related_name="survey_responses")
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+")
    customer_shopify_id = models.BigIntegerField()
    question = models.CharField(max_length=16, choices=Question.choices)
    score = models.SmallIntegerField(null=True, blank=True)
    reason = models.CharField(max_length=16, choices=Reason.choices, blank=True, default="")
    comment = models.TextField(blank=True, default="")
    answered_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "recipient", "question"], name="campaigns_survey_once"),
            models.CheckConstraint(
                condition=(
                    models.Q(question="nps", score__gte=0, score__lte=10)
                    | models.Q(question="csat", score__gte=1, score__lte=5)
                    | (models.Q(question="churn_reason") & ~models.Q(reason=""))
                ),
                name="campaigns_survey_valid",
            ),
        ]
        indexes = [models.Index(fields=["shop", "question", "answered_at"], name="campaigns_survey_time")]

    def __str__(self) -> str:
        return f"{self.question} from {self.customer_shopify_id}"

