"""Every GraphQL document the app sends is valid against Shopify's official Admin schema (2026-10).

Collects EVERY `*/graphql/*.graphql` file of the repository (not only the installed apps', so a document
in a new app is validated from its first commit), except the virtualenv and the development store.
Bulk-operation inner queries are files too and validate as ordinary queries.
"""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from graphql import GraphQLSchema, build_client_schema, parse, validate
from graphql.error import GraphQLSyntaxError

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_PATH = ROOT / "vendor" / "shopify" / "admin_2026-10.json.gz"
EXCLUDED_TOP = {".venv", "devshop", "node_modules", ".git"}


def repo_documents() -> list[Path]:
    return sorted(
        p for p in ROOT.glob("**/graphql/*.graphql")
        if p.relative_to(ROOT).parts[0] not in EXCLUDED_TOP
    )


@pytest.fixture(scope="session")
def admin_schema() -> GraphQLSchema:
    # Built once per session (~0.3 s); assume_valid: see vendor/shopify/README.md.
    with gzip.open(SCHEMA_PATH) as fh:
        return build_client_schema(json.load(fh)["data"], assume_valid=True)


def document_errors(schema: GraphQLSchema, text: str) -> list[str]:
    try:
        document = parse(text)
    except GraphQLSyntaxError as exc:
        return [str(exc)]
    return [error.message for error in validate(schema, document)]


def test_documents_are_found():
    names = {p.stem for p in repo_documents()}
    assert {"webhook_subscriptions", "webhook_subscription_create", "shop_details"} <= names


@pytest.mark.parametrize("path", repo_documents(), ids=lambda p: str(p.relative_to(ROOT)))
def test_document_is_valid_against_the_admin_schema(admin_schema, path):
    errors = document_errors(admin_schema, path.read_text(encoding="utf-8"))
    assert errors == [], f"{path.relative_to(ROOT)}: {errors}"


@pytest.mark.parametrize(
    "text",
    [
        # a field Shopify does not have
        "query { shop { id notAField } }",
        # the deprecated-but-removed argument shape: webhookSubscriptionCreate has no `callbackUrl` argument
        'mutation { webhookSubscriptionCreate(topic: ORDERS_CREATE, callbackUrl: "https://x") { userErrors { field } } }',
        # an enum value that does not exist
        'mutation { webhookSubscriptionCreate(topic: ORDERS_EXPLODED, webhookSubscription: {uri: "https://x"}) { userErrors { field } } }',
        # a syntax error
        "query { shop { id }",
    ],
)
def test_an_invalid_document_fails_validation(admin_schema, text):
    assert document_errors(admin_schema, text) != []


def test_the_check_fails_for_an_invalid_file(admin_schema, tmp_path):
    # The same function the parametrized test uses, on a file: an invalid document is reported.
    bad = tmp_path / "graphql" / "broken.graphql"
    bad.parent.mkdir()
    bad.write_text("query Broken { orders(first: 10) { nodes { id totalPriceV3 } } }")
    assert any("totalPriceV3" in e for e in document_errors(admin_schema, bad.read_text()))


def test_load_finds_documents_by_unique_name_and_caches():
    from shopify_sync import documents

    documents.cache_clear()
    text = documents.load("webhook_subscriptions")
    assert "webhookSubscriptions(" in text
    assert documents.load("webhook_subscriptions") is text
    with pytest.raises(documents.DocumentNotFound):
        documents.load("no_such_document")


def test_document_names_are_unique_across_apps():
    from shopify_sync import documents

    # Raises DuplicateDocumentName otherwise.
    paths = documents.document_paths()
    assert paths["webhook_subscription_create"].parent.parent.name == "shopify_sync"
