"""CQL2 filters for RS-Server station searches: ``cql2-text`` in, ``cql2-json`` out.

RS-Server 1.0 reads a ``cql2-text`` filter on ``GET`` by splitting it on ``=`` without trimming
spaces (``product:type = 'AUX_PP2'`` reaches the station as ``' 'AUX_PP2'``), while a
``cql2-json`` body on ``POST /<service>/search`` is read correctly. So the client parses what a
user writes as text and sends JSON. The parser covers the operators RS-Server takes and the
usual neighbours (the server refuses the others with its own 422, which the client reports):

* comparisons ``=  <>  <  <=  >  >=`` between a property and a literal (spaces optional);
* ``AND``, ``OR``, ``NOT`` and parentheses;
* ``[NOT] IN (...)``, ``[NOT] LIKE``, ``[NOT] BETWEEN ... AND ...``, ``IS [NOT] NULL``;
* functions such as the temporal ``T_AFTER(created, TIMESTAMP('2024-01-01T00:00:00Z'))`` and the
  spatial ``S_INTERSECTS(geometry, POLYGON((...)))``; ``TIMESTAMP``, ``DATE``, ``INTERVAL``,
  ``BBOX`` and WKT geometries (``POINT``, ``LINESTRING``, ``POLYGON``, ``MULTI*``) as literals.

>>> to_cql2_json("product:type = 'AUX_PP2' and platform='sentinel-1a'")
{'op': 'and', 'args': [{'op': '=', 'args': [{'property': 'product:type'}, 'AUX_PP2']}, \
{'op': '=', 'args': [{'property': 'platform'}, 'sentinel-1a']}]}
>>> to_cql2_json("T_AFTER(published, TIMESTAMP('2024-01-01T00:00:00Z'))")["args"][1]
{'timestamp': '2024-01-01T00:00:00Z'}
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from rs_core.errors import InvalidInputError

__all__ = ["all_of", "json_copy", "parse_cql2_text", "to_cql2_json"]

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')"
    r"|(?P<num>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
    r"|(?P<op><>|<=|>=|!=|=|<|>)"
    r"|(?P<punct>[(),])"
    r'|(?P<quoted>"(?:[^"]|"")*")'
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_:.\-]*)"
    r"|(?P<bad>\S))"
)
_COMPARISONS = {"=", "<>", "<", "<=", ">", ">="}
_GEOMETRIES = {
    "POINT": "Point",
    "LINESTRING": "LineString",
    "POLYGON": "Polygon",
    "MULTIPOINT": "MultiPoint",
    "MULTILINESTRING": "MultiLineString",
    "MULTIPOLYGON": "MultiPolygon",
}
_KEYWORDS = {"AND", "OR", "NOT", "IN", "LIKE", "BETWEEN", "IS", "NULL", "TRUE", "FALSE"}


class _Parser:
    """Recursive descent over the tokens of one ``cql2-text`` filter."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[str, str, int]] = []
        for match in _TOKEN.finditer(text):
            kind = match.lastgroup
            if kind is None:
                continue
            if kind == "bad":
                self.fail(f"unexpected character {match.group(kind)!r}", match.start(kind))
            self.tokens.append((kind, match.group(kind), match.start(kind)))
        self.pos = 0

    # -- tokens ---------------------------------------------------------------------------

    def fail(self, message: str, at: int | None = None) -> None:
        where = len(self.text) if at is None else at
        raise InvalidInputError(f"CQL2 filter {self.text!r}: {message} (at character {where})")

    def peek(self, offset: int = 0) -> tuple[str, str, int] | None:
        index = self.pos + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def take(self) -> tuple[str, str, int]:
        token = self.peek()
        if token is None:
            self.fail("unexpected end of the filter")
            raise AssertionError  # unreachable: fail() raises
        self.pos += 1
        return token

    def is_word(self, *words: str, offset: int = 0) -> bool:
        token = self.peek(offset)
        return token is not None and token[0] == "word" and token[1].upper() in words

    def is_punct(self, value: str) -> bool:
        token = self.peek()
        return token is not None and token[0] == "punct" and token[1] == value

    def expect(self, value: str) -> None:
        kind, got, at = self.take()
        if got != value or kind not in ("punct", "op"):
            self.fail(f"expected {value!r}, got {got!r}", at)

    # -- boolean structure ------------------------------------------------------------------

    def parse(self) -> dict[str, Any]:
        node = self.disjunction()
        token = self.peek()
        if token is not None:
            self.fail(f"unexpected {token[1]!r}", token[2])
        return node

    def disjunction(self) -> dict[str, Any]:
        parts = [self.conjunction()]
        while self.is_word("OR"):
            self.pos += 1
            parts.append(self.conjunction())
        return _combine("or", parts)

    def conjunction(self) -> dict[str, Any]:
        parts = [self.negation()]
        while self.is_word("AND"):
            self.pos += 1
            parts.append(self.negation())
        return _combine("and", parts)

    def negation(self) -> dict[str, Any]:
        if self.is_word("NOT"):
            self.pos += 1
            return {"op": "not", "args": [self.negation()]}
        if self.is_punct("("):
            self.pos += 1
            node = self.disjunction()
            self.expect(")")
            return node
        return self.predicate()

    # -- predicates -----------------------------------------------------------------------

    def predicate(self) -> dict[str, Any]:
        start = self.peek()
        left = self.operand()
        is_call = isinstance(left, dict) and "op" in left and start is not None
        if is_call and (self.peek() is None or self.is_word("AND", "OR") or self.is_punct(")")):
            return dict(left)  # a function: T_AFTER(...), S_INTERSECTS(...)
        negated = False
        if self.is_word("NOT"):
            negated = True
            self.pos += 1
        token = self.peek()
        if token is None:
            self.fail("expected an operator after the operand")
            raise AssertionError
        kind, value, at = token
        word = value.upper() if kind == "word" else ""
        if kind == "op" and not negated:
            self.pos += 1
            op = "<>" if value == "!=" else value
            node: dict[str, Any] = {"op": op, "args": [left, self.operand()]}
            return node
        if word == "IN":
            self.pos += 1
            self.expect("(")
            values = [self.operand()]
            while self.is_punct(","):
                self.pos += 1
                values.append(self.operand())
            self.expect(")")
            node = {"op": "in", "args": [left, values]}
        elif word == "LIKE":
            self.pos += 1
            node = {"op": "like", "args": [left, self.operand()]}
        elif word == "BETWEEN":
            self.pos += 1
            low = self.operand()
            if not self.is_word("AND"):
                self.fail("BETWEEN needs 'AND' between its bounds")
            self.pos += 1
            node = {"op": "between", "args": [left, low, self.operand()]}
        elif word == "IS" and not negated:
            self.pos += 1
            if self.is_word("NOT"):
                negated = True
                self.pos += 1
            if not self.is_word("NULL"):
                self.fail("expected NULL after IS")
            self.pos += 1
            node = {"op": "isNull", "args": [left]}
        else:
            self.fail(f"expected an operator, got {value!r}", at)
            raise AssertionError
        return {"op": "not", "args": [node]} if negated else node

    def operand(self) -> Any:
        kind, value, at = self.take()
        if kind == "str":
            return value[1:-1].replace("''", "'")
        if kind == "num":
            number = float(value)
            return int(number) if re.fullmatch(r"[-+]?\d+", value) else number
        if kind == "quoted":
            return {"property": value[1:-1].replace('""', '"')}
        if kind == "punct" and value == "(":
            inner = self.operand()
            self.expect(")")
            return inner
        if kind != "word":
            self.fail(f"expected a property or a literal, got {value!r}", at)
        word = value.upper()
        if word in ("TRUE", "FALSE"):
            return word == "TRUE"
        if not self.is_punct("("):
            if word in _KEYWORDS:
                self.fail(f"expected a property or a literal, got {value!r}", at)
            return {"property": value}
        return self.call(value, at)

    def call(self, name: str, at: int) -> Any:
        word = name.upper()
        if word in _GEOMETRIES:
            self.expect("(")
            coordinates = self.coordinates()
            self.expect(")")
            return _geometry(word, coordinates, self, at)
        self.expect("(")
        args: list[Any] = []
        if not self.is_punct(")"):
            args.append(self.operand())
            while self.is_punct(","):
                self.pos += 1
                args.append(self.operand())
        self.expect(")")
        if word in ("TIMESTAMP", "DATE"):
            if len(args) != 1 or not isinstance(args[0], str):
                self.fail(f"{word} takes one quoted string", at)
            return {word.lower(): args[0]}
        if word == "INTERVAL":
            if len(args) != 2 or not all(isinstance(a, str) for a in args):
                self.fail("INTERVAL takes two quoted strings", at)
            return {"interval": args}
        if word == "BBOX":
            if len(args) not in (4, 6) or not all(_is_number(a) for a in args):
                self.fail("BBOX takes four (or six) numbers", at)
            return {"bbox": args}
        op = name.lower()
        if op.startswith("t_"):
            args = [{"timestamp": a} if isinstance(a, str) else a for a in args]
        return {"op": op, "args": args}

    def coordinates(self) -> Any:
        """A WKT coordinate list: ``x y, x y`` or nested ``(...)`` groups."""
        if self.is_punct("("):
            groups = []
            while True:
                self.expect("(")
                groups.append(self.coordinates())
                self.expect(")")
                if not self.is_punct(","):
                    return groups
                self.pos += 1
        points = [self.position()]
        while self.is_punct(","):
            self.pos += 1
            points.append(self.position())
        return points

    def position(self) -> list[float]:
        values: list[float] = []
        while (token := self.peek()) is not None and token[0] == "num":
            self.pos += 1
            values.append(float(token[1]))
        if len(values) not in (2, 3):
            self.fail("a WKT position is two (or three) numbers")
        return values


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _geometry(word: str, coordinates: Any, parser: _Parser, at: int) -> dict[str, Any]:
    kind = _GEOMETRIES[word]
    if kind == "Point":
        if len(coordinates) != 1 or not isinstance(coordinates[0][0], float):
            parser.fail("POINT takes one position", at)
        return {"type": kind, "coordinates": coordinates[0]}
    if kind == "MultiPoint" and coordinates and isinstance(coordinates[0][0], list):
        coordinates = [group[0] for group in coordinates]  # MULTIPOINT((1 2), (3 4))
    return {"type": kind, "coordinates": coordinates}


