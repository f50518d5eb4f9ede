"""Admin pages render with data (authentication itself is shops.embedded's, tested there): the view
functions are called beneath their decorators with the verified shop set, as the decorators would."""
from __future__ import annotations

import pytest
from django.test import RequestFactory
from django.utils import timezone

from referrals import views
from referrals.services import order_referral_sync

from .conftest import order_write

pytestmark = pytest.mark.django_db


def _call(view, shop, *args, path="/referrals", **query):
    request = RequestFactory().get(path, query)
    request.shop, request.session_claims = shop, {"sub": "1"}
    return view.__wrapped__.__wrapped__(request, *args)


def test_admin_pages_render(shop, other_shop, referrer):
    order = order_write(shop, customer_id=None, email="anna.berg@gmail.com", landing_site=f"/?ref={referrer.code}",
                        processed_at=timezone.now())
    referral = order_referral_sync(shop=shop, order_shopify_id=order.shopify_id)
    for view, args in ((views.overview, ()), (views.referrals_list, ()), (views.review, ()),
                       (views.settings_page, ()), (views.detail, (referral.pk,))):
        response = _call(view, shop, *args)
        assert response.status_code == 200, view.__name__
    assert referrer.code.encode() in _call(views.review, shop).content
    assert _call(views.detail, other_shop, referral.pk).status_code == 404  # another shop's referral
    csv = _call(views.conversion_csv, shop).content.decode()
    assert csv.splitlines()[0].startswith("Month,") and len(csv.splitlines()) == 13
