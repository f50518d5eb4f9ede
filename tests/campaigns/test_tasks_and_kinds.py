"""Beat runs campaigns per shop in its time zone; tasks run twice leave one effect; each kind selects
the right customers; loyalty hooks send once per window."""
import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from campaigns import tasks
from campaigns.models import Campaign, CampaignRun, Recipient
from campaigns.selectors import segments
from campaigns.services import runs, sending

pytestmark = pytest.mark.django_db


@pytest.fixture
def eager_celery():
    from retention_app.celery import app

    app.conf.task_always_eager = True
    try:
        yield app
    finally:
        app.conf.task_always_eager = False


def _enable(shop, kind, **settings):
    campaign = runs.campaign_for_kind(shop=shop, kind=kind)
    return runs.campaign_configure(shop=shop, campaign_id=campaign.pk, enabled=True, settings=settings,
                                   control_percent=0, attribution_days=30, send_hour=0)


def test_beat_tick_runs_and_sends_once(shop, eager_celery, make_customer, make_order, smtp):
    _enable(shop, Campaign.Kind.WIN_BACK, lapse_days=60, discount_percent=0)
    for _ in range(7):
        make_order(shop, make_customer(shop), at=timezone.now() - dt.timedelta(days=100))
    tasks.campaigns_tick.apply()
    assert len(smtp.messages) == 7
    run = CampaignRun.objects.get(shop=shop)
    assert run.status == "done" and run.finished_at is not None
    tasks.campaigns_tick.apply()  # the next quarter hour: the run is done, nothing is due
    tasks.campaign_run_task.apply(args=(shop.pk, run.campaign_id, run.run_date.isoformat()))  # a duplicate task
    tasks.send_recipients.apply(args=(shop.pk, list(Recipient.objects.values_list("pk", flat=True))))
    assert len(smtp.messages) == 7


def test_due_follows_the_shops_time_zone(shop):
    campaign = _enable(shop, Campaign.Kind.BIRTHDAY, discount_percent=0)
    Campaign.objects.filter(pk=campaign.pk).update(send_hour=9)
    berlin = ZoneInfo("Europe/Berlin")
    # 07:30 UTC is 08:30 in Berlin in winter: not yet; 08:30 UTC is 09:30 there: due.
    assert runs.campaigns_due(shop=shop, now=dt.datetime(2026, 1, 10, 7, 30, tzinfo=dt.UTC)) == []
    assert runs.campaigns_due(shop=shop, now=dt.datetime(2026, 1, 10, 8, 30, tzinfo=dt.UTC)) == [
        (campaign.pk, dt.date(2026, 1, 10))]
    # 23:30 UTC on 10 January is 00:30 on 11 January in Berlin: the run belongs to the Berlin date
    Campaign.objects.filter(pk=campaign.pk).update(send_hour=0)
    late = dt.datetime(2026, 1, 10, 23, 30, tzinfo=dt.UTC)
    assert runs.campaigns_due(shop=shop, now=late) == [(campaign.pk, late.astimezone(berlin).date())]
    assert late.astimezone(berlin).date() == dt.date(2026, 1, 11)


def test_birthday_anniversary_and_post_purchase_select_their_customers(shop, make_customer, make_order):
    zone = ZoneInfo(shop.iana_timezone)
    now = dt.datetime(2026, 6, 15, 10, 0, tzinfo=zone)
    birthday = make_customer(shop, birth_date=dt.date(1990, 6, 15))
    make_customer(shop, birth_date=dt.date(1990, 6, 16))
    make_customer(shop, birth_date=dt.date(1990, 6, 15), consent="unsubscribed")
    anniversary = make_customer(shop)
    # 23:30 in Berlin on 15 June 2024 is 21:30 UTC: the anniversary is the Berlin date
    make_order(shop, anniversary, at=dt.datetime(2024, 6, 15, 23, 30, tzinfo=zone))
    make_order(shop, make_customer(shop), at=dt.datetime(2026, 6, 15, 8, 0, tzinfo=zone))  # first order today
    buyer = make_customer(shop)
    order = make_order(shop, buyer, at=dt.datetime(2026, 6, 8, 12, 0, tzinfo=zone))  # 7 days ago
    make_order(shop, make_customer(shop), at=dt.datetime(2026, 6, 7, 12, 0, tzinfo=zone))  # 8 days ago

    def selected(kind, **settings):
        campaign = _enable(shop, kind, **settings)
        return {c.shopify_id: c.rcpt_window for c in runs.selection(shop, campaign, now=now)}

    assert selected(Campaign.Kind.BIRTHDAY, discount_percent=0) == {birthday: "birthday:2026"}
    assert selected(Campaign.Kind.ANNIVERSARY, discount_percent=0) == {anniversary: "anniversary:2026"}
    assert selected(Campaign.Kind.POST_PURCHASE, delay_days=7) == {buyer: f"order:{order}"}


