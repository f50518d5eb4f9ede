"""QueryRoot.shop and the Shop type."""
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

from ...formats import gid, iso_utc
from ..registry import register
from .common import ctx_shop

PLAN_NAMES = {"basic": "Basic", "advanced": "Advanced", "plus": "Shopify Plus"}


def _offset_minutes(shop) -> int:
    return int(timezone.now().astimezone(ZoneInfo(shop.iana_timezone)).utcoffset().total_seconds() // 60)


def _offset_text(shop) -> str:
    minutes = _offset_minutes(shop)
    sign = "+" if minutes >= 0 else "-"
    minutes = abs(minutes)
    return f"{sign}{minutes // 60:02d}{minutes % 60:02d}"


def storefront_url(shop) -> str:
    # The storefront of a devshop shop lives under the devshop's address, not on the myshopify domain.
    return f"{settings.DEVSHOP_PUBLIC_URL}/store/{shop.domain}"


def _address(shop) -> dict:
    return {
        "id": gid("ShopAddress", shop.id),
        "countryCodeV2": shop.country_code,
        "country": shop.country_code,
        "address1": None,
        "address2": None,
        "city": None,
        "zip": None,
        "province": None,
        "provinceCode": None,
        "company": shop.name,
        "phone": None,
        "coordinatesValidated": False,
        "formatted": [shop.country_code],
        "formattedArea": shop.country_code,
    }


SHOP_FIELDS = {
    "id": lambda s: gid("Shop", s.id),
    "name": lambda s: s.name,
    "email": lambda s: s.email,
    "contactEmail": lambda s: s.email,
    "shopOwnerName": lambda s: s.name,
    "myshopifyDomain": lambda s: s.domain,
    "currencyCode": lambda s: s.currency_code,
    "ianaTimezone": lambda s: s.iana_timezone,
    "timezoneOffset": _offset_text,
    "timezoneOffsetMinutes": _offset_minutes,
    "taxesIncluded": lambda s: s.taxes_included,
    "createdAt": lambda s: iso_utc(s.created_at),
    "updatedAt": lambda s: iso_utc(s.created_at),
    "url": storefront_url,
    "enabledPresentmentCurrencies": lambda s: sorted({s.currency_code, *(s.enabled_presentment_currencies or [])}),
    "primaryDomain": lambda s: {
        "id": gid("Domain", s.id),
        "host": s.domain,
        "url": storefront_url(s),
        "sslEnabled": storefront_url(s).startswith("https"),
        "localization": None,
        "marketWebPresence": None,
    },
    "billingAddress": _address,
    "shopAddress": _address,
    "plan": lambda s: {
        "publicDisplayName": PLAN_NAMES.get(s.plan, s.plan),
        "shopifyPlus": s.plan == "plus",
        "partnerDevelopment": True,
        "displayName": PLAN_NAMES.get(s.plan, s.plan),
    },
    "orderNumberFormatPrefix": lambda s: "#",
    "orderNumberFormatSuffix": lambda s: "",
    "setupRequired": lambda s: False,
    "checkoutApiSupported": lambda s: True,
    "shipsToCountries": lambda s: [s.country_code],
    "weightUnit": lambda s: "KILOGRAMS",
    "unitSystem": lambda s: "METRIC_SYSTEM",
}


def _shop_field(fn):
    return lambda obj, info, **args: fn(obj)


def resolve_shop(obj, info):
    return ctx_shop(info)


register("QueryRoot", "shop", resolve_shop)
for _name, _fn in SHOP_FIELDS.items():
    register("Shop", _name, _shop_field(_fn))


# The shop's storefront languages. Every devshop shop publishes its primary locale, and English beside it
# when the primary is another language (as the seeded markets' shops do on Shopify).
LOCALE_NAMES = {"en": "English", "de": "German", "sv": "Swedish", "et": "Estonian", "el": "Greek", "mk": "Macedonian"}


def resolve_shop_locales(obj, info, published=None, **_args):
    shop = ctx_shop(info)
    codes = [shop.primary_locale] + ([] if shop.primary_locale == "en" else ["en"])
    locales = [
        {"locale": code, "name": LOCALE_NAMES.get(code, code), "primary": i == 0, "published": True,
         "marketWebPresences": []}
        for i, code in enumerate(codes)
    ]
    if published is False:
        return []
    return locales


register("QueryRoot", "shopLocales", resolve_shop_locales)
