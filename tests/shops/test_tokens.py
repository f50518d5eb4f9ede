"""shop_access_token: refresh with rotation, the two-worker race, dead tokens, encryption at rest,
uninstall."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from core.crypto import decrypt
from shops.models import Shop
from shops.services import ShopTokenMissing, shop_access_token, shop_mark_uninstalled

SHOP = "alpha-shop.myshopify.com"


def expire(shop: Shop, *, in_seconds: int = -10) -> None:
    Shop.objects.filter(pk=shop.pk).update(access_token_expires_at=timezone.now() + timedelta(seconds=in_seconds))


@pytest.mark.django_db
def test_fresh_token_is_returned_without_calling_shopify(installed_shop, fake_shopify):
    assert shop_access_token(installed_shop) == installed_shop._issued["access_token"]
    assert fake_shopify.grants("refresh_token") == []


@pytest.mark.django_db
def test_token_is_encrypted_at_rest(installed_shop):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT access_token_encrypted, refresh_token_encrypted FROM shops_shop WHERE id = %s", [installed_shop.pk]
        )
        raw_access, raw_refresh = cursor.fetchone()
    assert installed_shop._issued["access_token"] not in raw_access
    assert installed_shop._issued["refresh_token"] not in raw_refresh
    assert decrypt(raw_access) == installed_shop._issued["access_token"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("seconds_left", [-10, 120])  # expired, or inside the refresh margin
def test_expiring_token_is_refreshed_and_the_refresh_token_rotated(installed_shop, fake_shopify, seconds_left):
    old_refresh = installed_shop._issued["refresh_token"]
    expire(installed_shop, in_seconds=seconds_left)

    token = shop_access_token(installed_shop)

    (grant,) = fake_shopify.grants("refresh_token")
    assert grant[2]["refresh_token"] == old_refresh
    installed_shop.refresh_from_db()
    assert token != installed_shop._issued["access_token"]
    assert decrypt(installed_shop.access_token_encrypted) == token
    assert decrypt(installed_shop.refresh_token_encrypted) not in ("", old_refresh)
    assert installed_shop.access_token_expires_at > timezone.now() + timedelta(minutes=55)
    # the new pair works: the next call needs no refresh, and a forced one uses the rotated token
    assert shop_access_token(installed_shop) == token
    assert shop_access_token(installed_shop, force_refresh=True) != token
    assert len(fake_shopify.grants("refresh_token")) == 2


@pytest.mark.django_db(transaction=True)
def test_two_workers_racing_make_one_refresh_and_share_its_token(installed_shop, fake_shopify):
    # given: an expired token, and a token endpoint slow enough that both workers are waiting on it
    expire(installed_shop)
    fake_shopify.refresh_delay = 0.5
    barrier = threading.Barrier(2)
    results, errors = [], []

    def worker():
        try:
            shop = Shop.objects.get(pk=installed_shop.pk)  # each worker has its own stale copy
            barrier.wait()
            results.append(shop_access_token(shop))
        except Exception as exc:  # pragma: no cover - reported by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    # when
    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    # then: exactly one refresh reached Shopify and both got its token
    assert errors == []
    assert len(fake_shopify.grants("refresh_token")) == 1
    assert len(set(results)) == 1 and len(results) == 2
    installed_shop.refresh_from_db()
    assert decrypt(installed_shop.access_token_encrypted) == results[0]


@pytest.mark.django_db(transaction=True)
def test_refresh_inside_an_outer_transaction_commits_even_if_the_caller_rolls_back(installed_shop, fake_shopify):
    expire(installed_shop)

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        with transaction.atomic():
            token = shop_access_token(installed_shop)
            raise Boom

    # the rotated pair survived the caller's rollback: Shopify has already replaced the old one
    installed_shop.refresh_from_db()
    assert decrypt(installed_shop.access_token_encrypted) == token
    assert shop_access_token(installed_shop) == token
    assert len(fake_shopify.grants("refresh_token")) == 1


@pytest.mark.django_db
def test_refresh_of_a_shop_created_in_the_callers_transaction_works(installed_shop, fake_shopify):
    # The test's own transaction holds the uncommitted row: the refresh runs in it (nobody else sees it).
    expire(installed_shop)
    token = shop_access_token(installed_shop)
    assert len(fake_shopify.grants("refresh_token")) == 1
    assert decrypt(Shop.objects.get(pk=installed_shop.pk).access_token_encrypted) == token


@pytest.mark.django_db(transaction=True)
def test_refresh_refused_with_invalid_grant_marks_the_token_dead(installed_shop, fake_shopify):
    expire(installed_shop)
    fake_shopify.refresh_tokens.clear()  # Shopify no longer knows the refresh token

    with pytest.raises(ShopTokenMissing):
        shop_access_token(installed_shop)

    installed_shop.refresh_from_db()
    assert installed_shop.access_token_encrypted == "" and installed_shop.refresh_token_encrypted == ""
    assert installed_shop.is_installed  # still installed: the next embedded load re-exchanges
    with pytest.raises(ShopTokenMissing):
        shop_access_token(installed_shop)
    assert len(fake_shopify.grants("refresh_token")) == 1  # dead stays dead without asking again


@pytest.mark.django_db(transaction=True)
def test_dead_token_is_renewed_by_the_next_embedded_load(installed_shop, fake_shopify, sync_calls, client):
    from .conftest import session_token

    expire(installed_shop)
    fake_shopify.refresh_tokens.clear()
    with pytest.raises(ShopTokenMissing):
        shop_access_token(installed_shop)

    response = client.get(f"/?embedded=1&shop={SHOP}&id_token={session_token(SHOP)}")

    assert response.status_code == 200
    assert len(fake_shopify.grants("urn:ietf:params:oauth:grant-type:token-exchange")) == 1
    assert sync_calls.webhooks_register == []  # still installed: no second setup
    assert shop_access_token(installed_shop)


@pytest.mark.django_db
def test_uninstall_forgets_the_tokens(installed_shop):
    shop_mark_uninstalled(installed_shop)
    first = Shop.objects.get(pk=installed_shop.pk).uninstalled_at
    shop_mark_uninstalled(installed_shop)  # webhooks arrive twice

    installed_shop.refresh_from_db()
    assert installed_shop.uninstalled_at == first is not None
    assert installed_shop.access_token_encrypted == installed_shop.refresh_token_encrypted == ""
    assert installed_shop.access_token_expires_at is None
    with pytest.raises(ShopTokenMissing):
        shop_access_token(installed_shop)
