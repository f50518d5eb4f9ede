"""Campaigns: configuration, the daily run (who qualifies, who is held back, codes), and the loyalty hooks.

A run is one row per (shop, campaign, shop-local date): beat may fire every quarter hour and a worker may
die mid-run; whoever comes next continues the same run. Selection is a single INSERT ... SELECT over the
segment's SQL with ON CONFLICT DO NOTHING on (shop, campaign, customer, window): a customer already in
this window (from an earlier run, a retry, a concurrent worker) is not inserted again, so can never be
sent twice, and the control group is decided in the same statement by the hash in campaigns.assignment.
"""
from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import CharField, Count, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.expressions import Func, RawSQL
from django.db.models.functions import Cast, Concat, JSONObject
from django.utils import timezone
from django.utils.translation import gettext as _

from commerce.models import Customer, CustomerSummary, Order
from shops.models import Shop

from .. import assignment, emails, kinds
from ..models import Campaign, CampaignRun, Coupon, Recipient
from ..selectors import segments
from ..shopify import ShopifyRefused
from . import codes as code_service
from .coupons import CouponSpec, coupon_create, coupon_push, coupon_update

log = logging.getLogger(__name__)

K = Campaign.Kind
CHURN_SURVEY_OFFSET_DAYS = 30


class CampaignInvalid(Exception):
    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages


# --- configuration -----------------------------------------------------------------------------------


def campaign_for_kind(*, shop: Shop, kind: str) -> Campaign:
    """The shop's campaign of an automated kind, created (switched off, default settings) on first use."""
    if kind == K.SEASONAL or kind not in kinds.KINDS:
        raise CampaignInvalid([_("Unknown campaign.")])
    try:
        with transaction.atomic():
            campaign, _created = Campaign.objects.get_or_create(
                shop=shop, kind=kind, defaults={"settings": kinds.KINDS[kind].defaults()})
    except IntegrityError:
        campaign = Campaign.objects.get(shop=shop, kind=kind)
    return campaign


def campaign_configure(*, shop: Shop, campaign_id: int, enabled: bool, settings: dict[str, Any],
                       control_percent: int, attribution_days: int, send_hour: int, language: str = "",
                       name: str | None = None, segment_key: str | None = None,
                       scheduled_for: dt.datetime | None = None) -> Campaign:
    """Switch a campaign on/off and tune it. The reward coupon follows the discount setting (in Shopify too).

    Raises CampaignInvalid, and ShopifyRefused / ShopifyUnavailable from the coupon.
    """
    campaign = Campaign.objects.get(shop=shop, pk=campaign_id)
    kind = kinds.kind_of(campaign)
    errors = []
    if not 0 <= control_percent <= 50:
        errors.append(_("The control group must be between 0 % and 50 %."))
    if not 1 <= attribution_days <= 365:
        errors.append(_("The attribution window must be between 1 and 365 days."))
    if not 0 <= send_hour <= 23:
        errors.append(_("The sending hour must be between 0 and 23."))
    if language and language not in emails.LANGUAGES:
        errors.append(_("Unknown language."))
    if campaign.kind == K.SEASONAL:
        if segment_key is not None:
            try:
                segments.segment_customers(shop, segment_key)
            except segments.UnknownSegment:
                errors.append(_("Choose a segment."))
            except segments.SegmentUnavailable as exc:
                errors.append(str(exc))
        if enabled and not (scheduled_for or campaign.scheduled_for):
            errors.append(_("Choose when to send it."))
    if errors:
        raise CampaignInvalid(errors)
    campaign.enabled = enabled
    campaign.settings = kind.clean_settings(settings)
    campaign.control_percent = control_percent
    campaign.attribution_days = attribution_days
    campaign.send_hour = send_hour
    campaign.language = language
    if name is not None:
        campaign.name = name.strip()
    if segment_key is not None:
        campaign.segment_key = segment_key
    if scheduled_for is not None:
        campaign.scheduled_for = scheduled_for
    # The reward coupon first: if Shopify refuses it, the campaign is not switched on with a promise of a
    # code it cannot keep (the error goes back to the merchant and nothing here changes).
    _reward_coupon_sync(shop, campaign)
    campaign.save()
    return campaign


