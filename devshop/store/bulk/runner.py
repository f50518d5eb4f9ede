"""Run bulk query operations in background threads of the devshop server and write their JSONL files.

Lines are built by PostgreSQL (see compiler.py); Python streams them from a server-side cursor in large
batches. For every batch of parents, each nested connection is fetched with one query
(`fk = ANY(batch ids)`) and its lines are written after the parents' lines: every child comes after its
parent, as Shopify guarantees. With groupObjects: true each parent is followed directly by its children.
Progress (objectCount, rootObjectCount, fileSize) is saved after every batch, which is also where a
cancellation is noticed.
"""
import logging
import os
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone

from ..formats import iso_shop
from ..graphql.resolvers.common import RECENT_ORDERS_DAYS
from ..graphql.schema import get_schema
from ..models import BulkOperation, Order, Shop
from .compiler import BulkAccessDenied, BulkPlan, BulkQueryError, Plan, compile_bulk_query

log = logging.getLogger(__name__)

BATCH_SIZE = int(os.environ.get("DEVSHOP_BULK_BATCH", "20000"))
# Id ranges of one operation exported in parallel (one PostgreSQL connection each).
PARALLEL = int(os.environ.get("DEVSHOP_BULK_PARALLEL", str(min(4, max(2, os.cpu_count() or 2)))))
MAX_RUNNING_PER_SHOP = 5  # API versions >= 2026-01 allow five bulk queries at a time per shop
_pool = ThreadPoolExecutor(max_workers=int(os.environ.get("DEVSHOP_BULK_WORKERS", "4")),
                           thread_name_prefix="bulk")
_finished = threading.Condition()


def files_dir() -> Path:
    path = Path(settings.DEVSHOP_FILES_DIR) / "bulk"
    path.mkdir(parents=True, exist_ok=True)
    return path


def file_path_for(op_id: int) -> Path:
    return files_dir() / f"{op_id}.jsonl"


def file_url(op: BulkOperation) -> str | None:
    if op.status != "COMPLETED" or not op.object_count:
        return None
    return f"{settings.DEVSHOP_PUBLIC_URL}/files/bulk/{op.id}.jsonl"


def partial_url(op: BulkOperation) -> str | None:
    if op.status in ("FAILED", "CANCELED") and op.object_count and op.file_path:
        return f"{settings.DEVSHOP_PUBLIC_URL}/files/bulk/{op.id}.jsonl"
    return None


def _root_where(shop: Shop, plan: BulkPlan, scopes: set[str]) -> tuple[str, list]:
    """WHERE clause of the root table from the connection's `query` argument (the API's own parser)."""
    from ..graphql.search import SearchError, parse_search

    if plan.root_field == "orders":
        from ..graphql.resolvers.orders import SEARCH_FIELDS, TEXT_FIELDS
        model = Order
    else:
        from ..graphql.resolvers.customers import SEARCH_FIELDS, TEXT_FIELDS
        from ..models import Customer as model  # noqa: N813
    try:
        search = parse_search(plan.root_query, SEARCH_FIELDS, TEXT_FIELDS, shop.iana_timezone)
    except SearchError as exc:
        raise BulkQueryError(f"Invalid search query: {exc}") from exc
    qs = model.objects.filter(shop=shop).filter(search.q)
    if plan.root_field == "orders" and "read_all_orders" not in scopes:
        qs = qs.filter(created_at__gte=timezone.now() - timezone.timedelta(days=RECENT_ORDERS_DAYS))
    # The root table is not aliased in the plan's SELECT, so the ORM's WHERE (which names the table)
    # applies as is.
    query = qs.query
    compiler = query.get_compiler(using="default")
    where_sql, params = compiler.compile(query.where)
    return where_sql, list(params)


def _sql_for(plan: Plan, where: str) -> str:
    # Plans hold only SQL of our own specs (see compiler.py); values are bound parameters.
    return f"SELECT {plan.alias}.id, ({plan.json_sql})::text FROM {plan.from_sql} WHERE {where}"  # noqa: S608


class _Writer:
    """Counters shared by the parts of one operation."""

    def __init__(self, op_id: int, fh, group: bool):
        self.op_id = op_id
        self.group = group
        self.objects = 0
        self.roots = 0
        self.bytes = 0
        self.lock = threading.Lock()

    def add(self, roots: int, objects: int, size: int) -> tuple[int, int, int]:
        with self.lock:
            self.roots += roots
            self.objects += objects
            self.bytes += size
            return self.roots, self.objects, self.bytes


