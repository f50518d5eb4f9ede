"""The embedded admin pages: pages load with the id_token, forms post with the bearer token, and a shop
only ever sees and changes its own members."""
import uuid

import pytest

from loyalty.models import PointsAccount, PointsEntry, Programme
from loyalty.services import points_adjust
from tests.shops.conftest import session_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def authed(fake_shopify, shop):
    """(page query string, fetch headers) for alpha-shop."""
    return {"id_token": session_token(shop.domain)}, {"HTTP_AUTHORIZATION": f"Bearer {session_token(shop.domain)}"}


def test_pages_render_for_the_shop(client, shop, programme, authed):
    query, _ = authed
    points_adjust(shop=shop, customer_shopify_id=7001, points=10, staff_name="Ana", note="hello", idempotency_key="v1")
    account = PointsAccount.objects.get(shop=shop)
    for url in ["/loyalty/settings", "/loyalty/tiers", "/loyalty/rewards", "/loyalty/members", "/loyalty/numbers",
                f"/loyalty/members/{account.pk}"]:
        response = client.get(url, query)
        assert response.status_code == 200, url
        assert "frame-ancestors" in response.headers["Content-Security-Policy"]
    assert b"hello" in client.get(f"/loyalty/members/{account.pk}", query).content


def test_settings_save_and_live_preview(client, shop, programme, authed):
    _, headers = authed
    form = {name: value for name, value in {
        "order_earning_enabled": "on", "points_per_currency_unit": "2.5", "rounding": "half_up", "include_shipping": "on",
        "holding_days": "7", "signup_points": "100", "birthday_points": "200", "anniversary_points": "100",
        "review_points": "50", "social_follow_points": "25", "expiry_reminder_days": "14", "negative_policy": "owe",
        "tier_basis": "points", "tier_period": "calendar_year",
    }.items()}
    preview = client.post("/loyalty/settings/preview", {**form, "subtotal": "100", "shipping": "10", "taxes": "19"}, **headers)
    # (100 + 10 shipping) × 2.5 = 275 points, not saved yet
    assert preview.json() == {"ok": True, "points": 275, "amount": "110", "holding_days": 7, "currency": "EUR"}
    # prices with tax: 119 − 19 tax − 20 gift card + 10 shipping = 90 → 225 points
    inclusive = client.post("/loyalty/settings/preview", {**form, "subtotal": "119", "shipping": "10", "taxes": "19",
                                                          "taxes_included": "on", "gift_cards": "20"}, **headers)
    assert inclusive.json()["amount"] == "90" and inclusive.json()["points"] == 225
    assert Programme.objects.get(shop=shop).holding_days == 14
    saved = client.post("/loyalty/settings/save", form, **headers)
    assert saved.json()["ok"]
    programme = Programme.objects.get(shop=shop)
    assert (programme.holding_days, programme.negative_policy, programme.include_shipping) == (7, "owe", True)
    bad = client.post("/loyalty/settings/save", {**form, "holding_days": "-1"}, **headers)
    assert bad.status_code == 400 and "holding_days" in bad.json()["errors"]


def test_adjust_form_requires_a_reason_and_posts_once(client, shop, programme, authed):
    _, headers = authed
    points_adjust(shop=shop, customer_shopify_id=7001, points=10, staff_name="Ana", note="x", idempotency_key="v2")
    account = PointsAccount.objects.get(shop=shop)
    key = uuid.uuid4().hex
    assert client.post(f"/loyalty/members/{account.pk}/adjust", {"points": "5", "note": "", "staff_name": "Bo",
                                                                 "idempotency_key": key}, **headers).status_code == 400
    body = {"points": "5", "note": "Reviewed the mug", "staff_name": "Bo", "idempotency_key": key}
    assert client.post(f"/loyalty/members/{account.pk}/adjust", body, **headers).json()["ok"]
    assert client.post(f"/loyalty/members/{account.pk}/adjust", body, **headers).json()["ok"]
    entry = PointsEntry.objects.filter(shop=shop, kind="adjust").latest("id")
    assert (entry.delta, entry.note, entry.staff_name) == (5, "Reviewed the mug", "Bo (user 42)")
    assert PointsAccount.objects.get(shop=shop).balance == 15


def test_a_shop_cannot_see_or_adjust_another_shops_member(client, shop, other_shop, programme, authed):
    query, headers = authed
    points_adjust(shop=other_shop, customer_shopify_id=7001, points=10, staff_name="Eve", note="x", idempotency_key="v3")
    foreign = PointsAccount.objects.get(shop=other_shop)
    assert client.get(f"/loyalty/members/{foreign.pk}", query).status_code == 404
    response = client.post(f"/loyalty/members/{foreign.pk}/adjust",
                           {"points": "500", "note": "steal", "staff_name": "Mallory", "idempotency_key": "z"}, **headers)
    assert response.status_code == 404
    assert PointsAccount.objects.get(shop=other_shop).balance == 10
    assert b"Eve" not in client.get("/loyalty/members", query).content
