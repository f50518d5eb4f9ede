"""The summary rows of a whole shop computed from its orders with NumPy, and PostgreSQL's binary COPY
format read and written with NumPy (no Python object per row).

Why not SQL: grouping a million orders into ~730,000 customer-months with their window columns takes
PostgreSQL 1.4-1.6 s on one core here, as long as the whole pandas pipeline the full rebuild is measured
against (docs/benchmarks.md, "Reports"). Read as fixed-width binary rows already in (customer,
processed_at) order (the covering index), the same orders are grouped by NumPy in ~40 ms: every group is
a run of consecutive rows, so each aggregate is a `reduceat` over run starts.

The rules are the ones of commerce.services.summaries (which counted orders, net revenue, months in the
shop's time zone); tests/commerce/test_summaries.py checks the two paths give the same rows.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np

# PostgreSQL's epoch for timestamps and dates.
PG_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
PG_EPOCH_DATE = dt.date(2000, 1, 1)
_MICROS = 1_000_000
# Money travels as integers of thousandths: numeric(20, 3) (core.money.money_field) scaled by 1000.
MONEY_SCALE = 1000

COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
COPY_TRAILER = (-1).to_bytes(2, "big", signed=True)


class UnusualTimeZone(Exception):  # noqa: N818 - a reason to take the SQL path, not an error
    """A month boundary of the shop's time zone falls in a repeated hour (clocks set back across
    midnight on the 1st): the month of a UTC instant is then not monotonic and cannot be found by
    bisection. The caller uses the SQL path."""


_TYPES = {"int8": ">i8", "int4": ">i4", "timestamptz": ">i8", "date": ">i4", "bool": "?"}
_WIDTH = {"int8": 8, "int4": 4, "timestamptz": 8, "date": 4, "bool": 1}


def parse_rows(data: bytes | memoryview, columns: list[tuple[str, str]]) -> dict[str, np.ndarray]:
    """Rows of a binary `COPY (SELECT ...) TO STDOUT BINARY` whose columns are all NOT NULL and of
    fixed width (int8, int4, timestamptz, date, bool), as one native array per column name."""
    body = memoryview(data)[len(COPY_HEADER):len(data) - len(COPY_TRAILER)]
    layout = [("fields", ">i2")]
    for name, kind in columns:
        layout += [(f"len_{name}", ">i4"), (name, _TYPES[kind])]
    row = np.dtype(layout)
    if len(body) % row.itemsize:
        raise ValueError("unexpected COPY row layout (a NULL or a variable-width column?)")
    rows = np.frombuffer(body, dtype=row)
    return {name: rows[name].astype(_TYPES[kind].lstrip("<>") if kind != "bool" else bool)
            for name, kind in columns}


ORDER_COLUMNS = [("customer", "int8"), ("at", "timestamptz"), ("total", "int8"), ("refunded", "int8")]
# '-infinity' in the binary format: how a COPY out sends an absent timestamp / date as a fixed-width value
# (coalesce(x, '-infinity')); no order or month is that early.
NEVER_AT = np.iinfo(np.int64).min
NEVER_DAY = np.iinfo(np.int32).min


def month_starts(tz_name: str, first: dt.datetime, last: dt.datetime) -> tuple[list[dt.date], np.ndarray]:
    """The calendar months of the shop's time zone from `first`'s to `last`'s, and the UTC instant each
    begins (microseconds since 2000-01-01), for bisection.

    Raises UnusualTimeZone when a month begins inside a repeated (folded) hour: then orders just after the
    boundary could belong to the month before it, which bisection cannot express.
    """
    zone = ZoneInfo(tz_name)
    local_first, local_last = first.astimezone(zone), last.astimezone(zone)
    months: list[dt.date] = []
    starts: list[int] = []
    year, month = local_first.year, local_first.month
    while (year, month) <= (local_last.year, local_last.month):
        wall = dt.datetime(year, month, 1)  # noqa: DTZ001 - a wall-clock time, resolved below
        early, late = wall.replace(tzinfo=zone, fold=0), wall.replace(tzinfo=zone, fold=1)
        if early.utcoffset() != late.utcoffset():
            # In a gap (clocks set forward over midnight) the month begins at the transition; in a fold it
            # has no single beginning. Both are rare enough to leave to PostgreSQL's own conversion.
            raise UnusualTimeZone(f"{tz_name}: {wall:%Y-%m-%d} 00:00 is not a single instant")
        months.append(dt.date(year, month, 1))
        starts.append((early - PG_EPOCH) // dt.timedelta(microseconds=1))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months, np.array(starts, dtype=np.int64)


@dataclass(frozen=True, slots=True)
class CustomerRows:
    customer: np.ndarray
    first_order_at: np.ndarray
    last_order_at: np.ndarray
    orders_count: np.ndarray  # int32
    net_revenue: np.ndarray
    refunded: np.ndarray
    second_order_at: np.ndarray  # 0 where the customer has one order (see has_second)
    has_second: np.ndarray  # bool


@dataclass(frozen=True, slots=True)
class MonthRows:
    customer: np.ndarray
    month: np.ndarray  # int32 days since 2000-01-01 (PostgreSQL's date)
    orders_count: np.ndarray  # int32
    net_revenue: np.ndarray
    cohort_month: np.ndarray
    previous_month: np.ndarray  # meaningful where has_previous
    following_month: np.ndarray  # meaningful where has_following
    has_previous: np.ndarray
    has_following: np.ndarray


def days_of(months: list[dt.date]) -> np.ndarray:
    """Dates as PostgreSQL stores them: days since 2000-01-01 (int32)."""
    return np.array([(m - PG_EPOCH_DATE).days for m in months], dtype=np.int32)


def _run_starts(changes: np.ndarray) -> np.ndarray:
    """Indices where a run of equal keys begins, given `changes[i]` = row i+1 differs from row i."""
    return np.concatenate(([0], np.flatnonzero(changes) + 1)).astype(np.int64)


class NotRepresentable(Exception):  # noqa: N818 - a reason to take the SQL path, not an error
    """Sums that might not fit 64-bit integers of thousandths: the SQL path's numerics take them."""


