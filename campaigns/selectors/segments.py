"""Named audiences, computed live from the synced customers and orders (and from reports / loyalty when
those apps provide them).

Each segment is a Customer queryset, so a count is one COUNT(*), a preview one LIMIT, and a campaign run
one INSERT ... SELECT: nothing is pulled into Python. `marketable()` narrows any of them to customers we
may e-mail: Shopify says they accepted e-mail marketing, they have an address, they are not deleted, and
they have not unsubscribed through one of our links.
"""
from __future__ import annotations

import datetime as dt
import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import Exists, F, OuterRef, QuerySet, Subquery
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from commerce.models import Customer, CustomerSummary
from shops.models import Shop

from ..models import Unsubscribe

log = logging.getLogger(__name__)

DEFAULT_LAPSE_DAYS = 90
MIN_GAPS_FOR_SUGGESTION = 30
LAPSE_PERCENTILE = 0.8
TOP_SPENDER_SHARE = Decimal("0.10")
RFM_SEGMENTS = ("champions", "loyal", "potential_loyalists", "at_risk", "cant_lose", "hibernating", "lost")


class SegmentUnavailable(Exception):
    """The segment needs data another app provides, and that app does not provide it (yet)."""


class UnknownSegment(KeyError):
    pass


def shop_zone(shop: Shop) -> ZoneInfo:
    try:
        return ZoneInfo(shop.iana_timezone or "UTC")
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def shop_now(shop: Shop) -> dt.datetime:
    return timezone.now().astimezone(shop_zone(shop))


# --- the shop's rhythm -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LapseSuggestion:
    days: int
    gaps: int  # inter-purchase gaps the suggestion is based on
    percentile: float
    median_days: float | None
    from_shop_data: bool


_GAPS_SQL = """
WITH counted AS (
    SELECT customer_shopify_id, processed_at,
           lag(processed_at) OVER (PARTITION BY customer_shopify_id ORDER BY processed_at) AS previous
    FROM commerce_order
    WHERE shop_id = %s AND customer_shopify_id IS NOT NULL AND NOT test AND cancelled_at IS NULL
)
SELECT count(*),
       percentile_cont(%s) WITHIN GROUP (ORDER BY extract(epoch FROM processed_at - previous) / 86400.0),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM processed_at - previous) / 86400.0)
FROM counted WHERE previous IS NOT NULL AND processed_at - previous >= interval '1 day'
"""