def _partition_bounds(root: Plan, where: str, params: list, parts: int) -> list[tuple[int | None, int | None]]:
    """Split the root rows into `parts` id ranges of about equal size: [lo, hi)."""
    if parts <= 1:
        return [(None, None)]
    fractions = [i / parts for i in range(1, parts)]
    with connection.cursor() as cur:
        cur.execute(f"SELECT percentile_disc(%s::float8[]) WITHIN GROUP (ORDER BY {root.alias}.id) "  # noqa: S608
                    f"FROM {root.from_sql.split(' LEFT JOIN ')[0]} WHERE {where}", [fractions, *params])
        cuts = cur.fetchone()[0] or []
    cuts = sorted(set(c for c in cuts if c is not None))
    edges = [None, *cuts, None]
    return list(zip(edges[:-1], edges[1:], strict=True))


def _run_part(op_id: int, root: Plan, where: str, where_params: list, lo, hi, part_path: Path,
              writer: _Writer) -> str:
    close_old_connections()
    try:
        clauses, params = [f"({where})"], list(where_params)
        if lo is not None:
            clauses.append(f"{root.alias}.id >= %s")
            params.append(lo)
        if hi is not None:
            clauses.append(f"{root.alias}.id < %s")
            params.append(hi)
        root_sql = _sql_for(root, " AND ".join(clauses)) + f" ORDER BY {root.alias}.id"
        connection.ensure_connection()
        raw = connection.connection
        group = writer.group
        with open(part_path, "w", encoding="utf-8") as fh, \
                raw.cursor(name=f"bulk_{op_id}_{lo}", withhold=True) as named, raw.cursor() as cur:
            # WITH HOLD lets the server-side cursor live in autocommit mode, so progress updates commit.
            named.itersize = BATCH_SIZE
            named.execute(root_sql, [*root.params, *params])
            while True:
                rows = named.fetchmany(BATCH_SIZE)
                if not rows:
                    return "DONE"
                children = _write_children(cur, root, root.type_name, [r[0] for r in rows]) \
                    if root.children else {}
                out = []
                if group or not children:
                    for rid, text in rows:
                        out.append(text)
                        out.extend(children.get(rid, ()))
                else:
                    out.extend(text for _, text in rows)
                    for rid, _ in rows:
                        out.extend(children.get(rid, ()))
                out.append("")
                text = "\n".join(out)
                fh.write(text)
                roots, objects, size = writer.add(len(rows), len(out) - 1, len(text.encode()))
                BulkOperation.objects.filter(pk=op_id).update(object_count=objects, root_object_count=roots,
                                                              file_size=size)
                if BulkOperation.objects.values_list("status", flat=True).get(pk=op_id) == "CANCELING":
                    return "CANCELED"
    finally:
        connection.close()


def _write_children(cur, plan: Plan, parent_type: str, parent_ids: list[int]) -> dict[int, list[str]]:
    """Lines of every nested connection of `plan` for the given parents, by parent id (in order)."""
    by_parent: dict[int, list[str]] = {}
    for child in plan.children:
        cp = child.plan
        sql = (f"SELECT {cp.alias}.{child.fk}, {cp.alias}.id, ({cp.json_sql})::text FROM {cp.from_sql} "  # noqa: S608
               f"WHERE {cp.alias}.{child.fk} = ANY(%s) ORDER BY {cp.alias}.{child.fk}, {cp.alias}.id")
        cur.execute(sql, [*cp.params, parent_ids])
        rows = cur.fetchall()
        prefix = f'"__parentId":"gid://shopify/{parent_type}/'
        grandchildren = _write_children(cur, cp, cp.type_name, [r[1] for r in rows]) if cp.children else {}
        for parent_id, own_id, text in rows:
            # Append __parentId inside the object built by PostgreSQL (cheaper than a JSON round trip).
            line = text[:-1] + ("," if len(text) > 2 else "") + prefix + f'{parent_id}"}}'
            lines = by_parent.setdefault(parent_id, [])
            lines.append(line)
            lines.extend(grandchildren.get(own_id, ()))
    return by_parent


