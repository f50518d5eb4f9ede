"""The refer-a-friend app embed in a real browser, end to end: the merchant installs the app and switches the
referral programme on; a customer logs into the development store's storefront and, in the theme app
extension's referral panel (served through the signed app proxy), sees their link on the shop's domain,
both rewards in plain words and a friend's referral with its status, copies the link and opens the share
fallbacks. A friend then visits the shop with `?ref=CODE`: the embed records it as the cart attribute
`ref`, the checkout carries it to the order as a note attribute (customAttributes in GraphQL), and the
order's webhooks, through the app's inbox and the Celery worker, attribute the friend's order to the
referral by cart attribute."""
from __future__ import annotations

from urllib.parse import quote

import pytest

from .conftest import screenshot_path, wait_until
from .test_loyalty_journey import _install

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def _log_in(page, devshop, store_shop, email: str) -> None:
    page.goto(devshop.shop_url(store_shop, "/account/login"))
    page.fill("#customer-email", email)
    page.fill("#customer-password", "devshop")
    page.click("button[type=submit]")
    page.wait_for_url("**/account")


def _customer_id(created: dict) -> int:
    return int(created.get("id") or created["customer"]["id"])


def test_customer_shares_the_link_and_a_friend_orders_through_it(stack, browser):
    from commerce.models import Customer
    from referrals.models import Referral
    from referrals.services import programme_update, referral_code_for_customer
    from shops.models import Shop

    devshop, store_shop = stack.devshop, stack.shop
    merchant = browser.new_page(viewport={"width": 1300, "height": 900})
    _install(merchant, stack)
    merchant.close()
    shop = wait_until(lambda: Shop.objects.filter(domain=store_shop.domain, installed_at__isnull=False).first(),
                      what="the installation")

    # given: the programme (friends get 15 %, referrers 500 points after 14 days) and a referrer
    programme_update(shop=shop, changes={"enabled": True, "holding_days": 14, "friend_reward_value": 15},
                     staff_name="Dana Owner")
    referrer_id = _customer_id(devshop.create_customer(store_shop, first_name="Anna", last_name="Werber",
                                                       email="anna.werber@example.com"))
    wait_until(lambda: Customer.objects.filter(shop=shop, shopify_id=referrer_id).exists(), what="customers/create")
    code = referral_code_for_customer(shop=shop, customer_shopify_id=referrer_id).code

    # given: a first friend already ordered through the landing page (attribution by landing site)
    first = devshop.http.post(f"/_devshop/shops/{store_shop.domain}/orders", json={
        "customer": {"email": "carla.freundin@example.com", "first_name": "Carla"},
        "line_items": [{"title": "Wollsocken", "price": "40.00", "quantity": 1}],
        "financial_status": "paid", "landing_site": f"/apps/loyalty/r/{code}",
    })
    assert first.status_code in (200, 201), first.text
    wait_until(lambda: Referral.objects.filter(shop=shop, friend_email_normalized="carla.freundin@example.com",
                                               status=Referral.Status.PENDING).exists(),
               what="the first friend's referral to be pending")

    # when: the referrer logs in and opens the referral panel (German storefront: de.json labels)
    context = browser.new_context(viewport={"width": 1300, "height": 900},
                                  permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    _log_in(page, devshop, store_shop, "anna.werber@example.com")
    page.goto(devshop.shop_url(store_shop, "/"))
    page.click(".rw-launcher")
    page.wait_for_selector(".rw-referral[data-status='pending']", timeout=30_000)

    # then: her link on the shop's domain, both rewards in plain words, the referral and its status
    link = devshop.shop_url(store_shop, f"/apps/loyalty/r/{code}")
    assert page.input_value("#rw-link") == link
    assert page.text_content(".rw-offer--friend") == "15 % Rabatt auf Ihre erste Bestellung"
    assert page.text_content(".rw-offer--you") == ("500 Punkte, sobald die erste Bestellung Ihres Freundes bezahlt ist "
                                                   "und nicht innerhalb von 14 Tagen zurückgegeben wurde.")
    referral_row = page.text_content(".rw-referral[data-status='pending']")
    assert "c***@example.com" in referral_row and "Ausstehend" in referral_row  # never the full e-mail
    assert "Freunde werben" in page.text_content(".rw-panel__title")

    # when: she copies the link: it is on the clipboard and the button says so
    page.click(".rw-copy")
    page.wait_for_selector(".rw-copy[data-copied='true']")
    assert page.text_content(".rw-copy") == "Kopiert!"
    assert page.evaluate("navigator.clipboard.readText()") == link
    page.screenshot(path=str(screenshot_path("referral-widget-copied.png")))

    # when: she shares; without the Web Share API the fallbacks open in a new tab (e-mail in the mail app)
    page.evaluate("delete Navigator.prototype.share")
    page.click(".rw-share")
    whatsapp = page.wait_for_selector(".rw-share-links a[data-share='whatsapp']")
    assert quote(link, safe="") in whatsapp.get_attribute("href") and whatsapp.get_attribute("target") == "_blank"
    assert page.get_attribute(".rw-share-links a[data-share='email']", "href").startswith("mailto:?subject=")
    assert {a.get_attribute("data-share") for a in page.query_selector_all(".rw-share-links a")} == {
        "email", "whatsapp", "x", "facebook"}
    page.screenshot(path=str(screenshot_path("referral-widget-share.png")))
    context.close()

    # when: a guest opens the panel: the offer and an invitation to log in, no link
    guest = browser.new_page(viewport={"width": 1300, "height": 900})
    guest.goto(devshop.shop_url(store_shop, "/"))
    guest.click(".rw-launcher")
    guest.wait_for_selector(".rw-guest")
    assert guest.query_selector("#rw-link") is None
    assert "Rabatt" in guest.text_content(".rw-offer--friend")
    guest.close()

    # when: a new friend visits the shop through the link's `?ref=`, logs in and checks out
    friend_id = _customer_id(devshop.create_customer(store_shop, first_name="Ben", last_name="Neu",
                                                     email="ben.neu@example.com"))
    wait_until(lambda: Customer.objects.filter(shop=shop, shopify_id=friend_id).exists(), what="the friend")
    friend = browser.new_page(viewport={"width": 1300, "height": 900})
    _log_in(friend, devshop, store_shop, "ben.neu@example.com")
    friend.goto(devshop.shop_url(store_shop, f"/?ref={code.lower()}"))
    friend.wait_for_selector(f"#referral-widget[data-ref='{code}']")
    cart = friend.evaluate(f"fetch('/store/{store_shop.domain}/cart.js').then(r => r.json())")
    assert cart["attributes"] == {"ref": code}
    friend.click("button[data-variant]")
    friend.wait_for_url("**/cart")
    friend.click("#checkout")
    friend.click("#pay-now")
    friend.wait_for_selector("#order-confirmed", timeout=30_000)
    order_id = int(friend.get_attribute("#order-confirmed", "data-order-id"))
    friend.screenshot(path=str(screenshot_path("referral-friend-order.png")))
    friend.close()

    # then: the order carries the cart attribute, and the app attributes it by that attribute
    order = devshop.http.get(f"/_devshop/shops/{store_shop.domain}/orders/{order_id}").json()
    assert order["note_attributes"] == [{"name": "ref", "value": code}]
    referral = wait_until(lambda: Referral.objects.filter(shop=shop, order_shopify_id=order_id).first(),
                          timeout=60, what="the friend's order attributed to the referral")
    assert referral.attribution == Referral.Attribution.CART_ATTRIBUTE
    assert referral.referrer_customer_shopify_id == referrer_id and referral.friend_customer_shopify_id == friend_id
    wait_until(lambda: Referral.objects.filter(pk=referral.pk, status=Referral.Status.PENDING).exists(),
               what="the friend's referral to be pending")

    # and the referrer's panel lists both friends
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    _log_in(page, devshop, store_shop, "anna.werber@example.com")
    page.goto(devshop.shop_url(store_shop, "/"))
    page.click(".rw-launcher")
    page.wait_for_function("document.querySelectorAll('.rw-referral[data-status=\"pending\"]').length === 2",
                           timeout=30_000)
    page.screenshot(path=str(screenshot_path("referral-widget-two-friends.png")))
