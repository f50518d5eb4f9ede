"""Calls to a shop's OAuth token endpoint, `POST {shop}/admin/oauth/access_token`.

Who does what (docs/decisions.md, "Shopify libraries: who does what"):
- authorization code -> token: by hand with httpx. ShopifyAPI's `Session.request_token` cannot send
  `expiring=1` (it would get a non-expiring token, which public apps may not use from 2027-01-01), builds
  `https://` URLs itself and reads only `access_token`/`scope`; shopifyapp has no authorization-code grant.
- token exchange (session token -> offline token) and refresh: shopifyapp's `token_exchange` and
  `refresh_access_token`, given our `http_client()` so they reach SHOPIFY_BASE_URL.
Every call returns a TokenGrant or raises TokenEndpointError; nothing here touches the database.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
import shopify_app
from django.conf import settings
from django.utils import timezone

from .session_tokens import SessionToken
from .shopify_urls import http_client, shop_url

logger = logging.getLogger(__name__)

# shopifyapp log codes (and our own) that mean "try again later", as opposed to "this credential is bad".
TRANSIENT_CODES = {"network_error", "server_error", "rate_limit_exceeded"}


@dataclass(frozen=True)
class TokenGrant:
    """An offline access token as the token endpoint issued it (secrets in plain text: never log it)."""

    access_token: str
    scopes: str
    expires_at: datetime | None
    refresh_token: str
    refresh_token_expires_at: datetime | None

    def __repr__(self) -> str:  # keep secrets out of logs and tracebacks
        return f"TokenGrant(scopes={self.scopes!r}, expires_at={self.expires_at!r})"


class TokenEndpointError(Exception):
    """The token endpoint refused or could not be reached.

    `code` is the OAuth error (`invalid_grant`, `invalid_subject_token`, `invalid_client`, ...) or one of
    TRANSIENT_CODES; `transient` says whether retrying later can help.
    """

    def __init__(self, code: str, detail: str = "") -> None:
        self.code = code
        self.detail = detail
        super().__init__(f"{code}: {detail}" if detail else code)

    @property
    def transient(self) -> bool:
        return self.code in TRANSIENT_CODES


def _app_config() -> shopify_app.AppConfig:
    return {
        "client_id": settings.SHOPIFY_API_KEY,
        "client_secret": settings.SHOPIFY_API_SECRET,
        "old_client_secret": settings.SHOPIFY_API_SECRET_OLD or None,
    }


def _after(seconds: object) -> datetime | None:
    if seconds is None or seconds == "":
        return None
    return timezone.now() + timedelta(seconds=int(seconds))  # type: ignore[call-overload]


def _parse_iso(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def authorization_code_exchange(*, shop_domain: str, code: str) -> TokenGrant:
    """Exchange an OAuth authorization code for an expiring offline token (`expiring=1`)."""
    body = {
        "client_id": settings.SHOPIFY_API_KEY,
        "client_secret": settings.SHOPIFY_API_SECRET,
        "code": code,
        # Without this Shopify issues a non-expiring offline token (shopify-protocols.md 1.2).
        "expiring": "1",
    }
    try:
        with http_client() as client:
            response = client.post(
                shop_url(shop_domain, "/admin/oauth/access_token"),
                json=body,
                headers={"Accept": "application/json"},
            )
    except httpx.HTTPError as exc:
        raise TokenEndpointError("network_error", type(exc).__name__) from exc
    try:
        data = response.json()
    except ValueError:
        data = {}
    if response.status_code >= 500 or response.status_code == 429:
        raise TokenEndpointError(
            "server_error" if response.status_code >= 500 else "rate_limit_exceeded",
            f"HTTP {response.status_code}",
        )
    if response.status_code != 200 or not isinstance(data, dict) or not data.get("access_token"):
        error = data.get("error", "invalid_response") if isinstance(data, dict) else "invalid_response"
        description = data.get("error_description", "") if isinstance(data, dict) else ""
        raise TokenEndpointError(str(error), f"HTTP {response.status_code} {description}".strip())
    return TokenGrant(
        access_token=data["access_token"],
        scopes=data.get("scope", ""),
        expires_at=_after(data.get("expires_in")),
        refresh_token=data.get("refresh_token") or "",
        refresh_token_expires_at=_after(data.get("refresh_token_expires_in")),
    )


def _grant_from(result: shopify_app.TokenExchangeResult) -> TokenGrant:
    if not result.ok or result.access_token is None:
        raise TokenEndpointError(result.log.code, result.log.detail)
    token = result.access_token
    return TokenGrant(
        access_token=token.token,
        scopes=token.scope or "",
        expires_at=_parse_iso(token.expires),
        refresh_token=token.refresh_token or "",
        refresh_token_expires_at=_parse_iso(token.refresh_token_expires),
    )


def token_exchange(session_token: SessionToken) -> TokenGrant:
    """Exchange a verified session token for an expiring offline token (token-exchange grant).

    Raises TokenEndpointError; `invalid_subject_token` means App Bridge must fetch a fresh session token.
    """
    with http_client() as client:
        result = shopify_app.token_exchange(
            "offline",
            _app_config(),
            id_token=shopify_app.IdTokenDetails(
                exchangeable=True, token=session_token.token, claims=session_token.claims
            ),
            expiring=True,
            http_client=client,
        )
    return _grant_from(result)


def refresh_token_exchange(*, shop_domain: str, refresh_token: str) -> TokenGrant:
    """Trade a refresh token for a new access token and a new (rotated) refresh token.

    Raises TokenEndpointError; `invalid_grant` means the refresh token is dead for good.
    """
    with http_client() as client:
        result = shopify_app.refresh_access_token(
            {
                "shop": shop_domain.split(".", 1)[0],
                "refresh_token": refresh_token,
                # The caller (shop_access_token) has decided that a refresh is due. shopifyapp would veto a
                # refresh while the token has more than 60 s left, which defeats refreshing a few minutes
                # early and the forced refresh after a 401; with no `expires` but a refresh token it always
                # refreshes (see its _validate_token_expiry). Likewise no `refresh_token_expires`: Shopify,
                # not our copy of the expiry, decides whether the refresh token is still good.
                "expires": None,
                "refresh_token_expires": None,
                "access_mode": "offline",
            },
            _app_config(),
            http_client=client,
        )
    return _grant_from(result)
