"""bulkOperationRunQuery, bulkOperationCancel, currentBulkOperation, bulkOperation and the BulkOperation type."""
from django.db import transaction
from django.utils import timezone

from ...bulk import runner
from ...bulk.compiler import BulkQueryError
from ...formats import gid, iso_utc
from ...models import BulkOperation
from ..registry import register
from .common import ctx_installation, ctx_shop, granted_scopes, id_arg


def _installation_ops(info):
    installation = ctx_installation(info)
    return BulkOperation.objects.filter(shop=ctx_shop(info), installation_id=getattr(installation, "id", None))


def resolve_run_query(obj, info, query, groupObjects=False):
    shop = ctx_shop(info)
    installation = ctx_installation(info)
    try:
        runner.validate_for_start(shop, query, granted_scopes(info))
    except BulkQueryError as exc:
        return {"bulkOperation": None, "userErrors": [{"field": ["query"], "message": str(exc), "code": "INVALID"}]}
    with transaction.atomic():
        # Lock the shop row so two concurrent requests cannot both pass the limit check.
        type(shop).objects.select_for_update().get(pk=shop.pk)
        if runner.running_count(shop) >= runner.MAX_RUNNING_PER_SHOP:
            return {"bulkOperation": None, "userErrors": [{
                "field": None, "code": "LIMIT_REACHED",
                "message": f"A maximum of {runner.MAX_RUNNING_PER_SHOP} bulk queries can run at the same time "
                           "per shop. Wait for one to finish or cancel one."}]}
        op = BulkOperation.objects.create(
            shop=shop, installation_id=getattr(installation, "id", None),
            app_client_id=getattr(getattr(installation, "app", None), "client_id", None),
            type="QUERY", status="CREATED", query=query, group_objects=bool(groupObjects),
            created_at=timezone.now())
        transaction.on_commit(lambda: runner.start(op, installation))
    return {"bulkOperation": op, "userErrors": []}


def resolve_cancel(obj, info, id):
    op = _installation_ops(info).filter(pk=id_arg(id, "BulkOperation")).first()
    if op is None:
        return {"bulkOperation": None, "userErrors": [{"field": ["id"], "message": "Bulk operation does not exist"}]}
    updated = BulkOperation.objects.filter(pk=op.pk, status__in=("CREATED", "RUNNING")).update(status="CANCELING")
    op.refresh_from_db()
    if not updated:
        return {"bulkOperation": op, "userErrors": [{
            "field": None, "message": f"A bulk operation cannot be canceled when it is {op.status.lower()}"}]}
    return {"bulkOperation": op, "userErrors": []}


def resolve_current(obj, info, type="QUERY"):
    return _installation_ops(info).filter(type=type or "QUERY").order_by("-created_at", "-id").first()


def resolve_bulk_operation(obj, info, id):
    return _installation_ops(info).filter(pk=id_arg(id, "BulkOperation")).first()


BULK_FIELDS = {
    "id": lambda op: gid("BulkOperation", op.id),
    "status": lambda op: op.status,
    "type": lambda op: op.type,
    "query": lambda op: op.query,
    "errorCode": lambda op: op.error_code,
    "createdAt": lambda op: iso_utc(op.created_at),
    "completedAt": lambda op: iso_utc(op.completed_at),
    "objectCount": lambda op: str(op.object_count),
    "rootObjectCount": lambda op: str(op.root_object_count),
    "fileSize": lambda op: str(op.file_size) if op.file_size is not None and op.status == "COMPLETED" else None,
    "url": runner.file_url,
    "partialDataUrl": runner.partial_url,
}

register("Mutation", "bulkOperationRunQuery", resolve_run_query)
register("Mutation", "bulkOperationCancel", resolve_cancel)
register("QueryRoot", "currentBulkOperation", resolve_current)
register("QueryRoot", "bulkOperation", resolve_bulk_operation)
for _name, _fn in BULK_FIELDS.items():
    register("BulkOperation", _name, (lambda fn: lambda obj, info, **args: fn(obj))(_fn))
