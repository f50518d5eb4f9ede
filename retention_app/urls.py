from django.http import HttpResponse
from django.urls import include, path


def health(_request):
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [
    path("healthz", health, name="health"),
    path("", include("shops.urls")),
    path("", include("shopify_sync.urls")),
    path("", include("reports.urls")),
    path("", include("loyalty.urls")),
    path("", include("referrals.urls")),
    path("", include("campaigns.urls")),
    path("", include("storefront.urls")),
]
