# ruff: noqa: S311 - seeded randomness for reproducible test data, not security
"""Loyalty impact: members vs non-members and revenue from orders that used rewards, by hand."""
import datetime as dt
import random
from collections import defaultdict
from dataclasses import replace
from decimal import Decimal

import pytest
from django.apps import apps
from django.utils import timezone

from commerce.services.upsert import orders_upsert
from reports import selectors

from .helpers import BERLIN, at, order
from .test_ranges_property import START, _random_orders, _random_range, _rewritten

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


@pytest.mark.parametrize("seed", range(3))
def test_groups_and_reward_orders_equal_a_brute_force_count(shop, seed):
    """Random orders (some with codes, some rewritten), random members and redemption codes, random
    day-exact ranges: members, non-members and reward orders equal a count over the orders by hand.
    Exercises the members' whole months from their own month rows plus the partial end months."""
    rng = random.Random(seed)
    shop.iana_timezone = "Europe/Berlin"
    shop.save(update_fields=["iana_timezone"])
    reward_codes = [f"LOY-{i}" for i in range(45)]  # customer c is issued LOY-c (a third are)
    orders = [replace(o, discount_codes=rng.choice([[], [], [], [rng.choice(reward_codes).lower()],
                                                    ["SUMMER"], ["SUMMER", rng.choice(reward_codes)]]))
              for o in _random_orders(rng)]
    for i in range(0, len(orders), 90):
        orders_upsert(shop=shop, orders=orders[i:i + 90])
    orders_upsert(shop=shop, orders=_rewritten(rng, orders, len(orders) // 4, 40))
    enrolled = {}
    for customer in rng.sample(range(1, 45), 20):
        enrolled[customer] = dt.datetime.combine(START + dt.timedelta(days=rng.randrange(500)), dt.time(9),
                                                 tzinfo=BERLIN)
        account = _member(shop, customer, enrolled[customer])
        if customer % 3 == 0:
            _redemption(shop, account, reward_codes[customer])
    issued = {reward_codes[c] for c in enrolled if c % 3 == 0}

    for _ in range(20):
        period = _random_range(rng)
        end = dt.datetime.combine(period.end + dt.timedelta(days=1), dt.time.min, tzinfo=BERLIN)
        counted = [o for o in orders if not o.test and o.cancelled_at is None
                   and period.start <= o.processed_at.astimezone(BERLIN).date() <= period.end]
        groups = {True: defaultdict(lambda: [0, Decimal(0)]), False: defaultdict(lambda: [0, Decimal(0)])}
        for o in counted:
            if o.customer_shopify_id is not None:
                c = o.customer_shopify_id
                row = groups[c in enrolled and enrolled[c] < end][c]
                row[0] += 1
                row[1] += o.total - sum((r.amount for r in o.refunds), Decimal(0))
        expected = {member: (len(rows), sum(n for n, _ in rows.values()), sum(1 for n, _ in rows.values() if n > 1),
                             sum((net for _, net in rows.values()), Decimal(0)))
                    for member, rows in groups.items()}
        rewarded = [o for o in counted if {c.upper() for c in o.discount_codes} & issued]
        impact = selectors.loyalty_impact(shop, period)
        m, n = impact.members, impact.non_members
        assert (m.customers, m.orders, m.repeat_customers, m.net_revenue) == expected[True], period
        assert (n.customers, n.orders, n.repeat_customers, n.net_revenue) == expected[False], period
        assert impact.members_total == sum(1 for when in enrolled.values() if when < end)
        assert (impact.reward_orders, impact.reward_revenue) == (
            len(rewarded), sum((o.total - sum((r.amount for r in o.refunds), Decimal(0)) for o in rewarded),
                               Decimal(0))), period