def seasonal_create(*, shop: Shop, name: str, segment_key: str, scheduled_for: dt.datetime) -> Campaign:
    campaign = Campaign.objects.create(shop=shop, kind=K.SEASONAL, name=name.strip() or _("Seasonal send"),
                                       segment_key=segment_key, scheduled_for=scheduled_for,
                                       settings=kinds.KINDS[K.SEASONAL].defaults())
    return campaign


def _reward_spec(campaign: Campaign, percent: int) -> CouponSpec:
    return CouponSpec(
        title=_("%(campaign)s reward (%(percent)s %%)") % {"campaign": str(campaign), "percent": percent},
        kind=Coupon.Kind.PERCENTAGE, value=Decimal(percent), code_mode=Coupon.CodeMode.UNIQUE,
        once_per_customer=True, combines_with_shipping=True, codes_requested=1)


def _reward_coupon_sync(shop: Shop, campaign: Campaign) -> None:
    percent = kinds.discount_percent(campaign)
    coupon = campaign.coupon
    if not percent or not campaign.enabled:
        return  # an existing coupon stays: codes already sent must keep working
    if coupon is None or coupon.status == Coupon.Status.DELETED:
        try:
            coupon = coupon_create(shop=shop, spec=_reward_spec(campaign, percent), for_campaign=True)
        except ShopifyRefused as exc:
            # Link the failed draft, so saving again retries it instead of making another one.
            if exc.coupon_id:
                Campaign.objects.filter(pk=campaign.pk).update(coupon_id=exc.coupon_id)
            raise
        Campaign.objects.filter(pk=campaign.pk).update(coupon=coupon)
        campaign.coupon = coupon
    elif coupon.value != percent:
        coupon_update(shop=shop, coupon_id=coupon.pk, spec=_reward_spec(campaign, percent))
    elif coupon.status != Coupon.Status.ACTIVE:
        coupon_push(shop=shop, coupon_id=coupon.pk)


# --- selection ---------------------------------------------------------------------------------------


class _Utc(Func):
    """A timestamptz as a stable UTC text key (window keys must not depend on the session's time zone)."""

    template = "to_char((%(expressions)s) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS')"
    output_field = CharField()


def _summary(shop: Shop, column: str) -> Subquery:
    return Subquery(CustomerSummary.objects.filter(shop=shop, customer_shopify_id=OuterRef("shopify_id"))
                    .values(column)[:1])


def _empty_context() -> RawSQL:
    return RawSQL("'{}'::jsonb", [])


# Customers whose first counted order was on this month and day (shop time) of an earlier year.
_ANNIVERSARY_SQL = """
SELECT s.customer_shopify_id FROM commerce_customersummary s WHERE s.shop_id = %s
  AND extract(month FROM (s.first_order_at AT TIME ZONE %s)) = %s
  AND extract(day FROM (s.first_order_at AT TIME ZONE %s)) = %s
  AND extract(year FROM (s.first_order_at AT TIME ZONE %s)) < %s
"""


