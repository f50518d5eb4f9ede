"""Activate the language Shopify asks for.

Embedded loads carry `locale` (the staff member's admin language, e.g. "de" or "pt-BR"); the storefront
widget passes the storefront's locale the same way. Unsupported languages fall back to English.
"""
from django.conf import settings
from django.utils import translation

SUPPORTED = {code for code, _name in settings.LANGUAGES}


def pick_language(raw: str | None) -> str | None:
    if not raw:
        return None
    raw = raw.strip().replace("_", "-").lower()
    if raw in SUPPORTED:
        return raw
    base = raw.split("-", 1)[0]
    return base if base in SUPPORTED else None


class ShopifyLocaleMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        language = (
            pick_language(request.GET.get("locale"))
            or pick_language(request.headers.get("X-Shopify-Locale"))
            or settings.LANGUAGE_CODE
        )
        translation.activate(language)
        request.LANGUAGE_CODE = language
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", language)
        translation.deactivate()
        return response
