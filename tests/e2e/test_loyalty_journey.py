"""The loyalty journey in a real browser, end to end: the merchant installs the app (real OAuth), the
programme is configured, a customer signs up in the development store (customers/create reaches the app
and gives the sign-up bonus), logs into the storefront, sees the points in the theme app extension's
widget (served through the signed app proxy), redeems a reward (the code is created in the store through
the Admin API), applies it to the cart in one click (/discount/CODE), and checks out. The order's
webhooks reach the app through its real webhook inbox and the Celery worker: the points spent stay
spent, the code is marked used, the order's new points are pending."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from discounts.models import DiscountCode
from loyalty.models import MemberEmail, PointsAccount, Programme, Redemption, Reward
from loyalty.services import points_adjust, programme_get

from .conftest import screenshot_path, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def _install(page, stack) -> None:
    """As the merchant: log into the store's admin and install the app (the lead's browser flow)."""
    devshop, shop = stack.devshop, stack.shop
    page.goto(devshop.shop_url(shop, "/admin/login"))
    page.fill("input[name=email]", "owner@example.com")
    page.fill("input[name=password]", "devshop-owner")
    page.click("button[type=submit]")
    page.goto(devshop.shop_url(shop, f"/admin/oauth/install?client_id={stack.client_id}"))
    page.wait_for_url("**/admin/oauth/authorize**")
    page.click("button[value=approve]")
    page.wait_for_url(f"**/store/{shop.domain}/admin/apps/{stack.client_id}**", timeout=30_000)


def test_customer_redeems_points_in_the_widget_and_checks_out(stack, browser):
    from shops.models import Shop

    devshop, store_shop = stack.devshop, stack.shop
    merchant = browser.new_page(viewport={"width": 1300, "height": 900})
    _install(merchant, stack)
    merchant.close()
    shop = wait_until(lambda: Shop.objects.filter(domain=store_shop.domain, installed_at__isnull=False).first(),
                      what="the installation")

    # given: the programme (1 point per euro, 14 days holding, 100 sign-up points) and a 5 € reward
    programme = programme_get(shop)
    Programme.objects.filter(pk=programme.pk).update(launched_at=timezone.now() - dt.timedelta(minutes=1))
    reward = Reward.objects.create(shop=shop, name="5 € Gutschein", kind=Reward.Kind.FIXED_AMOUNT, points_cost=250,
                                   amount=Decimal("5.00"), currency=shop.currency, expires_after_days=30)

    # given: a customer signs up; customers/create reaches the app and credits the sign-up bonus
    customer = devshop.create_customer(store_shop, first_name="Mia", last_name="Kunde",
                                       email="mia.kunde@example.com")
    customer_id = int(customer.get("id") or customer["customer"]["id"])
    account = wait_until(lambda: PointsAccount.objects.filter(shop=shop, customer_shopify_id=customer_id,
                                                              balance=100).first(),
                         timeout=60, what="the sign-up bonus")
    points_adjust(shop=shop, customer_shopify_id=customer_id, points=200, staff_name="Dana Owner",
                  note="Welcome gift for the journey test", idempotency_key="journey-gift")

    # when: the customer logs into the storefront and puts a product in the cart
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    page.goto(devshop.shop_url(store_shop, "/account/login"))
    page.fill("#customer-email", "mia.kunde@example.com")
    page.fill("#customer-password", "devshop")
    page.click("button[type=submit]")
    page.goto(devshop.shop_url(store_shop, "/"))
    page.click("button[data-variant]")
    page.wait_for_url("**/cart")

    # then: the widget shows her points (German storefront: the extension's de.json labels)
    page.click(".lw-launcher")
    page.wait_for_selector(".lw-balance__points[data-points='300']", timeout=30_000)
    assert page.get_attribute(".lw-launcher", "aria-expanded") == "true"
    assert "Ihre Punkte" in page.text_content(".lw-panel")  # section titles are upper-cased by CSS
    page.screenshot(path=str(screenshot_path("loyalty-widget-balance.png")))

    # when: she redeems the reward; the code is made in the store and shown with "apply to cart"
    page.click(f".lw-redeem[data-reward='{reward.pk}']")
    apply_link = page.wait_for_selector(".lw-apply", timeout=30_000)
    code = apply_link.get_attribute("data-code")
    assert code and code.startswith("REWARD-")
    page.wait_for_selector(".lw-balance__points[data-points='50']")
    page.screenshot(path=str(screenshot_path("loyalty-widget-code.png")))

    # when: one click puts the code on the cart, and she pays
    apply_link.click()
    page.wait_for_selector(f"#cart-codes [data-code='{code}']")
    page.wait_for_selector(f"#cart-totals [data-discount='{code}']")
    page.click("#checkout")
    page.wait_for_selector(f"[data-discount='{code}']")
    page.click("#pay-now")
    page.wait_for_selector("#order-confirmed", timeout=30_000)
    order_id = int(page.get_attribute("#order-confirmed", "data-order-id"))
    page.screenshot(path=str(screenshot_path("loyalty-order-confirmed.png")))

    # then: the order reached the app through the webhook inbox and the worker
    redemption = wait_until(lambda: Redemption.objects.filter(shop=shop, code=code, status=Redemption.Status.USED,
                                                              order_shopify_id=order_id).first(),
                            timeout=60, what="the redemption marked used by the order")
    assert DiscountCode.objects.get(shop=shop, code=code).order_shopify_id == order_id
    account = wait_until(lambda: PointsAccount.objects.filter(shop=shop, customer_shopify_id=customer_id,
                                                              pending__gt=0).first(),
                         timeout=60, what="the order's pending points")
    assert account.balance == 50  # 300 - 250 spent, nothing given back
    assert account.lifetime_redeemed == 250 and redemption.points == 250

    # and the widget says so: pending points, the used code, the history
    page.goto(devshop.shop_url(store_shop, "/"))
    page.click(".lw-launcher")
    page.wait_for_selector(".lw-balance__pending")
    page.wait_for_selector(".lw-code[data-status='used']")
    page.screenshot(path=str(screenshot_path("loyalty-widget-after-order.png")))
    kinds = set(MemberEmail.objects.filter(shop=shop, customer_shopify_id=customer_id).values_list("kind", flat=True))
    assert {MemberEmail.Kind.REWARD_READY, MemberEmail.Kind.POINTS_EARNED} <= kinds
