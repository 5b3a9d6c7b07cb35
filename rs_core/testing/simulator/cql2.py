"""The CQL2 subset RS-Server 0.2's stations accept, for the v2 simulator.

RS-Server 0.2 turns a filter into an OData query for the station, so it only accepts what it
can translate: equality (``=``) between a property and a literal, ``and``, and the temporal
operators (``t_after``, ``t_before``, ``t_during``, ``t_equals``, ``t_intersects`` over a
property and a ``TIMESTAMP``/``INTERVAL``). Anything else (``>``, ``or``, ``not``, ``like``,
functions, ...) is refused with 422, as the real server does
(``filter=end_datetime>'...'`` -> 422).

Two syntaxes: ``cql2-text`` (the GET default) and ``cql2-json`` (the POST default). Both parse
into the same tuple tree: ``("and", [nodes])``, ``("=", prop, value)``, ``("t_*", prop,
(lo, hi))`` with epoch seconds (an instant is ``(t, t)``; ``..`` bounds are infinite).

Example:
    >>> node = parse_text("platform='sentinel-1a' AND product:type = 'AUX_PP2'")
    >>> matches(node, {"platform": "sentinel-1a", "product:type": "AUX_PP2"})
    True
    >>> try:
    ...     parse_text("end_datetime > '2024-01-01'")
    ... except Cql2Error as exc:
    ...     print(str(exc)[:33])
    Unsupported CQL2 operator '>' (RS
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

__all__ = ["TEMPORAL_OPS", "Cql2Error", "Node", "matches", "parse", "parse_json", "parse_text"]

TEMPORAL_OPS = ("t_after", "t_before", "t_during", "t_equals", "t_intersects")
Node = tuple[Any, ...]
_UNSUPPORTED = "(RS-Server accepts =, and and temporal operators)"
_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+(?:\.\d+)?)|(?P<op><>|<=|>=|=|<|>)"
    r"|(?P<punct>[(),])|(?P<word>[A-Za-z_][A-Za-z0-9_:.\-]*)|(?P<bad>\S))"
)


class Cql2Error(ValueError):
    """A filter RS-Server would refuse (422)."""


def _epoch(text: str) -> float:
    if text == "..":
        return math.nan
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise Cql2Error(f"Invalid timestamp {text!r}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _interval(lo: str, hi: str) -> tuple[float, float]:
    low, high = _epoch(lo), _epoch(hi)
    return (-math.inf if math.isnan(low) else low, math.inf if math.isnan(high) else high)


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup
        if kind is None:
            continue
        if kind == "bad":
            raise Cql2Error(f"Invalid CQL2 text near {match.group(kind)!r}")
        tokens.append((kind, match.group(kind)))
    return tokens


class _TextParser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.pos = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise Cql2Error("Unexpected end of the CQL2 filter")
        self.pos += 1
        return token

    def expect(self, value: str) -> None:
        _kind, got = self.take()
        if got != value:
            raise Cql2Error(f"Expected {value!r} in the CQL2 filter, got {got!r}")

    def parse(self) -> Node:
        node = self.conjunction()
        if self.peek() is not None:
            kind, value = self.take()
            if kind == "word" and value.lower() in ("or", "not"):
                raise Cql2Error(f"Unsupported CQL2 operator {value.lower()!r} {_UNSUPPORTED}")
            raise Cql2Error(f"Unexpected {value!r} in the CQL2 filter")
        return node

    def conjunction(self) -> Node:
        parts = [self.term()]
        while (token := self.peek()) is not None and token[0] == "word":
            if token[1].lower() != "and":
                break
            self.pos += 1
            parts.append(self.term())
        return parts[0] if len(parts) == 1 else ("and", parts)

    def term(self) -> Node:
        kind, value = self.take()
        if kind == "punct" and value == "(":
            node = self.conjunction()
            self.expect(")")
            return node
        if kind != "word":
            raise Cql2Error(f"Unexpected {value!r} in the CQL2 filter")
        lowered = value.lower()
        if lowered in TEMPORAL_OPS:
            self.expect("(")
            prop = self.take()
            if prop[0] != "word":
                raise Cql2Error(f"{lowered} needs a property first")
            self.expect(",")
            bounds = self.temporal_literal()
            self.expect(")")
            return (lowered, prop[1], bounds)
        if lowered == "not":
            raise Cql2Error(f"Unsupported CQL2 operator 'not' {_UNSUPPORTED}")
        op_kind, op = self.take()
        if op_kind == "word" and op.lower() in ("like", "in", "between", "is"):
            raise Cql2Error(f"Unsupported CQL2 operator {op.lower()!r} {_UNSUPPORTED}")
        if op_kind != "op":
            raise Cql2Error(f"Unexpected {op!r} after {value!r} in the CQL2 filter")
        if op != "=":
            raise Cql2Error(f"Unsupported CQL2 operator {op!r} {_UNSUPPORTED}")
        return ("=", value, self.literal())

    def literal(self) -> Any:
        kind, value = self.take()
        if kind == "str":
            return value[1:-1].replace("''", "'")
        if kind == "num":
            return float(value) if "." in value else int(value)
        if kind == "word" and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise Cql2Error(f"Expected a literal in the CQL2 filter, got {value!r}")

    def temporal_literal(self) -> tuple[float, float]:
        kind, value = self.take()
        word = value.upper()
        if kind == "word" and word in ("TIMESTAMP", "DATE"):
            self.expect("(")
            text = self.literal()
            self.expect(")")
            moment = _epoch(str(text))
            return (moment, moment)
        if kind == "word" and word == "INTERVAL":
            self.expect("(")
            low = str(self.literal())
            self.expect(",")
            high = str(self.literal())
            self.expect(")")
            return _interval(low, high)
        if kind == "str":
            moment = _epoch(value[1:-1])
            return (moment, moment)
        raise Cql2Error(f"Expected a TIMESTAMP or INTERVAL in the CQL2 filter, got {value!r}")


def parse_text(text: str) -> Node:
    """Parse a ``cql2-text`` filter (raises :class:`Cql2Error`)."""
    if not text.strip():
        raise Cql2Error("Empty CQL2 filter")
    return _TextParser(text).parse()


def _json_temporal(value: Any) -> tuple[float, float]:
    if isinstance(value, dict) and "timestamp" in value:
        moment = _epoch(str(value["timestamp"]))
        return (moment, moment)
    if isinstance(value, dict) and "date" in value:
        moment = _epoch(str(value["date"]))
        return (moment, moment)
    if isinstance(value, dict) and isinstance(value.get("interval"), list):
        pair = value["interval"]
        if len(pair) == 2:
            return _interval(str(pair[0]), str(pair[1]))
    if isinstance(value, str):
        moment = _epoch(value)
        return (moment, moment)
    raise Cql2Error(f"Expected a timestamp or interval in the CQL2 filter, got {value!r}")


def _json_node(node: Any) -> Node:
    if not isinstance(node, dict) or "op" not in node:
        raise Cql2Error(f"Invalid CQL2 JSON node {node!r}")
    op = str(node["op"]).lower()
    args = node.get("args")
    if not isinstance(args, list):
        raise Cql2Error(f"CQL2 operator {op!r} needs an args list")
    if op == "and":
        if len(args) < 2:
            raise Cql2Error("'and' needs at least two arguments")
        return ("and", [_json_node(arg) for arg in args])
    if op not in ("=", *TEMPORAL_OPS):
        raise Cql2Error(f"Unsupported CQL2 operator {op!r} {_UNSUPPORTED}")
    if len(args) != 2 or not isinstance(args[0], dict) or "property" not in args[0]:
        raise Cql2Error(f"CQL2 operator {op!r} needs a property and a literal")
    prop = str(args[0]["property"])
    if op == "=":
        if isinstance(args[1], (dict, list)):
            raise Cql2Error("'=' needs a literal on its right-hand side")
        return ("=", prop, args[1])
    return (op, prop, _json_temporal(args[1]))


def parse_json(value: Any) -> Node:
    """Parse a ``cql2-json`` filter (a dict, or its JSON text; raises :class:`Cql2Error`)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise Cql2Error("Invalid CQL2 JSON") from exc
    return _json_node(value)


