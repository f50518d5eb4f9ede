"""The app's URLs plus two probe views that show what the auth decorators let through."""
from django.http import JsonResponse
from django.urls import include, path

from shops.embedded import embedded_view, session_token_required


@session_token_required
def probe_fetch(request):
    return JsonResponse({"shop": request.shop.domain, "sub": request.session_claims.get("sub")})


@embedded_view
def probe_page(request):
    return JsonResponse({"shop": request.shop.domain})


urlpatterns = [
    path("probe/fetch", probe_fetch),
    path("probe/page", probe_page),
    path("", include("retention_app.urls")),
]
