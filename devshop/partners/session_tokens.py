"""Session tokens (App Bridge ID tokens): HS256 JWTs signed with the app's client secret.

Claims as Shopify issues them (shopify.dev session-tokens; shopify-app-js JwtPayload):
iss=https://{shop}/admin, dest=https://{shop}, aud=client_id, sub=staff user id, exp=iat+60,
nbf, iat, jti (random), sid (stable per user and app).
"""
from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from typing import Any

import jwt
from django.conf import settings

from .models import App, StaffMember

LIFETIME_SECONDS = 60
LEEWAY_SECONDS = 10  # what Shopify's libraries allow for clock skew


class InvalidSessionToken(Exception):
    pass


def session_id(*, staff_member: StaffMember, app: App) -> str:
    """`sid`: the same for one staff member and one app across tokens, unguessable otherwise."""
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"sid:{staff_member.user_id}:{app.client_id}".encode(), hashlib.sha256).hexdigest()[:32]


def session_token_mint(*, staff_member: StaffMember, app: App) -> str:
    now = int(time.time())
    shop_domain = staff_member.shop.domain
    claims = {
        "iss": f"https://{shop_domain}/admin",
        "dest": f"https://{shop_domain}",
        "aud": app.client_id,
        "sub": str(staff_member.user_id),
        "exp": now + LIFETIME_SECONDS,
        "nbf": now,
        "iat": now,
        "jti": str(uuid.uuid4()),
        "sid": session_id(staff_member=staff_member, app=app),
    }
    return jwt.encode(claims, app.client_secret, algorithm="HS256")


def session_token_decode(token: str, *, app: App) -> dict[str, Any]:
    """Verify signature, audience and times, and that `iss` and `dest` name the same shop."""
    try:
        claims = jwt.decode(
            token,
            app.client_secret,
            algorithms=["HS256"],
            audience=app.client_id,
            leeway=LEEWAY_SECONDS,
            options={"require": ["iss", "dest", "aud", "sub", "exp", "nbf", "iat", "jti", "sid"]},
        )
    except jwt.PyJWTError as exc:
        raise InvalidSessionToken(str(exc)) from exc
    if claims["iss"].rstrip("/") != claims["dest"].rstrip("/") + "/admin":
        raise InvalidSessionToken("iss and dest name different shops")
    return claims


def shop_domain_of(claims: dict[str, Any]) -> str:
    return claims["dest"].removeprefix("https://").rstrip("/")
