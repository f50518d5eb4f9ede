"""Signed links in e-mails: unsubscribe and survey answers work without a login.

A token names the shop and the recipient row (and, for surveys, the question); Django's signer (HMAC with
SECRET_KEY and a per-purpose salt) makes it unforgeable. Unsubscribe links never expire (a law in most of
our markets requires them to keep working); survey links expire after SURVEY_MAX_AGE.
"""
from __future__ import annotations

from dataclasses import dataclass

from django.core import signing

UNSUBSCRIBE_SALT = "campaigns.unsubscribe"
SURVEY_SALT = "campaigns.survey"
SURVEY_MAX_AGE = 60 * 60 * 24 * 120


class BadToken(Exception):
    pass


@dataclass(frozen=True, slots=True)
class UnsubscribeClaim:
    shop_id: int
    email: str
    customer_shopify_id: int | None


@dataclass(frozen=True, slots=True)
class SurveyClaim:
    shop_id: int
    recipient_id: int
    question: str


def unsubscribe_token(*, shop_id: int, email: str, customer_shopify_id: int | None) -> str:
    return signing.dumps([shop_id, email.strip().lower(), customer_shopify_id], salt=UNSUBSCRIBE_SALT, compress=True)


def unsubscribe_claim(token: str) -> UnsubscribeClaim:
    try:
        shop_id, email, customer = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except (signing.BadSignature, ValueError, TypeError) as exc:
        raise BadToken("invalid unsubscribe link") from exc
    return UnsubscribeClaim(int(shop_id), str(email), int(customer) if customer is not None else None)


def survey_token(*, shop_id: int, recipient_id: int, question: str) -> str:
    return signing.dumps([shop_id, recipient_id, question], salt=SURVEY_SALT, compress=True)


def survey_claim(token: str) -> SurveyClaim:
    try:
        shop_id, recipient_id, question = signing.loads(token, salt=SURVEY_SALT, max_age=SURVEY_MAX_AGE)
    except signing.SignatureExpired as exc:
        raise BadToken("this survey link has expired") from exc
    except (signing.BadSignature, ValueError, TypeError) as exc:
        raise BadToken("invalid survey link") from exc
    return SurveyClaim(int(shop_id), int(recipient_id), str(question))
