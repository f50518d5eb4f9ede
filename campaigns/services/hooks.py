"""The services the loyalty app calls when something happens to a customer (grep for these names).

Each sends the matching campaign's e-mail if the merchant switched it on and the customer accepts
marketing e-mail, at most once per window (tier, redemption, expiry date: a unique constraint), with the
campaign's control group held back. They return the Recipient row, or None when nothing is sent. Call them
inside your transaction: the e-mail is queued on commit.
"""
from .runs import campaign_points_expiring, campaign_reward_waiting, campaign_vip_tier_reached

__all__ = ["campaign_points_expiring", "campaign_reward_waiting", "campaign_vip_tier_reached"]
