"""An OData v4 station simulator: what RS-Server 0.2 talks to behind ADGS (AUXIP) and CADIP.

RS-Server 0.2 does not own any data: its ADGS and CADIP services translate STAC requests into
OData queries (through eodag) against the ground stations. To contract-test our client against
the *real* RS-Server, we run it against this simulator, which serves the stations' own OData
records (``shared/fixtures/station-odata/``) and answers the requests RS-Server really sends
(``requests-from-rs-server-0.2.txt`` in the same folder):

* ``POST /oauth2/token``: OAuth2 password grant (and refresh_token grant), form encoded, as
  eodag's ``TokenAuth`` plugin sends it (``client_id``, ``client_secret``, ``grant_type``,
  ``username``, ``password``, optional ``scope`` and a stray ``auth_for_token``). The answer is
  ``{"access_token", "token_type": "Bearer", "expires_in", "refresh_token",
  "refresh_expires_in"}``; eodag fails with a ``KeyError`` without ``refresh_token``.
* ``GET /Products`` (kind ``adgs``), ``GET /Sessions`` and ``GET /Files`` (kind ``cadip``) with
  ``Authorization: Bearer <token>`` and the OData system query options ``$filter``,
  ``$orderby``, ``$top``, ``$skip``, ``$expand``, ``$count`` (and ``$format=json``). The filter
  language is the subset RS-Server uses, parsed honestly: anything else answers 400.
* ``GET /Products(<Id>)/$value`` and ``GET /Files(<Id>)/$value``: deterministic bytes
  (:func:`payload_bytes`), as many as the record's ``ContentLength``/``Size`` capped by
  ``max_download_bytes``, streamed in chunks.

Every request is recorded (:attr:`OdataStationSimulator.requests`).

Example:
    >>> import json, urllib.request
    >>> with OdataStationSimulator(kind="adgs") as station:  # doctest: +SKIP
    ...     token = station.issue_token()
    ...     req = urllib.request.Request(
    ...         station.url + "/Products?$top=1", headers={"Authorization": f"Bearer {token}"}
    ...     )
    ...     json.load(urllib.request.urlopen(req))["value"][0]["Name"]
    'S1A_OPER_...'

Command line (prints the URL, stops on Ctrl-C or SIGTERM)::

    python scripts/odata_station --kind cadip --port 8094 [--log-requests]

This is a developer tool, not part of rs-core (the core names no station): it lives in
``scripts/odata_station/`` and tests import it with ``scripts/`` on ``sys.path``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import hmac
import http.server
import json
import os
import re
import secrets
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, Final, Literal, TextIO, cast
from urllib.parse import parse_qsl, unquote, urlsplit

import attrs

__all__ = [
    "DATA_DIR_ENV",
    "DEFAULT_MAX_DOWNLOAD_BYTES",
    "EntitySet",
    "ODataQueryError",
    "OdataStationSimulator",
    "RecordedRequest",
    "StationKind",
    "apply_query",
    "default_data_dir",
    "load_entity_sets",
    "main",
    "parse_filter",
    "parse_odata_datetime",
    "parse_orderby",
    "payload_bytes",
]

StationKind = Literal["adgs", "cadip", "prip"]
Record = Mapping[str, Any]
Predicate = Callable[[Mapping[str, Any]], bool]

DATA_DIR_ENV: Final = "RS_ODATA_STATION_DATA"
"""Environment variable naming the folder with the stations' OData records."""

DEFAULT_MAX_DOWNLOAD_BYTES: Final = 1024 * 1024
_FIXTURE_SUBDIR: Final = Path("shared") / "fixtures" / "station-odata"
_MISSING: Final = object()

# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------


@attrs.frozen
class EntitySet:
    """One OData entity set served by a station (``Products``, ``Sessions``, ``Files``).

    Attributes:
        name: the entity set name, i.e. the URL path segment.
        records: the records, as read from the fixture file (``{"Data": [...]}``).
        size_field: the record field holding the download size (``None``: no ``$value``).
        inline_navigation: navigation properties stored inline in the records and returned
            only when ``$expand``-ed (``Attributes`` of AUXIP products).
        joins: navigation properties computed by a join, ``name -> (entity set, local key,
            remote key)``; e.g. ``Sessions`` expands ``Files`` on ``SessionId``.
    """

    name: str
    records: tuple[Record, ...]
    size_field: str | None = None
    inline_navigation: frozenset[str] = frozenset()
    joins: Mapping[str, tuple[str, str, str]] = attrs.field(factory=dict)

    @property
    def properties(self) -> frozenset[str]:
        """Every property path present in at least one record: ``Name``, ``ContentDate/Start``.

        Nested objects give ``parent/child`` paths; collections (``Attributes``) are only
        named by their own path, their elements are reached through lambdas.
        """
        paths: set[str] = set()

        def walk(prefix: str, value: Mapping[str, Any]) -> None:
            for key, child in value.items():
                path = f"{prefix}/{key}" if prefix else key
                paths.add(path)
                if isinstance(child, dict):
                    walk(path, child)

        for record in self.records:
            walk("", record)
        return frozenset(paths)

    def by_id(self, entity_id: str) -> Record | None:
        """The record whose ``Id`` is ``entity_id`` (``None`` if unknown)."""
        for record in self.records:
            if str(record.get("Id")) == entity_id:
                return record
        return None


_KIND_FILES: Final[dict[str, tuple[tuple[str, str, str | None], ...]]] = {
    "adgs": (("Products", "adgs_products.json", "ContentLength"),),
    "cadip": (("Sessions", "cadip_sessions.json", None), ("Files", "cadip_files.json", "Size")),
    "prip": (("Products", "prip_products.json", "ContentLength"),),
}


def default_data_dir() -> Path:
    """Find the folder of the stations' OData records.

    Order: env ``RS_ODATA_STATION_DATA``; else ``shared/fixtures/station-odata`` beside one of
    the parents of this module or of the current directory (the same ADGS and CADIP records
    the AUXIP and CADIP plugins' fakes package; PRIP has no recorded data: its products are
    generated, :func:`prip_products`).

    Raises:
        FileNotFoundError: nothing found; the message says where it looked.

    Example:
        >>> default_data_dir().name  # doctest: +SKIP
        'station-odata'
    """
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        path = Path(env)
        if not path.is_dir():
            raise FileNotFoundError(f"{DATA_DIR_ENV}={env} is not a directory")
        return path
    tried: list[str] = []
    for start in (Path(__file__).resolve().parent, Path.cwd().resolve()):
        for parent in (start, *start.parents):
            candidate = parent / _FIXTURE_SUBDIR
            if candidate.is_dir():
                return candidate
            tried.append(str(candidate))
    raise FileNotFoundError(
        f"station OData records not found: set {DATA_DIR_ENV} or pass data_dir "
        f"(looked for {_FIXTURE_SUBDIR} above {Path(__file__).parent} and {Path.cwd()})"
    )


