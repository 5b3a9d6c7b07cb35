"""Requests and responses as the simulator's routes see them.

Example:
    >>> r = json_response(200, {"healthy": True})
    >>> r.status, r.body, r.content_type
    (200, b'{"healthy":true}', 'application/json')
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import parse_qs, unquote

from attrs import field, frozen

__all__ = [
    "Headers",
    "RecordedRequest",
    "Response",
    "detail_response",
    "dumps",
    "json_response",
    "missing_query",
    "validation_error",
]


def dumps(value: Any) -> bytes:
    """Compact JSON bytes, serialised once per response."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class Headers(Mapping[str, str]):
    """An immutable, case-insensitive view of request headers (the last value of a repeated
    header wins for ``[]``; :meth:`get_all` returns them all).

    >>> h = Headers([("X-Api-Key", "k")])
    >>> h["x-api-key"], "X-API-KEY" in h
    ('k', True)
    """

    __slots__ = ("_items", "_map")

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._items = tuple(items)
        self._map = {name.lower(): value for name, value in self._items}

    def __getitem__(self, key: str) -> str:
        return self._map[key.lower()]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._map

    def __iter__(self) -> Iterator[str]:
        return iter(self._map)

    def __len__(self) -> int:
        return len(self._map)

    def __repr__(self) -> str:
        shown = {k: ("***" if k == "x-api-key" else v) for k, v in self._map.items()}
        return f"Headers({shown!r})"

    def get_all(self, key: str) -> list[str]:
        """Every value of header ``key``, in order."""
        wanted = key.lower()
        return [value for name, value in self._items if name.lower() == wanted]

    def items_raw(self) -> tuple[tuple[str, str], ...]:
        """The headers as received (names with their case, repeats kept)."""
        return self._items


@frozen
class RecordedRequest:
    """One request the simulator received.

    ``raw_path`` is the path as sent (percent-encoded), ``path`` its decoded form; ``query`` maps
    each parameter to its values (decoded, ``+`` as space), ``raw_query`` is the query string as
    sent.

    Example:
        >>> RecordedRequest("GET", "/a%2Fb", "x=1", Headers(), b"").path
        '/a/b'
    """

    method: str
    raw_path: str
    raw_query: str
    headers: Headers
    body: bytes
    client_address: tuple[str, int] = ("", 0)
    time: float = 0.0
    path: str = field(init=False)
    query: dict[str, list[str]] = field(init=False, eq=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "path", unquote(self.raw_path))
        object.__setattr__(self, "query", parse_qs(self.raw_query, keep_blank_values=True))

    def param(self, name: str) -> str | None:
        """The last value of query parameter ``name`` (FastAPI's rule), or None."""
        values = self.query.get(name)
        return values[-1] if values else None

    def json(self) -> Any:
        """The body parsed as JSON (raises ``ValueError`` if it is not)."""
        return json.loads(self.body.decode("utf-8"))


@frozen
class Response:
    """A complete answer: status, body bytes, content type and extra headers."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()


def json_response(
    status: int,
    value: Any,
    content_type: str = "application/json",
    headers: tuple[tuple[str, str], ...] = (),
) -> Response:
    """A JSON answer."""
    return Response(status, dumps(value), content_type, headers)


def detail_response(status: int, detail: Any) -> Response:
    """FastAPI's error shape ``{"detail": ...}``."""
    return json_response(status, {"detail": detail})


def validation_error(errors: list[dict[str, Any]]) -> Response:
    """FastAPI's 422 with a pydantic error list."""
    return detail_response(422, errors)


def missing_query(name: str) -> dict[str, Any]:
    """A pydantic ``missing`` error for query parameter ``name``."""
    return {"type": "missing", "loc": ["query", name], "msg": "Field required", "input": None}
