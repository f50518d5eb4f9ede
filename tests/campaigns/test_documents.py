"""Every GraphQL document campaigns sends is valid against Shopify's Admin API schema (2026-10)."""
import gzip
import json
from pathlib import Path

import pytest
from graphql import build_client_schema, parse, validate

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = sorted((ROOT / "campaigns" / "graphql").glob("*.graphql"))


@pytest.fixture(scope="module")
def schema():
    with gzip.open(ROOT / "vendor" / "shopify" / "admin_2026-10.json.gz") as fh:
        return build_client_schema(json.load(fh)["data"], assume_valid=True)


@pytest.mark.parametrize("path", DOCUMENTS, ids=[p.name for p in DOCUMENTS])
def test_document_is_valid(schema, path):
    assert validate(schema, parse(path.read_text())) == []
