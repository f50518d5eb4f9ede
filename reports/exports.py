"""CSV versions of every report table. Numbers are written plainly (dot decimals, no grouping, ISO dates)
so spreadsheets read them the same in every locale; headers are in the merchant's language."""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal

from django.http import HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase


def _plain(value) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value.normalize() if value == value.to_integral() else value, "f")
    if isinstance(value, float):
        return f"{value:.6g}"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


# Streamed files are sent in pieces of about this many characters.
_CHUNK = 64 * 1024


def _csv_text(header: Sequence[str], rows: Iterable[Sequence]) -> Iterator[str]:
    buffer = io.StringIO()
    # A byte-order mark makes Excel open UTF-8 (names with ä, š, ή) correctly.
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow([str(h) for h in header])
    for row in rows:
        writer.writerow([_sanitize(_plain(v)) for v in row])
        if buffer.tell() >= _CHUNK:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def csv_response(filename: str, header: Sequence[str], rows: Iterable[Sequence]) -> HttpResponseBase:
    """The table as a CSV download. A list of rows is sent whole; any other iterable (a selector that reads
    a server-side cursor: every customer of a big shop) is streamed as it is read."""
    if isinstance(rows, list | tuple):
        response: HttpResponseBase = HttpResponse("".join(_csv_text(header, rows)),
                                                  content_type="text/csv; charset=utf-8")
    else:
        response = StreamingHttpResponse((text.encode() for text in _csv_text(header, rows)),
                                         content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _sanitize(cell: str) -> str:
    # CSV injection: a customer named "=HYPERLINK(...)" must not become a formula in the merchant's
    # spreadsheet (OWASP). Numbers like -12.5 are left alone.
    if cell and cell[0] in "=+-@\t\r" and not _is_number(cell):
        return "'" + cell
    return cell


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True