def load_entity_sets(kind: StationKind, data_dir: Path | None = None) -> dict[str, EntitySet]:
    """Read the entity sets of a station kind from ``data_dir`` (default :func:`default_data_dir`).

    Example:
        >>> sets = load_entity_sets("cadip")  # doctest: +SKIP
        >>> sorted(sets), len(sets["Sessions"].records)  # doctest: +SKIP
        (['Files', 'Sessions'], 7)
    """
    if kind not in _KIND_FILES:
        raise ValueError(f"unknown station kind {kind!r}: expected 'adgs', 'cadip' or 'prip'")
    folder = data_dir if data_dir is not None else default_data_dir()
    sets: dict[str, EntitySet] = {}
    for name, file_name, size_field in _KIND_FILES[kind]:
        path = folder / file_name
        if kind == "prip" and not path.is_file():
            raw: object = prip_products()  # no recorded PRIP data: the generated catalogue
        else:
            with path.open(encoding="utf-8") as stream:
                document = json.load(stream)
            raw = document["Data"] if isinstance(document, dict) else document
        if not isinstance(raw, list) or not all(isinstance(r, dict) for r in raw):
            raise ValueError(f"{path}: expected {{'Data': [records...]}}")
        records = tuple(cast(list[Record], raw))
        inline = frozenset({"Attributes"}) if name == "Products" else frozenset()
        joins = {"Files": ("Files", "SessionId", "SessionId")} if name == "Sessions" else {}
        sets[name] = EntitySet(name, records, size_field, inline, joins)
    return sets


# --------------------------------------------------------------------------------------------
# OData query language (the subset RS-Server 0.2 sends)
# --------------------------------------------------------------------------------------------


class ODataQueryError(ValueError):
    """An OData query the simulator does not understand or that is wrong; answered with 400."""


_DATETIME_RE: Final = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|[+-]\d{2}:\d{2})?$"
)


def parse_odata_datetime(text: str) -> datetime | None:
    """Parse the date-time spellings found in station records and filters (``None`` if not one).

    Stations are sloppy: ``2020-09-20T07:11Z``, ``...T18:52:29.1650Z`` and
    ``...T18:41:42.000000Z`` all occur in the fixtures. Naive values are taken as UTC.

    Example:
        >>> parse_odata_datetime("2020-09-20T07:11Z").isoformat()
        '2020-09-20T07:11:00+00:00'
        >>> parse_odata_datetime("2025-01-09T18:52:29.1650Z").microsecond
        165000
        >>> parse_odata_datetime("S1A") is None
        True
    """
    match = _DATETIME_RE.match(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    if zone in (None, "Z"):
        tz = UTC
    else:
        sign = 1 if zone[0] == "+" else -1
        tz = timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
    try:
        return datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second or 0), micro, tz
        )
    except ValueError:
        return None


