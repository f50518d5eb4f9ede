"""Each retention metric against a hand computation on a small fixture."""
import dataclasses
import datetime as dt
from decimal import Decimal

import pytest

from commerce.services.upsert import orders_upsert
from reports import selectors
from reports.presentation import metric_cards
from reports.selectors.metrics import ActiveWindow

from .helpers import BERLIN, FIXTURE_ORDERS, at, order

JAN_MAR = selectors.DateRange(dt.date(2026, 1, 1), dt.date(2026, 3, 31))
WINDOW_90 = ActiveWindow(days=90, automatic=False, repeat_customers_used=0)


@pytest.fixture
def orders(shop):
    orders_upsert(shop=shop, orders=FIXTURE_ORDERS)


def test_every_metric_of_a_quarter(shop, orders):
    # In Jan–Mar 2026 (Berlin): counted orders 1,2,3,4,5,6,8 and guest 9 -> 8 orders;
    # customers 1,2,3,4; customer orders 3+2+1+1 = 7; repeaters 1 and 2.
    m = selectors.period_metrics(shop, JAN_MAR, window=WINDOW_90, gross_margin=Decimal("0.4"))
    assert (m.orders, m.customers, m.customer_orders, m.repeat_customers, m.guest_orders) == (8, 4, 7, 2, 1)
    assert m.net_revenue == Decimal("395.50")  # 100+50+25.50+80+(40-10)+60+30+20
    assert m.average_order_value == Decimal("395.50") / 8
    assert m.purchase_frequency == Decimal("1.75")
    assert m.repeat_purchase_rate == Decimal("0.5")
    # New: customers 1 (Jan 10), 2 (Feb 14), 3 (Mar 30). Returning: customer 4 (first order in December).
    assert m.new_customers == 3
    assert m.returning_customers == 1 and m.returning_customer_rate == Decimal("0.25")
    # Active at the start = ordered in the 90 days before 1 Jan: customers 4 (20 Dec) and 6 (15 Nov).
    # Active at the end = ordered in the 90 days before 1 Apr (from 1 Jan): customers 1, 2, 3, 4.
    assert (m.active_at_start, m.active_at_end) == (2, 4)
    assert m.retention_rate == Decimal("0.5")  # (4 - 3) / 2
    assert m.churn_rate == Decimal("0.5")
    assert m.lifespan_periods == Decimal(2)
    assert m.lifespan_days == Decimal(180)  # 90-day period / 0.5
    assert m.clv == Decimal("395.50") / 8 * Decimal("1.75") * 2  # 173.03125
    assert m.profit_clv == m.clv * Decimal("0.4")
    # Second orders of the period's new customers: 1 after 24 days (10 Jan -> 3 Feb), 2 after 16 days
    # (14 Feb -> 2 Mar); customer 3's other order is cancelled.
    assert m.second_order.acquired == 3 and m.second_order.with_second_order == 2
    assert m.second_order.median_days == Decimal(20)
    assert dict(m.second_order.histogram) == {7: 0, 14: 0, 30: 2, 60: 0, 90: 0, 180: 0, 365: 0, None: 0}
    assert m.second_order.second_order_rate == Decimal(2) / 3


def test_new_customers_who_lapse_within_the_period_do_not_make_retention_negative(shop, orders):
    # A 30-day window on Jan–Mar 2026. Active at the start (ordered 2–31 Dec): customer 4 (20 Dec).
    # Active at the end (ordered 2–31 Mar): customers 2 (2 Mar) and 3 (30 Mar), both new in the period;
    # new customer 1 (last order 20 Feb) lapsed within it. Customer 4 (last order 5 Jan) did not stay:
    # retention (2 − 2) / 1 = 0 %, churn 100 %. Subtracting all three new customers gave (2 − 3) / 1 = −100 %.
    m = selectors.period_metrics(shop, JAN_MAR, window=ActiveWindow(30, False, 0))
    assert (m.active_at_start, m.active_at_end, m.new_customers, m.new_active_at_end) == (1, 2, 3, 2)
    assert m.retention_rate == 0 and m.churn_rate == 1
    assert m.lifespan_periods == 1 and m.clv == m.average_order_value * m.purchase_frequency
    # An old customer who stays: customer 4 orders again on 15 Mar.
    orders_upsert(shop=shop, orders=[order(40, 4, at(2026, 3, 15), "12.00")])
    m = selectors.period_metrics(shop, JAN_MAR, window=ActiveWindow(30, False, 0))
    assert (m.active_at_end, m.new_active_at_end, m.retention_rate) == (3, 2, Decimal(1))


