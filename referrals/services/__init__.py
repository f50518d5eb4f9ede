"""Writes of the referrals app. Import from here: `from referrals.services import friend_code_issue`."""
from .attribution import order_referral_sync, order_webhook_received
from .errors import ReferralError, ReferralRefused
from .links import click_record, friend_code_issue
from .programme import programme_get, programme_update, referral_code_for_customer
from .review import referral_approve, referral_reject
from .rewards import referrals_reward_due, rewards_issue_pending

__all__ = [
    "ReferralError", "ReferralRefused", "click_record", "friend_code_issue", "order_referral_sync",
    "order_webhook_received", "programme_get", "programme_update", "referral_approve", "referral_code_for_customer",
    "referral_reject", "referrals_reward_due", "rewards_issue_pending",
]