def selection(shop: Shop, campaign: Campaign, *, now: dt.datetime) -> QuerySet[Customer]:
    """The marketable customers who qualify now, annotated with rcpt_window and rcpt_context."""
    settings = kinds.campaign_settings(campaign)
    local = now.astimezone(segments.shop_zone(shop))
    today = local.date()
    kind = campaign.kind
    if kind in (K.WIN_BACK, K.CHURN_SURVEY):
        days = settings.get("lapse_days") or 0
        if not days:
            days = segments.lapse_suggestion(shop).days + (CHURN_SURVEY_OFFSET_DAYS if kind == K.CHURN_SURVEY else 0)
        max_days = max(settings.get("max_lapse_days") or 0, days + 1)
        qs = segments.lapsed(shop, days, max_days=max_days, now=now)
        qs = qs.annotate(rcpt_window=Concat(Value("lapse:"), _Utc(_summary(shop, "last_order_at"))),
                         rcpt_context=_empty_context())
    elif kind == K.BIRTHDAY:
        match = Q(birth_date__month=today.month, birth_date__day=today.day)
        if today.month == 2 and today.day == 28 and not _leap(today.year):
            match |= Q(birth_date__month=2, birth_date__day=29)  # 29 February birthdays, in other years
        qs = segments.customers(shop).filter(match).annotate(
            rcpt_window=Value(f"birthday:{today.year}"), rcpt_context=_empty_context())
    elif kind == K.ANNIVERSARY:
        zone = shop.iana_timezone or "UTC"
        ids = RawSQL(_ANNIVERSARY_SQL, [shop.pk, zone, today.month, zone, today.day, zone, today.year])  # noqa: S611
        qs = segments.customers(shop).filter(shopify_id__in=ids).annotate(
            rcpt_window=Value(f"anniversary:{today.year}"), rcpt_context=_empty_context())
    elif kind == K.POST_PURCHASE:
        day = today - dt.timedelta(days=settings["delay_days"])
        start = dt.datetime.combine(day, dt.time.min, tzinfo=segments.shop_zone(shop))
        orders = Order.objects.filter(shop=shop, test=False, cancelled_at__isnull=True,
                                      processed_at__gte=start, processed_at__lt=start + dt.timedelta(days=1))
        latest = orders.filter(customer_shopify_id=OuterRef("shopify_id")).order_by("-processed_at", "-shopify_id")
        qs = segments.customers(shop).filter(shopify_id__in=orders.values("customer_shopify_id")).annotate(
            rcpt_window=Concat(Value("order:"), Cast(Subquery(latest.values("shopify_id")[:1]), CharField())),
            rcpt_context=JSONObject(order_name=Subquery(latest.values("name")[:1])))
    elif kind == K.SEASONAL:
        qs = segments.segment_customers(shop, campaign.segment_key, now=now).annotate(
            rcpt_window=Value("send"), rcpt_context=_empty_context())
    else:
        raise CampaignInvalid([_("This campaign is sent when the loyalty programme reports an event.")])
    return segments.marketable(shop, qs)


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _needs_code(campaign: Campaign) -> bool:
    return bool(kinds.discount_percent(campaign)) and campaign.coupon_id is not None


_INSERT_SQL = """
INSERT INTO campaigns_recipient
    (shop_id, campaign_id, run_id, customer_shopify_id, email, first_name, language, window_key, "group",
     status, code, context, assigned_at, error)
SELECT %s, %s, %s, s.shopify_id, s.email, s.first_name, %s, s.rcpt_window,
       CASE WHEN c.control THEN 'control' ELSE 'treatment' END,
       CASE WHEN c.control THEN 'held_back' WHEN %s THEN 'waiting_code' ELSE 'queued' END,
       '', COALESCE(s.rcpt_context, '{{}}'::jsonb), %s, ''
FROM ({selection}) AS s
CROSS JOIN LATERAL (SELECT {control} AS control) AS c
WHERE s.rcpt_window IS NOT NULL
ON CONFLICT ON CONSTRAINT campaigns_recipient_once DO NOTHING
"""


def _select_into(shop: Shop, campaign: Campaign, run: CampaignRun, now: dt.datetime) -> int:
    qs = selection(shop, campaign, now=now).values("shopify_id", "email", "first_name", "rcpt_window", "rcpt_context")
    select_sql, select_params = qs.query.sql_with_params()
    control = assignment.control_sql("%s", "%s", "s.shopify_id")
    sql = _INSERT_SQL.format(selection=select_sql, control=control)
    params = [shop.pk, campaign.pk, run.pk, emails.language_for(shop, campaign), _needs_code(campaign), now,
              *select_params, shop.pk, campaign.pk, campaign.control_percent]
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return cur.rowcount


