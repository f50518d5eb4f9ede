from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import ReferralProgramme


class ProgrammeForm(forms.ModelForm):
    class Meta:
        model = ReferralProgramme
        fields = [
            "enabled", "eligibility",
            "friend_reward_kind", "friend_reward_value", "friend_minimum_subtotal", "friend_code_valid_days",
            "friend_combines_with_product_discounts", "friend_combines_with_shipping_discounts",
            "referrer_reward_kind", "referrer_points", "referrer_reward_value", "referrer_code_valid_days",
            "holding_days", "monthly_cap",
            "velocity_window_hours", "velocity_max_per_referrer", "velocity_max_per_address", "friend_codes_per_day",
        ]

    def clean(self):
        data = super().clean()
        if data.get("friend_reward_kind") == ReferralProgramme.FriendRewardKind.PERCENTAGE and not (
            0 < (data.get("friend_reward_value") or 0) <= 100
        ):
            self.add_error("friend_reward_value", _("A percentage is between 1 and 100."))
        if data.get("friend_reward_kind") == ReferralProgramme.FriendRewardKind.FIXED_AMOUNT and not (data.get("friend_reward_value") or 0) > 0:
            self.add_error("friend_reward_value", _("Enter an amount above zero."))
        kind = data.get("referrer_reward_kind")
        if kind == ReferralProgramme.ReferrerRewardKind.POINTS and not data.get("referrer_points"):
            self.add_error("referrer_points", _("Enter the points a referrer earns."))
        if kind == ReferralProgramme.ReferrerRewardKind.PERCENTAGE and not (0 < (data.get("referrer_reward_value") or 0) <= 100):
            self.add_error("referrer_reward_value", _("A percentage is between 1 and 100."))
        if kind == ReferralProgramme.ReferrerRewardKind.FIXED_AMOUNT and not (data.get("referrer_reward_value") or 0) > 0:
            self.add_error("referrer_reward_value", _("Enter an amount above zero."))
        return data


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", _("Approve")), ("reject", _("Reject"))])
    staff_name = forms.CharField(max_length=120, label=_("Your name"))
    note = forms.CharField(max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2}), label=_("Note"))
