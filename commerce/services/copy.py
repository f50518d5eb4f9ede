"""COPY rows into a transaction-scoped staging table: the fastest way to hand PostgreSQL thousands of rows.

Text format (tab-separated, `\\N` for NULL), so values need only the four escapes COPY defines; arrays are
written as PostgreSQL array literals inside that.
"""
from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _array_literal(values: Sequence[str]) -> str:
    items = ('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values)
    return "{" + ",".join(items) + "}"


def copy_value(value: Any) -> str:
    if value is None:
        return "\\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, (int, Decimal)):
        return str(value)
    if isinstance(value, dt.datetime):
        # Always aware UTC here (commerce.shapes); isoformat keeps the offset, which PostgreSQL honours.
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return _array_literal([str(v) for v in value]).translate(_COPY_ESCAPES)
    return str(value).translate(_COPY_ESCAPES)


def copy_rows(cursor, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """COPY `rows` into `table(columns)` through the raw psycopg2 cursor. Returns the row count."""
    buffer = io.StringIO()
    count = 0
    for row in rows:
        buffer.write("\t".join(copy_value(v) for v in row))
        buffer.write("\n")
        count += 1
    if not count:
        return 0
    buffer.seek(0)
    raw = getattr(cursor, "cursor", cursor)  # Django's CursorWrapper -> psycopg2 cursor
    raw.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", buffer)
    return count


class _Chunks(io.RawIOBase):
    """A read-only file over a list of byte chunks: each read() returns the next chunk whole (psycopg2's
    copy_expert sends whatever read() returns), so no batch-sized buffer is ever built."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        return next(self._chunks, b"")


def copy_text(cursor, table: str, columns: Sequence[str], chunks: Sequence[bytes]) -> None:
    """COPY rows already formatted as COPY text (commerce.services.bulk_rows) into `table(columns)`."""
    if not chunks:
        return
    raw = getattr(cursor, "cursor", cursor)
    raw.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", _Chunks(chunks))