def run_operation(op_id: int, installation=None) -> None:
    close_old_connections()
    started = time.monotonic()
    op = BulkOperation.objects.select_related("shop").get(pk=op_id)
    shop = op.shop
    scopes = set(getattr(installation, "scopes", None) or ())
    path = file_path_for(op.id)
    BulkOperation.objects.filter(pk=op_id, status="CREATED").update(status="RUNNING", file_path=str(path))
    status = "COMPLETED"
    error_code = None
    error_message = None
    writer = None
    try:
        plan = compile_bulk_query(get_schema(), op.query, scopes=scopes, shop_currency=shop.currency_code)
        where, where_params = _root_where(shop, plan, scopes)
        root = plan.root
        bounds = _partition_bounds(root, where, where_params, PARALLEL)
        writer = _Writer(op_id, None, op.group_objects)
        parts = [path.with_suffix(f".part{i}") for i in range(len(bounds))]
        # Each id range runs on its own connection, so PostgreSQL builds lines on several cores at once;
        # the parts are joined in id order afterwards.
        with ThreadPoolExecutor(max_workers=len(bounds), thread_name_prefix=f"bulk{op_id}") as parts_pool:
            results = list(parts_pool.map(
                lambda args: _run_part(op_id, root, where, where_params, *args, writer),
                [(lo, hi, part) for (lo, hi), part in zip(bounds, parts, strict=True)]))
        if any(r == "CANCELED" for r in results):
            status = "CANCELED"
        with open(path, "wb") as out:
            for part in parts:
                with open(part, "rb") as fh:
                    shutil.copyfileobj(fh, out, 16 * 1024 * 1024)
                part.unlink()
        BulkOperation.objects.filter(pk=op_id).update(object_count=writer.objects, root_object_count=writer.roots,
                                                      file_size=path.stat().st_size)
    except BulkAccessDenied as exc:
        status, error_code, error_message = "FAILED", "ACCESS_DENIED", str(exc)
    except Exception as exc:
        log.exception("bulk operation %s failed", op_id)
        status, error_code, error_message = "FAILED", "INTERNAL_SERVER_ERROR", f"{type(exc).__name__}: {exc}"
    finally:
        completed = timezone.now()
        size = path.stat().st_size if path.exists() else None
        BulkOperation.objects.filter(pk=op_id).update(status=status, error_code=error_code,
                                                      error_message=error_message, completed_at=completed,
                                                      file_size=size)
        elapsed = time.monotonic() - started
        if writer is not None:
            log.info("bulk operation %s %s: %s objects (%s roots) in %.2fs (%.0f objects/s)", op_id, status,
                     writer.objects, writer.roots, elapsed, writer.objects / elapsed if elapsed else 0)
        try:
            _emit_finish(BulkOperation.objects.select_related("shop").get(pk=op_id), installation)
        except Exception:
            log.exception("bulk_operations/finish webhook for %s could not be queued", op_id)
        with _finished:
            _finished.notify_all()
        close_old_connections()


def _emit_finish(op: BulkOperation, installation) -> None:
    try:
        from devshop.partners.services import webhook_emit
    except ImportError:
        log.warning("devshop.partners.services.webhook_emit is not available; bulk_operations/finish not sent")
        return
    tz = op.shop.iana_timezone
    webhook_emit(
        shop=op.shop,
        topic="bulk_operations/finish",
        payload={
            "admin_graphql_api_id": f"gid://shopify/BulkOperation/{op.id}",
            "completed_at": iso_shop(op.completed_at, tz),
            "created_at": iso_shop(op.created_at, tz),
            "error_code": op.error_code.lower() if op.error_code else None,
            "status": op.status.lower(),
            "type": op.type.lower(),
        },
        app=getattr(installation, "app", None),
    )


def validate_for_start(shop: Shop, query: str, scopes: set[str]) -> None:
    """Raise BulkQueryError when the query cannot run (bulkOperationRunQuery userErrors)."""
    try:
        compile_bulk_query(get_schema(), query, scopes=scopes, shop_currency=shop.currency_code)
    except BulkAccessDenied:
        return  # Shopify accepts the operation and fails it with ACCESS_DENIED
    except KeyError as exc:
        raise BulkQueryError(f"Invalid bulk query: unknown fragment {exc}") from exc


def running_count(shop: Shop) -> int:
    return BulkOperation.objects.filter(shop=shop, type="QUERY",
                                        status__in=("CREATED", "RUNNING", "CANCELING")).count()


def start(op: BulkOperation, installation) -> None:
    _pool.submit(run_operation, op.id, installation)


def wait_idle(timeout: float = 30.0) -> None:
    """For the control API and tests: wait until no bulk operation of this process is running."""
    deadline = time.monotonic() + timeout
    with _finished:
        while BulkOperation.objects.filter(status__in=("CREATED", "RUNNING", "CANCELING")).exists():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            _finished.wait(min(remaining, 0.5))


def fail_orphans() -> int:
    return BulkOperation.objects.filter(status__in=("CREATED", "RUNNING", "CANCELING")).update(
        status="FAILED", error_code="INTERNAL_SERVER_ERROR", completed_at=timezone.now(),
        error_message="the devshop process running it stopped")


class _PoolHandle:
    def stop(self) -> None:
        _pool.shutdown(wait=False, cancel_futures=True)


def pool_handle() -> _PoolHandle:
    return _PoolHandle()