def aggregate(orders: dict[str, np.ndarray], months: list[dt.date], bounds: np.ndarray
              ) -> tuple[CustomerRows, MonthRows]:
    """Both summary tables' rows of a shop, in key order, from its counted orders: arrays customer, at
    (processed_at), net and refunded (thousandths) in (customer, processed_at) order, as
    commerce.services.summaries reads them. `months`/`bounds` from month_starts, covering every order.
    Same rules as the SQL aggregates of commerce.services.summaries."""
    c, at, net, refunded = orders["customer"], orders["at"], orders["net"], orders["refunded"]
    n = c.size
    if n == 0:
        empty64 = np.empty(0, dtype=np.int64)
        empty32 = np.empty(0, dtype=np.int32)
        none = np.empty(0, dtype=bool)
        return (CustomerRows(empty64, empty64, empty64, empty32, empty64, empty64, empty64, none),
                MonthRows(empty64, empty32, empty32, empty64, empty32, empty32, empty32, none, none))
    limit = np.iinfo(np.int64).max // n
    if max(np.abs(net).max(), refunded.max(), -refunded.min()) >= limit:
        raise NotRepresentable("amounts too large for exact 64-bit sums")
    new_customer = c[1:] != c[:-1]
    if np.any(c[1:] < c[:-1]) or np.any((at[1:] < at[:-1]) & ~new_customer):
        raise ValueError("orders must come in (customer, processed_at) order")

    # Customers: runs of equal customer ids.
    starts = _run_starts(new_customer)
    ends = np.append(starts[1:], n)
    counts = ends - starts
    has_second = counts > 1
    second_at = np.where(has_second, at[np.minimum(starts + 1, n - 1)], 0)
    customers = CustomerRows(
        customer=c[starts], first_order_at=at[starts], last_order_at=at[ends - 1],
        orders_count=counts.astype(np.int32), net_revenue=np.add.reduceat(net, starts),
        refunded=np.add.reduceat(refunded, starts), second_order_at=second_at, has_second=has_second,
    )

    # Local month of each order: bisection of its instant among the months' first instants.
    if at.min() < bounds[0]:
        raise ValueError("the months must cover every order")
    month_days = days_of(months)
    month_of = month_days[np.searchsorted(bounds, at, side="right") - 1]

    # Customer-months: runs of equal (customer, month); within a customer months only grow with time.
    m_starts = _run_starts(new_customer | (month_of[1:] != month_of[:-1]))
    m_ends = np.append(m_starts[1:], n)
    m_customer = c[m_starts]
    m_month = month_of[m_starts]
    first_of_customer = np.concatenate(([True], m_customer[1:] != m_customer[:-1]))
    last_of_customer = np.append(first_of_customer[1:], True)
    # Each row's customer's first row: the running maximum of the first rows' positions.
    first_row = np.maximum.accumulate(np.where(first_of_customer, np.arange(m_starts.size), 0))
    previous = np.concatenate(([0], m_month[:-1])).astype(np.int32)
    following = np.append(m_month[1:], 0).astype(np.int32)
    month_rows = MonthRows(
        customer=m_customer, month=m_month, orders_count=(m_ends - m_starts).astype(np.int32),
        net_revenue=np.add.reduceat(net, m_starts), cohort_month=m_month[first_row],
        previous_month=previous, following_month=following,
        has_previous=~first_of_customer, has_following=~last_of_customer,
    )
    return customers, month_rows


