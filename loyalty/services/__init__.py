"""Writes of the loyalty app. Import from here: `from loyalty.services import order_points_sync`."""
from .earning import (
    AdjustmentInvalid,
    BonusUnavailable,
    bonus_award,
    order_points_sync,
    points_adjust,
    signup_bonus_award,
)
from .ledger import InsufficientPoints, LoyaltyError, ledger_purge_for_shop
from .maintenance import (
    accounts_due_expiry_reminder,
    bonuses_award_due,
    ledger_reconcile,
    past_orders_import,
    points_expire_inactive,
    points_mature_due,
    rewards_waiting_remind,
    tiers_reevaluate_due,
)
from .programme import programme_get, programme_update, reward_save, tier_delete, tier_save
from .redemption import (
    RedemptionRefused,
    redemption_create,
    redemption_issue,
    redemption_reserve,
    redemptions_expire_due,
    redemptions_mark_used_by_order,
    redemptions_resolve,
)

__all__ = [
    "AdjustmentInvalid", "BonusUnavailable", "InsufficientPoints", "LoyaltyError", "RedemptionRefused",
    "accounts_due_expiry_reminder", "bonus_award", "bonuses_award_due", "ledger_purge_for_shop",
    "ledger_reconcile", "order_points_sync", "past_orders_import", "points_adjust", "points_expire_inactive", "rewards_waiting_remind",
    "points_mature_due", "programme_get", "programme_update", "redemption_create", "redemption_issue",
    "redemption_reserve", "redemptions_expire_due", "redemptions_mark_used_by_order", "redemptions_resolve",
    "reward_save", "signup_bonus_award", "tier_delete", "tier_save", "tiers_reevaluate_due",
]
