"""REST-shaped webhook payloads that belong to the partner side: the Shop resource
(app/uninstalled) and the three compliance topics (payload shapes from shopify.dev privacy-law
compliance and Shopify's app templates)."""
from __future__ import annotations

from devshop.store.formats import iso_shop

_PLAN_DISPLAY = {"basic": "Basic", "advanced": "Advanced", "plus": "Shopify Plus"}


def shop_resource(shop) -> dict:
    """The REST Admin API Shop resource, as app/uninstalled carries it."""
    created = iso_shop(shop.created_at, shop.iana_timezone)
    return {
        "id": shop.id,
        "name": shop.name,
        "email": shop.email,
        "domain": shop.domain,
        "province": None,
        "country": shop.country_code,
        "address1": None,
        "zip": None,
        "city": None,
        "source": None,
        "phone": None,
        "latitude": None,
        "longitude": None,
        "primary_locale": shop.primary_locale,
        "address2": None,
        "created_at": created,
        "updated_at": created,
        "country_code": shop.country_code,
        "country_name": shop.country_code,
        "currency": shop.currency_code,
        "customer_email": shop.email,
        "timezone": shop.iana_timezone,
        "iana_timezone": shop.iana_timezone,
        "shop_owner": shop.name,
        "money_format": "{{amount}}",
        "money_with_currency_format": "{{amount}} " + shop.currency_code,
        "weight_unit": "kg",
        "province_code": None,
        "taxes_included": getattr(shop, "taxes_included", None),
        "auto_configure_tax_inclusivity": None,
        "tax_shipping": None,
        "county_taxes": True,
        "plan_display_name": _PLAN_DISPLAY.get(shop.plan, shop.plan),
        "plan_name": shop.plan,
        "has_discounts": True,
        "has_gift_cards": False,
        "myshopify_domain": shop.domain,
        "google_apps_domain": None,
        "google_apps_login_enabled": None,
        "money_in_emails_format": "{{amount}}",
        "money_with_currency_in_emails_format": "{{amount}} " + shop.currency_code,
        "eligible_for_payments": True,
        "requires_extra_payments_agreement": False,
        "password_enabled": True,
        "has_storefront": True,
        "finances": True,
        "primary_location_id": None,
        "checkout_api_supported": True,
        "multi_location_enabled": True,
        "setup_required": False,
        "pre_launch_enabled": False,
        "enabled_presentment_currencies": list(getattr(shop, "enabled_presentment_currencies", None)
                                               or [shop.currency_code]),
        "marketing_sms_consent_enabled_at_checkout": False,
        "transactional_sms_disabled": False,
    }


def _customer_ref(customer) -> dict:
    return {"id": customer.id, "email": customer.email, "phone": customer.phone}


def customers_data_request(*, shop, customer, data_request_id: int) -> dict:
    order_ids = list(customer.orders.order_by("pk").values_list("pk", flat=True))
    return {
        "shop_id": shop.id,
        "shop_domain": shop.domain,
        "orders_requested": order_ids,
        "customer": _customer_ref(customer),
        "data_request": {"id": data_request_id},
    }


def customers_redact(*, shop, customer) -> dict:
    order_ids = list(customer.orders.order_by("pk").values_list("pk", flat=True))
    return {
        "shop_id": shop.id,
        "shop_domain": shop.domain,
        "customer": _customer_ref(customer),
        "orders_to_redact": order_ids,
    }


def shop_redact(*, shop) -> dict:
    return {"shop_id": shop.id, "shop_domain": shop.domain}
