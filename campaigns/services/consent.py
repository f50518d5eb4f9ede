"""Unsubscribes: recorded once per (shop, e-mail address) and honoured by every selection and every send."""
from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models.functions import Lower

from shops.models import Shop

from ..models import Recipient, Unsubscribe


def unsubscribe(*, shop: Shop, email: str, customer_shopify_id: int | None, source: str = "link") -> Unsubscribe:
    """Stop all campaign e-mail of this shop to `email`; queued messages to it are suppressed now.

    Idempotent: a second click (or the mail provider's one-click POST plus the customer's click) keeps
    the first row.
    """
    address = email.strip().lower()
    try:
        with transaction.atomic():
            row = Unsubscribe.objects.create(shop=shop, email=address, customer_shopify_id=customer_shopify_id,
                                             source=source)
    except IntegrityError:
        row = Unsubscribe.objects.get(shop=shop, email=address)
    (Recipient.objects.filter(shop=shop, status__in=[Recipient.Status.QUEUED, Recipient.Status.WAITING_CODE])
     .alias(email_lower=Lower("email")).filter(email_lower=address)
     .update(status=Recipient.Status.SUPPRESSED, error="unsubscribed"))
    return row


def is_unsubscribed(*, shop: Shop, email: str) -> bool:
    return Unsubscribe.objects.filter(shop=shop, email=email.strip().lower()).exists()
