"""Read a bulk operation's JSONL result as a stream of batches, in memory bounded by the batch size.

A bulk result is one JSON object per line; a connection's children (an order's line items) are lines of
their own after their parent, pointing at it with `"__parentId"` (shopify-protocols.md 4.4). The reader
keeps one "open" order (the latest parent) plus the current batch; a child whose parent has already
been handed out (an ungrouped file) is passed on as a loose line item, which services.upsert attaches by
its order id. Nothing is ever proportional to the file.

Each batch says up to which line everything is contained in it or earlier batches (`lines_done`):
a caller that commits the batch together with `lines_done` can resume an interrupted read exactly by
skipping that many lines.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import orjson

from ..shapes import (
    CustomerRecord,
    LineItemRecord,
    OrderRecord,
    customer_from_graphql,
    gid_to_id,
    line_item_from_graphql,
    order_from_graphql,
)

# Flush loose line items at this many per batch-size orders (a typical order has 2-3 lines).
LOOSE_LINES_PER_ORDER = 4


@dataclass(slots=True)
class Batch:
    customers: list[CustomerRecord] = field(default_factory=list)
    orders: list[OrderRecord] = field(default_factory=list)
    loose_line_items: list[LineItemRecord] = field(default_factory=list)
    # Lines (from the start of the file) whose records are all in this batch or an earlier one.
    lines_done: int = 0
    # Customers or orders (not line items) this batch read from the file, for progress.
    records_read: int = 0


def iter_byte_lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Split a stream of byte chunks (an HTTP body, a file) into lines, without decoding."""
    tail = b""
    for chunk in chunks:
        if not chunk:
            continue
        data = tail + chunk
        lines = data.split(b"\n")
        tail = lines.pop()
        yield from lines
    if tail:
        yield tail


def read_customers(lines: Iterable[bytes], *, batch_size: int, skip_lines: int = 0) -> Iterator[Batch]:
    batch = Batch()
    index = 0
    for index, raw in enumerate(lines, start=1):
        if index <= skip_lines or not raw.strip():
            continue
        batch.customers.append(customer_from_graphql(orjson.loads(raw)))
        batch.records_read += 1
        if len(batch.customers) >= batch_size:
            batch.lines_done = index
            yield batch
            batch = Batch()
    if batch.customers or index > skip_lines:
        batch.lines_done = max(index, skip_lines)
        yield batch


def read_orders(lines: Iterable[bytes], *, batch_size: int, skip_lines: int = 0) -> Iterator[Batch]:
    """Orders with their line items. Orders are handed out with the lines seen so far
    (`line_items_complete` False: a later loose line is added, never anything removed)."""
    batch = Batch()
    by_id: dict[int, OrderRecord] = {}  # orders of the current batch and the open one
    open_order: OrderRecord | None = None
    open_line = 0  # line number of the open order
    index = 0
    for index, raw in enumerate(lines, start=1):
        if index <= skip_lines or not raw.strip():
            continue
        obj = orjson.loads(raw)
        parent_gid = obj.get("__parentId")
        if parent_gid is None:
            if open_order is not None:
                batch.orders.append(open_order)
                batch.records_read += 1
            open_order = order_from_graphql(obj)
            open_line = index
            by_id[open_order.shopify_id] = open_order
            if len(batch.orders) >= batch_size:
                # Everything before the open order is in this batch; the open order's lines may follow.
                batch.lines_done = open_line - 1
                yield batch
                batch = Batch()
                by_id = {open_order.shopify_id: open_order}
            continue
        parent_id = gid_to_id(parent_gid)
        if parent_id is None or not str(obj.get("id", "")).startswith("gid://shopify/LineItem/"):
            continue  # a child this reader does not ask for; ignore rather than guess
        line = line_item_from_graphql(obj, parent_id)
        parent = by_id.get(parent_id)
        if parent is not None:
            parent.line_items.append(line)
        else:
            batch.loose_line_items.append(line)
            if len(batch.loose_line_items) >= batch_size * LOOSE_LINES_PER_ORDER:
                # An ungrouped file can put many children far from their parents: hand them out
                # rather than hold them. The open order stays open (re-read on resume: harmless).
                batch.lines_done = (open_line - 1) if open_order is not None else index
                yield batch
                batch = Batch()
                by_id = {open_order.shopify_id: open_order} if open_order is not None else {}
    if open_order is not None:
        batch.orders.append(open_order)
        batch.records_read += 1
    if batch.orders or batch.loose_line_items or index > skip_lines:
        batch.lines_done = max(index, skip_lines)
        yield batch
