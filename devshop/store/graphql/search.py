"""Shopify's search syntax for the `query` argument of connections, as a Django Q.

Supported: `field:value`, `field:>value` (also >=, <, <=), quoted values ('…' or "…"), implicit AND and
explicit `AND`, `OR` between terms, negation with `-field:value` or `NOT field:value`, and bare words
(free text over the resource's text fields). Dates take ISO 8601 date-times (`2025-01-01T00:00:00Z`) or
dates (`2025-01-01`, midnight in the shop's time zone, as Shopify reads them).

Like Shopify, an unknown field does not fail the request: the term is ignored and a warning is reported
in `extensions.search` of the response (see executor.py).
"""
import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from django.db.models import Q

from ..formats import InvalidGid, parse_gid

TOKEN = re.compile(
    r"""\s*(?P<neg>-)?(?:(?P<field>[A-Za-z_][\w.]*):(?P<op>>=|<=|>|<|=)?(?P<value>'[^']*'|"[^"]*"|[^\s()]+)"""
    r"""|(?P<word>'[^']*'|"[^"]*"|[^\s()]+))"""
)


@dataclass(frozen=True)
class SearchField:
    lookup: str  # ORM path
    kind: str  # "datetime", "id", "int", "decimal", "str", "istr", "tag", "bool", "choice", "q"
    gid_type: str | None = None
    transform: object = None  # value -> ORM value for "choice"


@dataclass
class SearchResult:
    q: Q
    warnings: list[dict] = field(default_factory=list)


class SearchError(ValueError):
    pass


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def _parse_datetime(value: str, tz: str) -> dt.datetime:
    try:
        if len(value) == 10:
            day = dt.date.fromisoformat(value)
            return dt.datetime.combine(day, dt.time(), tzinfo=ZoneInfo(tz))
        parsed = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise SearchError(f"'{value}' is not a date") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(tz))
    return parsed


def _convert(spec: SearchField, raw: str, tz: str):
    if spec.kind == "datetime":
        return _parse_datetime(raw, tz)
    if spec.kind == "id":
        if raw.startswith("gid://"):
            try:
                return parse_gid(raw, spec.gid_type)[1]
            except InvalidGid as exc:
                raise SearchError(str(exc)) from exc
        if not raw.isdigit():
            raise SearchError(f"'{raw}' is not an id")
        return int(raw)
    if spec.kind == "int":
        if not re.fullmatch(r"-?\d+", raw):
            raise SearchError(f"'{raw}' is not a number")
        return int(raw)
    if spec.kind == "decimal":
        try:
            return Decimal(raw)
        except InvalidOperation as exc:
            raise SearchError(f"'{raw}' is not a number") from exc
    if spec.kind == "bool":
        if raw.lower() not in ("true", "false"):
            raise SearchError(f"'{raw}' is not true or false")
        return raw.lower() == "true"
    if spec.kind == "choice":
        return spec.transform(raw)
    return raw


_OPS = {">": "gt", ">=": "gte", "<": "lt", "<=": "lte"}


def _term_q(spec: SearchField, op: str | None, raw: str, tz: str) -> Q:
    if spec.kind == "q":
        # Fields that are not one column (an order's status, a discount code in a JSON list).
        return spec.transform(raw)
    value = _convert(spec, raw, tz)
    if spec.kind == "tag":
        # Tags are stored in REST form ("a, b"); match a whole tag, case-insensitively.
        pattern = r"(^|,\s*)" + re.escape(value) + r"(\s*,|$)"
        return Q(**{f"{spec.lookup}__iregex": pattern})
    if op in _OPS:
        if spec.kind in ("str", "istr", "tag", "bool", "choice", "q"):
            raise SearchError(f"Range comparison is not supported for '{raw}'")
        return Q(**{f"{spec.lookup}__{_OPS[op]}": value})
    if spec.kind == "istr":
        return Q(**{f"{spec.lookup}__iexact": value})
    if spec.kind == "datetime" and len(raw) == 10:
        # A bare date matches that whole day in the shop's time zone.
        return Q(**{f"{spec.lookup}__gte": value, f"{spec.lookup}__lt": value + dt.timedelta(days=1)})
    if spec.kind == "choice" and isinstance(value, (list, tuple)):
        return Q(**{f"{spec.lookup}__in": value})
    return Q(**{spec.lookup: value})


def parse_search(
    query: str | None, fields: dict[str, SearchField], text_fields: list[str], tz: str
) -> SearchResult:
    """Translate a Shopify search string into a Q over the given fields."""
    result = SearchResult(q=Q())
    if not query or not query.strip():
        return result
    groups: list[Q] = []
    current: Q | None = None
    negate_next = False
    pos = 0
    text = query.strip()
    while pos < len(text):
        match = TOKEN.match(text, pos)
        if not match or match.end() == pos:
            pos += 1  # a parenthesis or stray character: grouping is not supported, skip it
            continue
        pos = match.end()
        word = match.group("word")
        if word in ("AND",):
            continue
        if word == "OR":
            if current is not None:
                groups.append(current)
            current = None
            continue
        if word == "NOT":
            negate_next = True
            continue
        negated = bool(match.group("neg")) or negate_next
        negate_next = False
        if word is not None:
            value = _unquote(word)
            term = Q()
            for name in text_fields:
                term |= Q(**{f"{name}__icontains": value})
        else:
            name = match.group("field")
            raw = _unquote(match.group("value"))
            spec = fields.get(name)
            if spec is None:
                result.warnings.append({"field": name, "message": "Invalid search field for this query."})
                continue
            term = _term_q(spec, match.group("op"), raw, tz)
        if negated:
            term = ~term
        current = term if current is None else current & term
    if current is not None:
        groups.append(current)
    q = Q()
    for i, group in enumerate(groups):
        q = group if i == 0 else q | group
    result.q = q
    return result