# ----------------------------------------------------------------------------- binary COPY encoding
# A field is (kind, values, present): kinds below; `present` False writes a NULL (length -1, no bytes).

# numeric(20, 3) as 5 base-10,000 digits, weight 3 (the integer part below 10^16; int64 thousandths stop
# at 9.2 * 10^15), dscale 3. PostgreSQL strips the leading and trailing zero digits on receipt.
_NUMERIC_DIGITS = 5
_NUMERIC_WIDTH = 8 + 2 * _NUMERIC_DIGITS


def _numeric_digits(values: np.ndarray) -> np.ndarray:
    """numeric(20, 3) binary contents of int64 thousandths: (rows, 4 + digits) big-endian int16."""
    negative = values < 0
    integer, fraction = np.divmod(np.abs(values), MONEY_SCALE)
    parts = np.empty((values.size, 4 + _NUMERIC_DIGITS), dtype=">i2")
    parts[:, 0] = _NUMERIC_DIGITS
    parts[:, 1] = _NUMERIC_DIGITS - 2  # weight of the first digit: 10,000^3
    parts[:, 2] = np.where(negative, 0x4000, 0)
    parts[:, 3] = 3
    for i in range(_NUMERIC_DIGITS - 1):
        parts[:, 4 + i] = (integer // 10_000 ** (_NUMERIC_DIGITS - 2 - i)) % 10_000
    parts[:, 4 + _NUMERIC_DIGITS - 1] = fraction * 10  # thousandths as the first fractional digit
    return parts


CHUNK_ROWS = 32_768


def encode_copy(fields: list[tuple], rows: int) -> Iterator[bytes]:
    """A whole binary COPY stream (header, rows, trailer) of `rows` rows of the given fields, in chunks
    of CHUNK_ROWS rows (a few MB: they stay in the CPU cache and in memory the process already has, and
    PostgreSQL parses one while the next is encoded).

    fields: (kind, values) or (kind, values, present) with kind int8/int4/timestamptz/date/numeric, or
    ("text", b"EUR") for one constant text value on every row. Where `present` is False the field is
    NULL (length -1 and no bytes).

    Every row is first laid out at full width in a structured array (column assignments, no loop over
    rows); the bytes of NULL fields are then dropped with one boolean mask.
    """
    layout: list[tuple] = [("count", ">i2")]
    for i, field in enumerate(fields):
        kind = field[0]
        if kind == "text":
            data = (f"S{len(field[1])}",)
        elif kind == "numeric":
            data = (">i2", (4 + _NUMERIC_DIGITS,))
        else:
            data = (_TYPES[kind],)
        layout += [(f"len{i}", ">i4"), (f"f{i}", *data)]
        if kind != "text" and field[1].shape[0] != rows:
            raise ValueError("every field needs one value per row")
    row = np.dtype(layout)
    nullable = any(len(f) > 2 for f in fields)
    yield COPY_HEADER
    for lo in range(0, rows, CHUNK_ROWS):
        hi = min(rows, lo + CHUNK_ROWS)
        table = np.empty(hi - lo, dtype=row)
        table["count"] = len(fields)
        keep = np.ones((hi - lo, row.itemsize), dtype=bool) if nullable else None
        for i, field in enumerate(fields):
            kind, values = field[0], field[1]
            if kind == "text":
                table[f"f{i}"] = values
                table[f"len{i}"] = len(values)
                continue
            values = values[lo:hi]
            width = 8 + 2 * _NUMERIC_DIGITS if kind == "numeric" else _WIDTH[kind]
            table[f"f{i}"] = _numeric_digits(values) if kind == "numeric" else values
            if len(field) > 2:
                present = field[2][lo:hi]
                table[f"len{i}"] = np.where(present, width, -1)
                offset = row.fields[f"f{i}"][1]
                keep[:, offset:offset + width] = present[:, None]
            else:
                table[f"len{i}"] = width
        body = table.view(np.uint8).reshape(hi - lo, row.itemsize)
        yield (body if keep is None else body[keep]).tobytes()
    yield COPY_TRAILER


def copy_out(cur, sql: str) -> memoryview:
    """The whole output of a `COPY ... TO STDOUT BINARY` statement."""
    buffer = io.BytesIO()
    with _django_errors(cur):
        cur.copy_expert(sql, buffer)
    return buffer.getbuffer()


def copy_in(cur, table: str, columns: tuple[str, ...], fields: list[tuple], rows: int) -> None:
    """COPY `rows` rows of `fields` (see encode_copy) into `table`'s `columns`."""
    with _django_errors(cur):
        cur.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN BINARY",
                        ChunkReader(encode_copy(fields, rows)), size=1 << 20)


