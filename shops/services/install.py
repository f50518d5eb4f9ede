"""Installing a shop: the OAuth authorization-code grant, token exchange, and first-time setup.

States of a Shop row (see Shop.is_installed):
- tokens stored, installed_at NULL            -> setup pending (details, webhooks, first sync not done yet)
- installed_at set, uninstalled_at NULL        -> installed
- uninstalled_at set (tokens forgotten)        -> uninstalled; a later token grant starts a reinstall
Tokens are committed first (transaction 1) and setup runs afterwards (transaction 2) under the shop's row
lock, setting installed_at only when it succeeded. So a failed setup loses no token and is retried by the
next load, and concurrent requests for a new shop exchange one token and run setup once: the second
waits for the lock, then finds the shop installed.
"""
from __future__ import annotations

import functools
import logging
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ..models import OAuthState, Shop
from ..session_tokens import SessionToken
from ..shopify_urls import shop_url
from ..token_endpoint import TokenGrant, authorization_code_exchange, token_exchange
from .tokens import ShopTokenMissing, shop_access_token, shop_lock, shop_tokens_store

logger = logging.getLogger(__name__)

# Long enough to read Shopify's consent screen, short enough that a leaked callback URL is soon useless.
OAUTH_STATE_TTL = timedelta(minutes=10)
SHOP_DETAILS_DOCUMENT = "shop_details"


class InvalidOAuthState(Exception):
    """The callback's `state` is unknown, used, expired or issued for another shop. Safe to show."""


class ShopSetupError(Exception):
    """Shopify's answer during setup made no sense for this shop (e.g. details of another shop)."""


# --- OAuth authorization-code grant -------------------------------------------------------------------


def oauth_state_create(*, shop_domain: str) -> OAuthState:
    """A new one-time `state` nonce bound to `shop_domain`, valid for OAUTH_STATE_TTL."""
    now = timezone.now()
    OAuthState.objects.filter(expires_at__lt=now).delete()  # housekeeping; indexed, usually nothing
    return OAuthState.objects.create(
        shop_domain=shop_domain,
        nonce=secrets.token_hex(32),  # 256 bits, fits the 64-character column
        expires_at=now + OAUTH_STATE_TTL,
    )


def oauth_authorize_url(*, shop_domain: str, state: str) -> str:
    """The shop's consent page for our scopes (offline access: no grant_options[]=per-user)."""
    query = urlencode(
        {
            "client_id": settings.SHOPIFY_API_KEY,
            "scope": ",".join(settings.SHOPIFY_SCOPES),
            "redirect_uri": settings.SHOPIFY_APP_URL + "/auth/callback",
            "state": state,
        }
    )
    return shop_url(shop_domain, "/admin/oauth/authorize?" + query)


def oauth_begin(*, shop_domain: str) -> str:
    """Start an install: store a state for the shop and return the authorize URL to send the browser to."""
    state = oauth_state_create(shop_domain=shop_domain)
    return oauth_authorize_url(shop_domain=shop_domain, state=state.nonce)


def oauth_state_consume(*, shop_domain: str, nonce: str) -> None:
    """Accept `nonce` once, for `shop_domain`, before it expires; raise InvalidOAuthState otherwise.

    The row is deleted whatever the outcome (one use only, even a failed one). The lookup is by the
    unique nonce; with 256 random bits a timing difference in the index lookup reveals nothing usable.
    """
    if not nonce:
        raise InvalidOAuthState("The state parameter is missing.")
    with transaction.atomic():
        row = OAuthState.objects.select_for_update().filter(nonce=nonce).first()
        if row is not None:
            row.delete()
    if row is None:
        raise InvalidOAuthState("The state parameter is unknown or was already used. Start the install again.")
    if row.shop_domain != shop_domain:
        raise InvalidOAuthState("The state parameter was issued for another shop.")
    if row.expires_at <= timezone.now():
        raise InvalidOAuthState("The install took too long (state expired). Start the install again.")


def shop_install_from_code(*, shop_domain: str, code: str, state: str) -> Shop:
    """Complete the OAuth callback: consume the state, exchange the code for an expiring offline token,
    store it and set the shop up. The caller has verified the request's HMAC and timestamp.

    Raises InvalidOAuthState, token_endpoint.TokenEndpointError (code refused or Shopify unreachable),
    and whatever setup raises (the tokens stay stored; the next load retries setup).
    """
    oauth_state_consume(shop_domain=shop_domain, nonce=state)
    if not code:
        raise InvalidOAuthState("The code parameter is missing.")
    grant = authorization_code_exchange(shop_domain=shop_domain, code=code)
    shop, _ = Shop.objects.get_or_create(domain=shop_domain)
    with transaction.atomic():
        locked = shop_lock(shop.pk)
        # An explicit (re)authorisation always replaces the stored pair, e.g. after a scope change.
        _install_tokens_store(locked, grant)
    return shop_setup(shop_id=locked.pk)


# --- Token exchange (Shopify-managed install, embedded loads) -----------------------------------------


def _has_token(shop: Shop) -> bool:
    return shop.uninstalled_at is None and bool(shop.access_token_encrypted)


