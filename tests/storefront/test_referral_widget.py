"""The refer-a-friend app embed's data: /proxy/referrals/me through the signed proxy, in the storefront's
language (the block itself in a browser: tests/e2e/test_referral_widget.py)."""
from __future__ import annotations

import pytest
from django.utils import timezone

from tests.referrals.conftest import REFERRER, order_write, programme, referrer  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db


def test_guest_sees_both_rewards_and_no_link(shop, programme, proxy):  # noqa: F811
    data = proxy.get(shop, "referrals/me", locale="en").json()
    assert data["enabled"] is True and data["logged_in"] is False
    assert data["link"] == "" and data["referrals"] == []
    assert data["friend_offer"] and data["referrer_reward"] and data["holding_days"] == 14
    assert data["share_text"].startswith(data["friend_offer"])


def test_customer_sees_the_link_and_referrals_in_the_storefront_language(shop, referrer, proxy):  # noqa: F811
    from referrals.services import order_referral_sync

    order = order_write(shop, customer_id=None, email="bob.friend@example.com", landing_site=f"/?ref={referrer.code}",
                        processed_at=timezone.now(), status="pending")
    order_referral_sync(shop=shop, order_shopify_id=order.shopify_id)
    english = proxy.get(shop, "referrals/me", REFERRER, locale="en").json()
    assert english["code"] == referrer.code and english["link"].endswith(f"/apps/loyalty/r/{referrer.code}")
    assert [(r["friend"], r["status"], r["status_label"]) for r in english["referrals"]] == [
        ("b***@example.com", "ordered", "Ordered")]
    assert "off your first order" in english["friend_offer"]
    german = proxy.get(shop, "referrals/me", REFERRER, locale="de").json()
    assert "Rabatt" in german["friend_offer"] and german["referrals"][0]["status_label"] == "Bestellt"
    # Without a storefront locale: the shop's language (German here).
    assert "Rabatt" in proxy.get(shop, "referrals/me", REFERRER).json()["friend_offer"]

