"""What loyalty holds about one customer beyond numbers (the ledger holds points and ids, no personal
data), for customers/data_request and customers/redact (called from shopify_sync.privacy)."""
from __future__ import annotations

from typing import Any


def customer_data(shop, customer) -> dict[str, Any]:
    from .models import MemberEmail

    return {
        "loyalty_emails": list(
            MemberEmail.objects.for_shop(shop).filter(customer_shopify_id=customer.shopify_id).values(
                "kind", "email", "language", "status", "sent_at")
        ),
    }


def customer_redact(shop, customer) -> int:
    from .models import MemberEmail

    # The rows stay (they are what keeps an event from being mailed twice), without the address.
    return MemberEmail.objects.for_shop(shop).filter(customer_shopify_id=customer.shopify_id).update(
        email="", context={})
