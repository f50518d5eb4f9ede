"""COPY numpy columns into PostgreSQL in binary format (no per-value Python formatting).

Only fixed-width types are supported: int2, int4, int8, bool, float8 and timestamptz (int64 microseconds
since 2000-01-01 UTC, PostgreSQL's own representation). Text is produced later in SQL from lookup tables.
"""
import io

import numpy as np

PG_EPOCH_US = 946_684_800 * 1_000_000  # 2000-01-01T00:00:00Z in Unix microseconds

_TYPES = {"int2": ">i2", "int4": ">i4", "int8": ">i8", "bool": "?", "float8": ">f8", "timestamptz": ">i8"}


def to_pg_timestamp(unix_seconds: np.ndarray) -> np.ndarray:
    """Unix seconds (float) -> PostgreSQL binary timestamptz, whole microseconds."""
    return (np.round(unix_seconds * 1_000_000).astype(np.int64) - PG_EPOCH_US)


def copy_binary(cursor, table: str, columns: list[tuple[str, str, np.ndarray]]) -> None:
    """columns: (name, pg type, values). Values are converted to the type's big-endian width."""
    n = len(columns[0][2])
    fields = [("count", ">i2")]
    for i, (_, pgtype, _) in enumerate(columns):
        fmt = _TYPES[pgtype]
        fields += [(f"l{i}", ">i4"), (f"v{i}", fmt)]
    rows = np.empty(n, dtype=np.dtype(fields))
    rows["count"] = len(columns)
    for i, (name, pgtype, values) in enumerate(columns):
        if len(values) != n:
            raise ValueError(f"column {name} has {len(values)} values, expected {n}")
        rows[f"l{i}"] = np.dtype(_TYPES[pgtype]).itemsize
        rows[f"v{i}"] = values
    buf = io.BytesIO()
    buf.write(b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big"))
    buf.write(rows.tobytes())
    buf.write((-1).to_bytes(2, "big", signed=True))
    buf.seek(0)
    names = ", ".join(name for name, _, _ in columns)
    cursor.copy_expert(f"COPY {table} ({names}) FROM STDIN WITH (FORMAT binary)", buf)
