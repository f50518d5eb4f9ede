"""Cohort matrix and RFM scores on known data."""
import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection

from commerce.services.upsert import orders_upsert
from reports import selectors
from reports.selectors.rfm import Segment, segment_for

from .helpers import FIXTURE_ORDERS, at, order


def test_cohort_matrix(shop, monkeypatch):
    orders_upsert(shop=shop, orders=FIXTURE_ORDERS)
    monkeypatch.setattr("reports.selectors.cohorts.shop_today", lambda shop: dt.date(2026, 4, 15))
    matrix = selectors.cohort_matrix(shop, dt.date(2025, 11, 1), dt.date(2026, 3, 31))
    assert matrix.offsets == 6  # Nov 2025 .. Apr 2026
    got = {c.month: (c.customers, c.active) for c in matrix.cohorts}
    assert got == {
        dt.date(2025, 11, 1): (1, (1, 0, 0, 0, 0, 0)),           # customer 6
        dt.date(2025, 12, 1): (1, (1, 1, 0, 0, 0, None)),        # customer 4: Dec, Jan
        dt.date(2026, 1, 1): (1, (1, 1, 0, 1, None, None)),      # customer 1: Jan, Feb, Apr
        dt.date(2026, 2, 1): (1, (1, 1, 0, None, None, None)),   # customer 2: Feb, Mar
        dt.date(2026, 3, 1): (1, (1, 0, None, None, None, None)),  # customer 3 (cancelled order ignored)
    }
    jan = next(c for c in matrix.cohorts if c.month == dt.date(2026, 1, 1))
    assert jan.cumulative_revenue_per_customer == (Decimal("100"), Decimal("175.5"), Decimal("175.5"),
                                                   Decimal("185.5"), None, None)
    feb = next(c for c in matrix.cohorts if c.month == dt.date(2026, 2, 1))
    assert feb.cumulative_revenue_per_customer[:2] == (Decimal("80"), Decimal("110"))  # refund of 10 netted
    # Month 1: customers 4, 1, 2 of the 5 cohorts ordered again.
    assert matrix.average_active_share()[1] == Decimal(3) / 5
    # Month 3 is observed only for the Nov, Dec and Jan cohorts: 1 of 3.
    assert matrix.average_active_share()[3] == Decimal(1) / 3


def test_cohort_months_are_in_the_shops_time_zone(shop, monkeypatch):
    monkeypatch.setattr("reports.selectors.cohorts.shop_today", lambda shop: dt.date(2026, 4, 15))
    # 00:30 on 1 March in Berlin is still February in UTC.
    orders_upsert(shop=shop, orders=[order(1, 1, dt.datetime(2026, 2, 28, 23, 30, tzinfo=dt.UTC), "10.00")])
    matrix = selectors.cohort_matrix(shop, dt.date(2026, 1, 1), dt.date(2026, 3, 31))
    assert [c.month for c in matrix.cohorts] == [dt.date(2026, 3, 1)]


def _ten_customers(shop):
    # Customer i (1..10) orders i times, on 1..i January, 10 EUR each: R, F and M all rank by i.
    orders_upsert(shop=shop, orders=[order(i * 100 + k, i, at(2026, 1, k), "10.00")
                                     for i in range(1, 11) for k in range(1, i + 1)])


def _scores(shop):
    out = {}
    for segment in Segment:
        for c in selectors.rfm_segment_customers(shop, segment):
            out[c.customer_shopify_id] = (c.recency_score, c.frequency_score, c.monetary_score, c.segment)
    return out


def test_rfm_scores_are_quintiles(shop):
    _ten_customers(shop)
    scores = _scores(shop)
    # Two customers per quintile: 1-2 -> 1, 3-4 -> 2, ..., 9-10 -> 5, on each dimension.
    assert {i: scores[i][:3] for i in scores} == {i: ((i + 1) // 2,) * 3 for i in range(1, 11)}
    assert scores[10][3] == Segment.CHAMPIONS and scores[1][3] == Segment.LOST
    assert scores[5][3] == Segment.NEED_ATTENTION  # R3, FM3
    assert scores[7][3] == Segment.LOYAL           # R4, FM4
    assert scores[3][3] == Segment.HIBERNATING     # R2, FM2


def test_rfm_scores_equal_sql_ntile_for_distinct_values(shop):
    _ten_customers(shop)
    with connection.cursor() as cur:
        cur.execute("""SELECT customer_shopify_id, ntile(5) OVER (ORDER BY last_order_at),
                              ntile(5) OVER (ORDER BY orders_count), ntile(5) OVER (ORDER BY net_revenue)
                       FROM commerce_customersummary WHERE shop_id = %s""", [shop.pk])
        ntile = {row[0]: tuple(row[1:]) for row in cur.fetchall()}
    assert {i: s[:3] for i, s in _scores(shop).items()} == ntile


def test_equal_values_get_equal_scores(shop):
    # Six one-order customers and four two-order customers: ntile would split the one-order block over
    # F = 1 and 2; we give all six the same F.
    records = [order(i, i, at(2026, 1, 1 + i), "10.00") for i in range(1, 7)]
    records += [order(100 + i * 100 + k, 10 + i, at(2026, 1, k), "10.00") for i in range(1, 5) for k in (1, 20)]
    orders_upsert(shop=shop, orders=records)
    f_scores = {cid: s[1] for cid, s in _scores(shop).items()}
    assert {f_scores[i] for i in range(1, 7)} == {1}
    assert {f_scores[10 + i] for i in range(1, 5)} == {4}  # 1 + floor(5 * 6 / 10)


def test_rfm_overview_counts_and_revenue(shop):
    _ten_customers(shop)
    rfm = selectors.rfm_overview(shop)
    by = {s.segment: s for s in rfm.segments}
    assert rfm.customers == 10 and rfm.net_revenue == Decimal(550)
    assert by[Segment.CHAMPIONS].customers == 2 and by[Segment.CHAMPIONS].net_revenue == Decimal(190)
    assert sum(s.customers for s in rfm.segments) == 10
    assert rfm.grid[(5, 5)] == 2


def test_segment_selector_for_campaigns(shop, other_shop):
    _ten_customers(shop)
    assert selectors.rfm_segment_customer_ids(shop, "champions") == [9, 10]
    assert [c.customer_shopify_id for c in selectors.rfm_segment_customers(shop, "champions", limit=1)] == [10]
    assert selectors.rfm_segment_customer_ids(other_shop, "champions") == []
    with pytest.raises(ValueError):
        selectors.rfm_segment_customers(shop, "vip")


def test_segment_grid_covers_every_score():
    assert {segment_for(r, fm) for r in range(1, 6) for fm in range(1, 6)} == set(Segment)