def _django_errors(cur):
    """Django's cursor passes copy_expert straight to psycopg2: its errors are psycopg2's own unless
    wrapped like Django's execute() wraps them (a bigint overflow must be django.db.DataError, the
    exception summaries_rebuild falls back to the SQL path on)."""
    db = getattr(cur, "db", None)
    return db.wrap_database_errors if db is not None else contextlib.nullcontext()


class ChunkReader:
    """A file-like `read()` over an iterator of byte chunks (what psycopg2's copy_expert reads from)."""

    def __init__(self, chunks: Iterable[bytes]):
        self._chunks = iter(chunks)
        self._pending = memoryview(b"")

    def read(self, size: int = -1) -> bytes:
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return b""
            self._pending = memoryview(chunk)
        if size < 0 or size >= len(self._pending):
            out, self._pending = self._pending, memoryview(b"")
        else:
            out, self._pending = self._pending[:size], self._pending[size:]
        return bytes(out)


# ------------------------------------------------------------------------------ comparing with stored


@dataclass(frozen=True, slots=True)
class Match:
    """Fresh rows against stored rows, both in the same key order."""

    found: np.ndarray  # per fresh row: a stored row has its key
    stored_at: np.ndarray  # per fresh row: that stored row's index (meaningless where not found)
    gone: np.ndarray  # per stored row: no fresh row has its key


def match_keys(fresh: np.ndarray, stored: np.ndarray) -> Match:
    """Match two sorted arrays of unique int64 keys."""
    if stored.size == 0:
        return Match(np.zeros(fresh.size, dtype=bool), np.zeros(fresh.size, dtype=np.int64),
                     np.zeros(0, dtype=bool))
    at = np.minimum(np.searchsorted(stored, fresh), stored.size - 1)
    found = stored[at] == fresh
    gone = np.ones(stored.size, dtype=bool)
    gone[at[found]] = False
    return Match(found, at, gone)


