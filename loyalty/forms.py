"""Forms of the loyalty admin pages (validation only; services save)."""
from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Programme, Reward, Tier


class ProgrammeForm(forms.ModelForm):
    class Meta:
        model = Programme
        fields = [
            "paused", "order_earning_enabled", "points_per_currency_unit", "rounding", "include_shipping",
            "include_taxes", "include_gift_cards", "earn_past_orders", "holding_days", "signup_enabled", "signup_points",
            "birthday_enabled", "birthday_points", "anniversary_enabled", "anniversary_points", "review_enabled",
            "review_points", "social_follow_enabled", "social_follow_points", "expiry_inactivity_days",
            "expiry_reminder_days", "negative_policy", "refund_expired_rewards", "tier_basis", "tier_period",
        ]


class TierForm(forms.ModelForm):
    class Meta:
        model = Tier
        fields = ["name", "threshold", "multiplier", "free_shipping_perk", "birthday_points"]


class RewardForm(forms.ModelForm):
    class Meta:
        model = Reward
        fields = [
            "name", "kind", "points_cost", "amount", "percentage", "percentage_cap", "product_variant_gid",
            "max_shipping_price",
            "minimum_subtotal", "expires_after_days", "combines_with_order_discounts",
            "combines_with_product_discounts", "combines_with_shipping_discounts", "min_tier", "active",
        ]

    def __init__(self, *args, shop, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["min_tier"].queryset = Tier.objects.filter(shop=shop)

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        if kind in (Reward.Kind.FIXED_AMOUNT, Reward.Kind.STORE_CREDIT, Reward.Kind.FREE_PRODUCT) and not data.get("amount"):
            self.add_error("amount", _("Enter the amount."))
        if kind == Reward.Kind.PERCENTAGE and not data.get("percentage"):
            self.add_error("percentage", _("Enter the percentage."))
        if data.get("percentage_cap") is not None and kind != Reward.Kind.PERCENTAGE:
            self.add_error("percentage_cap", _("A cap applies to percentage rewards only."))
        if kind == Reward.Kind.FREE_PRODUCT and not data.get("product_variant_gid", "").startswith("gid://shopify/ProductVariant/"):
            self.add_error("product_variant_gid", _("Enter the product variant (gid://shopify/ProductVariant/…)."))
        return data


class AdjustForm(forms.Form):
    points = forms.IntegerField(label=_("Points (negative to remove)"), min_value=-1_000_000, max_value=1_000_000)
    note = forms.CharField(label=_("Reason"), max_length=1000, widget=forms.Textarea(attrs={"rows": 2}))
    staff_name = forms.CharField(label=_("Your name"), max_length=120)
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=100)

    def clean_points(self):
        if self.cleaned_data["points"] == 0:
            raise forms.ValidationError(_("Enter a number of points other than zero."))
        return self.cleaned_data["points"]


class PreviewForm(forms.Form):
    subtotal = forms.DecimalField(min_value=0, max_digits=12, decimal_places=2, initial=100)
    shipping = forms.DecimalField(min_value=0, max_digits=12, decimal_places=2, initial=10)
    taxes = forms.DecimalField(min_value=0, max_digits=12, decimal_places=2, initial=19)
    taxes_included = forms.BooleanField(required=False, label=_("Prices include tax (the subtotal contains the taxes)"))
    gift_cards = forms.DecimalField(min_value=0, max_digits=12, decimal_places=2, initial=0, required=False,
                                    label=_("Gift cards in the subtotal"))
