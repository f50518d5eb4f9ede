"""Monthly acquisition cohorts from commerce_monthactivity (customer-months counted by cohort and month).

A customer's cohort is the calendar month (shop time zone) of their first counted order. For each
cohort and each month offset k (0 = the acquisition month):
- active share: customers of the cohort with a counted order in month k ÷ cohort size (k = 0 is 100 %
  by definition, so "ordered again" is read from k = 1 on);
- cumulative revenue per customer: the cohort's net revenue in months 0..k ÷ cohort size.
Months after the shop's current month are not observed and left empty; the current month is partial.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from shops.models import Shop

from .periods import month_start, report_cursor, shop_today


def months_between(a: dt.date, b: dt.date) -> int:
    return (b.year - a.year) * 12 + (b.month - a.month)


@dataclass(frozen=True, slots=True)
class Cohort:
    month: dt.date
    customers: int
    # Index k = month offset; None where the month is not observed yet.
    active: tuple[int | None, ...]
    revenue: tuple[Decimal | None, ...]

    @property
    def active_share(self) -> tuple[Decimal | None, ...]:
        return tuple(None if n is None else Decimal(n) / self.customers for n in self.active)

    @property
    def cumulative_revenue_per_customer(self) -> tuple[Decimal | None, ...]:
        out: list[Decimal | None] = []
        total = Decimal(0)
        for amount in self.revenue:
            if amount is None:
                out.append(None)
                continue
            total += amount
            out.append(total / self.customers)
        return tuple(out)


@dataclass(frozen=True, slots=True)
class CohortMatrix:
    currency: str
    first_month: dt.date
    last_month: dt.date
    current_month: dt.date
    offsets: int
    cohorts: tuple[Cohort, ...] = field(default_factory=tuple)

    def average_active_share(self) -> tuple[Decimal | None, ...]:
        """Per offset, active customers ÷ customers over the cohorts that have reached that offset
        (weighted by cohort size): the retention curve of the whole period."""
        return self._weighted(lambda c, k: Decimal(c.active[k]) if c.active[k] is not None else None)

    def average_cumulative_revenue(self) -> tuple[Decimal | None, ...]:
        def cumulative(c: Cohort, k: int) -> Decimal | None:
            value = c.cumulative_revenue_per_customer[k]
            return value * c.customers if value is not None else None

        return self._weighted(cumulative)

    def _weighted(self, numerator) -> tuple[Decimal | None, ...]:
        result: list[Decimal | None] = []
        for k in range(self.offsets):
            top, bottom = Decimal(0), 0
            for c in self.cohorts:
                value = numerator(c, k)
                if value is not None:
                    top += value
                    bottom += c.customers
            result.append(top / bottom if bottom else None)
        return tuple(result)


# Every customer-month row carries its customer's cohort (commerce keeps `cohort_month` with the rest of the
# row), and commerce_monthactivity counts those rows by (cohort_month, month, ...): the matrix is one GROUP BY
# over that rollup (86,000 rows for 730,000 customer-months and 49 cohorts), no join with the customers.
_COHORT_SQL = """
SELECT cohort_month, month, sum(customers), sum(net_revenue)
FROM commerce_monthactivity
WHERE shop_id = %(shop)s AND cohort_month >= %(first)s AND cohort_month <= %(last)s
GROUP BY 1, 2
"""


def cohort_matrix(shop: Shop, first_month: dt.date, last_month: dt.date) -> CohortMatrix:
    """Cohorts acquired from `first_month` to `last_month` (any day of those months), followed up to
    the shop's current month."""
    first_month, last_month = month_start(first_month), month_start(last_month)
    current = month_start(shop_today(shop))
    last_month = min(last_month, current)
    offsets = max(months_between(first_month, current) + 1, 1)
    with report_cursor() as cur:
        cur.execute(_COHORT_SQL, {"shop": shop.pk, "first": first_month, "last": last_month})
        rows = cur.fetchall()
    by_cohort: dict[dt.date, dict[int, tuple[int, Decimal]]] = {}
    for cohort, month, customers, revenue in rows:
        if cohort > last_month:
            continue
        by_cohort.setdefault(cohort, {})[months_between(cohort, month)] = (customers, Decimal(revenue))
    cohorts = []
    for month in sorted(by_cohort):
        cells = by_cohort[month]
        observed = months_between(month, current) + 1
        size = cells[0][0]
        cohorts.append(Cohort(
            month=month, customers=size,
            active=tuple((cells[k][0] if k in cells else 0) if k < observed else None for k in range(offsets)),
            revenue=tuple((cells[k][1] if k in cells else Decimal(0)) if k < observed else None
                          for k in range(offsets)),
        ))
    return CohortMatrix(shop.currency, first_month, last_month, current, offsets, tuple(cohorts))
