"""What the reports keep: the shop's report settings and the fitted predicted-value model.

Everything else the reports show is computed on request from commerce's summaries; only the CLV fit
is stored, because fitting takes seconds and runs in a Celery task (reports.tasks).
"""
from __future__ import annotations

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from core.money import currency_field, money_field
from shops.models import ShopScopedModel


class ReportSettings(ShopScopedModel):
    """Per-shop choices that change how numbers are computed (one row per shop, created on first save)."""

    # Gross margin as a fraction (0.4 = 40 %): profit CLV = CLV × margin. Null: only revenue CLV is shown.
    gross_margin = models.DecimalField(
        max_digits=5, decimal_places=4, null=True, blank=True,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1"))],
    )
    # Days without an order after which a customer no longer counts as active. Null: automatic, from the
    # shop's own time between orders (reports.selectors.periods.active_window_days).
    active_window_days = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(7), MaxValueValidator(1095)]
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["shop"], name="reports_settings_one_per_shop")]

    def __str__(self) -> str:
        return f"Report settings of shop {self.shop_id}"


class ClvFit(ShopScopedModel):
    """One fit of the BG/NBD + Gamma-Gamma models for a shop, with its progress and holdout check.

    At most one queued or running fit per shop (constraint): a second request joins the first. The
    newest succeeded fit is the one the admin shows; its predictions are in CustomerPrediction.
    """

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    class Reason(models.TextChoices):
        SCHEDULE = "schedule"
        BACKFILL = "backfill"
        MERCHANT = "merchant"

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    reason = models.CharField(max_length=16, choices=Reason.choices, default=Reason.SCHEDULE)
    # What the task is doing, for the progress display ("loading", "calibration", "fitting", "scoring").
    stage = models.CharField(max_length=32, blank=True, default="")
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent done, 0-100.")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    # The instant the data ends (time "T" of the model): predictions are for the periods after it.
    observed_until = models.DateTimeField(null=True, blank=True)
    customers = models.IntegerField(default=0)
    # {"r":..,"alpha":..,"a":..,"b":..} with time in weeks; {"p":..,"q":..,"gamma":..} in shop money.
    bgnbd_params = models.JSONField(default=dict, blank=True)
    gamma_gamma_params = models.JSONField(default=dict, blank=True)
    # The holdout check: calibration until `calibration_end`, then predicted vs actual orders per week.
    holdout = models.JSONField(default=dict, blank=True)
    currency = currency_field(default="")

    class Meta:
        indexes = [models.Index(fields=["shop", "-created_at"], name="reports_clvfit_shop_created")]
        constraints = [
            models.UniqueConstraint(
                fields=["shop"], condition=models.Q(status__in=["queued", "running"]),
                name="reports_clvfit_one_active",
            )
        ]

    def __str__(self) -> str:
        return f"CLV fit {self.pk} of shop {self.shop_id} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)


class CustomerPrediction(ShopScopedModel):
    """A customer's predicted value from one fit (replaced wholesale by the next successful fit)."""

    fit = models.ForeignKey(ClvFit, on_delete=models.CASCADE, related_name="predictions")
    customer_shopify_id = models.BigIntegerField()
    orders = models.IntegerField()
    p_alive = models.FloatField()
    expected_orders_90 = models.FloatField()
    expected_orders_365 = models.FloatField()
    expected_order_value = money_field()
    predicted_clv_365 = money_field(help_text="Expected orders in 365 days × expected order value.")
    # Likely to lapse: has bought more than once, but P(alive) has fallen below the threshold the fit used.
    likely_to_lapse = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "customer_shopify_id"], name="reports_prediction_uniq"),
        ]
        indexes = [
            models.Index(fields=["shop", "-predicted_clv_365"], name="reports_pred_shop_clv"),
            models.Index(fields=["shop", "likely_to_lapse", "-predicted_clv_365"], name="reports_pred_lapse"),
        ]

    def __str__(self) -> str:
        return f"Prediction for customer {self.customer_shopify_id}"
