"""Survey answers as the merchant reads them: NPS and CSAT by month and by segment, reasons for leaving.

NPS = % promoters (9-10) - % detractors (0-6), over the answers of the period; CSAT = % of answers 4 or 5.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Q
from django.db.models.functions import TruncMonth

from shops.models import Shop

from ..models import SurveyResponse
from . import segments


@dataclass(frozen=True, slots=True)
class Score:
    label: str
    answers: int
    value: Decimal | None  # NPS in points (-100..100), CSAT as a share (0..1)


def _nps(qs) -> tuple[int, Decimal | None]:
    agg = qs.aggregate(n=Count("pk"), promoters=Count("pk", filter=Q(score__gte=9)),
                       detractors=Count("pk", filter=Q(score__lte=6)))
    if not agg["n"]:
        return 0, None
    return agg["n"], Decimal(100 * (agg["promoters"] - agg["detractors"])) / agg["n"]


def _csat(qs) -> tuple[int, Decimal | None]:
    agg = qs.aggregate(n=Count("pk"), happy=Count("pk", filter=Q(score__gte=4)))
    if not agg["n"]:
        return 0, None
    return agg["n"], Decimal(agg["happy"]) / agg["n"]


def _measure(question: str, qs) -> tuple[int, Decimal | None]:
    return _nps(qs) if question == "nps" else _csat(qs)


def scores_by_month(shop: Shop, question: str) -> list[Score]:
    """One score per calendar month of the shop's time zone, in one grouped query."""
    zone = segments.shop_zone(shop)
    rows = (SurveyResponse.objects.filter(shop=shop, question=question)
            .annotate(m=TruncMonth("answered_at", tzinfo=zone)).values("m")
            .annotate(n=Count("pk"), high=Count("pk", filter=Q(score__gte=9 if question == "nps" else 4)),
                      low=Count("pk", filter=Q(score__lte=6)))
            .order_by("m"))
    out = []
    for row in rows:
        if question == "nps":
            value = Decimal(100 * (row["high"] - row["low"])) / row["n"]
        else:
            value = Decimal(row["high"]) / row["n"]
        out.append(Score(row["m"].strftime("%Y-%m"), row["n"], value))
    return out


def scores_by_segment(shop: Shop, question: str) -> list[Score]:
    """Each segment's score among the respondents who are in it now."""
    base = SurveyResponse.objects.filter(shop=shop, question=question)
    if not base.exists():
        return []
    out = []
    for info in segments.catalogue(shop):
        try:
            members = segments.segment_customers(shop, info.key).values("shopify_id")
        except segments.SegmentUnavailable:
            continue
        n, value = _measure(question, base.filter(customer_shopify_id__in=members))
        if n:
            out.append(Score(info.label, n, value))
    return out


def churn_reasons(shop: Shop) -> list[tuple[str, int]]:
    labels = dict(SurveyResponse.Reason.choices)
    counts = Counter(SurveyResponse.objects.filter(shop=shop, question="churn_reason").values_list("reason", flat=True))
    return [(str(labels[r]), counts.get(r, 0)) for r in SurveyResponse.Reason.values]


def recent_comments(shop: Shop, limit: int = 20) -> list[SurveyResponse]:
    return list(SurveyResponse.objects.filter(shop=shop).exclude(comment="").order_by("-answered_at")[:limit])
