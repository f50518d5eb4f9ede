# ruff: noqa: S311 - seeded randomness for reproducible test data, not security
"""Generate bulk-operation JSONL results (Shopify's format) of any size, streamed to disk."""
from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from pathlib import Path

import orjson

from .payloads import customer_facts, graphql_customer, graphql_line, graphql_order, order_facts

BASE = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def write_customers(path: Path, count: int, *, first_id: int = 1) -> Path:
    with path.open("wb") as fh:
        for i in range(count):
            facts = customer_facts(id=first_id + i, email=f"c{i}@example.com", first_name=f"C{i}",
                                   updated_at=BASE + dt.timedelta(minutes=i), birth_date=None if i % 3 else
                                   dt.date(1980 + i % 30, 1 + i % 12, 1 + i % 28))
            fh.write(orjson.dumps(graphql_customer(facts)) + b"\n")
    return path


def write_orders(path: Path, count: int, *, customers: int, first_id: int = 1_000_000, seed: int = 1,
                 grouped: bool = True) -> Path:
    """`count` orders with 1-3 line items each; `grouped` puts each order's lines right after it,
    otherwise all lines come after all orders (the worst case for a streaming reader)."""
    rng = random.Random(seed)
    line_id = 50_000_000
    deferred = path.with_suffix(".lines") if not grouped else None
    with path.open("wb") as fh, (deferred.open("wb") if deferred else open("/dev/null", "wb")) as lines_fh:
        for i in range(count):
            order_id = first_id + i
            at = BASE + dt.timedelta(minutes=i)
            lines = []
            for _ in range(rng.randint(1, 3)):
                line_id += 1
                lines.append({"id": line_id, "product_id": 7, "variant_id": 8, "title": "Mug", "sku": "M",
                              "quantity": rng.randint(1, 3), "price": Decimal("12.50"), "discount": Decimal("0")})
            facts = order_facts(id=order_id, name=f"#{order_id}", processed_at=at, created_at=at, updated_at=at,
                                customer_id=rng.randint(1, customers) if rng.random() > 0.05 else None,
                                total=Decimal(rng.randint(500, 20000)) / 100, lines=lines)
            fh.write(orjson.dumps(graphql_order(facts, with_lines=False)) + b"\n")
            out = fh if grouped else lines_fh
            for li in lines:
                child = graphql_line(li)
                child["__parentId"] = f"gid://shopify/Order/{order_id}"
                out.write(orjson.dumps(child) + b"\n")
    if deferred:
        with path.open("ab") as fh, deferred.open("rb") as src:
            while chunk := src.read(1 << 20):
                fh.write(chunk)
        deferred.unlink()
    return path