def _combine(op: str, parts: list[dict[str, Any]]) -> dict[str, Any]:
    if len(parts) == 1:
        return parts[0]
    flat: list[Any] = []
    for part in parts:
        flat.extend(part["args"] if part.get("op") == op else [part])
    return {"op": op, "args": flat}


def parse_cql2_text(text: str) -> dict[str, Any]:
    """Parse ``cql2-text`` into ``cql2-json`` (:class:`~rs_core.InvalidInputError` naming the
    position of what could not be read).

    >>> parse_cql2_text("sat:absolute_orbit IN (1, 2)")
    {'op': 'in', 'args': [{'property': 'sat:absolute_orbit'}, [1, 2]]}
    >>> parse_cql2_text("S_INTERSECTS(geometry, POLYGON((0 0, 1 0, 1 1, 0 0)))")["args"][1]["type"]
    'Polygon'
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidInputError(f"a CQL2 filter is a non-empty string, got {text!r}")
    return _Parser(text.strip()).parse()


def to_cql2_json(value: str | Mapping[str, Any]) -> dict[str, Any]:
    """A filter as ``cql2-json``: text is parsed, a dict is checked (it needs ``op``) and copied.

    >>> to_cql2_json({"op": "=", "args": [{"property": "platform"}, "sentinel-2b"]})["op"]
    '='
    """
    if isinstance(value, str):
        return parse_cql2_text(value)
    if isinstance(value, Mapping):
        _check_node(value)
        return dict(json_copy(value))
    raise InvalidInputError(
        f"filter must be a cql2-json dict or a cql2-text string, got {type(value).__name__}"
    )


_ARITY = {"=": 2, "<>": 2, "<": 2, "<=": 2, ">": 2, ">=": 2, "like": 2, "in": 2, "between": 3}
_ARITY.update({"not": 1, "isnull": 1})


def _check_node(node: Any) -> None:
    """Check the shape of a cql2-json expression: ``op`` and an ``args`` list of the right
    length, recursively through ``and``/``or``/``not``."""
    if not isinstance(node, Mapping) or not isinstance(node.get("op"), str):
        raise InvalidInputError(f"a cql2-json filter is an object with 'op', got {node!r}")
    op, args = node["op"].lower(), node.get("args")
    if not isinstance(args, list):
        raise InvalidInputError(f"CQL2 operator {node['op']!r} needs an 'args' list, got {node!r}")
    if op in ("and", "or"):
        if len(args) < 2:
            raise InvalidInputError(f"CQL2 {op!r} needs at least two arguments")
        for arg in args:
            _check_node(arg)
    elif op in _ARITY and len(args) != _ARITY[op]:
        raise InvalidInputError(f"CQL2 {node['op']!r} takes {_ARITY[op]} argument(s), got {args!r}")
    elif op == "not":
        _check_node(args[0])
    elif op == "in" and not isinstance(args[1], list):
        raise InvalidInputError(f"CQL2 'in' takes a value and a list, got {args!r}")


def json_copy(value: Any) -> Any:
    """A JSON-shaped deep copy of ``value`` (tuples become lists, keys strings)."""
    if isinstance(value, Mapping):
        return {str(k): json_copy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_copy(v) for v in value]
    return value


def all_of(clauses: Iterable[Mapping[str, Any] | None]) -> dict[str, Any] | None:
    """The ``and`` of the given ``cql2-json`` clauses (``None`` ones skipped), or ``None``.

    >>> all_of([None, {"op": "=", "args": [{"property": "a"}, 1]}])
    {'op': '=', 'args': [{'property': 'a'}, 1]}
    """
    parts = [dict(c) for c in clauses if c is not None]
    if not parts:
        return None
    return _combine("and", parts)