def test_segments_count_and_preview(shop, make_customer, make_order):
    now = timezone.now()
    once = make_customer(shop)
    make_order(shop, once, at=now - dt.timedelta(days=10), total="20.00")
    big = make_customer(shop)
    for days in (300, 200, 100):
        make_order(shop, big, at=now - dt.timedelta(days=days), total="500.00")
    for _ in range(8):
        c = make_customer(shop)
        make_order(shop, c, at=now - dt.timedelta(days=40), total="30.00")
        make_order(shop, c, at=now - dt.timedelta(days=20), total="30.00")
    assert set(segments.one_time_buyers(shop).values_list("shopify_id", flat=True)) == {once}
    assert set(segments.top_spenders(shop).values_list("shopify_id", flat=True)) == {big}
    assert big in set(segments.lapsed(shop, 90).values_list("shopify_id", flat=True))
    # `big` buys every 100 days and was last seen 100 days ago: lapsed (90), so not "about to lapse"
    assert big not in set(segments.overdue(shop, 90).values_list("shopify_id", flat=True))
    overview = {v.info.key: v for v in segments.segment_overview(shop)}
    assert overview["one_time"].count == 1 and overview["one_time"].marketable_count == 1
    preview = segments.segment_preview(shop, "top_spenders")
    assert [c.shopify_id for c in preview] == [big] and preview[0].orders_count == 3


def test_loyalty_hooks_send_once_per_window(shop, make_customer, django_capture_on_commit_callbacks, smtp,
                                           eager_celery):
    _enable(shop, Campaign.Kind.VIP_TIER)
    customer = make_customer(shop, first_name="Mia")
    with django_capture_on_commit_callbacks(execute=True):
        first = runs.campaign_vip_tier_reached(shop=shop, customer_shopify_id=customer, tier_key="gold",
                                               tier_name="Gold")
        again = runs.campaign_vip_tier_reached(shop=shop, customer_shopify_id=customer, tier_key="gold",
                                               tier_name="Gold")
    assert first is not None and again is None
    assert len(smtp.messages) == 1 and "Gold" in str(smtp.messages[0]["Subject"])
    not_consenting = make_customer(shop, consent="not_subscribed")
    assert runs.campaign_vip_tier_reached(shop=shop, customer_shopify_id=not_consenting, tier_key="gold",
                                          tier_name="Gold") is None
    assert runs.campaign_points_expiring(shop=shop, customer_shopify_id=customer, points=10,
                                         expires_on=dt.date(2027, 1, 1)) is None  # switched off


def test_a_broken_connection_requeues_the_rest_and_never_resends(shop, make_customer, make_order, settings, smtp):
    campaign = _enable(shop, Campaign.Kind.WIN_BACK, lapse_days=60, discount_percent=0)
    for _ in range(5):
        make_order(shop, make_customer(shop), at=timezone.now() - dt.timedelta(days=100))
    run = runs.campaign_run(shop=shop, campaign_id=campaign.pk, run_date=timezone.now().date())
    ids = sending.queued_ids(shop=shop, run_id=run.pk)
    port, settings.EMAIL_PORT = settings.EMAIL_PORT, 1  # nothing listens on port 1
    with pytest.raises(sending.TransientSendError):
        sending.recipients_send(shop=shop, recipient_ids=ids)
    assert Recipient.objects.filter(run=run, status="queued").count() == 5  # nothing was attempted
    settings.EMAIL_PORT = port
    assert sending.recipients_send(shop=shop, recipient_ids=ids).sent == 5
    assert sending.recipients_send(shop=shop, recipient_ids=ids).sent == 0


