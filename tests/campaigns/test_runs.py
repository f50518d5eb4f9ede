"""A win-back run: exactly the lapsed, consenting customers; once; a control group; lift on known data."""
import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from scipy import stats as scipy_stats

from campaigns import assignment
from campaigns.models import Campaign, CampaignRun, Recipient
from campaigns.selectors.results import campaign_results
from campaigns.services import consent, runs, sending
from campaigns.stats import Sample, newcombe_difference, welch_difference

pytestmark = pytest.mark.django_db


@pytest.fixture
def win_back(shop):
    campaign = runs.campaign_for_kind(shop=shop, kind=Campaign.Kind.WIN_BACK)
    return runs.campaign_configure(shop=shop, campaign_id=campaign.pk, enabled=True,
                                   settings={"lapse_days": 90, "max_lapse_days": 730, "discount_percent": 0},
                                   control_percent=25, attribution_days=30, send_hour=10)


def _population(shop, make_customer, make_order):
    now = timezone.now()
    expected = set()
    for _ in range(40):  # lapsed and consenting: the audience
        c = make_customer(shop)
        make_order(shop, c, at=now - dt.timedelta(days=300))
        make_order(shop, c, at=now - dt.timedelta(days=120))
        expected.add(c)
    for _ in range(5):  # lapsed, no marketing consent
        make_order(shop, make_customer(shop, consent="not_subscribed"), at=now - dt.timedelta(days=120))
    for _ in range(3):  # lapsed, unsubscribed through our link
        c = make_customer(shop)
        make_order(shop, c, at=now - dt.timedelta(days=120))
        consent.unsubscribe(shop=shop, email=f"c{c}@example.com", customer_shopify_id=c)
    for _ in range(5):  # bought recently
        c = make_customer(shop)
        make_order(shop, c, at=now - dt.timedelta(days=200))
        make_order(shop, c, at=now - dt.timedelta(days=10))
    for _ in range(2):  # lapsed too long ago to write to
        make_order(shop, make_customer(shop), at=now - dt.timedelta(days=1000))
    make_order(shop, make_customer(shop, email=""), at=now - dt.timedelta(days=120))  # no address
    # Cancelled orders do not count: this customer's last counted order is 120 days ago.
    c = make_customer(shop)
    make_order(shop, c, at=now - dt.timedelta(days=120))
    make_order(shop, c, at=now - dt.timedelta(days=5), cancelled=True)
    expected.add(c)
    return expected


def test_win_back_selects_sends_once_and_holds_back(shop, other_shop, win_back, make_customer, make_order, smtp):
    expected = _population(shop, make_customer, make_order)
    # another shop's lapsed customer is never touched
    make_order(other_shop, make_customer(other_shop), at=timezone.now() - dt.timedelta(days=120))
    today = timezone.now().date()

    run = runs.campaign_run(shop=shop, campaign_id=win_back.pk, run_date=today)

    rows = Recipient.objects.filter(shop=shop, campaign=win_back)
    assert set(rows.values_list("customer_shopify_id", flat=True)) == expected
    control = {c for c in expected if assignment.in_control(shop.pk, win_back.pk, c, 25)}
    assert 0 < len(control) < len(expected)
    assert set(rows.filter(group="control").values_list("customer_shopify_id", flat=True)) == control
    assert set(rows.filter(status="held_back").values_list("customer_shopify_id", flat=True)) == control
    assert run.selected == len(expected) and run.control == len(control)
    assert not Recipient.objects.filter(shop=other_shop).exists()

    queued = sending.queued_ids(shop=shop, run_id=run.pk)
    result = sending.recipients_send(shop=shop, recipient_ids=queued)
    assert result.sent == len(expected) - len(control)
    got = {str(m["To"]) for m in smtp.messages}
    assert got == {f"c{c}@example.com" for c in expected - control}
    msg = smtp.messages[0]
    assert "List-Unsubscribe" in msg and msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    # Retries and later runs send nothing twice: the same task again, the same run again, the next day.
    assert sending.recipients_send(shop=shop, recipient_ids=queued).claimed == 0
    runs.campaign_run(shop=shop, campaign_id=win_back.pk, run_date=today)
    runs.campaign_run(shop=shop, campaign_id=win_back.pk, run_date=today + dt.timedelta(days=1))
    sending.recipients_send(shop=shop, recipient_ids=sending.queued_ids(shop=shop))
    assert len(smtp.messages) == len(expected) - len(control)
    assert CampaignRun.objects.filter(shop=shop, campaign=win_back).count() == 2
    assert rows.count() == len(expected)


def test_recipient_once_per_window_is_a_database_constraint(shop, win_back):
    from django.db import IntegrityError

    fields = dict(shop=shop, campaign=win_back, customer_shopify_id=1, email="a@example.com", window_key="lapse:x",
                  group="treatment", status="queued", assigned_at=timezone.now())
    Recipient.objects.create(**fields)
    with pytest.raises(IntegrityError):
        Recipient.objects.create(**fields)


