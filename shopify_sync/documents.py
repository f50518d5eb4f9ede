"""The GraphQL documents the app sends to Shopify's Admin API.

Every document lives in a file `<app>/graphql/<name>.graphql` of an installed project app, and nowhere
else (no GraphQL strings in Python), so that one test can validate all of them against Shopify's official
schema (tests/shopify_sync/test_graphql_documents.py). `load(name)` finds a document by its file name,
which must be unique across apps.
"""
from __future__ import annotations

import threading
from pathlib import Path

from django.apps import apps

GRAPHQL_DIR_NAME = "graphql"
SUFFIX = ".graphql"


class DocumentNotFound(LookupError):
    pass


class DuplicateDocumentName(RuntimeError):
    pass


_lock = threading.Lock()
_index: dict[str, Path] | None = None
_texts: dict[str, str] = {}


def document_paths() -> dict[str, Path]:
    """{name: path} of every `<app>/graphql/*.graphql` file of the installed apps.

    Raises DuplicateDocumentName when two apps ship a document of the same name: `load` could not tell
    which one a caller means.
    """
    found: dict[str, Path] = {}
    for config in apps.get_app_configs():
        directory = Path(config.path) / GRAPHQL_DIR_NAME
        if not directory.is_dir():
            continue
        for path in sorted(directory.glob(f"*{SUFFIX}")):
            name = path.name[: -len(SUFFIX)]
            if name in found:
                raise DuplicateDocumentName(f"GraphQL document {name!r} exists in {found[name]} and {path}")
            found[name] = path
    return found


def _paths() -> dict[str, Path]:
    global _index
    if _index is None:
        with _lock:
            if _index is None:
                _index = document_paths()
    return _index


def load(name: str) -> str:
    """The text of the document `name` (file name without `.graphql`); read once, then cached.

    Raises DocumentNotFound.
    """
    text = _texts.get(name)
    if text is not None:
        return text
    path = _paths().get(name)
    if path is None:
        raise DocumentNotFound(f"no GraphQL document named {name!r} in any app's {GRAPHQL_DIR_NAME}/ directory")
    text = path.read_text(encoding="utf-8")
    _texts[name] = text
    return text


def is_document_name(value: str) -> bool:
    """True for a bare document name (what `load` takes), False for GraphQL text."""
    return value.isidentifier()


def cache_clear() -> None:
    """Forget the index and texts (tests that add documents)."""
    global _index
    with _lock:
        _index = None
        _texts.clear()