def parse(value: Any, lang: str | None) -> Node:
    """Parse ``value`` as ``lang`` (``cql2-text``/``cql2-json``; None: text for a string,
    JSON otherwise)."""
    if lang in (None, ""):
        lang = "cql2-text" if isinstance(value, str) else "cql2-json"
    if lang == "cql2-text":
        if not isinstance(value, str):
            raise Cql2Error("A cql2-text filter must be a string")
        return parse_text(value)
    if lang in ("cql2-json", "cql-json"):
        return parse_json(value)
    raise Cql2Error(f"Unsupported filter-lang {lang!r}")


def _as_interval(value: Any) -> tuple[float, float] | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = _epoch(value)
    except Cql2Error:
        return None
    return (moment, moment)


def _temporal(op: str, have: tuple[float, float], want: tuple[float, float]) -> bool:
    if op == "t_after":
        return have[0] > want[1]
    if op == "t_before":
        return have[1] < want[0]
    if op == "t_during":
        return want[0] <= have[0] and have[1] <= want[1]
    if op == "t_equals":
        return have == want
    return have[0] <= want[1] and want[0] <= have[1]  # t_intersects


def matches(node: Node, values: Mapping[str, Any]) -> bool:
    """Whether a feature whose queryable values are ``values`` satisfies ``node``."""
    op = node[0]
    if op == "and":
        return all(matches(child, values) for child in node[1])
    if op == "=":
        have = values.get(node[1])
        want = node[2]
        if isinstance(have, str) and isinstance(want, str):
            return have == want
        return bool(have == want)
    have_interval = _as_interval(values.get(node[1]))
    return have_interval is not None and _temporal(op, have_interval, node[2])
