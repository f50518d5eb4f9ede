"""RFM selectors against a straightforward reference implementation of the documented semantics.

The selectors find four thresholds per dimension (percentiles, index probes, F from the orders-count
distribution) instead of ranking every customer; these tests rank every customer in Python, by the
definition score = 1 + floor(5 × (customers with a smaller value) ÷ n), and compare every number.
The input of the RFM report is commerce_customersummary, so the cases write summary rows directly:
ties on every dimension, tiny shops, identical customers, negative net revenue, and a second shop whose
customers must not count.
"""
import datetime as dt
import random
from decimal import Decimal

import pytest
from django.db import connection

from commerce.models import CustomerSummary
from reports import selectors
from reports.selectors import rfm
from reports.selectors.rfm import SEGMENT_GRID, SEGMENT_ORDER, Segment

BASE = dt.datetime(2025, 3, 1, 9, 30, tzinfo=dt.UTC)


def _summaries(shop, values):
    """values: (last_order_at, orders_count, net_revenue) per customer; customer ids 1..n."""
    CustomerSummary.objects.bulk_create(
        CustomerSummary(shop=shop, customer_shopify_id=i, first_order_at=last - dt.timedelta(days=30),
                        last_order_at=last, orders_count=orders, net_revenue=Decimal(net), refunded=Decimal(0),
                        currency=shop.currency)
        for i, (last, orders, net) in enumerate(values, 1))


def _dataset(kind, n, seed):
    rng = random.Random(seed)
    if kind == "identical":
        return [(BASE, 2, "10.000")] * n
    if kind == "ties":  # a handful of values per dimension: every quintile boundary falls inside a block
        return [(BASE + dt.timedelta(days=rng.randrange(4)), rng.choice([1, 1, 1, 1, 2, 2, 5]),
                 rng.choice(["0.000", "9.990", "9.990", "10.000", "120.500", "-4.250"])) for _ in range(n)]
    return [(BASE + dt.timedelta(seconds=rng.randrange(10 ** 8), microseconds=rng.randrange(10 ** 6)),
             max(1, int(rng.expovariate(0.4))), str(Decimal(rng.randrange(-2_000, 5_000_000)) / 1000))
            for _ in range(n)]


def _reference(values):
    """{customer id: (r, f, m, segment)} by the definition."""
    n = len(values)
    columns = list(zip(*values, strict=True))

    def score(column, v):
        return 1 + 5 * sum(1 for w in column if w < v) // n

    out = {}
    for i, (last, orders, net) in enumerate(values, 1):
        r, f, m = score(columns[0], last), score(columns[1], orders), score([Decimal(x) for x in columns[2]],
                                                                            Decimal(net))
        out[i] = (r, f, m, SEGMENT_GRID[r][(f + m + 1) // 2 - 1])
    return out


def _now():
    with connection.cursor() as cur:  # the test's transaction: the same now() as the selectors'
        cur.execute("SELECT now()")
        return cur.fetchone()[0]


def _check(shop, values):
    expected = _reference(values)
    now = _now()
    overview = selectors.rfm_overview(shop)
    total = sum((Decimal(net) for _, _, net in values), Decimal(0))
    assert overview.customers == len(values) and overview.net_revenue == total
    grid = {}
    for r, f, _, _ in expected.values():
        grid[(r, f)] = grid.get((r, f), 0) + 1
    assert overview.grid == grid
    for summary in overview.segments:
        members = [values[i - 1] for i, s in expected.items() if s[3] == summary.segment]
        k = len(members)
        revenue = sum((Decimal(net) for _, _, net in members), Decimal(0))
        recency = sum(((now - last) for last, _, _ in members), dt.timedelta())
        assert summary.customers == k
        assert summary.net_revenue == revenue
        assert summary.share_of_customers == Decimal(k) / len(values)
        assert summary.share_of_revenue == (revenue / total if total else None)
        assert summary.average_orders == (Decimal(sum(o for _, o, _ in members)) / k if k else None)
        assert summary.average_recency_days == (
            (Decimal(recency // dt.timedelta(microseconds=1)) / (86_400_000_000 * k)).quantize(Decimal("0.1"))
            if k else None)
    for segment in SEGMENT_ORDER:
        ids = sorted(i for i, s in expected.items() if s[3] == segment)
        assert selectors.rfm_segment_customer_ids(shop, segment) == ids
        ranked = sorted(ids, key=lambda i: (-Decimal(values[i - 1][2]), i))
        rows = selectors.rfm_segment_customers(shop, segment)
        assert [c.customer_shopify_id for c in rows] == ranked
        assert all((c.recency_score, c.frequency_score, c.monetary_score, c.segment) == expected[c.customer_shopify_id]
                   for c in rows)
        assert all((c.last_order_at, c.orders, c.net_revenue) == (values[c.customer_shopify_id - 1][0],
                                                                 values[c.customer_shopify_id - 1][1],
                                                                 Decimal(values[c.customer_shopify_id - 1][2]))
                   for c in rows)
        page = selectors.rfm_segment_customers(shop, segment, limit=2, offset=1)
        assert [c.customer_shopify_id for c in page] == ranked[1:3]


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6, 7, 10, 11])
@pytest.mark.parametrize("kind", ["identical", "ties", "random"])
def test_small_shops_match_the_reference(shop, other_shop, kind, n):
    _summaries(other_shop, _dataset("random", 40, seed=99))  # must not count for `shop`
    values = _dataset(kind, n, seed=n)
    _summaries(shop, values)
    _check(shop, values)


@pytest.mark.parametrize(("kind", "n", "seed"), [("ties", 137, 1), ("ties", 250, 2), ("random", 203, 3),
                                                 ("random", 300, 4)])
def test_larger_shops_match_the_reference(shop, kind, n, seed):
    values = _dataset(kind, n, seed)
    _summaries(shop, values)
    _check(shop, values)


def test_exact_fractions_above_the_quintile_limit(shop, monkeypatch):
    # Shops above 10,000,000 customers ask percentile_disc again with (m − ½)/n: same scores.
    monkeypatch.setattr(rfm, "_EXACT_QUINTILES_UP_TO", 0)
    values = _dataset("ties", 123, seed=5)
    _summaries(shop, values)
    _check(shop, values)


def test_quintile_fractions_are_exact_for_every_shop_size():
    # percentile_disc(k/5) picks s[ceil(f·n)] computed in float8; it must be s[ceil(k·n/5)] up to the limit.
    import numpy as np

    step = 1_000_000
    for start in range(1, rfm._EXACT_QUINTILES_UP_TO + 1, step):
        n = np.arange(start, min(start + step, rfm._EXACT_QUINTILES_UP_TO + 1), dtype=np.int64)
        for k in range(1, 5):
            assert np.array_equal(np.ceil((k / 5) * n.astype(np.float64)).astype(np.int64), (k * n + 4) // 5)


def test_shop_without_customers(shop):
    overview = selectors.rfm_overview(shop)
    assert overview.customers == 0 and overview.grid == {}
    assert all(s.customers == 0 and s.average_recency_days is None for s in overview.segments)
    assert selectors.rfm_segment_customers(shop, Segment.LOST) == []
    assert selectors.rfm_segment_customer_ids(shop, Segment.LOST) == []
