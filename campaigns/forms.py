"""Parsing the merchant's input (embedded pages); the rules themselves live in the services."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Coupon
from .services.coupons import CouponSpec


def _aware(value: dt.datetime | None, zone: ZoneInfo) -> dt.datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=zone) if value.tzinfo is None else value


class CouponForm(forms.Form):
    title = forms.CharField(max_length=255, label=_("Title"))
    kind = forms.ChoiceField(choices=Coupon.Kind.choices, label=_("The customer gets"))
    value = forms.DecimalField(required=False, max_digits=20, decimal_places=3, min_value=0, label=_("Value"))
    audience = forms.ChoiceField(choices=Coupon.Audience.choices, label=_("Who can use it"))
    segment_key = forms.CharField(required=False, label=_("Segment"))
    customer_ids = forms.CharField(required=False, label=_("Customer ids (Shopify), comma-separated"))
    minimum_subtotal = forms.DecimalField(required=False, max_digits=20, decimal_places=3, min_value=0,
                                          label=_("Minimum purchase"))
    starts_at = forms.DateTimeField(required=False, label=_("Starts"))
    ends_at = forms.DateTimeField(required=False, label=_("Ends"))
    usage_limit = forms.IntegerField(required=False, min_value=1, label=_("Total uses (empty: no limit)"))
    once_per_customer = forms.BooleanField(required=False, label=_("Once per customer"))
    combines_with_order = forms.BooleanField(required=False, label=_("Combines with order discounts"))
    combines_with_product = forms.BooleanField(required=False, label=_("Combines with product discounts"))
    combines_with_shipping = forms.BooleanField(required=False, label=_("Combines with shipping discounts"))
    code_mode = forms.ChoiceField(choices=Coupon.CodeMode.choices, required=False, label=_("Codes"))
    code = forms.CharField(required=False, max_length=255, label=_("Code"))
    code_prefix = forms.CharField(required=False, max_length=20, label=_("Prefix of the unique codes"))
    codes_requested = forms.IntegerField(required=False, min_value=1, max_value=100_000, label=_("Number of codes"))

    def clean_customer_ids(self) -> list[int]:
        raw = self.cleaned_data.get("customer_ids") or ""
        ids = []
        for part in raw.replace("\n", ",").split(","):
            part = part.strip().rsplit("/", 1)[-1]
            if not part:
                continue
            if not part.isdigit():
                raise forms.ValidationError(_("Customer ids are numbers, like 7234567890."))
            ids.append(int(part))
        return ids

    def spec(self, zone: ZoneInfo) -> CouponSpec:
        d = self.cleaned_data
        return CouponSpec(
            title=d["title"], kind=d["kind"], value=d.get("value"), audience=d["audience"],
            segment_key=d.get("segment_key") or "", customer_shopify_ids=d.get("customer_ids") or [],
            minimum_subtotal=d.get("minimum_subtotal"), starts_at=_aware(d.get("starts_at"), zone),
            ends_at=_aware(d.get("ends_at"), zone), usage_limit=d.get("usage_limit"),
            once_per_customer=d.get("once_per_customer", False),
            combines_with_order=d.get("combines_with_order", False),
            combines_with_product=d.get("combines_with_product", False),
            combines_with_shipping=d.get("combines_with_shipping", False),
            code_mode=d.get("code_mode") or Coupon.CodeMode.SHARED, code=d.get("code") or "",
            code_prefix=d.get("code_prefix") or "", codes_requested=d.get("codes_requested") or 1,
        )


class CampaignForm(forms.Form):
    enabled = forms.BooleanField(required=False, label=_("Switched on"))
    control_percent = forms.IntegerField(min_value=0, max_value=50, initial=10, label=_("Control group (%)"))
    attribution_days = forms.IntegerField(min_value=1, max_value=365, initial=30, label=_("Attribution window (days)"))
    send_hour = forms.IntegerField(min_value=0, max_value=23, initial=10, label=_("Send at (hour, shop time)"))
    language = forms.CharField(required=False, max_length=8, label=_("Language"))
    name = forms.CharField(required=False, max_length=255, label=_("Name"))
    segment_key = forms.CharField(required=False, max_length=64, label=_("Segment"))
    scheduled_for = forms.DateTimeField(required=False, label=_("Send on"))


class TestSendForm(forms.Form):
    to = forms.EmailField(label=_("Send a test to"))
    language = forms.CharField(max_length=8, label=_("Language"))
