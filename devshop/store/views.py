"""HTTP endpoints of the store: the Admin GraphQL API and bulk operation result files."""
import json
import logging

from django.conf import settings
from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from .bulk.runner import file_path_for
from .graphql.executor import execute_admin_request
from .models import ApiFault, BulkOperation, Shop

log = logging.getLogger(__name__)

INVALID_TOKEN_BODY = {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}
FAULT_MESSAGES = {
    429: "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service.",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def _not_found() -> JsonResponse:
    return JsonResponse({"errors": "Not Found"}, status=404)


def _take_fault(shop: Shop) -> ApiFault | None:
    """Consume one injected failure, if any (locked: concurrent requests each take their own)."""
    with transaction.atomic():
        fault = (ApiFault.objects.select_for_update(skip_locked=True)
                 .filter(shop=shop, remaining__gt=0).order_by("id").first())
        if fault is None:
            return None
        fault.remaining -= 1
        if fault.remaining:
            fault.save(update_fields=["remaining"])
        else:
            fault.delete()
    return fault


@csrf_exempt
def admin_graphql(request: HttpRequest, shop_domain: str, version: str) -> HttpResponse:
    if version not in settings.DEVSHOP_API_VERSIONS:
        return _not_found()
    shop = Shop.objects.filter(domain=shop_domain).first()
    if shop is None:
        return _not_found()
    if request.method != "POST":
        return JsonResponse({"errors": "Not Found"}, status=404 if request.method != "GET" else 405)
    from devshop.partners.services import InvalidAccessToken, authenticate_admin_request

    try:
        installation = authenticate_admin_request(shop, request.headers.get("X-Shopify-Access-Token", ""))
    except InvalidAccessToken:
        return JsonResponse(INVALID_TOKEN_BODY, status=401)
    fault = _take_fault(shop)
    if fault is not None:
        response = JsonResponse({"errors": FAULT_MESSAGES.get(fault.status, "Error")}, status=fault.status)
        if fault.retry_after is not None:
            response["Retry-After"] = str(fault.retry_after)
        return response
    content_type = request.content_type or ""
    if content_type == "application/graphql":
        body = {"query": request.body.decode("utf-8", "replace")}
    else:
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            return JsonResponse({"errors": "Request body is not valid JSON"}, status=400)
        if not isinstance(body, dict):
            return JsonResponse({"errors": "Request body must be a JSON object"}, status=400)
    result = execute_admin_request(shop=shop, installation=installation, request=request, body=body)
    response = JsonResponse(result.body, status=result.status, json_dumps_params={"ensure_ascii": False})
    for key, value in result.headers.items():
        response[key] = value
    response["X-Shopify-API-Version"] = version
    return response


def bulk_file(request: HttpRequest, op_id: int) -> HttpResponse:
    op = BulkOperation.objects.filter(pk=op_id).first()
    if op is None or op.status not in ("COMPLETED", "FAILED", "CANCELED"):
        raise Http404("no such file")
    path = file_path_for(op.id)
    if not path.exists():
        raise Http404("no such file")
    return FileResponse(open(path, "rb"), content_type="application/jsonl")  # noqa: SIM115 - closed by Django