_TOKEN_RE: Final = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>'(?:[^']|'')*')
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2}))
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<path>[A-Za-z_][\w.]*(?:/[A-Za-z_$][\w.]*)*)
  | (?P<punct>[(),:])
    """,
    re.VERBOSE,
)

_COMPARISONS: Final = frozenset({"eq", "ne", "gt", "ge", "lt", "le"})
_STRING_FUNCTIONS: Final = frozenset({"contains", "startswith", "endswith"})
_CONSTANTS: Final = frozenset({"true", "false", "null"})
_KEYWORDS: Final = frozenset({"and", "or", "not", "in"}) | _CONSTANTS | _COMPARISONS


@attrs.frozen
class _Token:
    kind: str
    text: str
    pos: int


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if match is None:
            raise ODataQueryError(f"$filter: unexpected character {text[pos]!r} at {pos}")
        kind = cast(str, match.lastgroup)
        if kind != "ws":
            tokens.append(_Token(kind, match.group(), pos))
        pos = match.end()
    return tokens


@attrs.frozen
class _Literal:
    value: object


@attrs.frozen
class _Path:
    variable: str  # "$it" or a lambda variable
    segments: tuple[str, ...]


def _is_cast(segment: str) -> bool:
    return "." in segment


def _resolve(path: _Path, scope: Mapping[str, Any]) -> object:
    current: object = scope[path.variable]
    for segment in path.segments:
        if _is_cast(segment):
            type_name = "#" + segment
            if isinstance(current, list):
                current = [
                    e for e in current if isinstance(e, dict) and e.get("@odata.type") == type_name
                ]
            elif not (isinstance(current, dict) and current.get("@odata.type") == type_name):
                return _MISSING
        elif isinstance(current, dict):
            current = current.get(segment, _MISSING)
        else:
            return _MISSING
    return current


def _as_number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _coerce(value: object, like: object) -> object:
    """Convert a record value to the type of a filter literal; ``_MISSING`` when impossible."""
    if value is _MISSING or value is None:
        return _MISSING
    if isinstance(like, datetime):
        return parse_odata_datetime(value) if isinstance(value, str) else _MISSING
    if isinstance(like, bool):
        return value if isinstance(value, bool) else _MISSING
    if isinstance(like, float):
        number = _as_number(value)
        return _MISSING if number is None else number
    if isinstance(like, str):
        return value if isinstance(value, str) else _MISSING
    return _MISSING


def _compare(op: str, left: Any, right: Any) -> bool:
    if op == "eq":
        return bool(left == right)
    if op == "ne":
        return bool(left != right)
    if op == "gt":
        return bool(left > right)
    if op == "ge":
        return bool(left >= right)
    if op == "lt":
        return bool(left < right)
    return bool(left <= right)


class _FilterParser:
    """Recursive descent over: or > and > not > comparison | function | lambda | (...)."""

    def __init__(
        self,
        text: str,
        properties: frozenset[str] | None,
        element_properties: frozenset[str] | None,
    ) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.index = 0
        self.properties = properties
        self.element_properties = element_properties
        self.variables: list[str] = []

    # -- token helpers --
    def _peek(self, offset: int = 0) -> _Token | None:
        i = self.index + offset
        return self.tokens[i] if i < len(self.tokens) else None

    def _next(self, what: str) -> _Token:
        token = self._peek()
        if token is None:
            raise ODataQueryError(f"$filter: expected {what} at the end of {self.text!r}")
        self.index += 1
        return token

    def _expect(self, text: str) -> None:
        token = self._next(repr(text))
        if token.text != text:
            raise ODataQueryError(
                f"$filter: expected {text!r} at {token.pos}, found {token.text!r}"
            )

    def _at_word(self, word: str) -> bool:
        token = self._peek()
        return token is not None and token.kind == "path" and token.text == word

    # -- grammar --
    def parse(self) -> Predicate:
        if not self.tokens:
            raise ODataQueryError("$filter: empty expression")
        predicate = self._or()
        token = self._peek()
        if token is not None:
            raise ODataQueryError(
                f"$filter: unexpected {token.text!r} at {token.pos} in {self.text!r}"
            )
        return predicate

    def _or(self) -> Predicate:
        parts = [self._and()]
        while self._at_word("or"):
            self.index += 1
            parts.append(self._and())
        if len(parts) == 1:
            return parts[0]
        return lambda scope: any(p(scope) for p in parts)

    def _and(self) -> Predicate:
        parts = [self._unary()]
        while self._at_word("and"):
            self.index += 1
            parts.append(self._unary())
        if len(parts) == 1:
            return parts[0]
        return lambda scope: all(p(scope) for p in parts)

    def _unary(self) -> Predicate:
        if self._at_word("not"):
            self.index += 1
            inner = self._unary()
            return lambda scope: not inner(scope)
        return self._primary()

    def _primary(self) -> Predicate:
        token = self._next("an expression")
        if token.text == "(":
            inner = self._or()
            self._expect(")")
            return inner
        if token.kind == "path":
            following = self._peek()
            if token.text in _STRING_FUNCTIONS and following is not None and following.text == "(":
                return self._string_function(token)
            segments = token.text.split("/")
            if following is not None and following.text == "(":
                if segments[-1] in ("any", "all"):
                    return self._lambda(token)
                raise ODataQueryError(
                    f"$filter: unsupported function {token.text!r} at {token.pos} "
                    f"(supported: {', '.join(sorted(_STRING_FUNCTIONS))}, any, all)"
                )
            if token.text not in _KEYWORDS:
                return self._comparison(self._path(token))
        if token.kind in ("string", "datetime", "number") or token.text in _CONSTANTS:
            literal = self._literal(token)
            op = self._next("a comparison operator")
            right = self._next("a property")
            if op.text not in _COMPARISONS or right.kind != "path" or right.text in _KEYWORDS:
                raise ODataQueryError(f"$filter: unsupported expression at {token.pos}")
            flipped = {"gt": "lt", "ge": "le", "lt": "gt", "le": "ge"}.get(op.text, op.text)
            return self._make_comparison(self._path(right), flipped, literal)
        raise ODataQueryError(f"$filter: unexpected {token.text!r} at {token.pos} in {self.text!r}")

    def _path(self, token: _Token) -> _Path:
        segments = token.text.split("/")
        if segments[0] in self.variables:
            path = _Path(segments[0], tuple(segments[1:]))
            names = [s for s in path.segments if not _is_cast(s)]
            if (
                self.element_properties is not None
                and names
                and names[0] not in self.element_properties
            ):
                raise ODataQueryError(
                    f"$filter: unknown property {names[0]!r} of lambda variable {segments[0]!r}"
                )
            return path
        if self.properties is not None:
            plain = "/".join(s for s in segments if not _is_cast(s))
            if plain not in self.properties:
                raise ODataQueryError(f"$filter: unknown property {plain!r}")
        return _Path("$it", tuple(segments))

    def _literal(self, token: _Token) -> _Literal:
        if token.kind == "string":
            return _Literal(token.text[1:-1].replace("''", "'"))
        if token.kind == "datetime":
            value = parse_odata_datetime(token.text)
            if value is None:
                raise ODataQueryError(f"$filter: bad date-time literal {token.text!r}")
            return _Literal(value)
        if token.kind == "number":
            return _Literal(float(token.text))
        if token.text in ("true", "false"):
            return _Literal(token.text == "true")
        if token.text == "null":
            return _Literal(None)
        raise ODataQueryError(f"$filter: expected a literal at {token.pos}, found {token.text!r}")

    def _comparison(self, path: _Path) -> Predicate:
        op = self._next("an operator after a property")
        if op.kind == "path" and op.text == "in":
            self._expect("(")
            values: list[object] = []
            while True:
                values.append(self._literal(self._next("a literal")).value)
                separator = self._next("',' or ')'")
                if separator.text == ")":
                    break
                if separator.text != ",":
                    raise ODataQueryError(f"$filter: expected ',' or ')' at {separator.pos}")
            return self._make_in(path, values)
        if op.kind != "path" or op.text not in _COMPARISONS:
            raise ODataQueryError(
                f"$filter: unsupported operator {op.text!r} at {op.pos} "
                f"(supported: {', '.join(sorted(_COMPARISONS))}, in)"
            )
        value_token = self._next("a literal")
        if value_token.kind == "path" and value_token.text not in ("true", "false", "null"):
            raise ODataQueryError(
                f"$filter: comparing two properties is not supported (at {value_token.pos})"
            )
        return self._make_comparison(path, op.text, self._literal(value_token))

    @staticmethod
    def _make_comparison(path: _Path, op: str, literal: _Literal) -> Predicate:
        expected = literal.value
        if expected is None:
            if op not in ("eq", "ne"):
                raise ODataQueryError(f"$filter: null only compares with eq/ne, not {op}")
            want_null = op == "eq"
            return lambda scope: (_resolve(path, scope) in (None, _MISSING)) == want_null

        def predicate(scope: Mapping[str, Any]) -> bool:
            value = _coerce(_resolve(path, scope), expected)
            if value is _MISSING or value is None:
                return op == "ne"
            try:
                return _compare(op, value, expected)
            except TypeError:
                return False

        return predicate

    @staticmethod
    def _make_in(path: _Path, values: Sequence[object]) -> Predicate:
        def predicate(scope: Mapping[str, Any]) -> bool:
            raw = _resolve(path, scope)
            for expected in values:
                value = _coerce(raw, expected)
                if value is not _MISSING and value == expected:
                    return True
            return False

        return predicate

    def _string_function(self, name: _Token) -> Predicate:
        self._expect("(")
        path = self._path(self._next("a property"))
        self._expect(",")
        literal = self._literal(self._next("a string literal"))
        self._expect(")")
        if not isinstance(literal.value, str):
            raise ODataQueryError(f"$filter: {name.text}() needs a string literal")
        needle = literal.value
        check: Callable[[str], bool]
        if name.text == "contains":
            check = lambda value: needle in value  # noqa: E731
        elif name.text == "startswith":
            check = lambda value: value.startswith(needle)  # noqa: E731
        else:
            check = lambda value: value.endswith(needle)  # noqa: E731

        def predicate(scope: Mapping[str, Any]) -> bool:
            value = _resolve(path, scope)
            return isinstance(value, str) and check(value)

        return predicate

    def _lambda(self, token: _Token) -> Predicate:
        segments = token.text.split("/")
        operator = segments[-1]
        collection = self._path(_Token("path", "/".join(segments[:-1]), token.pos))
        self._expect("(")
        closing = self._peek()
        if closing is not None and closing.text == ")" and operator == "any":
            self.index += 1

            def non_empty(scope: Mapping[str, Any]) -> bool:
                items = _resolve(collection, scope)
                return isinstance(items, list) and bool(items)

            return non_empty
        variable = self._next("a lambda variable")
        if variable.kind != "path" or "/" in variable.text or variable.text in _KEYWORDS:
            raise ODataQueryError(f"$filter: bad lambda variable {variable.text!r}")
        self._expect(":")
        self.variables.append(variable.text)
        try:
            body = self._or()
        finally:
            self.variables.pop()
        self._expect(")")
        name = variable.text
        combine = any if operator == "any" else all

        def predicate(scope: Mapping[str, Any]) -> bool:
            items = _resolve(collection, scope)
            if not isinstance(items, list):
                return False
            return combine(body({**scope, name: item}) for item in items)

        return predicate


def parse_filter(
    text: str,
    properties: Iterable[str] | None = None,
    element_properties: Iterable[str] | None = None,
) -> Callable[[Record], bool]:
    """Compile an OData ``$filter`` expression into a predicate over a record.

    Supported: ``and``, ``or``, ``not``, parentheses; ``eq ne gt ge lt le`` between a property
    path (``PublicationDate``, ``ContentDate/Start``) and a literal (``'string'``, a date-time
    such as ``2024-01-01T00:00:00.000Z``, a number, ``true``/``false``/``null``); ``in (...)``;
    ``contains``/``startswith``/``endswith(Property, 'text')``; lambdas ``any``/``all`` with
    type casts, e.g. ``Attributes/OData.CSC.StringAttribute/any(att:att/Name eq 'productType'
    and att/OData.CSC.StringAttribute/Value eq 'AUX_PP2')``. Date-time literals compare as
    instants, numbers numerically (``"42"`` in a record counts as 42). Anything else raises
    :class:`ODataQueryError`. When ``properties`` is given, an unknown property is an error
    too (property paths such as ``ContentDate/Start``; ``element_properties`` likewise for the
    elements of lambda collections).

    Example:
        >>> match = parse_filter("SessionId in ('A', 'B') and Channel ge 2")
        >>> match({"SessionId": "B", "Channel": 2}), match({"SessionId": "C", "Channel": 2})
        (True, False)
        >>> parse_filter("Name has 'x'")  # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        ODataQueryError: $filter: unsupported operator 'has' at 5 (supported: ...)
    """
    parser = _FilterParser(
        text,
        frozenset(properties) if properties is not None else None,
        frozenset(element_properties) if element_properties is not None else None,
    )
    compiled = parser.parse()
    return lambda record: compiled({"$it": record})


def parse_orderby(text: str, properties: Iterable[str] | None = None) -> list[tuple[str, bool]]:
    """Parse ``$orderby`` into ``[(property path, descending), ...]``.

    Example:
        >>> parse_orderby("PublicationDate desc, Name")
        [('PublicationDate', True), ('Name', False)]
    """
    known = frozenset(properties) if properties is not None else None
    keys: list[tuple[str, bool]] = []
    for part in text.split(","):
        words = part.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1] not in ("asc", "desc")):
            raise ODataQueryError(f"$orderby: expected 'Property [asc|desc]', found {part!r}")
        if not re.fullmatch(r"[A-Za-z_]\w*(?:/[A-Za-z_]\w*)*", words[0]):
            raise ODataQueryError(f"$orderby: bad property path {words[0]!r}")
        if known is not None and words[0] not in known:
            raise ODataQueryError(f"$orderby: unknown property {words[0]!r}")
        keys.append((words[0], len(words) == 2 and words[1] == "desc"))
    return keys


def _sort_key_function(records: Sequence[Record], path: str) -> Callable[[Record], tuple[Any, ...]]:
    """A sort key for one property: date-times as instants, numbers as numbers, else text."""
    path_obj = _Path("$it", tuple(path.split("/")))
    values = [_resolve(path_obj, {"$it": r}) for r in records]
    present = [v for v in values if v is not _MISSING and v is not None]
    convert: Callable[[object], object]
    if present and all(isinstance(v, str) and parse_odata_datetime(v) for v in present):
        convert = lambda v: parse_odata_datetime(cast(str, v))  # noqa: E731
    elif present and all(_as_number(v) is not None for v in present):
        convert = _as_number
    else:
        convert = str

    def key(record: Record) -> tuple[Any, ...]:
        value = _resolve(path_obj, {"$it": record})
        if value is _MISSING or value is None:
            return (0,)
        return (1, convert(value))

    return key


_SYSTEM_OPTIONS: Final = frozenset(
    {"$filter", "$orderby", "$top", "$skip", "$expand", "$count", "$format"}
)


def _non_negative(name: str, text: str) -> int:
    if not text.isdigit():
        raise ODataQueryError(f"{name}: expected a non-negative integer, found {text!r}")
    return int(text)


def apply_query(
    entity_set: EntitySet,
    options: Mapping[str, str],
    sets: Mapping[str, EntitySet] | None = None,
) -> dict[str, Any]:
    """Answer ``GET /<entity set>?<options>`` as an OData v4 JSON document.

    ``options`` are the decoded query parameters. Order of evaluation, as in OData:
    ``$filter``, ``$orderby``, ``$count`` (before paging), ``$skip``, ``$top``, ``$expand``.
    ``sets`` gives the other entity sets for joined expansions (``Sessions?$expand=Files``).

    Example:
        >>> sets = load_entity_sets("cadip")  # doctest: +SKIP
        >>> answer = apply_query(sets["Files"], {"$filter": "Channel eq 2", "$top": "1",
        ...                                      "$count": "true"})  # doctest: +SKIP
        >>> answer["@odata.count"] > 0, len(answer["value"])  # doctest: +SKIP
        (True, 1)
    """
    unknown = [k for k in options if k.startswith("$") and k not in _SYSTEM_OPTIONS]
    if unknown:
        raise ODataQueryError(
            f"unsupported system query option(s) {', '.join(sorted(unknown))} "
            f"(supported: {', '.join(sorted(_SYSTEM_OPTIONS))})"
        )
    records: list[Record] = list(entity_set.records)
    if "$filter" in options:
        element_props = frozenset(
            key
            for record in entity_set.records
            for value in record.values()
            if isinstance(value, list)
            for element in value
            if isinstance(element, dict)
            for key in element
        )
        predicate = parse_filter(options["$filter"], entity_set.properties, element_props)
        records = [r for r in records if predicate(r)]
    if "$orderby" in options:
        for path, descending in reversed(parse_orderby(options["$orderby"], entity_set.properties)):
            records.sort(key=_sort_key_function(records, path), reverse=descending)
    count = options.get("$count", "false").lower()
    if count not in ("true", "false"):
        raise ODataQueryError(f"$count: expected true or false, found {options['$count']!r}")
    fmt = options.get("$format", "json")
    if fmt not in ("json", "application/json"):
        raise ODataQueryError(f"$format: only json is served, not {fmt!r}")
    total = len(records)
    skip = _non_negative("$skip", options.get("$skip", "0"))
    records = records[skip:]
    if "$top" in options:
        records = records[: _non_negative("$top", options["$top"])]
    expand = {e.strip() for e in options.get("$expand", "").split(",") if e.strip()}
    allowed = entity_set.inline_navigation | frozenset(entity_set.joins)
    if expand - allowed:
        raise ODataQueryError(
            f"$expand: {', '.join(sorted(expand - allowed))} cannot be expanded on "
            f"{entity_set.name} (possible: {', '.join(sorted(allowed)) or 'nothing'})"
        )
    value = [_shape(r, entity_set, expand, sets or {}) for r in records]
    document: dict[str, Any] = {"@odata.context": f"$metadata#{entity_set.name}"}
    if count == "true":
        document["@odata.count"] = total
    document["value"] = value
    return document


def _shape(
    record: Record, entity_set: EntitySet, expand: set[str], sets: Mapping[str, EntitySet]
) -> dict[str, Any]:
    shaped = {
        k: v for k, v in record.items() if k not in entity_set.inline_navigation or k in expand
    }
    for name in expand & set(entity_set.joins):
        other, local_key, remote_key = entity_set.joins[name]
        target = sets.get(other)
        shaped[name] = (
            [dict(r) for r in target.records if r.get(remote_key) == record.get(local_key)]
            if target is not None
            else []
        )
    return shaped


def payload_bytes(entity_id: str, size: int, offset: int = 0) -> bytes:
    """The deterministic content the simulator serves for an entity: a repeated SHA-256 of its Id.

    ``offset`` lets a reader check any slice of a download without building all of it.

    Example:
        >>> data = payload_bytes("abc", 100)
        >>> len(data), data[:32] == hashlib.sha256(b"abc").digest(), data[32:64] == data[:32]
        (100, True, True)
        >>> payload_bytes("abc", 10, offset=40) == data[40:50]
        True
    """
    pattern = hashlib.sha256(entity_id.encode()).digest()
    start = offset % len(pattern)
    repeats = (start + size) // len(pattern) + 1
    return (pattern * repeats)[start : start + size]


# --------------------------------------------------------------------------------------------
# PRIP products (generated: no recorded PRIP station exists)
# --------------------------------------------------------------------------------------------


@attrs.frozen
class _PripSeries:
    """One product type of the PRIP catalogue: what RS-Server 1.0's shipped collections ask for."""

    product_type: str  # the ``productType`` attribute the collection's query names
    platform: str  # platformShortName
    serial: str  # platformSerialIdentifier
    instrument: str
    count: int
    name: str  # str.format template: {start} {stop} {pub} {orbit} {n}
    duration_s: int
    first_hours: int  # hours after PRIP_EPOCH of the first product