def month_keys(fresh_customer: np.ndarray, fresh_month: np.ndarray, stored_customer: np.ndarray,
               stored_month: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(customer, month) pairs of both sides as single int64 keys in the same order: the customer's rank
    among all customers of both sides in the high 32 bits, the month (days, offset to unsigned) in the
    low ones. Exact for any customer id. Both sides come sorted by customer."""
    sides = [a for a in (fresh_customer, stored_customer) if a.size]
    months = [a for a in (fresh_month, stored_month) if a.size]
    if (all(a[0] >= 0 and a[-1] < 2**47 for a in sides)
            and all(a.min() >= -2**15 and a.max() < 2**15 for a in months)):
        # Shopify's ids (~10^13 today) and dates of 1910-2089 fit 47 and 16 bits: the key without the
        # ranks (80 ms less on 730,000 rows a side).
        def shifted(customer: np.ndarray, month: np.ndarray) -> np.ndarray:
            return (customer.astype(np.int64) << 16) | (month.astype(np.int64) + 2**15)

        return shifted(fresh_customer, fresh_month), shifted(stored_customer, stored_month)

    def distinct(sorted_values: np.ndarray) -> np.ndarray:
        # The first of each run: a linear pass instead of the sort np.unique would do on 730,000 values.
        return sorted_values[np.concatenate(([True], sorted_values[1:] != sorted_values[:-1]))[:sorted_values.size]]

    customers = np.union1d(distinct(fresh_customer), distinct(stored_customer))

    def pack(customer: np.ndarray, month: np.ndarray) -> np.ndarray:
        rank = np.searchsorted(customers, customer).astype(np.int64)
        return (rank << 32) | (month.astype(np.int64) + 2**31)

    return pack(fresh_customer, fresh_month), pack(stored_customer, stored_month)


# ------------------------------------------------------------------------- the MonthActivity rollup


@dataclass(frozen=True, slots=True)
class ActivityGroups:
    """Month rows counted per (month, cohort_month, previous_month, following_month, repeat_in_month),
    in the order of their packed key (see activity_key)."""

    key: np.ndarray
    month: np.ndarray
    cohort_month: np.ndarray
    previous_month: np.ndarray
    has_previous: np.ndarray
    following_month: np.ndarray
    has_following: np.ndarray
    repeat_in_month: np.ndarray
    customers: np.ndarray
    orders: np.ndarray
    net_revenue: np.ndarray


def activity_key(all_months: np.ndarray, month, cohort, previous, has_previous, following, has_following,
                 repeat) -> np.ndarray:
    """One int64 per group key: each month's rank among `all_months` (sorted, every month either side
    uses), NULL as 0, in a fixed number of bits."""
    bits = int(all_months.size + 1).bit_length()
    if 4 * bits + 1 > 62:
        raise NotRepresentable("too many distinct months to pack a rollup key")

    low = int(all_months[0]) if all_months.size else 0
    span = int(all_months[-1]) - low + 1 if all_months.size else 0
    if span <= 1_000_000:
        # A table from day to rank over the months' span: a gather instead of a bisection per value.
        lookup = np.zeros(span, dtype=np.int64)
        lookup[all_months - low] = np.arange(1, all_months.size + 1)

        def rank(values: np.ndarray) -> np.ndarray:
            return lookup[np.clip(values.astype(np.int64) - low, 0, max(span - 1, 0))]
    else:
        def rank(values: np.ndarray) -> np.ndarray:
            return np.searchsorted(all_months, values).astype(np.int64) + 1

    key = rank(month)
    key = (key << bits) | rank(cohort)
    key = (key << bits) | np.where(has_previous, rank(previous), 0)
    key = (key << bits) | np.where(has_following, rank(following), 0)
    return (key << 1) | repeat.astype(np.int64)


def activity_groups(rows: MonthRows, all_months: np.ndarray) -> ActivityGroups:
    """The rollup of month rows (commerce.services.rollups' GROUP BY, in NumPy)."""
    repeat = rows.orders_count > 1
    key = activity_key(all_months, rows.month, rows.cohort_month, rows.previous_month, rows.has_previous,
                       rows.following_month, rows.has_following, repeat)
    order = np.argsort(key)
    sorted_key = key[order]
    if sorted_key.size == 0:
        starts = np.empty(0, dtype=np.int64)
    else:
        starts = _run_starts(sorted_key[1:] != sorted_key[:-1])
    first = order[starts]
    ends = np.append(starts[1:], sorted_key.size)
    return ActivityGroups(
        key=sorted_key[starts], month=rows.month[first], cohort_month=rows.cohort_month[first],
        previous_month=rows.previous_month[first], has_previous=rows.has_previous[first],
        following_month=rows.following_month[first], has_following=rows.has_following[first],
        repeat_in_month=repeat[first], customers=(ends - starts).astype(np.int32),
        orders=np.add.reduceat(rows.orders_count.astype(np.int64)[order], starts) if starts.size else starts,
        net_revenue=np.add.reduceat(rows.net_revenue[order], starts) if starts.size else starts,
    )
