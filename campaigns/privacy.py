"""What campaigns holds about one customer, for Shopify's customers/data_request and customers/redact
(called from shopify_sync.privacy's explicit lists)."""
from __future__ import annotations

from typing import Any

from django.db.models import Q


def _unsubscribes(shop, customer):
    from .models import Unsubscribe

    match = Q(customer_shopify_id=customer.shopify_id)
    if customer.email:
        match |= Q(email=customer.email.strip().lower())
    return Unsubscribe.objects.for_shop(shop).filter(match)


def customer_data(shop, customer) -> dict[str, Any]:
    from .models import Recipient, SurveyResponse

    return {
        "campaign_messages": list(
            Recipient.objects.for_shop(shop).filter(customer_shopify_id=customer.shopify_id).values(
                "campaign_id", "email", "first_name", "language", "group", "status", "code", "sent_at")
        ),
        "unsubscribes": list(_unsubscribes(shop, customer).values("email", "source", "created_at")),
        "survey_answers": list(
            SurveyResponse.objects.for_shop(shop).filter(customer_shopify_id=customer.shopify_id).values(
                "question", "score", "reason", "comment", "answered_at")
        ),
    }


def customer_redact(shop, customer) -> int:
    """Blank e-mail, name and message context of the customer's campaign messages (the rows stay, without
    personal data, so campaign results keep their counts), blank survey comments (scores stay, anonymous),
    and delete their unsubscribe records: the customer no longer exists in the shop to be written to."""
    from .models import Recipient, SurveyResponse

    count = Recipient.objects.for_shop(shop).filter(customer_shopify_id=customer.shopify_id).update(
        email="", first_name="", context={})
    count += SurveyResponse.objects.for_shop(shop).filter(customer_shopify_id=customer.shopify_id).update(comment="")
    deleted, _ = _unsubscribes(shop, customer).delete()
    return count + deleted