def campaign_run(*, shop: Shop, campaign_id: int, run_date: dt.date, now: dt.datetime | None = None) -> CampaignRun:
    """Run (or continue) the campaign's run of `run_date`: select, hold back, make codes.

    Idempotent: a finished step is not repeated, and a repeated selection inserts nobody twice.
    Sending is dispatched by the caller (tasks) for the run's queued recipients.
    """
    now = now or timezone.now()
    campaign = Campaign.objects.select_related("coupon").get(shop=shop, pk=campaign_id)
    try:
        with transaction.atomic():
            run, _created = CampaignRun.objects.get_or_create(shop=shop, campaign=campaign, run_date=run_date)
    except IntegrityError:
        run = CampaignRun.objects.get(shop=shop, campaign=campaign, run_date=run_date)
    if run.status == CampaignRun.Status.SELECTING:
        with transaction.atomic():
            # One selector per run at a time; a concurrent worker waits, then sees the new status.
            run = CampaignRun.objects.select_for_update().get(pk=run.pk)
            if run.status == CampaignRun.Status.SELECTING:
                _select_into(shop, campaign, run, now)
                counts = Recipient.objects.filter(shop=shop, run=run).aggregate(
                    total=Count("pk"), control=Count("pk", filter=Q(group=Recipient.Group.CONTROL)))
                run.selected = counts["total"]
                run.control = counts["control"]
                run.treatment = counts["total"] - counts["control"]
                run.status = CampaignRun.Status.PREPARING
                run.save(update_fields=["selected", "control", "treatment", "status"])
    if run.status == CampaignRun.Status.PREPARING:
        recipients_codes_allocate(shop=shop, campaign=campaign, run=run)
        CampaignRun.objects.filter(pk=run.pk, status=CampaignRun.Status.PREPARING).update(
            status=CampaignRun.Status.SENDING)
        run.refresh_from_db()
    return run


def recipients_codes_allocate(*, shop: Shop, campaign: Campaign, run: CampaignRun | None = None,
                              recipient_ids: list[int] | None = None) -> int:
    """Give each treatment recipient waiting for a code its own unique code (created in Shopify in batches)."""
    # `code` is set in the same transaction that creates the recipient's CouponCode.
    waiting = Recipient.objects.filter(shop=shop, campaign=campaign, status=Recipient.Status.WAITING_CODE, code="")
    if run is not None:
        waiting = waiting.filter(run=run)
    if recipient_ids is not None:
        waiting = waiting.filter(pk__in=recipient_ids)
    coupon = campaign.coupon
    if coupon is None:
        # The discount was switched off after selection: send without a code.
        return waiting.update(status=Recipient.Status.QUEUED)
    total = 0
    while True:
        with transaction.atomic():
            chunk = list(waiting.select_for_update(skip_locked=True).order_by("pk")[: code_service.BATCH_SIZE * 4])
            if not chunk:
                break
            made = code_service.codes_insert(shop=shop, coupon=coupon, count=len(chunk), recipients=chunk)
            with connection.cursor() as cur:
                cur.execute("UPDATE campaigns_recipient r SET code = c.code FROM campaigns_couponcode c "
                            "WHERE c.recipient_id = r.id AND c.id = ANY(%s)", [[code.pk for code in made]])
            total += len(made)
            if coupon.shopify_discount_gid:
                code_service.codes_schedule(shop=shop, coupon_id=coupon.pk)
    return total


def run_refresh(*, shop: Shop, run_id: int) -> CampaignRun:
    """Mark a sending run done once none of its recipients is waiting, queued or being sent."""
    open_statuses = [Recipient.Status.WAITING_CODE, Recipient.Status.QUEUED, Recipient.Status.SENDING]
    if not Recipient.objects.filter(shop=shop, run_id=run_id, status__in=open_statuses).exists():
        CampaignRun.objects.filter(shop=shop, pk=run_id, status=CampaignRun.Status.SENDING).update(
            status=CampaignRun.Status.DONE, finished_at=timezone.now())
    return CampaignRun.objects.get(shop=shop, pk=run_id)


