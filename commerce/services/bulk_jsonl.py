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

import contextlib
import queue
import sys
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

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
from .bulk_rows import NULL, copy_id, customer_copy_row, line_item_copy_row, order_copy_rows

# Flush loose line items at this many per batch-size orders (a typical order has 2-3 lines).
LOOSE_LINES_PER_ORDER = 4
_LINE_ITEM_GID = "gid://shopify/LineItem/"

T = TypeVar("T")


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


# ------------------------------------------------------------------------------------ COPY batches
# The backfill's path: each object becomes a COPY text row at once (services.bulk_rows), and a batch
# is handed out as the bytes services.upsert COPYs, so the thread that writes to PostgreSQL does no
# per-row Python work at all (see `prefetched`).


class CopyRows:
    """COPY text rows, encoded in chunks of CHUNK_ROWS as they come.

    Joining and encoding a whole batch (~10 MB) at once is one long C call that holds the GIL and
    stalls the thread writing to PostgreSQL; chunks keep every such call short.
    """

    CHUNK_ROWS = 1000
    __slots__ = ("chunks", "count", "_pending")

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.count = 0
        self._pending: list[str] = []

    def add(self, row: str) -> None:
        self._pending.append(row)
        self.count += 1
        if len(self._pending) >= self.CHUNK_ROWS:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            self._pending.append("")  # the last row's newline
            self.chunks.append("\n".join(self._pending).encode())
            self._pending = []

    def done(self) -> list[bytes]:
        self._flush()
        return self.chunks


@dataclass(slots=True)
class CopyBatch:
    """One batch of a bulk result as COPY text chunks (columns of services.upsert's staging tables)."""

    customers: list[bytes] = field(default_factory=list)
    orders: list[bytes] = field(default_factory=list)
    line_items: list[bytes] = field(default_factory=list)
    refunds: list[bytes] = field(default_factory=list)
    lines_done: int = 0  # as Batch.lines_done
    records_read: int = 0  # customers or orders


def read_customer_copy_batches(
    lines: Iterable[bytes], *, batch_size: int, skip_lines: int = 0
) -> Iterator[CopyBatch]:
    rows = CopyRows()
    index = 0
    for index, raw in enumerate(lines, start=1):
        if index <= skip_lines or not raw or raw.isspace():
            continue
        rows.add(customer_copy_row(orjson.loads(raw)))
        if rows.count >= batch_size:
            yield CopyBatch(customers=rows.done(), lines_done=index, records_read=rows.count)
            rows = CopyRows()
    if rows.count or index > skip_lines:
        yield CopyBatch(customers=rows.done(), lines_done=max(index, skip_lines), records_read=rows.count)


def read_order_copy_batches(
    lines: Iterable[bytes], *, batch_size: int, skip_lines: int = 0
) -> Iterator[CopyBatch]:
    """Orders, their inline refunds and their `__parentId` line items as COPY batches.

    A batch ends just before an order line once it holds `batch_size` orders, so in a grouped file an
    order's line items travel with it. Line items are rows keyed by their order's id, so a child in a
    later batch than its parent (an ungrouped file, or past a flush of too many children) is simply
    attached to the stored order by services.upsert: no order is held open across batches, and
    `lines_done` is always the last line of the batch.
    """
    orders, items, refunds = CopyRows(), CopyRows(), CopyRows()
    refund_rows: list[str] = []
    index = 0
    max_items = batch_size * LOOSE_LINES_PER_ORDER

    def cut(lines_done: int) -> CopyBatch:
        return CopyBatch(orders=orders.done(), line_items=items.done(), refunds=refunds.done(),
                         lines_done=lines_done, records_read=orders.count)

    for index, raw in enumerate(lines, start=1):
        if index <= skip_lines or not raw or raw.isspace():
            continue
        obj = orjson.loads(raw)
        parent_gid = obj.get("__parentId")
        if parent_gid is None:
            if orders.count >= batch_size:
                yield cut(index - 1)
                orders, items, refunds = CopyRows(), CopyRows(), CopyRows()
            orders.add(order_copy_rows(obj, refund_rows)[1])
            if refund_rows:
                for row in refund_rows:
                    refunds.add(row)
                refund_rows.clear()
            continue
        child_gid = obj.get("id")
        if type(child_gid) is not str or not child_gid.startswith(_LINE_ITEM_GID):
            continue  # a child this reader does not ask for; ignore rather than guess
        parent_id = copy_id(parent_gid)
        if parent_id == NULL:
            continue
        items.add(line_item_copy_row(obj, parent_id))
        if items.count >= max_items:
            yield cut(index)
            orders, items, refunds = CopyRows(), CopyRows(), CopyRows()
    if orders.count or items.count or index > skip_lines:
        yield cut(max(index, skip_lines))


_DONE = object()
SWITCH_INTERVAL_SECONDS = 0.0005


@contextlib.contextmanager
def prefetched(source: Iterator[T], *, depth: int = 1) -> Iterator[Iterator[T]]:
    """Iterate `source` in a background thread, `depth` items ahead of the consumer.

    The backfill's reader (download, JSON parsing, COPY formatting: pure Python, holding the GIL)
    then runs while the consumer waits for PostgreSQL, which psycopg2 does with the GIL released: the
    two overlap on two cores instead of taking turns. Memory stays bounded: at most `depth` items
    queued, one being built and one being written. `source` is advanced, and closed (its `with`
    blocks, e.g. the HTTP download, exit), only in the reader thread. An exception in the reader is
    raised in the consumer; leaving the block early stops the reader after its current item.
    """
    items: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(entry: tuple[object, object]) -> bool:
        while not stop.is_set():
            try:
                items.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for item in source:
                if not put((item, None)):
                    break
            else:
                put((_DONE, None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which raises it
            put((_DONE, exc))
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()

    reader = threading.Thread(target=run, name="commerce-bulk-reader", daemon=True)
    # The consumer returns from PostgreSQL to find the reader holding the GIL, and gets it back only
    # when the interpreter's switch interval (5 ms) expires: per statement, for the whole backfill.
    # A shorter interval while the reader runs bounds that wait; restored on exit (process-wide).
    previous_interval = sys.getswitchinterval()
    sys.setswitchinterval(min(previous_interval, SWITCH_INTERVAL_SECONDS))
    reader.start()

    def consume() -> Iterator[T]:
        while True:
            item, error = items.get()
            if error is not None:
                raise error
            if item is _DONE:
                return
            yield item

    try:
        yield consume()
    finally:
        stop.set()
        reader.join()
        sys.setswitchinterval(previous_interval)