@pytest.mark.parametrize("days", [30, 90])
def test_new_active_at_end_on_its_own_is_the_count_inside_the_metrics(shop, orders, days):
    # The metrics page computes it for the comparison period on its other connection and puts it in.
    window = ActiveWindow(days, False, 0)
    whole = selectors.period_metrics(shop, JAN_MAR, window=window)
    assert selectors.new_active_at_end(shop, JAN_MAR, window=window) == whole.new_active_at_end
    partial = selectors.period_metrics(shop, JAN_MAR, window=window, with_new_active_at_end=False)
    assert partial.new_active_at_end is None and partial.retention_rate is None and partial.clv is None
    assert dataclasses.replace(partial, new_active_at_end=whole.new_active_at_end) == whole


def test_retention_of_a_period_ending_today(shop):
    # The range ends today: "active at the end" is read from the last order dates (another query path).
    # Old customer 1 (first order 200 days ago) ordered 10 days ago; old customer 2 last 100 days ago;
    # new customer 3 (first 50 days ago) ordered 10 days ago; new customer 4 ordered 50 days ago only.
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    days = dt.timedelta(days=1)
    orders_upsert(shop=shop, orders=[
        order(1, 1, now - 200 * days, "10.00"), order(2, 1, now - 100 * days, "10.00"),
        order(3, 1, now - 10 * days, "10.00"), order(4, 2, now - 100 * days, "10.00"),
        order(5, 3, now - 50 * days, "10.00"), order(6, 3, now - 10 * days, "10.00"),
        order(7, 4, now - 50 * days, "10.00"),
    ])
    today = now.astimezone(BERLIN).date()
    period = selectors.DateRange(today - dt.timedelta(days=59), today)
    m = selectors.period_metrics(shop, period, window=ActiveWindow(45, False, 0))
    # Active 45 days before the start (~105–60 days ago): customers 1 and 2. At the end: 1 and 3.
    assert (m.active_at_start, m.active_at_end, m.new_customers, m.new_active_at_end) == (2, 2, 2, 1)
    assert m.retention_rate == Decimal("0.5")  # customer 1 stayed, customer 2 did not
    assert selectors.new_active_at_end(shop, period, window=ActiveWindow(45, False, 0)) == 1


def test_partial_months_are_read_from_orders(shop, orders):
    # 6 Jan – 19 Feb: no whole month inside, everything comes from the orders table.
    m = selectors.period_metrics(shop, selectors.DateRange(dt.date(2026, 1, 6), dt.date(2026, 2, 19)),
                                 window=WINDOW_90)
    # Orders 1 (10 Jan), 2 (3 Feb), 4 (14 Feb), guest 9 (11 Feb); not 8 (5 Jan) nor 3 (20 Feb).
    assert (m.orders, m.customers, m.customer_orders, m.repeat_customers) == (4, 2, 3, 1)
    # 6 Jan – 31 Mar: January partly from orders, February and March whole from the month summaries.
    m = selectors.period_metrics(shop, selectors.DateRange(dt.date(2026, 1, 6), dt.date(2026, 3, 31)),
                                 window=WINDOW_90)
    assert (m.orders, m.customers, m.customer_orders, m.repeat_customers) == (7, 3, 6, 2)


def test_home_page_and_metrics_agree(shop, orders):
    home = selectors.overview(shop, JAN_MAR)
    m = selectors.period_metrics(shop, JAN_MAR, window=WINDOW_90)
    assert (home.orders, home.customers, home.net_revenue) == (m.orders, m.customers, m.net_revenue)
    assert home.average_order_value == m.average_order_value
    assert home.repeat_purchase_rate == m.repeat_purchase_rate


