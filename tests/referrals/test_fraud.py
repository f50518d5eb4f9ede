"""Each fraud rule flags the referral (no reward until the merchant decides); approve and reject are
recorded with the staff member and note."""
from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from commerce.services.webhooks import handle_order_webhook
from loyalty.models import PointsAccount
from referrals.identity import email_normalize
from referrals.models import Referral, ReferralEvent
from referrals.services import (
    ReferralRefused,
    friend_code_issue,
    order_referral_sync,
    programme_update,
    referral_approve,
    referral_reject,
    referrals_reward_due,
)

from .conftest import REFERRER, order_write
from .test_services import _rest_order

pytestmark = pytest.mark.django_db

ADDRESS = {"address1": "Hauptstraße 5", "zip": "10115", "country_code": "DE", "phone": "+49 170 1234567"}


@pytest.mark.parametrize(("raw", "normalized"), [
    ("a.b+x@gmail.com", "ab@gmail.com"), ("A.B@GoogleMail.com", "ab@gmail.com"), ("a.b+x@outlook.com", "a.b@outlook.com"),
    ("a.b+x@company.de", "a.b+x@company.de"), ("not-an-address", ""),
])
def test_email_normalization(raw, normalized):
    assert email_normalize(raw) == normalized


def _flagged(shop, referral):
    referral.refresh_from_db()
    assert referral.status == Referral.Status.FLAGGED, referral.status
    return set(referral.fraud_reasons)


def _order_via_webhook(shop, order_id, **kwargs):
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("django.db.transaction.on_commit", lambda fn, *a, **k: None)  # the test runs the sync itself
        handle_order_webhook(shop=shop, payload=_rest_order(order_id, **kwargs))
    return order_referral_sync(shop=shop, order_shopify_id=order_id)


def test_self_referral_by_customer_account(shop, referrer):
    # The referrer orders through their own link (landing site): same customer.
    order = order_write(shop, customer_id=REFERRER, email="anna.berg@gmail.com",
                        landing_site=f"/apps/loyalty/r/{referrer.code}")
    referral = order_referral_sync(shop=shop, order_shopify_id=order.shopify_id)
    assert referral is not None and "self_referral" in _flagged(shop, referral)


def test_same_email_on_a_guest_order(shop, referrer):
    order = order_write(shop, customer_id=None, email="Anna.Berg@gmail.com", landing_site=f"/?ref={referrer.code}")
    referral = order_referral_sync(shop=shop, order_shopify_id=order.shopify_id)
    assert "same_email" in _flagged(shop, referral)


def test_similar_email_after_normalization(shop, referrer):
    order = order_write(shop, customer_id=9950, email="a.n.n.a.berg+friend@gmail.com", landing_site=f"/?ref={referrer.code}")
    referral = order_referral_sync(shop=shop, order_shopify_id=order.shopify_id)
    assert _flagged(shop, referral) >= {"similar_email"}


def test_same_phone(shop, referrer):
    referral = _order_via_webhook(shop, 9951, customer_id=9951, email="phone@example.com", phone="0170 1234567",
                                  note_attributes=[{"name": "ref", "value": referrer.code}])
    assert "same_phone" in _flagged(shop, referral)


def test_same_shipping_address(shop, referrer):
    # The referrer's own order (webhook) shipped to the address; then a "friend" ships there too.
    _order_via_webhook(shop, 9952, customer_id=REFERRER, email="anna.berg@gmail.com", shipping_address=ADDRESS)
    referral = _order_via_webhook(shop, 9953, customer_id=9953, email="other@example.com",
                                  shipping_address={**ADDRESS, "address1": "hauptstrasse 5.", "phone": None},
                                  note_attributes=[{"name": "ref", "value": referrer.code}])
    assert "same_address" in _flagged(shop, referral)


def test_friend_who_was_already_a_customer(shop, referrer, fake_shopify):
    # The code was issued while the friend was new; an older order arrives later (e.g. a backfill).
    referral = friend_code_issue(shop=shop, code=referrer.code, email="late@example.com")
    order_write(shop, customer_id=9954, email="late@example.com", processed_at=timezone.now() - dt.timedelta(days=90))
    order = order_write(shop, customer_id=9954, email="late@example.com", codes=[referral.friend_code])
    order_referral_sync(shop=shop, order_shopify_id=order.shopify_id)
    assert "existing_customer" in _flagged(shop, referral)


