"""Every discount code this app created in Shopify, whoever asked for it (loyalty, referrals, campaigns)."""
from __future__ import annotations

from django.db import models
from django.db.models import Q

from core.money import currency_field, money_field
from shops.models import ShopScopedModel


class DiscountCode(ShopScopedModel):
    """One code made in Shopify through services.discount_code_create.

    `code` is stored upper-case and unique per shop: Shopify matches codes case-insensitively, and an
    order's `discount_codes` is how we find the row again (services.discount_codes_mark_used).
    """

    class Kind(models.TextChoices):
        PERCENTAGE = "percentage"
        FIXED_AMOUNT = "fixed_amount"
        FREE_SHIPPING = "free_shipping"
        FREE_PRODUCT = "free_product"

    class Purpose(models.TextChoices):
        LOYALTY_REWARD = "loyalty_reward"
        REFERRAL = "referral"
        CAMPAIGN = "campaign"

    code = models.CharField(max_length=64)
    shopify_gid = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # FIXED_AMOUNT / FREE_PRODUCT: money in `currency`; PERCENTAGE: percent (20 = 20 %); FREE_SHIPPING: null.
    value = money_field(null=True, blank=True, default=None)
    currency = currency_field()
    customer_shopify_id = models.BigIntegerField(null=True, blank=True)
    purpose = models.CharField(max_length=16, choices=Purpose.choices)
    # What asked for the code, e.g. "redemption:42"; referrals and campaigns use their own prefixes.
    source = models.CharField(max_length=64, blank=True, default="")
    minimum_subtotal = money_field(null=True, blank=True, default=None)
    combines_with_order_discounts = models.BooleanField(default=False)
    combines_with_product_discounts = models.BooleanField(default=False)
    combines_with_shipping_discounts = models.BooleanField(default=False)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    used_at = models.DateTimeField(null=True, blank=True)
    order_shopify_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "code"], name="discounts_code_shop_code_uniq"),
            models.UniqueConstraint(fields=["shop", "shopify_gid"], name="discounts_code_shop_gid_uniq"),
            models.CheckConstraint(condition=Q(code__regex=r"^[A-Z0-9-]+$"), name="discounts_code_upper"),
        ]
        indexes = [
            models.Index(fields=["shop", "purpose", "-created_at"], name="discounts_code_purpose"),
            models.Index(fields=["shop", "customer_shopify_id"], name="discounts_code_customer"),
        ]

    def __str__(self) -> str:
        return self.code
