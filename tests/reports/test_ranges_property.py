# ruff: noqa: S311 - seeded randomness for reproducible test data, not security
"""Period numbers read from the summaries and their rollup equal a brute-force count over the orders,
for random orders (written, rewritten and cancelled through commerce's upsert) and random day-exact
ranges: inside one month, across one boundary, many months, starting or ending on the 1st."""
import datetime as dt
import random
from collections import defaultdict
from dataclasses import replace
from decimal import Decimal

import pytest

from commerce.services.upsert import orders_upsert
from reports import selectors

from .helpers import BERLIN, order

pytestmark = pytest.mark.django_db

START = dt.date(2025, 1, 1)
DAYS = 500


def _random_orders(rng: random.Random) -> list:
    orders = []
    for n in range(1, 260):
        customer = rng.choice([None] + list(range(1, 45)))
        day = START + dt.timedelta(days=rng.randrange(DAYS))
        when = dt.datetime.combine(day, dt.time(rng.choice([0, 1, 12, 23]), rng.randrange(60)), tzinfo=BERLIN)
        total = f"{rng.randint(100, 30000) / 100:.2f}"
        refunds = [f"{rng.randint(1, 50):.2f}"] if rng.random() < 0.1 else []
        orders.append(order(n, customer, when, total, cancelled=rng.random() < 0.05, test=rng.random() < 0.03,
                            refunds=refunds))
    return orders


def _rewritten(rng: random.Random, orders: list, count: int, days: int, *, retotal: bool = False) -> list:
    """Rewrite `count` random orders newer (moved up to `days` days, re-totalled when `retotal`, a fifth
    cancelled), in place in `orders`; returns the rewritten ones, to upsert again."""
    changed = []
    for o in rng.sample(orders, count):
        later = o.updated_at + dt.timedelta(days=600)
        moved = o.processed_at + dt.timedelta(days=rng.randint(-days, days))
        total = Decimal(rng.randint(100, 30000)) / 100 if retotal else o.total
        new = replace(o, processed_at=moved, created_at=moved, updated_at=later, total=total,
                      cancelled_at=later if rng.random() < 0.2 else None)
        changed.append(new)
        orders[orders.index(o)] = new
    return changed


def _brute_force(orders, lo: dt.date, hi: dt.date):
    """(customers, customer orders, repeat customers, net revenue incl. guests, orders incl. guests) and
    per month: (new customers' orders, returning customers' orders, guest orders)."""
    counted = [o for o in orders if not o.test and o.cancelled_at is None]
    first_month = {}
    for o in counted:
        if o.customer_shopify_id is not None:
            m = o.processed_at.astimezone(BERLIN).date().replace(day=1)
            c = o.customer_shopify_id
            first_month[c] = min(first_month.get(c, m), m)
    per_customer: dict = defaultdict(int)
    net = Decimal(0)
    orders_in = 0
    months: dict = defaultdict(lambda: [0, 0, 0])
    for o in counted:
        day = o.processed_at.astimezone(BERLIN).date()
        if not lo <= day <= hi:
            continue
        orders_in += 1
        net += o.total - sum((r.amount for r in o.refunds), Decimal(0))
        month = day.replace(day=1)
        if o.customer_shopify_id is None:
            months[month][2] += 1
        else:
            per_customer[o.customer_shopify_id] += 1
            months[month][0 if first_month[o.customer_shopify_id] == month else 1] += 1
    customers = len(per_customer)
    return ((customers, sum(per_customer.values()), sum(1 for n in per_customer.values() if n > 1), net, orders_in),
            {m: tuple(v) for m, v in months.items()})


def _random_range(rng: random.Random) -> selectors.DateRange:
    kind = rng.random()
    start = START + dt.timedelta(days=rng.randrange(DAYS - 40))
    if kind < 0.2:
        start = start.replace(day=1)
    length = rng.choice([1, 5, 20, 31, 45, 62, 100, 200, 365])
    end = start + dt.timedelta(days=length - 1)
    if kind > 0.8:  # ending on a month's last day
        end = (end.replace(day=1) + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    return selectors.DateRange(start, end)


@pytest.mark.parametrize("seed", range(4))
def test_period_numbers_equal_a_brute_force_count(shop, seed):
    shop.iana_timezone = "Europe/Berlin"
    shop.save(update_fields=["iana_timezone"])
    rng = random.Random(seed)
    orders = _random_orders(rng)
    # Written in three batches, then a third of them rewritten newer (moved in time, re-totalled or cancelled):
    # the summaries and their rollup go through the incremental path, deltas included.
    for i in range(0, len(orders), 90):
        orders_upsert(shop=shop, orders=orders[i:i + 90])
    changed = _rewritten(rng, orders, len(orders) // 3, 60, retotal=True)
    for i in range(0, len(changed), 7):
        orders_upsert(shop=shop, orders=changed[i:i + 7])

    for _ in range(25):
        period = _random_range(rng)
        (customers, customer_orders, repeaters, net, orders_in), months = _brute_force(orders, period.start, period.end)
        overview = selectors.overview(shop, period)
        assert (overview.customers, overview.customer_orders, overview.repeat_customers, overview.net_revenue,
                overview.orders) == (customers, customer_orders, repeaters, net, orders_in), period
        monthly = {m.month: (m.new_customer_orders, m.returning_customer_orders, m.guest_orders)
                   for m in selectors.monthly_new_vs_returning(shop, period)}
        assert {m: v for m, v in monthly.items() if any(v)} == months, period


@pytest.mark.parametrize("seed", range(3))
def test_active_and_retained_customers_equal_a_brute_force_count(shop, seed):
    """Active customers at a period's start and end, and its new customers still active at the end (the
    retention inputs), against a count over the orders, for random orders (rewritten too), day-exact
    ranges and activity windows: month rows read by cohort month, partial months from the orders."""
    from reports.selectors.metrics import ActiveWindow

    shop.iana_timezone = "Europe/Berlin"
    shop.save(update_fields=["iana_timezone"])
    rng = random.Random(100 + seed)
    orders = _random_orders(rng)
    orders_upsert(shop=shop, orders=orders)
    orders_upsert(shop=shop, orders=_rewritten(rng, orders, len(orders) // 4, 60))
    counted = [o for o in orders if not o.test and o.cancelled_at is None and o.customer_shopify_id is not None]
    first = {}
    for o in counted:
        c = o.customer_shopify_id
        first[c] = min(first.get(c, o.processed_at), o.processed_at)

    def midnight(day):
        return dt.datetime.combine(day, dt.time.min, tzinfo=BERLIN)

    def active(at, window):
        return {o.customer_shopify_id for o in counted if at - window <= o.processed_at < at}

    for _ in range(12):
        period = _random_range(rng)
        days = rng.choice([30, 45, 90, 200])
        window = dt.timedelta(days=days)
        lo, hi = midnight(period.start), midnight(period.end + dt.timedelta(days=1))
        at_start, at_end = active(lo, window), active(hi, window)
        new_at_end = {c for c in at_end if lo <= first[c] < hi}
        m = selectors.period_metrics(shop, period, window=ActiveWindow(days, False, 0))
        assert (m.active_at_start, m.active_at_end, m.new_active_at_end) == (
            len(at_start), len(at_end), len(new_at_end)), (period, days)
        assert selectors.new_active_at_end(shop, period, window=ActiveWindow(days, False, 0)) == len(new_at_end)