def test_seasonal_send_goes_out_once_on_its_date(shop, eager_celery, make_customer, make_order, smtp):
    for _ in range(4):
        make_order(shop, make_customer(shop), at=timezone.now() - dt.timedelta(days=3))  # one-time buyers
    when = timezone.now() + dt.timedelta(hours=2)
    campaign = runs.seasonal_create(shop=shop, name="Winter sale", segment_key="one_time", scheduled_for=when)
    runs.campaign_configure(shop=shop, campaign_id=campaign.pk, enabled=True, settings={}, control_percent=0,
                            attribution_days=14, send_hour=10)
    assert runs.campaigns_due(shop=shop) == []  # not yet
    later = when + dt.timedelta(minutes=5)
    assert runs.campaigns_due(shop=shop, now=later) == [
        (campaign.pk, later.astimezone(ZoneInfo(shop.iana_timezone)).date())]
    for campaign_id, run_date in runs.campaigns_due(shop=shop, now=later):
        tasks.campaign_run_task.apply(args=(shop.pk, campaign_id, run_date.isoformat()))
        tasks.campaign_run_task.apply(args=(shop.pk, campaign_id, run_date.isoformat()))
    assert len(smtp.messages) == 4 and "Winter sale" in str(smtp.messages[0]["Subject"])
    assert runs.campaigns_due(shop=shop, now=later + dt.timedelta(days=1)) == []  # done for good


def test_vip_tier_segment_reads_the_loyalty_programme(shop, other_shop, make_customer):
    from decimal import Decimal

    from loyalty.models import PointsAccount, Tier

    gold = Tier.objects.create(shop=shop, name="Gold", threshold=Decimal(500))
    silver = Tier.objects.create(shop=shop, name="Silver", threshold=Decimal(100))
    now = timezone.now()
    members = {}
    for name, tier in (("a", gold), ("b", gold), ("c", silver), ("d", None)):
        customer = make_customer(shop)
        PointsAccount.objects.create(shop=shop, customer_shopify_id=customer, tier=tier, last_activity_at=now,
                                     enrolled_at=now)
        members[name] = customer
    keys = dict((name, key) for key, name in segments.vip_tiers(shop))
    assert set(keys) == {"Gold", "Silver"}
    gold_members = set(segments.segment_customers(shop, f"vip:{keys['Gold']}").values_list("shopify_id", flat=True))
    assert gold_members == {members["a"], members["b"]}
    assert segments.segment_customers(other_shop, f"vip:{keys['Gold']}").count() == 0


def test_unused_rewards_are_handed_to_the_reward_waiting_campaign_once(
    shop, make_customer, django_capture_on_commit_callbacks, smtp, eager_celery
):
    from loyalty.models import PointsAccount, Redemption, Reward
    from loyalty.services import rewards_waiting_remind

    now = timezone.now()
    # switched off: nothing is handed over
    assert rewards_waiting_remind(shop=shop, now=now) == 0
    _enable(shop, Campaign.Kind.REWARD_WAITING, wait_days=7)
    reward = Reward.objects.create(shop=shop, name="5 EUR off", kind="fixed_amount", points_cost=500,
                                   amount=Decimal("5"))

    def redemption(customer, *, age_days, status="issued", expires_in_days=30):
        account, _ = PointsAccount.objects.get_or_create(shop=shop, customer_shopify_id=customer,
                                                         defaults={"last_activity_at": now, "enrolled_at": now})
        created = now - dt.timedelta(days=age_days)
        return Redemption.objects.create(
            shop=shop, account=account, reward=reward, points=500, status=status, idempotency_key=f"k{customer}{age_days}",
            code=f"LOY-{customer}-{age_days}", currency="EUR", created_at=created, updated_at=created,
            expires_at=now + dt.timedelta(days=expires_in_days))

    waiting = make_customer(shop, first_name="Mia")
    redemption(waiting, age_days=8)
    redemption(make_customer(shop), age_days=2)                    # not waited long enough yet
    redemption(make_customer(shop), age_days=8, status="used")     # already used
    redemption(make_customer(shop), age_days=8, expires_in_days=-1)  # expired
    with django_capture_on_commit_callbacks(execute=True):
        assert rewards_waiting_remind(shop=shop, now=now) == 1
        assert rewards_waiting_remind(shop=shop, now=now) == 0  # once per redemption
    assert len(smtp.messages) == 1
    assert "5 EUR off" in smtp.messages[0].get_body(("plain",)).get_content()
