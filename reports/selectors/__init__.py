"""Reads of the retention reports, one module per report; every selector takes the shop first.

The counting rule every report shares is stated in `periods`.
"""
from .cohorts import Cohort, CohortMatrix, cohort_matrix
from .home import MonthOrders, Overview, monthly_new_vs_returning, overview
from .loyalty import GroupStats, LoyaltyImpact, loyalty_impact
from .metrics import (
    ActiveWindow,
    CustomerBase,
    PeriodMetrics,
    SecondOrderGaps,
    active_window_days,
    customer_base,
    new_active_at_end,
    period_metrics,
    second_order_gaps,
)
from .periods import (
    Comparison,
    DateRange,
    comparison_range,
    default_range,
    shop_today,
    shop_tz,
)
from .predictions import (
    PredictedCustomer,
    clv_fit_current,
    clv_fit_latest,
    predicted_customers,
    predicted_customers_all,
    prediction_summary,
)
from .rfm import (
    RfmCustomer,
    RfmOverview,
    Segment,
    rfm_overview,
    rfm_segment_customer_ids,
    rfm_segment_customers,
    rfm_segment_customers_all,
)

__all__ = [
    "ActiveWindow", "Cohort", "CustomerBase", "CohortMatrix", "Comparison", "DateRange", "GroupStats", "LoyaltyImpact",
    "MonthOrders", "Overview", "PeriodMetrics", "PredictedCustomer", "RfmCustomer", "RfmOverview",
    "SecondOrderGaps", "Segment", "active_window_days", "clv_fit_current", "clv_fit_latest", "cohort_matrix",
    "comparison_range", "customer_base", "default_range", "loyalty_impact", "monthly_new_vs_returning", "new_active_at_end", "overview",
    "period_metrics", "predicted_customers", "predicted_customers_all", "prediction_summary", "rfm_overview", "rfm_segment_customer_ids",
    "rfm_segment_customers", "rfm_segment_customers_all", "second_order_gaps", "shop_today", "shop_tz",
]
