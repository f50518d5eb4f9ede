"""App Bridge session tokens (ID tokens): HS256 JWTs signed with the app's API secret.

Claims (shopify.dev session-tokens): iss=https://{shop}/admin, dest=https://{shop}, aud=API key,
sub=staff user id, exp (iat + 60 s), nbf, iat, jti, sid.

Why not a library call:
- ShopifyAPI's `shopify.session_token.decode_from_header` takes one secret (no rotation), does not
  require `exp`/`nbf`, and its issuer check accepts any `*.myshopify.com` URL form without checking `dest`.
- shopifyapp's `verify_app_home_req` skips the `iss`/`dest` check, derives the shop from `dest` without
  validating it, and renders a bounce page pointing at Shopify's CDN rather than SHOPIFY_APP_BRIDGE_URL.
So we call PyJWT (what both libraries use) with Shopify's 10-second leeway and check the rest here.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import jwt
from django.conf import settings

from .request_signing import InvalidShopDomain, shop_domain_clean

ALGORITHM = "HS256"
# App Bridge often mints tokens whose nbf is a few seconds ahead of our clock (ShopifyAPI PR #609);
# Shopify's JS, Python and PHP libraries all allow 10 seconds of skew.
LEEWAY_SECONDS = 10
REQUIRED_CLAIMS = ["exp", "nbf", "iss", "dest", "aud"]


class InvalidSessionToken(Exception):
    """The session token is missing, malformed, expired, not ours or not for a valid shop."""


@dataclass(frozen=True)
class SessionToken:
    token: str
    claims: dict[str, Any]
    shop_domain: str

    @property
    def user_id(self) -> str | None:
        return self.claims.get("sub")


def _decode(token: str) -> dict[str, Any]:
    secrets = [s for s in (settings.SHOPIFY_API_SECRET, settings.SHOPIFY_API_SECRET_OLD) if s]
    if not secrets:
        raise InvalidSessionToken("the app has no API secret configured")
    last_error: jwt.PyJWTError | None = None
    for secret in secrets:
        try:
            return jwt.decode(
                token,
                secret,
                algorithms=[ALGORITHM],  # never let the token choose its algorithm
                audience=settings.SHOPIFY_API_KEY,
                leeway=LEEWAY_SECONDS,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.InvalidSignatureError as exc:
            # Only a signature mismatch is worth retrying with the other secret: every other
            # failure (expiry, audience, shape) would fail the same way with either secret.
            last_error = exc
            continue
        except jwt.PyJWTError as exc:
            raise InvalidSessionToken(str(exc)) from exc
    raise InvalidSessionToken(str(last_error) if last_error else "signature verification failed")


def _shop_of(url: Any, claim: str) -> tuple[str, str]:
    if not isinstance(url, str):
        raise InvalidSessionToken(f"the {claim} claim is not a URL")
    parts = urlsplit(url)
    if parts.scheme != "https" or parts.username or parts.password or parts.port or parts.query:
        raise InvalidSessionToken(f"the {claim} claim is not an https shop URL")
    try:
        return shop_domain_clean(parts.hostname), parts.path
    except InvalidShopDomain as exc:
        raise InvalidSessionToken(f"the {claim} claim does not name a myshopify.com shop") from exc


def session_token_decode(token: str | None) -> SessionToken:
    """Verify a session token and return it with its shop. Raises InvalidSessionToken with a reason.

    Checks the signature (current secret, then SHOPIFY_API_SECRET_OLD), `aud` = our API key, `exp` and
    `nbf` with 10 s leeway, `dest` = https://{valid myshopify domain}, and `iss` naming the same shop
    (https://{shop}/admin): a token minted for one shop can never be read as another's.
    """
    if not token:
        raise InvalidSessionToken("no session token")
    claims = _decode(token)
    shop, dest_path = _shop_of(claims["dest"], "dest")
    iss_shop, iss_path = _shop_of(claims["iss"], "iss")
    if iss_shop != shop or dest_path not in ("", "/") or iss_path.rstrip("/") not in ("", "/admin"):
        raise InvalidSessionToken("the iss and dest claims name different shops")
    return SessionToken(token=token, claims=claims, shop_domain=shop)


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None."""
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()