def test_unsubscribe_between_selection_and_send_is_honoured(shop, win_back, make_customer, make_order, smtp):
    now = timezone.now()
    customers = [make_customer(shop) for _ in range(12)]
    for c in customers:
        make_order(shop, c, at=now - dt.timedelta(days=120))
    run = runs.campaign_run(shop=shop, campaign_id=win_back.pk, run_date=now.date())
    treated = list(Recipient.objects.filter(run=run, group="treatment").order_by("pk"))
    first = treated[0]
    consent.unsubscribe(shop=shop, email=first.email.upper(), customer_shopify_id=first.customer_shopify_id)
    sending.recipients_send(shop=shop, recipient_ids=[r.pk for r in treated])
    first.refresh_from_db()
    assert first.status == "suppressed"
    assert first.email not in {str(m["To"]) for m in smtp.messages}
    assert len(smtp.messages) == len(treated) - 1


def test_lift_on_known_data(shop, win_back, make_customer, make_order):
    now = timezone.now()
    assigned = now - dt.timedelta(days=40)
    # 40 treated: 12 bought (60.00 each, one of them twice); 20 held back: 2 bought (30.00 each).
    for i in range(60):
        c = make_customer(shop)
        group = "treatment" if i < 40 else "control"
        Recipient.objects.create(shop=shop, campaign=win_back, customer_shopify_id=c, email=f"c{c}@example.com",
                                 window_key="lapse:t", group=group, status="sent" if group == "treatment" else "held_back",
                                 assigned_at=assigned)
        if i < 12:
            make_order(shop, c, at=assigned + dt.timedelta(days=3), total="60.00")
        if i == 0:
            make_order(shop, c, at=assigned + dt.timedelta(days=10), total="40.00")
            make_order(shop, c, at=assigned + dt.timedelta(days=31), total="999.00")  # after the window
        if 40 <= i < 42:
            make_order(shop, c, at=assigned + dt.timedelta(days=5), total="30.00")
        if i == 45:
            make_order(shop, c, at=assigned - dt.timedelta(days=1), total="500.00")  # before: not attributed

    r = campaign_results(shop, win_back)

    assert (r.treatment.recipients, r.treatment.converted, r.treatment.revenue) == (40, 12, Decimal("760.000"))
    assert (r.control.recipients, r.control.converted, r.control.revenue) == (20, 2, Decimal("60.000"))
    assert r.treatment.conversion == Decimal("0.3") and r.control.conversion == Decimal("0.1")
    assert r.treatment.revenue_per_recipient == Decimal("19") and r.control.revenue_per_recipient == Decimal("3")
    assert r.conversion_lift.estimate == pytest.approx(0.2)
    # Welch's interval, checked against scipy's own implementation on the raw values
    treated = [100.0] + [60.0] * 11 + [0.0] * 28
    held = [30.0, 30.0] + [0.0] * 18
    reference = scipy_stats.ttest_ind(treated, held, equal_var=False).confidence_interval(0.95)
    assert r.revenue_lift.estimate == pytest.approx(16.0)
    assert (r.revenue_lift.low, r.revenue_lift.high) == pytest.approx((reference.low, reference.high), rel=1e-9)


def test_newcombe_interval_matches_the_published_example():
    # Newcombe (1998), Statistics in Medicine 17:873, table II example (56/70 vs 48/80), method 10.
    interval = newcombe_difference(56, 70, 48, 80)
    assert interval.estimate == pytest.approx(0.2)
    assert (interval.low, interval.high) == pytest.approx((0.0524, 0.3339), abs=5e-4)
    assert newcombe_difference(0, 10, 0, 10).low < 0 < newcombe_difference(0, 10, 0, 10).high
    assert welch_difference(Sample(1, 1, 1), Sample(5, 5, 5)) is None


def test_control_assignment_in_sql_matches_python(shop, win_back):
    from django.db import connection

    with connection.cursor() as cur:
        for customer in (1, 42, 9_007_199_254_740_993, 7_234_567_890_123):
            cur.execute("SELECT " + assignment.control_sql("%s", "%s", "%s"), [shop.pk, win_back.pk, customer, 37])
            assert cur.fetchone()[0] == assignment.in_control(shop.pk, win_back.pk, customer, 37)


def test_lapse_threshold_is_suggested_from_the_shops_rhythm(shop, make_customer, make_order):
    from campaigns.selectors.segments import lapse_suggestion

    assert lapse_suggestion(shop).days == 90 and not lapse_suggestion(shop).from_shop_data
    now = timezone.now()
    for i in range(40):  # gaps of 20..59 days: the 80th percentile is ~51 days -> 56 (whole weeks)
        c = make_customer(shop)
        make_order(shop, c, at=now - dt.timedelta(days=200))
        make_order(shop, c, at=now - dt.timedelta(days=200 - (20 + i)))
    suggestion = lapse_suggestion(shop)
    assert suggestion.from_shop_data and suggestion.gaps == 40 and suggestion.days == 56


def test_results_panel_states_method_and_window(shop, win_back):
    from django.template.loader import render_to_string

    assigned = timezone.now() - dt.timedelta(days=40)
    for i in range(30):
        Recipient.objects.create(shop=shop, campaign=win_back, customer_shopify_id=i, email=f"{i}@example.com",
                                 window_key="w", group="treatment" if i < 20 else "control",
                                 status="sent" if i < 20 else "held_back", assigned_at=assigned)
    html = render_to_string("campaigns/_results.html", {"results": campaign_results(shop, win_back),
                                                        "currency": "EUR"})
    assert "Newcombe" in html and "Welch" in html and "within 30 days" in html
    assert "Estimated extra revenue: 0.00 EUR" in html
