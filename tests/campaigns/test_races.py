"""Concurrent workers on PostgreSQL: the same send task four times at once sends each e-mail once; two
runs of the same campaign day at once select each customer once."""
import threading

import pytest
from django.db import connection
from django.utils import timezone

from campaigns.models import Campaign, CampaignRun, Recipient
from campaigns.services import runs, sending

pytestmark = pytest.mark.django_db(transaction=True)


def _in_threads(n, fn):
    errors = []
    barrier = threading.Barrier(n)

    def target():
        try:
            barrier.wait()
            fn()
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=target) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


def test_concurrent_runs_and_sends_deliver_each_email_once(shop, make_buyers, smtp):
    campaign = runs.campaign_for_kind(shop=shop, kind=Campaign.Kind.WIN_BACK)
    runs.campaign_configure(shop=shop, campaign_id=campaign.pk, enabled=True,
                            settings={"lapse_days": 60, "discount_percent": 0}, control_percent=10,
                            attribution_days=30, send_hour=0)
    make_buyers(shop, 120, days_ago=100)
    today = timezone.now().date()

    _in_threads(4, lambda: runs.campaign_run(shop=shop, campaign_id=campaign.pk, run_date=today))
    assert CampaignRun.objects.filter(shop=shop).count() == 1
    assert Recipient.objects.filter(shop=shop).count() == 120
    ids = sending.queued_ids(shop=shop)

    _in_threads(4, lambda: sending.recipients_send(shop=shop, recipient_ids=ids))
    assert len(smtp.messages) == len(ids)
    assert len({str(m["To"]) for m in smtp.messages}) == len(ids)
    assert Recipient.objects.filter(shop=shop, status="sent").count() == len(ids)
