"""Helpers every resolver module uses: context, access scopes, ids, connections."""
import datetime as dt

from django.db.models import Q, QuerySet
from django.utils import timezone
from graphql import GraphQLError

from ...formats import InvalidGid, decode_cursor, encode_cursor, parse_gid

MAX_PAGE_SIZE = 250
# Without read_all_orders an app sees only the last 60 days of orders, as on Shopify.
RECENT_ORDERS_DAYS = 60

# Django model class name -> GraphQL type name (for interfaces and unions such as Node).
MODEL_TYPE_NAMES = {
    "Customer": "Customer",
    "Order": "Order",
    "LineItem": "LineItem",
    "Refund": "Refund",
    "RefundLineItem": "RefundLineItem",
    "Metafield": "Metafield",
    "Product": "Product",
    "ProductVariant": "ProductVariant",
    "BulkOperation": "BulkOperation",
    "DiscountRedeemCode": "DiscountRedeemCode",
    "DiscountRedeemCodeBulkCreation": "DiscountRedeemCodeBulkCreation",
    "Shop": "Shop",
    "DiscountNode": "DiscountCodeNode",
}


def ctx_shop(info):
    return info.context["shop"]


def ctx_installation(info):
    return info.context.get("installation")


def granted_scopes(info) -> set[str]:
    installation = ctx_installation(info)
    scopes = set(getattr(installation, "scopes", None) or ())
    # A write scope implies its read scope (Shopify's rule).
    return scopes | {"read_" + s[len("write_"):] for s in scopes if s.startswith("write_")}


def require_access(info, scope: str, what: str | None = None) -> None:
    if scope in granted_scopes(info):
        return
    field = what or info.field_name
    raise GraphQLError(
        f"Access denied for {field} field. Required access: `{scope}` access scope.",
        extensions={
            "code": "ACCESS_DENIED",
            "documentation": "https://shopify.dev/api/usage/access-scopes",
            "requiredAccess": f"`{scope}` access scope.",
        },
    )


def orders_visible_since(info) -> dt.datetime | None:
    """Oldest created_at the installation may read, or None when it holds read_all_orders."""
    if "read_all_orders" in granted_scopes(info):
        return None
    return timezone.now() - dt.timedelta(days=RECENT_ORDERS_DAYS)


def id_arg(value: str, expected_type: str) -> int:
    try:
        return parse_gid(value, expected_type)[1]
    except InvalidGid as exc:
        raise GraphQLError(str(exc), extensions={"code": "INVALID_ID"}) from exc


def _sort_value_to_json(value):
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return value


def _sort_value_from_json(value, is_datetime: bool):
    if is_datetime:
        return dt.datetime.fromisoformat(value)
    return value


def _beyond(sort_field: str, key: list, ascending: bool, is_datetime: bool) -> Q:
    value = _sort_value_from_json(key[0], is_datetime)
    pk = key[1]
    op = "gt" if ascending else "lt"
    if sort_field == "id":
        return Q(**{f"id__{op}": pk})
    return Q(**{f"{sort_field}__{op}": value}) | Q(**{sort_field: value, f"id__{op}": pk})


def paginate(
    qs: QuerySet,
    *,
    sort_field: str,
    is_datetime: bool,
    first: int | None = None,
    last: int | None = None,
    after: str | None = None,
    before: str | None = None,
    reverse: bool = False,
    connection_name: str = "connection",
) -> dict:
    """Keyset pagination over (sort_field, id) in Shopify's connection shape.

    Returns a dict with `edges`, `nodes` and `pageInfo`; nodes are model instances.
    """
    if first is None and last is None:
        raise GraphQLError(
            "you must provide one of first or last", extensions={"code": "BAD_REQUEST"}
        )
    if first is not None and last is not None:
        raise GraphQLError(
            f"Passing both `first` and `last` to paginate the `{connection_name}` connection is not supported.",
            extensions={"code": "BAD_REQUEST"},
        )
    size = first if first is not None else last
    if size < 0 or size > MAX_PAGE_SIZE:
        raise GraphQLError(
            f"The {'first' if first is not None else 'last'} argument must be between 0 and {MAX_PAGE_SIZE}.",
            extensions={"code": "BAD_REQUEST"},
        )
    ascending = not reverse
    try:
        after_key = decode_cursor(after) if after else None
        before_key = decode_cursor(before) if before else None
    except ValueError as exc:
        raise GraphQLError("Invalid cursor", extensions={"code": "BAD_REQUEST"}) from exc
    base = qs
    window = qs
    if after_key:
        window = window.filter(_beyond(sort_field, after_key, ascending, is_datetime))
    if before_key:
        window = window.filter(_beyond(sort_field, before_key, not ascending, is_datetime))
    forward_order = [sort_field, "id"] if ascending else [f"-{sort_field}", "-id"]
    backward_order = [f"-{sort_field}", "-id"] if ascending else [sort_field, "id"]
    if sort_field == "id":
        forward_order, backward_order = forward_order[1:], backward_order[1:]
    if first is not None:
        rows = list(window.order_by(*forward_order)[: size + 1])
        has_next = len(rows) > size
        rows = rows[:size]
        has_previous = bool(after_key) and base.exclude(
            _beyond(sort_field, after_key, ascending, is_datetime)
        ).exists()
    else:
        rows = list(window.order_by(*backward_order)[: size + 1])
        has_previous = len(rows) > size
        rows = rows[:size][::-1]
        has_next = bool(before_key) and base.exclude(
            _beyond(sort_field, before_key, not ascending, is_datetime)
        ).exists()
    edges = [
        {"cursor": encode_cursor([_sort_value_to_json(getattr(row, sort_field)), row.id]), "node": row}
        for row in rows
    ]
    return {
        "edges": edges,
        "nodes": rows,
        "pageInfo": {
            "hasNextPage": has_next,
            "hasPreviousPage": has_previous,
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": edges[-1]["cursor"] if edges else None,
        },
    }


def record_search_warnings(info, query: str | None, warnings: list[dict]) -> None:
    if warnings:
        info.context.setdefault("search_warnings", []).append(
            {"path": list(info.path.as_list()), "query": query, "warnings": warnings}
        )


def tag_list(tags: str) -> list[str]:
    return [t.strip() for t in (tags or "").split(",") if t.strip()]
