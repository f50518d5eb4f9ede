"""How the metrics are shown: name, definition, inputs and movement of each number, in the merchant's
language. The arithmetic lives in reports.selectors.metrics; this only says what each number means."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from django.utils.translation import gettext_lazy as _

from .selectors.metrics import PeriodMetrics

Kind = Literal["money", "rate", "number", "decimal", "days"]


@dataclass(frozen=True, slots=True)
class Input:
    label: str
    value: Decimal | int | None
    kind: Kind


@dataclass(frozen=True, slots=True)
class MetricCard:
    key: str
    label: str
    kind: Kind
    value: Decimal | int | None
    previous: Decimal | int | None
    definition: str
    inputs: tuple[Input, ...]
    previous_inputs: tuple[Input, ...]
    higher_is_better: bool = True

    @property
    def change(self) -> Decimal | None:
        """Rates move in percentage points (as a fraction: 0.02 = 2 points); everything else relatively."""
        if self.value is None or self.previous is None:
            return None
        if self.kind == "rate":
            return Decimal(self.value) - Decimal(self.previous)
        if not self.previous:
            return None
        return (Decimal(self.value) - Decimal(self.previous)) / abs(Decimal(self.previous))

    @property
    def change_is_points(self) -> bool:
        return self.kind == "rate"

    @property
    def tone(self) -> str:
        change = self.change
        if change is None or change == 0:
            return ""
        good = (change > 0) == self.higher_is_better
        return "success" if good else "critical"


def _inputs(m: PeriodMetrics | None, spec) -> tuple[Input, ...]:
    if m is None:
        return ()
    return tuple(Input(label, getter(m), kind) for label, getter, kind in spec)


ORDERS = (_("Orders"), lambda m: m.orders, "number")
REVENUE = (_("Net revenue"), lambda m: m.net_revenue, "money")
CUSTOMERS = (_("Customers with an order in the period"), lambda m: m.customers, "number")
CUSTOMER_ORDERS = (_("Their orders"), lambda m: m.customer_orders, "number")
REPEATERS = (_("Customers with 2 or more orders"), lambda m: m.repeat_customers, "number")
RETURNING = (_("Customers who had ordered before the period"), lambda m: m.returning_customers, "number")
AT_START = (_("Active customers at the start"), lambda m: m.active_at_start, "number")
AT_END = (_("Active customers at the end"), lambda m: m.active_at_end, "number")
NEW_AT_END = (_("Of them, new in the period"), lambda m: m.new_active_at_end, "number")
WINDOW = (_("Activity window (days)"), lambda m: m.window_days, "number")
AOV = (_("Average order value"), lambda m: m.average_order_value, "money")
FREQ = (_("Purchase frequency"), lambda m: m.purchase_frequency, "decimal")
CHURN = (_("Churn rate"), lambda m: m.churn_rate, "rate")
PERIOD_DAYS = (_("Days in the period"), lambda m: m.period.days, "number")
LIFESPAN = (_("Lifespan (periods)"), lambda m: m.lifespan_periods, "decimal")
MARGIN = (_("Gross margin"), lambda m: m.gross_margin, "rate")
CLV = (_("Customer lifetime value"), lambda m: m.clv, "money")
ACQUIRED = (_("New customers"), lambda m: m.second_order.acquired, "number")
SECOND = (_("Of them, ordered a second time"), lambda m: m.second_order.with_second_order, "number")

# key, label, kind, value getter, definition, inputs, higher is better
_CARDS = [
    ("aov", _("Average order value"), "money", lambda m: m.average_order_value,
     _("Net revenue divided by the number of orders (guest orders included)."), (REVENUE, ORDERS), True),
    ("frequency", _("Purchase frequency"), "decimal", lambda m: m.purchase_frequency,
     _("Orders placed by customers divided by the customers who ordered in the period."),
     (CUSTOMER_ORDERS, CUSTOMERS), True),
    ("repeat_rate", _("Repeat purchase rate"), "rate", lambda m: m.repeat_purchase_rate,
     _("Share of the period's customers who ordered more than once in it."), (REPEATERS, CUSTOMERS), True),
    ("returning_rate", _("Returning customer rate"), "rate", lambda m: m.returning_customer_rate,
     _("Share of the period's customers whose first order was before the period."), (RETURNING, CUSTOMERS), True),
    ("retention", _("Customer retention rate"), "rate", lambda m: m.retention_rate,
     _("(Customers at the end − new customers in the period) ÷ customers at the start, counting the active "
       "customers (ordered within the activity window before that moment): the active customers at the end "
       "who were already customers before the period, ÷ the active customers at the start. A lapsed "
       "customer who comes back counts as retained, so a period with many comebacks can exceed 100 %."),
     (AT_END, NEW_AT_END, AT_START, WINDOW), True),
    ("churn", _("Churn rate"), "rate", lambda m: m.churn_rate,
     _("1 − retention rate: the share of the customer base at the start that the period lost, net of "
       "comebacks."), (AT_END, NEW_AT_END, AT_START), False),
    ("lifespan", _("Average customer lifespan"), "days", lambda m: m.lifespan_days,
     _("Days in the period ÷ churn rate: with a constant churn per period, a customer stays 1 ÷ churn "
       "periods on average. Not shown when churn is zero or negative."), (PERIOD_DAYS, CHURN), True),
    ("clv", _("Customer lifetime value"), "money", lambda m: m.clv,
     _("Average order value × purchase frequency × lifespan in periods. Revenue, not profit."),
     (AOV, FREQ, LIFESPAN), True),
    ("profit_clv", _("Profit lifetime value"), "money", lambda m: m.profit_clv,
     _("Customer lifetime value × the shop's gross margin (set it below)."), (CLV, MARGIN), True),
    ("second_order_rate", _("Ordered a second time"), "rate", lambda m: m.second_order.second_order_rate,
     _("Share of the period's new customers who have placed a second order since (up to today)."),
     (ACQUIRED, SECOND), True),
    ("median_days_to_second", _("Median days to second order"), "days", lambda m: m.second_order.median_days,
     _("Among the period's new customers who ordered again: the median number of days between their "
       "first and second order (calendar days in the shop's time zone)."), (SECOND,), False),
]


def metric_cards(current: PeriodMetrics, previous: PeriodMetrics | None) -> list[MetricCard]:
    cards = []
    for key, label, kind, getter, definition, inputs, higher in _CARDS:
        cards.append(MetricCard(
            key=key, label=str(label), kind=kind, value=getter(current),
            previous=getter(previous) if previous is not None else None, definition=str(definition),
            inputs=_inputs(current, [(str(lbl), g, k) for lbl, g, k in inputs]),
            previous_inputs=_inputs(previous, [(str(lbl), g, k) for lbl, g, k in inputs]),
            higher_is_better=higher,
        ))
    return cards


SEGMENT_LABELS = {
    "champions": _("Champions"),
    "loyal": _("Loyal"),
    "potential_loyalists": _("Potential loyalists"),
    "new": _("New customers"),
    "promising": _("Promising"),
    "need_attention": _("Need attention"),
    "about_to_sleep": _("About to sleep"),
    "at_risk": _("At risk"),
    "cant_lose": _("Can't lose them"),
    "hibernating": _("Hibernating"),
    "lost": _("Lost"),
}
SEGMENT_DESCRIPTIONS = {
    "champions": _("Bought recently, buy often and spend the most."),
    "loyal": _("Buy regularly and spend well; recent enough."),
    "potential_loyalists": _("Recent customers with average frequency and spend."),
    "new": _("Bought very recently, for the first time or little so far."),
    "promising": _("Recent, but have not bought much yet."),
    "need_attention": _("Average recency, frequency and spend."),
    "about_to_sleep": _("Last bought a while ago and not much; will be lost without a nudge."),
    "at_risk": _("Used to buy and spend well, but not for a long time."),
    "cant_lose": _("Were among the best customers; have not come back for a long time."),
    "hibernating": _("Last bought long ago, rarely and little."),
    "lost": _("Lowest recency, frequency and spend."),
}

# label, value from loyalty GroupStats, kind
LOYALTY_ROWS = [
    (_("Customers who ordered"), lambda g: g.customers, "number"),
    (_("Repeat purchase rate"), lambda g: g.repeat_purchase_rate, "rate"),
    (_("Average order value"), lambda g: g.average_order_value, "money"),
    (_("Orders per customer"), lambda g: g.orders_per_customer, "decimal"),
    (_("Orders"), lambda g: g.orders, "number"),
    (_("Net revenue"), lambda g: g.net_revenue, "money"),
]
