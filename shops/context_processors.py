from django.conf import settings


def shopify(request) -> dict:
    return {
        "shopify_api_key": settings.SHOPIFY_API_KEY,
        "app_bridge_url": settings.SHOPIFY_APP_BRIDGE_URL,
        "shop": getattr(request, "shop", None),
        "shopify_host": request.GET.get("host", ""),
    }