def test_velocity_per_referrer(shop, referrer):
    programme_update(shop=shop, changes={"velocity_max_per_referrer": 2}, staff_name="t")
    statuses = []
    for i in range(3):
        order = order_write(shop, customer_id=9960 + i, email=f"v{i}@example.com", landing_site=f"/?ref={referrer.code}")
        statuses.append(order_referral_sync(shop=shop, order_shopify_id=order.shopify_id).status)
    assert statuses == [Referral.Status.PENDING, Referral.Status.PENDING, Referral.Status.FLAGGED]
    assert Referral.objects.get(shop=shop, status=Referral.Status.FLAGGED).fraud_reasons == ["referrer_velocity"]


def test_velocity_per_address_and_device(shop, referrer):
    programme_update(shop=shop, changes={"velocity_max_per_address": 1}, staff_name="t")
    first = _order_via_webhook(shop, 9970, customer_id=9970, email="x1@example.com", browser_ip="203.0.113.9",
                               note_attributes=[{"name": "ref", "value": referrer.code}])
    second = _order_via_webhook(shop, 9971, customer_id=9971, email="x2@example.com", browser_ip="203.0.113.9",
                                note_attributes=[{"name": "ref", "value": referrer.code}])
    assert first.status == Referral.Status.PENDING
    assert "address_velocity" in _flagged(shop, second)


def test_logged_in_referrer_cannot_take_their_own_offer(shop, referrer, fake_shopify):
    with pytest.raises(ReferralRefused) as exc:
        friend_code_issue(shop=shop, code=referrer.code, email="someone@example.com", customer_shopify_id=REFERRER)
    assert exc.value.code == "own_link"


def test_approve_then_rewarded_after_the_period_and_every_decision_recorded(shop, referrer):
    now = timezone.now()
    order = order_write(shop, customer_id=None, email="anna.berg@gmail.com", landing_site=f"/?ref={referrer.code}",
                        processed_at=now)
    referral = order_referral_sync(shop=shop, order_shopify_id=order.shopify_id, now=now)
    assert referral.status == Referral.Status.FLAGGED
    assert referrals_reward_due(shop=shop, now=now + dt.timedelta(days=30)) == 0  # flagged: never paid
    with pytest.raises(ReferralRefused):
        referral_approve(shop=shop, referral_id=referral.pk, staff_name="  ")
    referral = referral_approve(shop=shop, referral_id=referral.pk, staff_name="Dana", note="her sister",
                                now=now + dt.timedelta(days=2))
    assert referral.status == Referral.Status.PENDING
    referrals_reward_due(shop=shop, now=now + dt.timedelta(days=15))
    referral.refresh_from_db()
    assert referral.status == Referral.Status.REWARDED
    assert PointsAccount.objects.get(shop=shop, customer_shopify_id=REFERRER).balance == 500
    decision = ReferralEvent.objects.get(referral=referral, kind=ReferralEvent.Kind.APPROVED)
    assert (decision.staff_name, decision.note) == ("Dana", "her sister") and "same_email" in decision.reasons
    with pytest.raises(ReferralRefused):  # decided once
        referral_reject(shop=shop, referral_id=referral.pk, staff_name="Dana")


def test_reject_is_final_and_recorded(shop, referrer, other_shop):
    order = order_write(shop, customer_id=REFERRER, email="anna.berg@gmail.com", landing_site=f"/?ref={referrer.code}")
    referral = order_referral_sync(shop=shop, order_shopify_id=order.shopify_id)
    with pytest.raises(ReferralRefused):  # another shop cannot decide on it
        referral_reject(shop=other_shop, referral_id=referral.pk, staff_name="Eve")
    referral = referral_reject(shop=shop, referral_id=referral.pk, staff_name="Dana", note="self-referral")
    assert referral.status == Referral.Status.REJECTED
    assert referrals_reward_due(shop=shop, now=timezone.now() + dt.timedelta(days=30)) == 0
    assert ReferralEvent.objects.filter(referral=referral, kind=ReferralEvent.Kind.REJECTED, staff_name="Dana").exists()
