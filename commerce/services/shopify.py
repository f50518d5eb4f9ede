"""The two things commerce needs from shopify_sync: an Admin API client and our GraphQL documents."""
from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any, Protocol

from shops.models import Shop

GRAPHQL_DIR = Path(__file__).resolve().parent.parent / "graphql"


class AdminAPI(Protocol):
    def execute(self, document: str, variables: dict[str, Any] | None = None) -> dict[str, Any]: ...


@cache
def document(name: str) -> str:
    """The text of commerce/graphql/<name>.graphql (validated against the schema by shopify_sync's test)."""
    return (GRAPHQL_DIR / f"{name}.graphql").read_text()


def admin_client(shop: Shop) -> AdminAPI:
    """shopify_sync's AdminClient: token refresh, throttling and errors are its business."""
    from shopify_sync.admin_api import AdminClient

    return AdminClient(shop)
