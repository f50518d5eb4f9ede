"""Shopify's mandatory privacy webhooks: what the app holds about a customer, and erasing it.

Every app's part is an explicit function in the lists below (no signals): adding a table with customers'
personal data means adding its functions here. tests/shopify_sync/test_privacy.py fails when a model of
any installed app has a personal-data field and is in neither COVERED_MODELS nor NOT_YET_COVERED.

- customers/data_request -> data_request_record: one DataRequest per Shopify request id, whose report is
  privacy_customer_data() (each CUSTOMER_DATA function contributes a section).
- customers/redact -> privacy_customer_redact: every CUSTOMER_REDACTORS function erases its rows.
- shop/redact -> privacy_shop_redact: the SHOP_REDACTORS, then every row of every ShopScopedModel of every
  app (found through the app registry), then the shop is marked redacted.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.db import IntegrityError, connection, transaction
from django.db.models import ProtectedError, RestrictedError
from django.db.models.functions import Greatest
from django.utils import timezone

from shops.models import Shop, ShopScopedModel

from .models import DataRequest, WebhookDelivery

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CustomerRef:
    """The customer a compliance webhook is about (Shopify's numeric ids, exact)."""

    shopify_id: int
    email: str = ""
    phone: str = ""
    order_ids: tuple[int, ...] = field(default_factory=tuple)

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> CustomerRef:
        customer = payload.get("customer") or {}
        if not isinstance(customer.get("id"), int):
            raise ValueError("compliance payload without a numeric customer.id")
        orders = payload.get("orders_to_redact") or payload.get("orders_requested") or []
        return cls(
            shopify_id=customer["id"],
            email=str(customer.get("email") or ""),
            phone=str(customer.get("phone") or ""),
            order_ids=tuple(int(o) for o in orders if isinstance(o, int)),
        )


# --- shopify_sync: the webhook inbox and data requests ------------------------------------------------

# The table name comes from the model; every value is a query parameter.
_CUSTOMER_DELIVERIES = f"""
SELECT id FROM {WebhookDelivery._meta.db_table}
WHERE (shop_id = %(shop_id)s OR (shop_id IS NULL AND shop_domain = %(domain)s))
  AND redacted_at IS NULL
  AND CASE WHEN payload_is_json THEN (
        (topic LIKE 'customers/%%' AND payload::jsonb @> %(as_customer)s::jsonb)
     OR payload::jsonb @> %(with_customer)s::jsonb
     OR (topic LIKE 'orders/%%' AND payload::jsonb @> ANY(%(as_order)s::jsonb[]))
     OR (topic = 'refunds/create' AND payload::jsonb @> ANY(%(of_order)s::jsonb[]))
  ) ELSE false END
ORDER BY id
"""  # noqa: S608


def _customer_delivery_ids(shop: Shop, customer: CustomerRef) -> list[int]:
    """Deliveries whose payload is about the customer: the customer resource itself, anything with
    `customer.id` (orders, compliance requests), and the orders/refunds of the listed orders. jsonb
    containment compares numbers exactly, so 64-bit ids match."""
    params = {
        "shop_id": shop.pk,
        "domain": shop.domain,
        "as_customer": json.dumps({"id": customer.shopify_id}),
        "with_customer": json.dumps({"customer": {"id": customer.shopify_id}}),
        "as_order": [json.dumps({"id": o}) for o in customer.order_ids],
        "of_order": [json.dumps({"order_id": o}) for o in customer.order_ids],
    }
    with connection.cursor() as cursor:
        cursor.execute(_CUSTOMER_DELIVERIES, params)
        return [row[0] for row in cursor.fetchall()]


def webhook_deliveries_customer_data(shop: Shop, customer: CustomerRef) -> dict[str, Any]:
    ids = _customer_delivery_ids(shop, customer)
    rows = WebhookDelivery.objects.filter(pk__in=ids).order_by("received_at")
    return {
        "webhook_deliveries": [
            {"topic": r.topic, "received_at": r.received_at.isoformat(), "payload": json.loads(r.payload)} for r in rows
        ]
    }


def webhook_deliveries_customer_redact(shop: Shop, customer: CustomerRef) -> int:
    """Replace the payloads about the customer. Unprocessed ones are never applied afterwards (a pending
    orders/create must not bring the erased data back)."""
    ids = _customer_delivery_ids(shop, customer)
    now = timezone.now()
    scrubbed = json.dumps({"redacted": True})
    WebhookDelivery.objects.filter(pk__in=ids, processed_at__isnull=True).update(
        status=WebhookDelivery.Status.REDACTED, processed_at=now, last_error="customer data erased (customers/redact)"
    )
    return WebhookDelivery.objects.filter(pk__in=ids).update(payload=scrubbed, redacted_at=now)


def data_requests_customer_redact(shop: Shop, customer: CustomerRef) -> int:
    deleted, _ = DataRequest.objects.for_shop(shop).filter(customer_shopify_id=customer.shopify_id).delete()
    return deleted


# --- commerce: customers and orders ----------------------------------------------------------------


# The personal fields of commerce.Customer, and what each becomes when erased. Only the ones the model has
# are used (the model grows; a field listed here and missing there is skipped, not an error).
_COMMERCE_CUSTOMER_ERASED: dict[str, Any] = {
    "first_name": "", "last_name": "", "email": "", "phone": "", "email_marketing_state": "",
    "sms_marketing_state": "", "tags": [], "birth_date": None,
}


def _existing_fields(model: Any, names: Iterable[str]) -> list[str]:
    have = {f.name for f in model._meta.get_fields()}
    return [n for n in names if n in have]


def commerce_customer_data(shop: Shop, customer: CustomerRef) -> dict[str, Any]:
    from commerce.models import Customer, Order

    fields = ["shopify_id", *_existing_fields(Customer, _COMMERCE_CUSTOMER_ERASED), "created_at", "updated_at", "deleted_at"]
    customers = Customer.objects.for_shop(shop).filter(shopify_id=customer.shopify_id).values(*fields)
    orders = (
        Order.objects.for_shop(shop)
        .filter(_orders_of(customer))
        .order_by("processed_at")
        .values("shopify_id", "name", "email", "processed_at", "total", "currency", "financial_status",
                "cancelled_at", "landing_site", "referring_site")
    )
    return {"customers": list(customers), "orders": list(orders)}


def _orders_of(customer: CustomerRef):
    from django.db.models import Q

    return Q(customer_shopify_id=customer.shopify_id) | Q(shopify_id__in=customer.order_ids)


def commerce_customer_redact(shop: Shop, customer: CustomerRef) -> int:
    """Blank the customer's personal fields and leave a tombstone (deleted_at, updated_at = now) so a late
    older customers/update cannot write them back. Orders keep their amounts (shop revenue) and the
    customer's numeric id, which now points at an anonymous row; their e-mail and visit URLs go."""
    from commerce.models import Customer, Order

    now = timezone.now()
    erased = {name: _COMMERCE_CUSTOMER_ERASED[name] for name in _existing_fields(Customer, _COMMERCE_CUSTOMER_ERASED)}
    customers = Customer.objects.for_shop(shop).filter(shopify_id=customer.shopify_id).update(
        **erased, deleted_at=now, updated_at=Greatest("updated_at", now),
    )
    orders = Order.objects.for_shop(shop).filter(_orders_of(customer)).update(email="", landing_site="", referring_site="")
    return customers + orders


# --- loyalty: its append-only ledger needs its own purge --------------------------------------------


def loyalty_shop_purge(shop: Shop) -> int:
    if not apps.is_installed("loyalty"):
        return 0
    from loyalty.services.ledger import ledger_purge_for_shop

    return ledger_purge_for_shop(shop=shop)


def webhook_deliveries_shop_redact(shop: Shop, *, keep_delivery_id: int | None = None) -> int:
    deleted, _ = WebhookDelivery.objects.for_shop(shop).exclude(pk=keep_delivery_id).delete()
    return deleted


def oauth_states_shop_redact(shop: Shop) -> int:
    from shops.models import OAuthState

    deleted, _ = OAuthState.objects.filter(shop_domain=shop.domain).delete()
    return deleted


# --- the other apps' own functions (each app knows what its tables mean) ----------------------------


def _campaigns_data(shop: Shop, customer: CustomerRef) -> dict[str, Any]:
    from campaigns.privacy import customer_data

    return customer_data(shop, customer)


def _campaigns_redact(shop: Shop, customer: CustomerRef) -> int:
    from campaigns.privacy import customer_redact

    return customer_redact(shop, customer)


def _loyalty_data(shop: Shop, customer: CustomerRef) -> dict[str, Any]:
    from loyalty.privacy import customer_data

    return customer_data(shop, customer)


def _loyalty_redact(shop: Shop, customer: CustomerRef) -> int:
    from loyalty.privacy import customer_redact

    return customer_redact(shop, customer)


def _referrals_data(shop: Shop, customer: CustomerRef) -> dict[str, Any]:
    from referrals.privacy import customer_data

    return customer_data(shop, customer)


def _referrals_redact(shop: Shop, customer: CustomerRef) -> int:
    from referrals.privacy import customer_redact

    return customer_redact(shop, customer)


CustomerData = Callable[[Shop, CustomerRef], dict[str, Any]]
CustomerRedactor = Callable[[Shop, CustomerRef], int]

# The explicit lists. Entries for an app that is not installed are skipped (their app label first).
CUSTOMER_DATA: list[tuple[str, str, CustomerData]] = [
    ("shopify_sync", "shopify_sync", webhook_deliveries_customer_data),
    ("commerce", "commerce", commerce_customer_data),
    ("loyalty", "loyalty", _loyalty_data),
    ("referrals", "referrals", _referrals_data),
    ("campaigns", "campaigns", _campaigns_data),
]
CUSTOMER_REDACTORS: list[tuple[str, CustomerRedactor]] = [
    ("shopify_sync", webhook_deliveries_customer_redact),
    ("shopify_sync", data_requests_customer_redact),
    ("commerce", commerce_customer_redact),
    ("loyalty", _loyalty_redact),
    ("referrals", _referrals_redact),
    ("campaigns", _campaigns_redact),
]
# Run before the generic ShopScopedModel sweep: tables a plain DELETE cannot (or must not) clear.
SHOP_REDACTORS: list[tuple[str, Callable[[Shop], int]]] = [
    ("loyalty", loyalty_shop_purge),
    ("shops", oauth_states_shop_redact),
]

# Models with customers' personal data whose rows the functions above handle for a customer.
COVERED_MODELS = {
    "shopify_sync.WebhookDelivery",
    "shopify_sync.DataRequest",
    "commerce.Customer",
    "commerce.Order",
    "campaigns.Recipient",
    "campaigns.Unsubscribe",
    "campaigns.SurveyResponse",
    "loyalty.MemberEmail",
    "referrals.Referral",
    "referrals.OrderSignals",
}
# Known gaps, each with its owner: they hold customers' personal data that customers/redact does not
# erase yet (shop/redact does erase them: they are ShopScopedModels). Shrink this, never grow it.
NOT_YET_COVERED: dict[str, str] = {}
# Models whose personal-looking fields are not customers' data.
NOT_CUSTOMER_DATA = {
    "shops.Shop": "the merchant's shop profile; erased by shop/redact",
}


def _installed(label: str) -> bool:
    return apps.is_installed(label)


def privacy_customer_data(shop: Shop, customer_id: int, *, customer: CustomerRef | None = None) -> dict[str, Any]:
    """A JSON-able report of everything this app holds about one customer of `shop`."""
    ref = customer or CustomerRef(shopify_id=customer_id)
    sections: dict[str, Any] = {}
    for label, section, collect in CUSTOMER_DATA:
        if _installed(label):
            sections[section] = collect(shop, ref)
    report = {
        "shop": shop.domain,
        "customer_id": ref.shopify_id,
        "generated_at": timezone.now().isoformat(),
        "data": sections,
    }
    # Round-trip through json with default=str: dates, Decimals -> strings, ints stay ints (exact).
    return json.loads(json.dumps(report, default=str))


def data_request_record(*, shop: Shop, payload: dict[str, Any], requested_at: dt.datetime) -> DataRequest:
    """Store the report for a customers/data_request (once per Shopify request id)."""
    ref = CustomerRef.from_payload(payload)
    request_id = (payload.get("data_request") or {}).get("id")
    request_id = request_id if isinstance(request_id, int) else None
    with transaction.atomic():
        if request_id is not None:
            existing = DataRequest.objects.for_shop(shop).filter(shopify_request_id=request_id).first()
            if existing is not None:
                return existing
        return DataRequest.objects.create(
            shop=shop, shopify_request_id=request_id, customer_shopify_id=ref.shopify_id,
            requested_at=requested_at, report=privacy_customer_data(shop, ref.shopify_id, customer=ref),
        )


def privacy_customer_redact(shop: Shop, customer: CustomerRef) -> dict[str, int]:
    """Erase the customer's personal data from every table that holds it. Idempotent."""
    counts: dict[str, int] = {}
    with transaction.atomic():
        for label, redact in CUSTOMER_REDACTORS:
            if _installed(label):
                counts[f"{redact.__module__}.{redact.__name__}"] = redact(shop, customer)
    logger.info("customers/redact for customer %s of %s: %s", customer.shopify_id, shop.domain, counts)
    return counts


def shop_scoped_models() -> list[type[ShopScopedModel]]:
    return [
        m for m in apps.get_models()
        if issubclass(m, ShopScopedModel) and m._meta.managed and not m._meta.proxy
    ]


def _delete_all(shop: Shop, models: Iterable[type[ShopScopedModel]]) -> dict[str, int]:
    """Delete the shop's rows of every model, in whatever order foreign keys allow: a model whose rows are
    still referenced (PROTECT/RESTRICT) is retried after the others; no progress in a pass is an error."""
    remaining = list(models)
    counts: dict[str, int] = {}
    while remaining:
        blocked: list[type[ShopScopedModel]] = []
        errors: list[str] = []
        for model in remaining:
            try:
                with transaction.atomic():
                    deleted, _ = model._base_manager.filter(shop=shop).delete()
                counts[model._meta.label] = counts.get(model._meta.label, 0) + deleted
            except (ProtectedError, RestrictedError, IntegrityError) as exc:
                blocked.append(model)
                errors.append(f"{model._meta.label}: {exc}")
        if len(blocked) == len(remaining):
            raise RuntimeError("shop/redact cannot delete: " + "; ".join(errors))
        remaining = blocked
    return counts


def privacy_shop_redact(shop: Shop, *, keep_delivery_id: int | None = None) -> dict[str, int]:
    """Erase all of the shop's data in every app and mark the shop redacted. Idempotent.

    `keep_delivery_id`: the shop/redact delivery being processed (it holds no personal data: shop id
    and domain); every other stored delivery of the shop is deleted.
    """
    counts: dict[str, int] = {}
    with transaction.atomic():
        for label, redact in SHOP_REDACTORS:
            if _installed(label):
                counts[f"{redact.__module__}.{redact.__name__}"] = redact(shop)
        counts["shopify_sync.WebhookDelivery"] = webhook_deliveries_shop_redact(shop, keep_delivery_id=keep_delivery_id)
        counts.update(_delete_all(shop, shop_scoped_models()))
        # The shop row stays (its domain ties later deliveries and a reinstall to it); its profile goes.
        Shop.objects.filter(pk=shop.pk).update(email="", name="", redacted_at=timezone.now())
    shop.refresh_from_db(fields=["email", "name", "redacted_at"])
    logger.info("shop/redact for %s: %s", shop.domain, {k: v for k, v in counts.items() if v})
    return counts