def test_comparison_periods():
    assert selectors.comparison_range(JAN_MAR, selectors.Comparison.PREVIOUS) == selectors.DateRange(
        dt.date(2025, 10, 3), dt.date(2025, 12, 31))
    assert selectors.comparison_range(JAN_MAR, selectors.Comparison.YEAR) == selectors.DateRange(
        dt.date(2025, 1, 1), dt.date(2025, 3, 31))
    leap = selectors.DateRange(dt.date(2028, 2, 29), dt.date(2028, 2, 29))
    assert selectors.comparison_range(leap, selectors.Comparison.YEAR).start == dt.date(2027, 2, 28)
    assert selectors.comparison_range(JAN_MAR, selectors.Comparison.NONE) is None


def test_movement_against_the_comparison_period(shop, orders):
    current = selectors.period_metrics(shop, JAN_MAR, window=WINDOW_90)
    previous = selectors.period_metrics(
        shop, selectors.comparison_range(JAN_MAR, selectors.Comparison.PREVIOUS), window=WINDOW_90)
    # Oct–Dec 2025: orders 7 (70) and 13 (40): AOV 55.
    assert previous.average_order_value == Decimal("55")
    cards = {c.key: c for c in metric_cards(current, previous)}
    assert cards["aov"].change == (Decimal("395.50") / 8 - 55) / 55
    # Repeat rate 50 % now, 0 % before: rates move in points.
    assert cards["repeat_rate"].change == Decimal("0.5") and cards["repeat_rate"].tone == "success"
    assert all(card.definition for card in cards.values())
    assert [i.value for i in cards["retention"].inputs] == [4, 3, 2, 90]


def test_automatic_activity_window(shop, orders):
    # Fewer than 20 repeat customers: the default year.
    assert selectors.active_window_days(shop).days == 365
    assert selectors.active_window_days(shop, 45) == ActiveWindow(45, False, 3)


def test_automatic_window_follows_the_shops_rhythm(shop):
    # 30 customers ordering every 40 days: the window is 40 days (80th percentile of their gaps).
    records = []
    for c in range(30):
        for k in range(3):
            records.append(order(100 + c * 3 + k, 100 + c, at(2025, 1, 1) + dt.timedelta(days=40 * k), "10.00"))
    orders_upsert(shop=shop, orders=records)
    assert selectors.active_window_days(shop).days == 40


def test_automatic_window_is_the_ceiling_of_the_percentile_exactly(shop, other_shop):
    # 30 repeat customers; the 80th percentile is the 24th smallest average gap. With 24 gaps of exactly
    # 33 days it is 33 (whole days stay whole: no float round-up to 34); when the 24th is 33 days and
    # one second, the window is its ceiling, 34.
    def gaps(exact: int) -> list:
        return ([dt.timedelta(days=33)] * exact + [dt.timedelta(days=33, seconds=1)] * (25 - exact)
                + [dt.timedelta(days=100)] * 5)

    base = dt.datetime(2025, 3, 1, 12, tzinfo=dt.UTC)  # UTC: Berlin's wall clock would shift an hour in March
    for target, exact in ((shop, 24), (other_shop, 23)):
        orders_upsert(shop=target, orders=[order(500 + c * 3 + k, 500 + c, base + gap * k, "10.00")
                                           for c, gap in enumerate(gaps(exact)) for k in range(3)])
    assert selectors.active_window_days(shop) == ActiveWindow(33, True, 30)
    assert selectors.active_window_days(other_shop) == ActiveWindow(34, True, 30)


def test_other_shop_sees_nothing(shop, other_shop, orders):
    m = selectors.period_metrics(other_shop, JAN_MAR, window=WINDOW_90)
    assert (m.orders, m.customers, m.active_at_start, m.new_customers) == (0, 0, 0, 0)
    assert m.retention_rate is None and m.clv is None


def test_median_days_from_the_days_histogram():
    from reports.selectors.metrics import _median

    # as PostgreSQL's percentile_cont(0.5): the middle value, or the mean of the two middle ones
    assert _median([(5, 3)], 3) == Decimal(5)
    assert _median([(1, 1), (3, 1)], 2) == Decimal(2)
    assert _median([(1, 1), (2, 1), (10, 2)], 4) == Decimal(6)
    assert _median([(0, 2), (7, 1), (8, 1)], 4) == Decimal("3.5")
    assert _median([], 0) is None
