"""Reads of the predicted-value model: the shop's latest fit and its customers' predictions."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Q, Sum

from shops.models import Shop

from ..models import ClvFit, CustomerPrediction
from .periods import report_rows


@dataclass(frozen=True, slots=True)
class PredictionSummary:
    customers: int
    expected_orders_90: float
    expected_orders_365: float
    predicted_revenue_365: Decimal
    likely_to_lapse: int


def clv_fit_latest(shop: Shop) -> ClvFit | None:
    """The newest fit of any status (to show progress or the last error)."""
    return ClvFit.objects.for_shop(shop).order_by("-created_at", "-pk").first()


def clv_fit_current(shop: Shop) -> ClvFit | None:
    """The newest succeeded fit: the one whose predictions are shown."""
    return (ClvFit.objects.for_shop(shop).filter(status=ClvFit.Status.SUCCEEDED)
            .order_by("-finished_at", "-pk").first())


def prediction_summary(shop: Shop) -> PredictionSummary:
    agg = CustomerPrediction.objects.for_shop(shop).aggregate(
        n=Count("pk"), o90=Sum("expected_orders_90"), o365=Sum("expected_orders_365"),
        clv=Sum("predicted_clv_365"), lapse=Count("pk", filter=Q(likely_to_lapse=True)),
    )
    return PredictionSummary(
        customers=agg["n"] or 0, expected_orders_90=agg["o90"] or 0.0, expected_orders_365=agg["o365"] or 0.0,
        predicted_revenue_365=agg["clv"] or Decimal(0), likely_to_lapse=agg["lapse"] or 0,
    )


@dataclass(frozen=True, slots=True)
class PredictedCustomer:
    customer_shopify_id: int
    name: str
    email: str
    orders: int
    net_revenue: Decimal
    p_alive: float
    expected_orders_90: float
    expected_orders_365: float
    expected_order_value: Decimal
    predicted_clv_365: Decimal
    likely_to_lapse: bool


_LIST_SQL = """
SELECT p.customer_shopify_id, trim(coalesce(c.first_name, '') || ' ' || coalesce(c.last_name, '')),
       coalesce(c.email, ''), p.orders, coalesce(s.net_revenue, 0), p.p_alive, p.expected_orders_90,
       p.expected_orders_365, p.expected_order_value, p.predicted_clv_365, p.likely_to_lapse
FROM reports_customerprediction p
LEFT JOIN commerce_customer c ON c.shop_id = p.shop_id AND c.shopify_id = p.customer_shopify_id
LEFT JOIN commerce_customersummary s ON s.shop_id = p.shop_id AND s.customer_shopify_id = p.customer_shopify_id
WHERE p.shop_id = %(shop)s {filter}
ORDER BY {order}, p.customer_shopify_id
LIMIT %(limit)s OFFSET %(offset)s
"""


def _list_sql(lapsing_only: bool) -> str:
    return _LIST_SQL.format(
        filter="AND p.likely_to_lapse" if lapsing_only else "",
        order="coalesce(s.net_revenue, 0) DESC" if lapsing_only else "p.predicted_clv_365 DESC",
    )


def _predicted(r) -> PredictedCustomer:
    return PredictedCustomer(r[0], r[1], r[2], r[3], Decimal(r[4]), r[5], r[6], r[7], Decimal(r[8]), Decimal(r[9]),
                             r[10])


def predicted_customers(shop: Shop, *, lapsing_only: bool = False, limit: int | None = 50,
                        offset: int = 0) -> list[PredictedCustomer]:
    """Customers by predicted 365-day value; `lapsing_only` lists those likely to lapse, the ones who
    spent most first (they are the ones worth winning back)."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(_list_sql(lapsing_only), {"shop": shop.pk, "limit": limit, "offset": offset})
        return [_predicted(r) for r in cur.fetchall()]


def predicted_customers_all(shop: Shop, *, lapsing_only: bool = False) -> Iterator[PredictedCustomer]:
    """Every customer of predicted_customers, in its order, streamed (periods.report_rows): the CSV
    export of a shop with hundreds of thousands of customers."""
    for r in report_rows(_list_sql(lapsing_only), {"shop": shop.pk, "limit": None, "offset": 0}):
        yield _predicted(r)


def lapsing_count(shop: Shop) -> int:
    return CustomerPrediction.objects.for_shop(shop).filter(likely_to_lapse=True).count()