PRIP_EPOCH: Final = datetime(2024, 6, 12, 3, 0, 0, tzinfo=UTC)
_PRIP_SERIES: Final = (
    _PripSeries(
        "IW_RAW__0N",
        "SENTINEL-1",
        "A",
        "SAR",
        6,
        "S1A_IW_RAW__0NDV_{start}_{stop}_0{orbit}_05A{n:03X}_{n:04X}.SAFE.zip",
        25,
        0,
    ),
    _PripSeries(
        "IW_SLC__1S",
        "SENTINEL-1",
        "A",
        "SAR",
        5,
        "S1A_IW_SLC__1SDV_{start}_{stop}_0{orbit}_05B{n:03X}_{n:04X}.SAFE.zip",
        27,
        7,
    ),
    _PripSeries(
        "OPER_MSI",
        "SENTINEL-2",
        "B",
        "MSI",
        4,
        "S2B_OPER_MSI_L0__DS_2BPS_{pub}_S{start}_N05.10.tar",
        300,
        3,
    ),
    _PripSeries(
        "OPER_MSI_L0",
        "SENTINEL-2",
        "B",
        "MSI",
        6,
        "S2B_OPER_MSI_L0__GR_2BPS_{pub}_S{start}_D{n:02d}_N05.10.tar",
        4,
        3,
    ),
    _PripSeries(
        "OPER_MSI_L2A",
        "SENTINEL-2",
        "B",
        "MSI",
        4,
        "S2B_MSIL2A_{start}_N0510_R{orbit_rel:03d}_T32TQ{n:X}_{pub}.SAFE.zip",
        5,
        11,
    ),
)