# --- loyalty hooks -----------------------------------------------------------------------------------


def _event(*, shop: Shop, kind: str, customer_shopify_id: int, window_key: str,
           context: dict[str, Any], code: str = "") -> Recipient | None:
    """One event-triggered e-mail: at most once per (customer, window); None when not applicable."""
    campaign = Campaign.objects.filter(shop=shop, kind=kind, enabled=True).first()
    if campaign is None:
        return None
    customer = segments.marketable(shop, segments.customers(shop)).filter(shopify_id=customer_shopify_id).first()
    if customer is None:
        return None
    control = assignment.in_control(shop.pk, campaign.pk, customer_shopify_id, campaign.control_percent)
    try:
        with transaction.atomic():
            recipient = Recipient.objects.create(
                shop=shop, campaign=campaign, customer_shopify_id=customer_shopify_id, email=customer.email,
                first_name=customer.first_name, language=emails.language_for(shop, campaign), window_key=window_key,
                group=Recipient.Group.CONTROL if control else Recipient.Group.TREATMENT,
                status=Recipient.Status.HELD_BACK if control else Recipient.Status.QUEUED,
                code=code, context=context, assigned_at=timezone.now())
            if not control:
                from ..tasks import send_recipients

                transaction.on_commit(lambda: send_recipients.delay(shop.pk, [recipient.pk]))
    except IntegrityError:
        return None  # already handled in this window
    return recipient


def campaign_vip_tier_reached(*, shop: Shop, customer_shopify_id: int, tier_key: str, tier_name: str) -> Recipient | None:
    """For loyalty: a customer reached a VIP tier. Sends the VIP e-mail once per tier, if switched on."""
    return _event(shop=shop, kind=K.VIP_TIER, customer_shopify_id=customer_shopify_id,
                  window_key=f"tier:{tier_key}"[:64], context={"tier_name": tier_name})


def campaign_reward_waiting(*, shop: Shop, customer_shopify_id: int, redemption_id: str, reward_name: str,
                            code: str = "") -> Recipient | None:
    """For loyalty: a redeemed reward (its discount code, if any) is still unused. Once per redemption."""
    return _event(shop=shop, kind=K.REWARD_WAITING, customer_shopify_id=customer_shopify_id,
                  window_key=f"reward:{redemption_id}"[:64], context={"reward_name": reward_name}, code=code)


def campaign_points_expiring(*, shop: Shop, customer_shopify_id: int, points: int,
                             expires_on: dt.date) -> Recipient | None:
    """For loyalty: `points` expire on `expires_on`. Once per expiry date."""
    return _event(shop=shop, kind=K.POINTS_EXPIRING, customer_shopify_id=customer_shopify_id,
                  window_key=f"expiry:{expires_on.isoformat()}",
                  context={"points": points, "expires_on": expires_on.isoformat()})


# --- what is due -------------------------------------------------------------------------------------


def campaigns_due(*, shop: Shop, now: dt.datetime | None = None) -> list[tuple[int, dt.date]]:
    """(campaign id, shop-local run date) of every enabled campaign due now, in the shop's time zone."""
    now = now or timezone.now()
    local = now.astimezone(segments.shop_zone(shop))
    due = []
    for campaign in Campaign.objects.filter(shop=shop, enabled=True):
        trigger = kinds.kind_of(campaign).trigger
        if trigger == "daily" and local.hour >= campaign.send_hour:
            due.append((campaign.pk, local.date()))
        elif trigger == "scheduled" and campaign.scheduled_for and campaign.scheduled_for <= now:
            # One send, whenever it happens to run: the run date is the scheduled date.
            due.append((campaign.pk, campaign.scheduled_for.astimezone(segments.shop_zone(shop)).date()))
    done = set(CampaignRun.objects.filter(shop=shop, campaign_id__in=[c for c, _d in due],
                                          status=CampaignRun.Status.DONE).values_list("campaign_id", "run_date"))
    return [item for item in due if item not in done]