def shop_install_from_session_token(session_token: SessionToken) -> Shop:
    """The installed shop of a verified session token, installing it by token exchange if needed.

    Needed when the shop is new, uninstalled, its refresh token died, or its setup never finished.
    Concurrent calls for the same shop make one token-exchange request and run setup once: the row is
    created with get_or_create (the unique domain settles a race), then token acquisition and setup each
    happen under the shop's row lock and re-check what a concurrent request already did.

    Raises token_endpoint.TokenEndpointError (`invalid_subject_token`: get a fresh session token) and
    whatever setup raises.
    """
    domain = session_token.shop_domain
    shop = Shop.objects.filter(domain=domain).first()
    if shop is not None and shop.is_installed and _has_token(shop):
        return shop
    if shop is None:
        shop, _ = Shop.objects.get_or_create(domain=domain)
    with transaction.atomic():
        locked = shop_lock(shop.pk)
        if not _has_token(locked):
            # Holding the lock across the HTTP call is what makes concurrent loads exchange once.
            grant = token_exchange(session_token)
            _install_tokens_store(locked, grant)
    if locked.is_installed:
        return locked
    return shop_setup(shop_id=locked.pk)


# --- Shared -------------------------------------------------------------------------------------------


def _install_tokens_store(shop: Shop, grant: TokenGrant) -> None:
    """Store a freshly granted pair on the locked row; a shop that was not installed becomes
    'setup pending' (installed_at NULL), which is what makes shop_setup run."""
    shop_tokens_store(shop, grant)
    if not shop.is_installed:
        shop.installed_at = None
        shop.uninstalled_at = None
    shop.save()


def _profile_reset(shop: Shop) -> None:
    """Forget everything shop/redact asked us to erase about the shop itself; reinstall starts clean."""
    defaults = {f.name: f.get_default() for f in Shop._meta.concrete_fields}
    for field in ("shopify_gid", "name", "email", "currency", "iana_timezone", "primary_locale",
                  "country_code", "plan_name"):
        setattr(shop, field, defaults[field])
    shop.redacted_at = None


def shop_setup(*, shop_id: int) -> Shop:
    """Finish an install: fetch the shop's details, register webhooks, start the first order sync, and
    mark the shop installed. Runs once per install: under the row lock, and a no-op for an installed
    shop. All or nothing: on any error installed_at stays NULL and the next call runs it again.

    A shop whose data was redacted (shop/redact after an uninstall) starts from a clean profile.
    Raises ShopTokenMissing, ShopSetupError, and the errors of AdminClient / shopify_sync services.
    """
    # Imported here: shopify_sync builds on shops, and the tree must import without it.
    from shopify_sync import services as sync_services

    shop = Shop.objects.get(pk=shop_id)
    if shop.is_installed:
        return shop
    # Make sure the token is fresh before taking the lock: a refresh needed inside it would run on its
    # own connection (tokens._run_committed) and wait for the lock this transaction holds.
    shop_access_token(shop)
    with transaction.atomic():
        shop = shop_lock(shop_id)
        if shop.is_installed:
            return shop
        if not _has_token(shop):
            raise ShopTokenMissing(f"{shop.domain} has no offline token to set up with")
        if shop.redacted_at is not None:
            _profile_reset(shop)
        shop_details_refresh(shop)
        sync_services.webhooks_register(shop)
        sync_services.sync_start(shop)
        shop.installed_at = timezone.now()
        shop.uninstalled_at = None
        shop.save()
    logger.info("installed %s", shop.domain)
    return shop


@functools.lru_cache(maxsize=1)
def _shop_details_document() -> str:
    # The document lives in shops/graphql/ like every document the app sends (the schema test validates
    # it); we pass its text, which AdminClient.execute accepts as well as a name.
    return (Path(__file__).resolve().parent.parent / "graphql" / f"{SHOP_DETAILS_DOCUMENT}.graphql").read_text()


def _primary_locale(locales: list[dict[str, Any]]) -> str:
    for locale in locales or []:
        if locale.get("primary"):
            return locale["locale"]
    return locales[0]["locale"] if locales else "en"


def shop_details_refresh(shop: Shop) -> Shop:
    """Fetch the shop's name, e-mail, currency, IANA time zone, country, plan and primary locale from
    the Admin GraphQL API (shops/graphql/shop_details.graphql) and save them.

    Raises ShopSetupError when Shopify describes a different shop, and AdminClient's errors.
    """
    from shopify_sync.admin_api import AdminClient

    data = AdminClient(shop).execute(_shop_details_document(), {})
    details = data["shop"]
    if (details.get("myshopifyDomain") or "").lower() != shop.domain:
        raise ShopSetupError(f"Shopify returned the details of {details.get('myshopifyDomain')!r} for {shop.domain}")
    plan = details.get("plan") or {}
    address = details.get("shopAddress") or {}
    shop.shopify_gid = details.get("id") or ""
    shop.name = details.get("name") or ""
    shop.email = details.get("email") or ""
    shop.currency = details["currencyCode"]
    shop.iana_timezone = details["ianaTimezone"]
    shop.country_code = address.get("countryCodeV2") or ""
    shop.plan_name = plan.get("publicDisplayName") or ""
    shop.primary_locale = _primary_locale(data.get("shopLocales") or [])
    shop.save(
        update_fields=[
            "shopify_gid", "name", "email", "currency", "iana_timezone", "country_code", "plan_name",
            "primary_locale", "redacted_at", "updated_at",
        ]
    )
    return shop
