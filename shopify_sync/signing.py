"""Webhook signatures: base64 HMAC-SHA256 of the raw body with the app's client secret."""
from __future__ import annotations

import base64
import hashlib
import hmac

from django.conf import settings


def webhook_hmac(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def webhook_hmac_valid(body: bytes, received: str | None) -> bool:
    """True when `received` (the X-Shopify-Hmac-Sha256 header) signs `body` with the current secret or,
    during a rotation, the old one. Constant-time comparison; both secrets are always checked so the time
    taken does not tell which one matched."""
    if not received:
        return False
    received_bytes = received.strip().encode()
    valid = False
    for secret in (settings.SHOPIFY_API_SECRET, settings.SHOPIFY_API_SECRET_OLD):
        if secret:
            valid |= hmac.compare_digest(webhook_hmac(body, secret).encode(), received_bytes)
    return valid