def _odata_time(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _attribute(name: str, value: str | int, kind: str = "String") -> dict[str, Any]:
    odata_type = {"String": "StringAttribute", "DateTimeOffset": "DateTimeOffsetAttribute"}
    return {
        "@odata.type": f"#OData.CSC.{odata_type.get(kind, 'IntegerAttribute')}",
        "Name": name,
        "ValueType": kind,
        "Value": value,
    }


def prip_products() -> list[Record]:
    """The PRIP station's ``Products`` (25, deterministic): 6 ``IW_RAW__0N`` and 5 ``IW_SLC__1S``
    of Sentinel-1A, 4 ``OPER_MSI``, 6 ``OPER_MSI_L0`` and 4 ``OPER_MSI_L2A`` of Sentinel-2B —
    the product types RS-Server 1.0's shipped PRIP collections (``S1A_L0_IW_RAW``,
    ``IW_SLC__1S``, ``S2B_L0_DS``, ``S2B_L0_GR``, ``S2B_L2A_TL``) ask for, inside their
    temporal extent (2024-06-12 to 2024-08-22).

    ``ContentLength`` is at most 256 KiB so that ``$value`` serves the whole product, and
    ``Checksum`` is the real MD5 of those bytes (:func:`payload_bytes`).

    Example:
        >>> products = prip_products()
        >>> len(products), products[0]["Attributes"][0]["Value"]
        (25, 'IW_RAW__0N')
    """
    import uuid

    records: list[Record] = []
    for series in _PRIP_SERIES:
        for n in range(series.count):
            start = PRIP_EPOCH + timedelta(hours=series.first_hours + 37 * n, seconds=13 * n)
            stop = start + timedelta(seconds=series.duration_s)
            origin = stop + timedelta(minutes=41)
            published = stop + timedelta(hours=1, minutes=17 + n)
            orbit = 54262 + 3 * n + series.first_hours
            compact = "%Y%m%dT%H%M%S"
            name = series.name.format(
                start=start.strftime(compact),
                stop=stop.strftime(compact),
                pub=published.strftime(compact),
                orbit=orbit,
                orbit_rel=orbit % 175 + 1,
                n=n + 1,
            )
            entity_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"prip:{name}"))
            size = 16 * 1024 + (int(hashlib.sha256(name.encode()).hexdigest()[:6], 16) % 240) * 1024
            md5 = hashlib.md5(payload_bytes(entity_id, size)).hexdigest().upper()
            lon, lat = 5.0 + 3 * n, 40.0 + (n % 4) * 2.5
            attributes = [
                _attribute("productType", series.product_type),
                _attribute("platformShortName", series.platform),
                _attribute("platformSerialIdentifier", series.serial),
                _attribute("instrumentShortName", series.instrument),
                _attribute("processingCenter", "PRIP-SIM"),
                _attribute("processorVersion", "05.10"),
                _attribute("processingDate", _odata_time(origin), "DateTimeOffset"),
                _attribute("beginningDateTime", _odata_time(start), "DateTimeOffset"),
                _attribute("endingDateTime", _odata_time(stop), "DateTimeOffset"),
                _attribute("orbitNumber", orbit, "Integer"),
                _attribute("relativeOrbitNumber", orbit % 175 + 1, "Integer"),
                _attribute("orbitDirection", "DESCENDING" if n % 2 else "ASCENDING"),
                _attribute("datatakeID", 430000 + 17 * n, "Integer"),
            ]
            if series.platform == "SENTINEL-1":
                attributes.append(_attribute("polarisationChannels", "VV&VH"))
            records.append(
                {
                    "@odata.mediaContentType": "application/octet-stream",
                    "Id": entity_id,
                    "Name": name,
                    "ContentType": "application/octet-stream",
                    "ContentLength": size,
                    "OriginDate": _odata_time(origin),
                    "PublicationDate": _odata_time(published),
                    "EvictionDate": _odata_time(published + timedelta(days=30)),
                    "ProductionType": "systematic_production",
                    "Checksum": [
                        {
                            "Algorithm": "MD5",
                            "Value": md5,
                            "ChecksumDate": _odata_time(published),
                        }
                    ],
                    "ContentDate": {"Start": _odata_time(start), "End": _odata_time(stop)},
                    "GeoFootprint": {
                        "type": "Polygon",
                        "coordinates": [
                            [
                                [lon, lat],
                                [lon + 2.0, lat],
                                [lon + 2.0, lat + 1.5],
                                [lon, lat + 1.5],
                                [lon, lat],
                            ]
                        ],
                    },
                    "Attributes": attributes,
                }
            )
    return records


