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


ASSET_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
               ".svg": "image/svg+xml", ".png": "image/png", ".json": "application/json"}


@require_GET
def extension_asset(request: HttpRequest, client_id: str, extension: str, name: str) -> HttpResponse:
    """`assets/*` of an installed app's theme app extension (what Shopify serves from its CDN)."""
    from django.http import Http404

    from ..app_embeds import extensions_dir
    from ..models import App

    app = App.objects.filter(client_id=client_id).first()
    root = extensions_dir(app) if app else None
    if root is None or "/" in extension or "/" in name or name.startswith("."):
        raise Http404("no such asset")
    path = root / extension / "assets" / name
    if not path.is_file() or path.suffix not in ASSET_TYPES:
        raise Http404("no such asset")
    response = HttpResponse(path.read_bytes(), content_type=ASSET_TYPES[path.suffix])
    response["Access-Control-Allow-Origin"] = "*"
    response["Cache-Control"] = "public, max-age=60"
    return response
