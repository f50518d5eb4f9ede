"""Loyalty impact: members vs non-members and revenue from orders that used rewards, by hand."""
import datetime as dt
from decimal import Decimal

import pytest
from django.apps import apps
from django.utils import timezone

from commerce.services.upsert import orders_upsert
from reports import selectors

from .helpers import at, order

JAN_MAR = selectors.DateRange(dt.date(2026, 1, 1), dt.date(2026, 3, 31))


def _member(shop, customer, enrolled):
    # Rows made directly: the loyalty services are another helper's and not what is under test here.
    account_model = apps.get_model("loyalty", "PointsAccount")
    return account_model.objects.create(shop=shop, customer_shopify_id=customer, last_activity_at=enrolled,
                                        enrolled_at=enrolled)


def _redemption(shop, account, code):
    reward = apps.get_model("loyalty", "Reward").objects.create(
        shop=shop, name="5 EUR", kind="fixed_amount", points_cost=500, amount=Decimal(5), currency="EUR")
    now = timezone.now()
    return apps.get_model("loyalty", "Redemption").objects.create(
        shop=shop, account=account, reward=reward, points=500, status="used", idempotency_key=f"k-{code}",
        code=code, currency="EUR", created_at=now, updated_at=now)


@pytest.fixture
def data(shop):
    orders_upsert(shop=shop, orders=[
        order(1, 1, at(2026, 1, 10), "100.00"),
        order(2, 1, at(2026, 2, 10), "60.00", codes=["loyal-5off"]),  # a member's reward, other case
        order(3, 2, at(2026, 2, 1), "40.00"),
        order(4, 3, at(2026, 1, 3), "30.00"),
        order(5, 3, at(2026, 3, 3), "50.00", refunds=["20.00"]),
        order(6, 4, at(2026, 3, 9), "90.00", codes=["SUMMER"]),
        order(7, None, at(2026, 3, 9), "10.00"),
    ])
    a1 = _member(shop, 1, at(2025, 12, 1))
    _member(shop, 2, at(2026, 3, 1))
    _member(shop, 9, at(2026, 6, 1))  # joins after the period: not a member in it
    _redemption(shop, a1, "LOYAL-5OFF")


def test_members_vs_non_members(shop, data):
    impact = selectors.loyalty_impact(shop, JAN_MAR)
    assert impact.members_total == 2
    # Members 1 and 2: 3 orders, 200 EUR, one repeater.
    m = impact.members
    assert (m.customers, m.orders, m.repeat_customers, m.net_revenue) == (2, 3, 1, Decimal("200"))
    assert m.repeat_purchase_rate == Decimal("0.5") and m.orders_per_customer == Decimal("1.5")
    assert m.average_order_value == Decimal("200") / 3
    # Non-members 3 and 4: 3 orders, 30 + (50 - 20) + 90 = 150 EUR; guest order in neither group.
    n = impact.non_members
    assert (n.customers, n.orders, n.repeat_customers, n.net_revenue) == (2, 3, 1, Decimal("150"))
    # Rewards: order 2 used the redemption's code (case-insensitive); SUMMER is no reward code.
    assert (impact.reward_orders, impact.reward_revenue) == (1, Decimal("60"))
    assert impact.total_revenue == Decimal("360")
    assert impact.reward_revenue_share == Decimal("60") / Decimal("360")


def test_other_shop_has_no_members(shop, other_shop, data):
    impact = selectors.loyalty_impact(other_shop, JAN_MAR)
    assert impact.members_total == 0 and impact.members.customers == 0 and impact.reward_revenue == 0