# --------------------------------------------------------------------------------------------
# HTTP server
# --------------------------------------------------------------------------------------------


@attrs.frozen
class RecordedRequest:
    """One request received by the simulator, as sent (target undecoded).

    Attributes:
        method: ``GET``, ``POST``...
        target: the request target as on the wire: ``/Products?$filter=...``.
        headers: the request headers, in order.
        body: the request body (``b""`` if none).
        status: the status code the simulator answered.

    Example:
        >>> r = RecordedRequest("GET", "/Files?$top=2", (("Host", "x"),), b"", 200)
        >>> r.line, r.path, r.query
        ('GET /Files?$top=2', '/Files', {'$top': '2'})
    """

    method: str
    target: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    status: int

    @property
    def line(self) -> str:
        """``METHOD target``, the form used in ``requests-from-rs-server-0.2.txt``."""
        return f"{self.method} {self.target}"

    @property
    def path(self) -> str:
        """The decoded path, without the query."""
        return unquote(urlsplit(self.target).path)

    @property
    def query(self) -> dict[str, str]:
        """The decoded query parameters (last one wins)."""
        return dict(parse_qsl(urlsplit(self.target).query, keep_blank_values=True))

    def header(self, name: str) -> str | None:
        """The first value of a header, case-insensitively (``None`` if absent)."""
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


class _HttpError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


