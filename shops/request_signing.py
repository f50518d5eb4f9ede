"""Verification of requests Shopify signs with the `hmac` query parameter.

Install requests, the OAuth callback and non-embedded loads of the app URL carry `shop`, `timestamp`,
`hmac` and whatever else Shopify adds (`host`, `embedded`, `code`, `state`, `ids[]`...). Shopify's
documentation says not to hard-code that list, so everything except `hmac` is signed.

Message encoding: we reuse ShopifyAPI's `shopify.Session.calculate_hmac`. Checked against the reference
(shopify_api Ruby gem `encoded_params_for_signature`: escape `&=%` in keys and `&%` in values, `k=v`
pairs sorted and joined by `&`) and Shopify's array rule (`ids[]=1&ids[]=2` is signed as `ids=["1", "2"]`,
which is Ruby's Array#inspect, i.e. `json.dumps` of the strings). It is right provided it is fed the
right shape, which ShopifyAPI leaves to the caller, so `_params_for_signature` builds it:
- `key[]` parameters as a list of all their values (a bare string would be split into characters);
- every other key exactly once: a repeated `shop`/`hmac`/`timestamp` is how parameter-pollution attacks
  look (shopify-app-js rejects them too), so a repeated key is refused rather than guessed at;
- `signature` (the app-proxy / legacy signature) dropped, as Shopify's reference implementations do.

What ShopifyAPI gets wrong for us, so we do it here: it keys the HMAC with the class attribute
`Session.secret` (global state; we need the current and the old secret during a rotation, per call),
and `validate_params` accepts timestamps up to 24 hours old and any future timestamp. We allow
SHOPIFY_HMAC_MAX_AGE_SECONDS either way (Shopify's JS library: 90 s).
"""
from __future__ import annotations

import hmac
import time
from collections.abc import Iterable

import shopify
from django.conf import settings
from django.http import QueryDict

from .models import SHOP_DOMAIN_RE


class InvalidShopifyRequest(Exception):
    """The request is not a valid signed request from Shopify. `str(exc)` is safe to show."""


class InvalidShopDomain(InvalidShopifyRequest):
    pass


def shop_domain_clean(raw: str | None) -> str:
    """The shop's `name.myshopify.com` domain, lower-cased, or InvalidShopDomain.

    Only the bare myshopify domain is accepted: no scheme, path, port or custom domain, so the value
    can be put into URLs (shop_url) and database lookups as it is.
    """
    value = (raw or "").strip()
    if not value or not SHOP_DOMAIN_RE.match(value):
        raise InvalidShopDomain("The shop parameter is not a valid myshopify.com domain.")
    return value.lower()


def _secrets() -> list[str]:
    """Current secret first; during a rotation requests may still be signed with the old one."""
    return [s for s in (settings.SHOPIFY_API_SECRET, settings.SHOPIFY_API_SECRET_OLD) if s]


def _session_class(secret: str) -> type[shopify.Session]:
    # calculate_hmac is a classmethod reading `cls.secret`; a throwaway subclass carries the secret
    # for this call instead of mutating the process-wide `shopify.Session.secret`.
    return type("SigningSession", (shopify.Session,), {"secret": secret})


def _params_for_signature(query: QueryDict) -> dict[str, str | list[str]]:
    params: dict[str, str | list[str]] = {}
    for key, values in query.lists():
        if key in ("hmac", "signature"):
            continue
        if key.endswith("[]"):
            params[key] = list(values)
        elif len(values) != 1:
            raise InvalidShopifyRequest(f"The parameter {key!r} appears more than once.")
        else:
            params[key] = values[0]
    return params


def query_hmac(params: dict[str, str | list[str]], secret: str) -> str:
    """Hex HMAC-SHA256 of `params` in Shopify's admin-request encoding (see module docstring)."""
    return _session_class(secret).calculate_hmac(params)


def _hmac_matches(params: dict[str, str | list[str]], received: str, secrets: Iterable[str]) -> bool:
    matched = False
    for secret in secrets:
        # Evaluate every secret (no early exit) and compare in constant time.
        matched |= hmac.compare_digest(query_hmac(params, secret).encode(), received.encode())
    return matched


def _check_timestamp(raw: str | None, now: float) -> None:
    if raw is None or not raw.isdigit():
        raise InvalidShopifyRequest("The timestamp parameter is missing or not a whole number.")
    age = now - int(raw)
    if abs(age) > settings.SHOPIFY_HMAC_MAX_AGE_SECONDS:
        raise InvalidShopifyRequest("The request has expired (timestamp too old or in the future).")


def admin_request_verify(query: QueryDict, *, now: float | None = None) -> str:
    """Verify a request signed with Shopify's `hmac` query parameter; return the shop's domain.

    Checks, in this order: parameters well formed, HMAC (current or old secret, constant time),
    timestamp age, shop domain. Raises InvalidShopifyRequest (InvalidShopDomain) with a reason.
    """
    received = query.getlist("hmac")
    if len(received) != 1 or not received[0]:
        raise InvalidShopifyRequest("The hmac parameter is missing.")
    params = _params_for_signature(query)
    secrets = _secrets()
    if not secrets:
        raise InvalidShopifyRequest("The app has no API secret configured.")
    if not _hmac_matches(params, received[0].strip().lower(), secrets):
        raise InvalidShopifyRequest("The request signature (hmac) is invalid.")
    _check_timestamp(query.get("timestamp"), time.time() if now is None else now)
    return shop_domain_clean(query.get("shop"))
