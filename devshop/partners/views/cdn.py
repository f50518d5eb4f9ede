"""`/cdn/app-bridge.js`: devshop's stand-in for https://cdn.shopify.com/shopifycloud/app-bridge.js."""
from __future__ import annotations

from pathlib import Path

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

ASSET = Path(__file__).resolve().parent.parent / "assets" / "app-bridge.js"


@require_GET
def app_bridge(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(ASSET.read_bytes(), content_type="text/javascript; charset=utf-8")
    # Loaded cross-origin by the app's pages; short cache so an edited script shows up at once.
    response["Access-Control-Allow-Origin"] = "*"
    response["Cache-Control"] = "public, max-age=60"
    return response