_DOWNLOAD_RE: Final = re.compile(
    r"^/(?P<set>\w+)\((?:'(?P<quoted>[^']*)'|(?P<bare>[^)]*))\)/\$value$"
)
_ENTITY_RE: Final = re.compile(r"^/(?P<set>\w+)\((?:'(?P<quoted>[^']*)'|(?P<bare>[^)]*))\)$")
_REASONS: Final = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    500: "Internal Server Error",
}


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], station: OdataStationSimulator) -> None:
        self.station = station
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "rs-odata-station/1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: requests are recorded, not logged."""

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self._method = method
        self._body = self.rfile.read(length) if length > 0 else b""
        self._recorded = False
        try:
            self.server.station._handle(self, method, self._body)
        except _HttpError as error:
            extra = {"WWW-Authenticate": 'Bearer realm="station"'} if error.status == 401 else {}
            message = {"error": {"code": error.code, "message": error.message}}
            self.send_json(error.status, message, extra)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as error:  # a simulator bug must reach the test as a 500, not a hang
            self.send_json(500, {"error": {"code": "InternalError", "message": repr(error)}})
        finally:
            self._record(500)

    def _record(self, status: int) -> None:
        """Record the request once, *before* answering, so a client sees it when answered."""
        if not self._recorded:
            self._recorded = True
            headers = tuple(self.headers.items())
            request = RecordedRequest(self._method, self.path, headers, self._body, status)
            self.server.station._record(request)

    def _head(self, status: int, headers: Mapping[str, str]) -> bytes:
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}"]
        lines += [f"Server: {self.server_version}", f"Date: {self.date_time_string()}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        if self.close_connection:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def send_json(
        self, status: int, document: object, extra: Mapping[str, str] | None = None
    ) -> None:
        body = json.dumps(document, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", "Content-Length": str(len(body))}
        headers.update(extra or {})
        self._record(status)
        self.wfile.write(self._head(status, headers) + body)

    def send_stream(self, headers: Mapping[str, str], chunks: Iterator[bytes]) -> None:
        head = self._head(200, headers)
        self._record(200)
        first = next(chunks, b"")
        self.wfile.write(head + first)
        for chunk in chunks:
            self.wfile.write(chunk)


class OdataStationSimulator:
    """A threaded HTTP server playing an ADGS (``kind="adgs"``) or CADIP (``"cadip"``) station.

    Args:
        kind: ``"adgs"`` serves ``/Products``; ``"cadip"`` serves ``/Sessions`` and ``/Files``.
        data_dir: folder with ``adgs_products.json``, ``cadip_files.json``,
            ``cadip_sessions.json``; default :func:`default_data_dir`.
        host: address to bind (default 127.0.0.1).
        port: port to bind; 0 picks a free one (read :attr:`url`).
        username, password: the credentials the password grant must carry.
        max_download_bytes: cap on a ``$value`` download (default 1 MiB).
        chunk_size: bytes per write while streaming a download.
        token_lifetime: ``expires_in`` of issued tokens, in seconds. Keep it well above 60:
            RS-Server asks for a new token when less than 60 s are left.
        request_log: a text stream that gets ``<status> <METHOD> <target>`` per request.
        log_header_names: add `` headers=<name,name,...>`` (lower-case names, never values)
            to each ``request_log`` line: shows what reached the station (no ``x-api-key``,
            no ``cookie``) without writing a secret down.
        token_secret: when set, tokens are signed with it (HMAC) and every simulator holding
            the same secret accepts them. RS-Server's staging picks station credentials by
            host name only, so stations that share ``127.0.0.1`` must accept each other's
            tokens.

    Example:
        >>> with OdataStationSimulator(kind="cadip") as station:  # doctest: +SKIP
        ...     print(station.url)
        ...     # ... point RS-Server at station.url, run it, then:
        ...     [r.line for r in station.requests]
        http://127.0.0.1:40123
        ['POST /oauth2/token', "GET /Sessions?$top=1"]
    """

    def __init__(
        self,
        kind: StationKind,
        *,
        data_dir: str | os.PathLike[str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        username: str = "test",
        password: str = "test",
        max_download_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES,
        chunk_size: int = 64 * 1024,
        token_lifetime: int = 3600,
        request_log: TextIO | None = None,
        token_secret: str | None = None,
        log_header_names: bool = False,
    ) -> None:
        self.kind: StationKind = kind
        self.log_header_names = log_header_names
        self.token_secret = token_secret
        self.sets = load_entity_sets(kind, Path(data_dir) if data_dir is not None else None)
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.max_download_bytes = max_download_bytes
        self.chunk_size = chunk_size
        self.token_lifetime = token_lifetime
        self.request_log = request_log
        self._requests: list[RecordedRequest] = []
        self._tokens: dict[str, float] = {}
        self._refresh_tokens: set[str] = set()
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --
    def start(self) -> OdataStationSimulator:
        """Bind and serve in a background thread; returns ``self``."""
        if self._server is not None:
            return self
        self._server = _Server((self.host, self.port), self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"odata-station-{self.kind}-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close the listening socket and every open keep-alive connection."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        with server.connections_lock:
            connections = list(server.connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> OdataStationSimulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- public state --
    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:40123`` (no trailing slash)."""
        if self._server is None:
            raise RuntimeError("the station simulator is not started")
        return f"http://{self.host}:{self.port}"

    @property
    def token_url(self) -> str:
        """The OAuth2 token endpoint."""
        return self.url + "/oauth2/token"

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of the requests received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        """Forget the recorded requests."""
        with self._lock:
            self._requests.clear()

    def issue_token(self) -> str:
        """Create a valid access token without HTTP (handy in tests)."""
        if self.token_secret is not None:
            return self._signed_token("access", self.token_lifetime)
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[token] = time.monotonic() + self.token_lifetime
        return token

    def _signed_token(self, use: str, lifetime: int) -> str:
        body = f"{use}.{int(time.time()) + lifetime}.{secrets.token_hex(6)}"
        return f"{body}.{self._signature(body)}"

    def _signature(self, body: str) -> str:
        assert self.token_secret is not None
        return hmac.new(self.token_secret.encode(), body.encode(), hashlib.sha256).hexdigest()

    def _valid_signed(self, token: str, use: str) -> bool:
        if self.token_secret is None:
            return False
        body, _, signature = token.rpartition(".")
        parts = body.split(".")
        if len(parts) != 3 or parts[0] != use or not parts[1].isdigit():
            return False
        if not hmac.compare_digest(signature, self._signature(body)):
            return False
        return int(parts[1]) > time.time()

    def download_size(self, entity_set: str, entity_id: str) -> int:
        """The number of bytes ``GET /<entity_set>(<entity_id>)/$value`` answers."""
        record = self.sets[entity_set].by_id(entity_id)
        size_field = self.sets[entity_set].size_field
        if record is None or size_field is None:
            raise KeyError(f"{entity_set}({entity_id})")
        size = _as_number(record.get(size_field))
        return min(int(size or 0), self.max_download_bytes)

    # -- internals --
    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)
            if self.request_log is not None:
                line = f"{request.status} {request.line}"
                if self.log_header_names:
                    line += " headers=" + ",".join(name.lower() for name, _ in request.headers)
                self.request_log.write(line + "\n")
                self.request_log.flush()

    def _handle(self, handler: _Handler, method: str, body: bytes) -> int:
        split = urlsplit(handler.path)
        path = unquote(split.path)
        if path == "/oauth2/token":
            if method != "POST":
                raise _HttpError(405, "MethodNotAllowed", "the token endpoint takes POST")
            handler.send_json(200, self._token(handler, body), {"Cache-Control": "no-store"})
            return 200
        if method not in ("GET",):
            raise _HttpError(405, "MethodNotAllowed", f"{method} {path}: the station is read-only")
        if path in ("", "/"):
            document = {
                "@odata.context": "$metadata",
                "value": [{"name": n, "kind": "EntitySet", "url": n} for n in self.sets],
            }
            handler.send_json(200, document)
            return 200
        self._authorize(handler)
        if (match := _DOWNLOAD_RE.match(path)) is not None:
            return self._download(handler, match)
        if (match := _ENTITY_RE.match(path)) is not None:
            entity_set = self._entity_set(match.group("set"))
            entity_id = match.group("quoted") or match.group("bare") or ""
            record = entity_set.by_id(entity_id)
            if record is None:
                raise _HttpError(404, "NotFound", f"{entity_set.name}({entity_id}) not found")
            handler.send_json(
                200,
                {
                    "@odata.context": f"$metadata#{entity_set.name}/$entity",
                    **_shape(record, entity_set, set(), self.sets),
                },
            )
            return 200
        entity_set = self._entity_set(path.strip("/"))
        pairs = parse_qsl(split.query, keep_blank_values=True)
        options: dict[str, str] = {}
        for key, value in pairs:
            if key in options:
                raise _HttpError(400, "BadRequest", f"query option {key} given twice")
            options[key] = value
        try:
            document = apply_query(entity_set, options, self.sets)
        except ODataQueryError as error:
            raise _HttpError(400, "BadRequest", str(error)) from error
        handler.send_json(200, document)
        return 200

    def _entity_set(self, name: str) -> EntitySet:
        if name not in self.sets:
            raise _HttpError(
                404,
                "NotFound",
                f"no entity set {name!r} on this {self.kind} station "
                f"(served: {', '.join(self.sets)})",
            )
        return self.sets[name]

    def _token(self, handler: _Handler, body: bytes) -> dict[str, Any]:
        content_type = (handler.headers.get("Content-Type") or "").split(";")[0].strip()
        if content_type != "application/x-www-form-urlencoded":
            raise _HttpError(
                400, "invalid_request", "token request must be application/x-www-form-urlencoded"
            )
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        grant = form.get("grant_type")
        if grant == "password":
            if form.get("username") != self.username or form.get("password") != self.password:
                raise _HttpError(401, "invalid_grant", "bad username or password")
        elif grant == "refresh_token":
            given = form.get("refresh_token") or ""
            with self._lock:
                known = given in self._refresh_tokens
            if not known and not self._valid_signed(given, "refresh"):
                raise _HttpError(401, "invalid_grant", "unknown refresh_token")
        else:
            raise _HttpError(
                400,
                "unsupported_grant_type",
                f"grant_type {grant!r}: use password or refresh_token",
            )
        access = self.issue_token()
        if self.token_secret is not None:
            refresh = self._signed_token("refresh", self.token_lifetime * 2)
        else:
            refresh = secrets.token_urlsafe(24)
            with self._lock:
                self._refresh_tokens.add(refresh)
        return {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": self.token_lifetime,
            "refresh_token": refresh,
            "refresh_expires_in": self.token_lifetime * 2,
        }

    def _authorize(self, handler: _Handler) -> None:
        header = handler.headers.get("Authorization")
        if header is None:
            raise _HttpError(401, "Unauthorized", "missing 'Authorization: Bearer <token>'")
        scheme, _, token = header.partition(" ")
        if scheme != "Bearer" or not token:
            raise _HttpError(401, "Unauthorized", "expected 'Authorization: Bearer <token>'")
        with self._lock:
            expiry = self._tokens.get(token)
        if self._valid_signed(token, "access"):
            return
        if expiry is None or expiry < time.monotonic():
            raise _HttpError(401, "Unauthorized", "unknown or expired bearer token")

    def _download(self, handler: _Handler, match: re.Match[str]) -> int:
        entity_set = self._entity_set(match.group("set"))
        entity_id = match.group("quoted") or match.group("bare") or ""
        if entity_set.size_field is None:
            raise _HttpError(404, "NotFound", f"{entity_set.name} have no $value")
        record = entity_set.by_id(entity_id)
        if record is None:
            raise _HttpError(404, "NotFound", f"{entity_set.name}({entity_id}) not found")
        size = self.download_size(entity_set.name, entity_id)
        name = str(record.get("Name", entity_id))

        def chunks() -> Iterator[bytes]:
            for offset in range(0, size, self.chunk_size):
                yield payload_bytes(entity_id, min(self.chunk_size, size - offset), offset)

        headers = {
            "Content-Type": "application/octet-stream",
            "Content-Length": str(size),
            "Content-Disposition": f'attachment; filename="{name}"',
        }
        handler.send_stream(headers, chunks())
        return 200


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run a station simulator until Ctrl-C or SIGTERM; print its URL on the first line.

    Example:
        ``python scripts/odata_station --kind cadip --port 8094``
    """
    parser = argparse.ArgumentParser(
        prog="python scripts/odata_station",
        description="OData v4 ADGS/CADIP station simulator (the stations behind RS-Server).",
    )
    parser.add_argument("--kind", choices=("adgs", "cadip", "prip"), required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--data-dir", default=None, help=f"default: ${DATA_DIR_ENV} or shared/")
    parser.add_argument("--username", default="test")
    parser.add_argument("--password", default="test")
    parser.add_argument("--max-download-bytes", type=int, default=DEFAULT_MAX_DOWNLOAD_BYTES)
    parser.add_argument(
        "--token-secret-env",
        default=None,
        help="name of an env var holding a secret: tokens signed with it are accepted by every "
        "simulator given the same secret",
    )
    parser.add_argument(
        "--log-requests",
        action="store_true",
        help="print '<status> <METHOD> <target>' for every request on stdout",
    )
    parser.add_argument(
        "--log-header-names",
        action="store_true",
        help="with --log-requests: add ' headers=<name,...>' (names only, never values)",
    )
    args = parser.parse_args(argv)

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    station = OdataStationSimulator(
        kind=cast(StationKind, args.kind),
        data_dir=args.data_dir,
        host=args.host,
        port=args.port,
        username=args.username,
        password=args.password,
        max_download_bytes=args.max_download_bytes,
        request_log=sys.stdout if args.log_requests else None,
        token_secret=os.environ.get(args.token_secret_env) if args.token_secret_env else None,
        log_header_names=args.log_header_names,
    )
    with station:
        print(station.url, flush=True)
        while not stop.wait(0.5):
            pass
    print(f"{args.kind} station simulator stopped", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