def lapse_suggestion(shop: Shop) -> LapseSuggestion:
    """N for "no order for N days": the 80th percentile of the shop's own gaps between a customer's orders.

    Four in five repeat purchases happen within N days of the previous one, so a customer silent for
    longer is unusual for this shop. Gaps under a day (split orders) are ignored. With fewer than
    MIN_GAPS_FOR_SUGGESTION gaps we fall back to 90 days and say so.
    """
    with connection.cursor() as cur:
        cur.execute(_GAPS_SQL, [shop.pk, LAPSE_PERCENTILE])
        gaps, p80, median = cur.fetchone()
    if not gaps or gaps < MIN_GAPS_FOR_SUGGESTION or p80 is None:
        return LapseSuggestion(DEFAULT_LAPSE_DAYS, gaps or 0, LAPSE_PERCENTILE, median, False)
    # Round up to whole weeks: merchants think in weeks, and rounding up errs on not nagging.
    days = max(14, int(-(-float(p80) // 7) * 7))
    return LapseSuggestion(days, gaps, LAPSE_PERCENTILE, float(median) if median is not None else None, True)


def lapse_days_for(shop: Shop, configured: int) -> int:
    return configured if configured and configured > 0 else lapse_suggestion(shop).days


# --- building blocks ---------------------------------------------------------------------------------


def customers(shop: Shop) -> QuerySet[Customer]:
    return Customer.objects.filter(shop=shop, deleted_at__isnull=True)


def _summaries(shop: Shop) -> QuerySet[CustomerSummary]:
    return CustomerSummary.objects.filter(shop=shop)


def with_summary(shop: Shop, qs: QuerySet[Customer]) -> QuerySet[Customer]:
    """Annotate orders_count / net_revenue / first_order_at / last_order_at from CustomerSummary."""
    row = _summaries(shop).filter(customer_shopify_id=OuterRef("shopify_id"))
    return qs.annotate(
        orders_count=Subquery(row.values("orders_count")[:1]),
        net_revenue=Subquery(row.values("net_revenue")[:1]),
        first_order_at=Subquery(row.values("first_order_at")[:1]),
        last_order_at=Subquery(row.values("last_order_at")[:1]),
    )


def marketable(shop: Shop, qs: QuerySet[Customer]) -> QuerySet[Customer]:
    """Only customers we may send marketing e-mail to (see the module docstring)."""
    unsubscribed = Unsubscribe.objects.filter(shop=shop, email=OuterRef("email_lower"))
    return (
        qs.filter(email_marketing_state="subscribed", deleted_at__isnull=True)
        .exclude(email="")
        .alias(email_lower=_lower("email"))
        .filter(~Exists(unsubscribed))
    )


def _lower(name: str):
    from django.db.models.functions import Lower

    return Lower(name)


def lapsed(shop: Shop, days: int, *, max_days: int | None = None, now: dt.datetime | None = None) -> QuerySet[Customer]:
    now = now or timezone.now()
    summaries = _summaries(shop).filter(last_order_at__lt=now - dt.timedelta(days=days))
    if max_days:
        summaries = summaries.filter(last_order_at__gte=now - dt.timedelta(days=max_days))
    return customers(shop).filter(shopify_id__in=summaries.values("customer_shopify_id"))


def one_time_buyers(shop: Shop) -> QuerySet[Customer]:
    return customers(shop).filter(
        shopify_id__in=_summaries(shop).filter(orders_count=1).values("customer_shopify_id")
    )


def birthday_in_month(shop: Shop, month: int) -> QuerySet[Customer]:
    return customers(shop).filter(birth_date__month=month)


def top_spenders(shop: Shop, share: Decimal = TOP_SPENDER_SHARE) -> QuerySet[Customer]:
    """The top `share` of buyers by net revenue: the k = ceil(share x buyers) highest, plus anyone tied
    with the k-th (at least one customer when the shop has buyers)."""
    with connection.cursor() as cur:
        cur.execute(
            "WITH b AS (SELECT net_revenue FROM commerce_customersummary WHERE shop_id = %s AND net_revenue > 0) "
            "SELECT net_revenue FROM b ORDER BY net_revenue DESC "
            "OFFSET GREATEST(ceil((SELECT count(*) FROM b) * %s::numeric) - 1, 0) LIMIT 1",
            [shop.pk, share],
        )
        row = cur.fetchone()
    if row is None:
        return customers(shop).none()
    return customers(shop).filter(
        shopify_id__in=_summaries(shop).filter(net_revenue__gte=row[0], net_revenue__gt=0)
        .values("customer_shopify_id")
    )


def overdue(shop: Shop, lapse_days: int, *, factor: float = 1.5, now: dt.datetime | None = None) -> QuerySet[Customer]:
    """Our own predicted-to-lapse: repeat buyers silent for longer than 1.5 x their own average gap
    between orders, who are not lapsed yet. A customer's own rhythm says more than the shop's average."""
    now = now or timezone.now()
    rows = _summaries(shop).filter(
        orders_count__gte=2, last_order_at__gte=now - dt.timedelta(days=lapse_days)
    ).annotate(
        avg_gap=(F("last_order_at") - F("first_order_at")) / (F("orders_count") - 1),
    ).filter(last_order_at__lt=now - F("avg_gap") * factor)
    return customers(shop).filter(shopify_id__in=rows.values("customer_shopify_id"))


def never_used_reward_from_campaigns(shop: Shop) -> QuerySet[Customer]:
    """Customers who were sent a campaign code and never placed an order with it."""
    sql = """
        SELECT r.customer_shopify_id FROM campaigns_couponcode c
        JOIN campaigns_recipient r ON r.id = c.recipient_id
        WHERE c.shop_id = %s AND r.status = 'sent' AND NOT EXISTS (
            SELECT 1 FROM commerce_order o
            WHERE o.shop_id = c.shop_id AND o.customer_shopify_id = r.customer_shopify_id
              AND upper(c.code) IN (SELECT upper(x) FROM unnest(o.discount_codes) AS x))
    """
    return customers(shop).filter(shopify_id__in=RawSQL(sql, [shop.pk]))  # noqa: S611 - constant SQL


# --- other apps, when present ------------------------------------------------------------------------


def _provider(module: str, name: str) -> Callable[..., Any] | None:
    try:
        found = getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None
    return found if callable(found) else None


def _ids_queryset(shop: Shop, result: Any) -> QuerySet[Customer]:
    """Another app's answer as our queryset: a Customer queryset, a queryset of ids, or an iterable of
    ids or of rows carrying `customer_shopify_id` (reports' dataclasses)."""
    if isinstance(result, QuerySet):
        if result.model is Customer:
            return result.filter(shop=shop, deleted_at__isnull=True)
        return customers(shop).filter(shopify_id__in=result)
    ids = [getattr(item, "customer_shopify_id", item) for item in result]
    return customers(shop).filter(shopify_id__in=ids)


def rfm_segment_names() -> list[str]:
    try:
        from reports.selectors import rfm as reports_rfm
    except ImportError:
        return list(RFM_SEGMENTS)
    return [str(s.value) for s in getattr(reports_rfm, "Segment", RFM_SEGMENTS)]


def rfm(shop: Shop, segment: str) -> QuerySet[Customer]:
    provider = (_provider("reports.selectors", "rfm_segment_customer_ids")
                or _provider("reports.selectors", "rfm_segment_customers"))
    if provider is None:
        raise SegmentUnavailable(_("RFM segments appear once the reports are set up."))
    try:
        return _ids_queryset(shop, provider(shop, segment))
    except ValueError as exc:  # reports refuses an unknown segment name
        raise UnknownSegment(segment) from exc


def predicted_to_lapse(shop: Shop) -> QuerySet[Customer]:
    """Reports' prediction (likely to lapse) once its model has been fitted for the shop; until then our
    own rule (`overdue`)."""
    provider = _provider("reports.selectors", "predicted_customers")
    if provider is not None:
        predicted = provider(shop, lapsing_only=True, limit=None)
        if predicted:
            return _ids_queryset(shop, predicted)
    return overdue(shop, lapse_suggestion(shop).days)


def _loyalty_models() -> Any:
    """loyalty.models when the loyalty app is installed (we only read its tables)."""
    from django.apps import apps

    if not apps.is_installed("loyalty"):
        return None
    try:
        return importlib.import_module("loyalty.models")
    except ImportError:
        return None


def vip_tier(shop: Shop, tier: str) -> QuerySet[Customer]:
    provider = _provider("loyalty.selectors", "tier_customers")
    if provider is not None:
        return _ids_queryset(shop, provider(shop, tier))
    models = _loyalty_models()
    if models is None or not str(tier).isdigit():
        raise SegmentUnavailable(_("VIP tiers appear once the loyalty programme is set up."))
    members = models.PointsAccount.objects.filter(shop=shop, tier_id=int(tier)).values("customer_shopify_id")
    return customers(shop).filter(shopify_id__in=members)


def never_used_reward(shop: Shop) -> QuerySet[Customer]:
    """Holding a reward they never used: a loyalty reward ready to use and none ever used, or a campaign
    code that was sent and never appeared on an order."""
    provider = _provider("loyalty.selectors", "customers_with_unused_rewards")
    if provider is not None:
        return _ids_queryset(shop, provider(shop)) | never_used_reward_from_campaigns(shop)
    models = _loyalty_models()
    if models is None:
        return never_used_reward_from_campaigns(shop)
    redemptions = models.Redemption.objects.filter(shop=shop)
    used = redemptions.filter(status=models.Redemption.Status.USED).values("account_id")
    waiting = (redemptions.filter(status=models.Redemption.Status.ISSUED).exclude(account_id__in=used)
               .values("account__customer_shopify_id"))
    return customers(shop).filter(shopify_id__in=waiting) | never_used_reward_from_campaigns(shop)


def vip_tiers(shop: Shop) -> list[tuple[str, str]]:
    provider = _provider("loyalty.selectors", "tiers")
    if provider is not None:
        try:
            return [(str(getattr(t, "key", getattr(t, "pk", t))), str(getattr(t, "name", t))) for t in provider(shop)]
        except Exception:  # another app's bug must not break the segments page
            log.exception("loyalty.selectors.tiers failed for shop %s", shop.pk)
            return []
    models = _loyalty_models()
    if models is None:
        return []
    return [(str(pk), name) for pk, name in models.Tier.objects.filter(shop=shop).values_list("pk", "name")]


# --- the catalogue -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SegmentInfo:
    key: str
    label: str
    description: str


def catalogue(shop: Shop) -> list[SegmentInfo]:
    suggestion = lapse_suggestion(shop)
    items = [
        SegmentInfo("lapsed", str(_("Lapsed customers")),
                    str(_("No order for %(days)s days (your shop's suggested threshold).") % {"days": suggestion.days})),
        SegmentInfo("predicted_to_lapse", str(_("About to lapse")),
                    str(_("Repeat buyers who are overdue by their own rhythm but not lapsed yet."))),
        SegmentInfo("one_time", str(_("One-time buyers")), str(_("Exactly one order so far."))),
        # "10 % of" is not a format directive (xgettext would read "% o" as one and break the catalogues):
        # xgettext:no-python-format
        SegmentInfo("top_spenders", str(_("Top spenders")), str(_("The top 10 % of customers by net revenue."))),
        SegmentInfo("birthday_this_month", str(_("Birthday this month")),
                    str(_("Customers whose birth date falls in this month."))),
        SegmentInfo("never_used_reward", str(_("Never used a reward")),
                    str(_("Received a reward code and never used it."))),
    ]
    items += [SegmentInfo(f"rfm:{s}", str(_("RFM: %(name)s") % {"name": s.replace("_", " ")}),
                          str(_("From the RFM report."))) for s in rfm_segment_names()]
    items += [SegmentInfo(f"vip:{key}", str(_("VIP tier: %(name)s") % {"name": name}),
                          str(_("Members of this loyalty tier."))) for key, name in vip_tiers(shop)]
    return items


def segment_customers(shop: Shop, key: str, *, now: dt.datetime | None = None,
                      lapse_days: int | None = None) -> QuerySet[Customer]:
    """The customers of segment `key` (all of them: use marketable() before e-mailing)."""
    now = now or timezone.now()
    if key == "lapsed":
        return lapsed(shop, lapse_days or lapse_suggestion(shop).days, now=now)
    if key == "predicted_to_lapse":
        return predicted_to_lapse(shop)
    if key == "one_time":
        return one_time_buyers(shop)
    if key == "top_spenders":
        return top_spenders(shop)
    if key == "birthday_this_month":
        return birthday_in_month(shop, now.astimezone(shop_zone(shop)).month)
    if key == "never_used_reward":
        return never_used_reward(shop)
    if key.startswith("rfm:"):
        return rfm(shop, key.split(":", 1)[1])
    if key.startswith("vip:"):
        return vip_tier(shop, key.split(":", 1)[1])
    raise UnknownSegment(key)


@dataclass(frozen=True)
class SegmentView:
    info: SegmentInfo
    count: int | None
    marketable_count: int | None
    unavailable: str = ""


def segment_overview(shop: Shop) -> list[SegmentView]:
    views = []
    for info in catalogue(shop):
        try:
            qs = segment_customers(shop, info.key)
        except SegmentUnavailable as exc:
            views.append(SegmentView(info, None, None, str(exc)))
            continue
        views.append(SegmentView(info, qs.count(), marketable(shop, qs).count()))
    return views


def segment_preview(shop: Shop, key: str, *, limit: int = 25, marketing: bool = False) -> list[Customer]:
    qs = segment_customers(shop, key)
    if marketing:
        qs = marketable(shop, qs)
    return list(with_summary(shop, qs).order_by(F("last_order_at").desc(nulls_last=True), "shopify_id")[:limit])


def segment_info(shop: Shop, key: str) -> SegmentInfo:
    for info in catalogue(shop):
        if info.key == key:
            return info
    raise UnknownSegment(key)

