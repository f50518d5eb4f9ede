"""Installations and Admin API credentials: authorization codes, the three token grants, checks.

Error classes carry Shopify's OAuth error code and description so views can answer exactly as
`/admin/oauth/access_token` does (`{"error": "...", "error_description": "..."}`).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from .. import signing
from ..models import AccessToken, App, AuthorizationCode, Installation, StaffMember

log = logging.getLogger(__name__)

AUTHORIZATION_CODE_TTL = timedelta(minutes=5)
EXPIRING_OFFLINE_TTL = timedelta(seconds=3600)
REFRESH_TOKEN_TTL = timedelta(days=90)
ONLINE_TTL = timedelta(hours=24)


class InvalidAccessToken(Exception):
    """The Admin API answers 401 with ADMIN_API_INVALID_TOKEN_BODY."""


ADMIN_API_INVALID_TOKEN_BODY = {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}


class OAuthError(Exception):
    def __init__(self, error: str, description: str, status: int = 400):
        super().__init__(f"{error}: {description}")
        self.error, self.description, self.status = error, description, status

    def as_json(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


@dataclass
class IssuedToken:
    """What the access_token endpoint answers; secrets are only here, never in the database."""

    token: AccessToken
    access_token: str
    refresh_token: str | None = None
    extra: dict = field(default_factory=dict)

    def as_json(self) -> dict:
        body: dict = {"access_token": self.access_token, "scope": ",".join(self.token.scopes)}
        if self.token.expires_at is not None:
            body["expires_in"] = int((self.token.expires_at - self.token.created_at).total_seconds())
        if self.refresh_token:
            body["refresh_token"] = self.refresh_token
            body["refresh_token_expires_in"] = int(
                (self.token.refresh_token_expires_at - self.token.created_at).total_seconds()
            )
        if self.token.access_mode == AccessToken.ONLINE:
            staff = self.token.staff_member
            body["associated_user_scope"] = ",".join(self.token.scopes)
            body["associated_user"] = {
                "id": staff.user_id,
                "first_name": staff.first_name,
                "last_name": staff.last_name,
                "email": staff.email,
                "email_verified": True,
                "account_owner": staff.account_owner,
                "locale": staff.locale,
                "collaborator": False,
            }
        body.update(self.extra)
        return body


# --- installations -------------------------------------------------------------------------------


def installation_grant(*, shop, app: App, scopes: list[str]) -> Installation:
    """Install `app` on `shop` (or re-install it) with `scopes`; toml webhook subscriptions follow."""
    from .webhooks import toml_subscriptions_sync

    try:
        # Two first loads of an embedded app exchange tokens concurrently; one creates the row.
        with transaction.atomic():
            Installation.objects.get_or_create(shop=shop, app=app, defaults={"granted_scopes": scopes})
    except IntegrityError:
        pass
    with transaction.atomic():
        installation = Installation.objects.select_for_update().get(shop=shop, app=app)
        if installation.granted_scopes != scopes or not installation.is_active:
            if installation.uninstalled_at is not None:
                installation.installed_at = timezone.now()
                installation.uninstalled_at = None
                installation.shop_redact_due_at = installation.shop_redact_sent_at = None
            installation.granted_scopes = scopes
            installation.save()
        toml_subscriptions_sync(installation=installation)
    return installation


def active_installation(*, shop, app: App) -> Installation | None:
    return Installation.objects.filter(shop=shop, app=app, uninstalled_at__isnull=True).first()


def shop_redact_delay() -> timedelta:
    """48 h as on Shopify; DEVSHOP_SHOP_REDACT_DELAY_SECONDS shortens it for demos and tests."""
    import os

    from django.conf import settings

    value = getattr(settings, "DEVSHOP_SHOP_REDACT_DELAY_SECONDS", None) or os.environ.get(
        "DEVSHOP_SHOP_REDACT_DELAY_SECONDS", 48 * 3600
    )
    return timedelta(seconds=float(value))


def installation_revoke(*, installation: Installation) -> None:
    """Mark uninstalled, schedule shop/redact, revoke every token and delete the API subscriptions
    (Shopify deletes them)."""
    now = timezone.now()
    with transaction.atomic():
        installation.uninstalled_at = now
        installation.shop_redact_due_at = now + shop_redact_delay()
        installation.save(update_fields=["uninstalled_at", "shop_redact_due_at"])
        installation.access_tokens.filter(revoked_at__isnull=True).update(revoked_at=now)
        installation.webhook_subscriptions.all().delete()


# --- authorization codes -------------------------------------------------------------------------


def authorization_code_issue(
    *, installation: Installation, scopes: list[str], redirect_uri: str, staff_member: StaffMember | None
) -> str:
    """`staff_member` set means `grant_options[]=per-user`: the code yields an online token."""
    code = signing.new_token("", 16)
    AuthorizationCode.objects.create(
        installation=installation,
        code_hash=signing.hash_secret(code),
        scopes=scopes,
        access_mode=AccessToken.ONLINE if staff_member else AccessToken.OFFLINE,
        staff_member=staff_member,
        redirect_uri=redirect_uri,
        expires_at=timezone.now() + AUTHORIZATION_CODE_TTL,
    )
    return code


# --- token issue ---------------------------------------------------------------------------------


def _issue(
    *,
    installation: Installation,
    mode: str,
    scopes: list[str],
    expiring: bool,
    staff_member: StaffMember | None = None,
) -> IssuedToken:
    now = timezone.now()
    prefix = "shpua_" if mode == AccessToken.ONLINE else "shpat_"
    secret = signing.new_token(prefix)
    refresh = None
    token = AccessToken(
        installation=installation,
        token_hash=signing.hash_secret(secret),
        token_prefix=secret[:10],
        access_mode=mode,
        scopes=scopes,
        staff_member=staff_member,
        created_at=now,
    )
    if mode == AccessToken.ONLINE:
        token.expires_at = now + ONLINE_TTL
    elif expiring:
        refresh = signing.new_token("shprt_")
        token.expires_at = now + EXPIRING_OFFLINE_TTL
        token.refresh_token_hash = signing.hash_secret(refresh)
        token.refresh_token_expires_at = now + REFRESH_TOKEN_TTL
    token.save()
    return IssuedToken(token=token, access_token=secret, refresh_token=refresh)


def _authenticate_client(*, client_id: str, client_secret: str) -> App:
    import hmac

    app = App.objects.filter(client_id=client_id).first() if client_id else None
    if app is None:
        raise OAuthError("invalid_request", f"Could not find Shopify API application with api_key {client_id}")
    if not client_secret or not hmac.compare_digest(app.client_secret.encode(), client_secret.encode()):
        raise OAuthError(
            "invalid_client",
            "Client authentication failed due to unknown client, no client authentication included, "
            "or unsupported authentication method.",
            status=401,
        )
    return app


def grant_authorization_code(*, shop, client_id: str, client_secret: str, code: str, expiring: bool) -> IssuedToken:
    app = _authenticate_client(client_id=client_id, client_secret=client_secret)
    with transaction.atomic():
        row = (
            AuthorizationCode.objects.select_for_update(of=("self",))
            .select_related("installation", "staff_member")
            .filter(code_hash=signing.hash_secret(code or ""), installation__app=app, installation__shop=shop)
            .first()
        )
        if row is None or row.used_at is not None or row.expires_at <= timezone.now():
            raise OAuthError("invalid_request", "The authorization code was not found or was already used")
        row.used_at = timezone.now()
        row.save(update_fields=["used_at"])
        if not row.installation.is_active:
            raise OAuthError("invalid_request", "The authorization code was not found or was already used")
        return _issue(
            installation=row.installation,
            mode=row.access_mode,
            scopes=row.scopes,
            expiring=expiring,
            staff_member=row.staff_member,
        )


# OAuth token-type URNs (not secrets).
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"  # noqa: S105
OFFLINE_TOKEN_TYPE = "urn:shopify:params:oauth:token-type:offline-access-token"  # noqa: S105
ONLINE_TOKEN_TYPE = "urn:shopify:params:oauth:token-type:online-access-token"  # noqa: S105


def grant_token_exchange(
    *,
    shop,
    client_id: str,
    client_secret: str,
    subject_token: str,
    subject_token_type: str,
    requested_token_type: str,
    expiring: bool,
) -> IssuedToken:
    """Token exchange: a session token (or, to migrate, a non-expiring offline token) for an
    access token. The first exchange installs the app with the toml's scopes (Shopify managed
    installation)."""
    from ..session_tokens import InvalidSessionToken, session_token_decode, shop_domain_of

    app = _authenticate_client(client_id=client_id, client_secret=client_secret)
    if requested_token_type not in (OFFLINE_TOKEN_TYPE, ONLINE_TOKEN_TYPE):
        raise OAuthError("invalid_request", f"Unsupported requested_token_type: {requested_token_type}")

    if subject_token_type == OFFLINE_TOKEN_TYPE:
        return _migrate_to_expiring(shop=shop, app=app, subject_token=subject_token)
    if subject_token_type != ID_TOKEN_TYPE:
        raise OAuthError("invalid_request", f"Unsupported subject_token_type: {subject_token_type}")

    try:
        claims = session_token_decode(subject_token or "", app=app)
    except InvalidSessionToken as exc:
        raise OAuthError("invalid_subject_token", f"Invalid subject token: {exc}") from exc
    if shop_domain_of(claims) != shop.domain:
        raise OAuthError("invalid_subject_token", "The subject token was issued for another shop")
    staff = StaffMember.objects.filter(shop=shop, user_id=claims["sub"]).first()
    if staff is None:
        raise OAuthError("invalid_subject_token", "The subject token's user is not staff of this shop")

    installation = active_installation(shop=shop, app=app)
    if installation is None:
        installation = installation_grant(shop=shop, app=app, scopes=list(app.scopes))
    if requested_token_type == ONLINE_TOKEN_TYPE:
        return _issue(
            installation=installation,
            mode=AccessToken.ONLINE,
            scopes=installation.granted_scopes,
            expiring=True,
            staff_member=staff,
        )
    return _issue(
        installation=installation, mode=AccessToken.OFFLINE, scopes=installation.granted_scopes, expiring=expiring
    )


def _migrate_to_expiring(*, shop, app: App, subject_token: str) -> IssuedToken:
    """Exchange a non-expiring offline token for an expiring one; the old token stops working."""
    with transaction.atomic():
        old = (
            AccessToken.objects.select_for_update(of=("self",))
            .filter(
                token_hash=signing.hash_secret(subject_token or ""),
                installation__app=app,
                installation__shop=shop,
                installation__uninstalled_at__isnull=True,
                access_mode=AccessToken.OFFLINE,
                expires_at__isnull=True,
                revoked_at__isnull=True,
            )
            .select_related("installation")
            .first()
        )
        if old is None:
            raise OAuthError("invalid_subject_token", "Invalid subject token")
        old.revoked_at = timezone.now()
        old.save(update_fields=["revoked_at"])
        return _issue(installation=old.installation, mode=AccessToken.OFFLINE, scopes=old.scopes, expiring=True)


def grant_refresh_token(*, shop, client_id: str, client_secret: str, refresh_token: str) -> IssuedToken:
    """Rotate: issue a new access + refresh token. The presented refresh token belongs to token A;
    it is valid while A has no replacement, or while A's replacement has never been used."""
    app = _authenticate_client(client_id=client_id, client_secret=client_secret)
    now = timezone.now()
    invalid = OAuthError("invalid_grant", "The refresh token is invalid, expired or has been revoked")
    with transaction.atomic():
        current = (
            AccessToken.objects.select_for_update(of=("self",))
            .select_related("installation", "replaced_by")
            .filter(
                refresh_token_hash=signing.hash_secret(refresh_token or ""),
                installation__app=app,
                installation__shop=shop,
            )
            .first()
        )
        if (
            current is None
            or not current.installation.is_active
            or current.refresh_token_expires_at is None
            or current.refresh_token_expires_at <= now
        ):
            raise invalid
        successor = current.replaced_by
        if successor is not None:
            if successor.first_used_at is not None:
                raise invalid  # the app already moved on to the replacement
            # The app lost the previous refresh response: the unused replacement is void.
            successor.revoked_at = now
            successor.refresh_token_hash = None
            successor.save(update_fields=["revoked_at", "refresh_token_hash"])
            current.replaced_by = None
            current.save(update_fields=["replaced_by"])
        issued = _issue(
            installation=current.installation, mode=AccessToken.OFFLINE, scopes=current.scopes, expiring=True
        )
        current.replaced_by = issued.token
        current.save(update_fields=["replaced_by"])
        return issued


# --- the Admin API's check -----------------------------------------------------------------------


def authenticate_admin_request(shop, token: str) -> Installation:
    """The installation an `X-Shopify-Access-Token` belongs to, for `shop`.

    Raises InvalidAccessToken when the token is unknown, for another shop, revoked, expired or its
    installation is uninstalled. The first use of a token is recorded: it ends the grace period of
    the refresh token it replaced.
    """
    if not token:
        raise InvalidAccessToken("missing access token")
    row = (
        AccessToken.objects.select_related("installation__app", "installation__shop")
        .filter(token_hash=signing.hash_secret(token), installation__shop=shop)
        .first()
    )
    now = timezone.now()
    if (
        row is None
        or row.revoked_at is not None
        or not row.installation.is_active
        or (row.expires_at is not None and row.expires_at <= now)
    ):
        raise InvalidAccessToken("invalid access token")
    if row.first_used_at is None:
        AccessToken.objects.filter(pk=row.pk, first_used_at__isnull=True).update(first_used_at=now)
    return row.installation
