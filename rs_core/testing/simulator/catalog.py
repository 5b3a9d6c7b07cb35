"""An in-memory, thread-safe STAC API + Transactions catalog behaving like rs-server-catalog v1.

Collections are owned; the public id is ``{owner}:{collection}``. What the simulator does:

- ``POST /catalog/collections`` takes the STAC collection with its **short** id and a top-level
  ``"owner"`` (else the API key's ``user_login``; required in local mode); 201 with the stored
  collection; ``DELETE`` answers 200 ``{"deleted collection": coll}``; duplicate:
  409 ``{"code": "ConflictError", ...}``; invalid (``type`` must be ``"Collection"``; ``id``,
  ``description``, ``license``, ``extent.spatial.bbox``, ``extent.temporal.interval`` required):
  400 with a pydantic-like ``detail`` list.
- ``GET /catalog/collections/{owner}:{coll}`` shows ``"id": coll`` and ``"owner": owner``;
  **quirk**: ``GET /catalog/collections`` lists them as ``"id": "owner_coll"``.
- Items: ``stac_extensions``, ``assets``, ``properties`` (with ``datetime``, or
  ``start_datetime`` and ``end_datetime``), ``geometry`` are required, every asset href must be
  ``s3://<bucket>/<key>`` whose key's file name equals the asset key (400 otherwise). The
  server adds ``owner``, ``published``, ``updated``, ``expires`` (published + 30 days) to the
  properties and rewrites each asset to ``{"href": <sim>/catalog/<owner>/collections/<coll>/
  items/<id>/download/<asset key>, "alternate": {"s3": {"href": <s3 href>}}, ...}`` (a PUT may
  send those rewritten assets back: the ``alternate.s3.href`` is then used). Item into a missing
  collection: 404; duplicate: 409; ``DELETE``: 200 ``{"deleted item": id}``; missing: 404
  ``{"code": "NotFoundError", ...}``.
- **Quirk** (seen in the real v1 search answers): items returned by ``/catalog/search`` carry
  ``"collection": "owner_coll"``; items under ``/collections/{owner}:{coll}/items`` carry the
  short id.
- Paging: ``limit`` (default 10, at most 10,000) and a ``next`` link whose ``token`` is
  ``next:<offset>`` (an opaque string for clients); a POST search's ``next`` link has
  ``"method": "POST"`` and the body to send (``"merge": false``). Items sort by ``datetime``
  descending then id descending, like pgstac. A query's sorted selection is kept
  (:class:`~.selections.SelectionCache`, a few queries, forgotten on every write), so paging
  through N items costs O(N); a page asked after a write selects again, as before. Each stored
  item is serialised once, on first use (its ``collection`` and ``links`` left as holes a page
  fills): a page is a join of bytes.
- Filters: ``collections`` (``owner:coll`` or ``owner_coll``), ``ids``, ``datetime`` (instant,
  ``a/b``, open ``..``), ``bbox`` (intersects the item's bbox or geometry's extent) and a CQL2
  subset: ``cql2-json`` with ``and``/``or``/``not``/``=``/``<>``/``<``/``<=``/``>``/``>=``/``in``/
  ``isNull`` over ``{"property": name}``, and ``cql2-text`` comparisons joined by ``AND``
  (``owner = 'alice' AND platform = 'S1A'``). Property ``id``/``collection`` are the item's, any
  other name is looked up in ``properties``; ``owner`` is a queryable.

Example:
    >>> cat = Catalog(lambda: "http://127.0.0.1:1")
    >>> cat.collection_count()
    0
"""

from __future__ import annotations

import copy
import json
import re
import threading
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, unquote, urlencode

from .auth import ApiKey
from .dataset import parse_odata_date
from .messages import RecordedRequest, Response, detail_response, dumps, json_response
from .selections import SelectionCache

__all__ = ["CONFORMANCE", "Catalog"]

CONFORMANCE = [
    "https://api.stacspec.org/v1.0.0/core",
    "https://api.stacspec.org/v1.0.0/collections",
    "https://api.stacspec.org/v1.0.0/ogcapi-features",
    "https://api.stacspec.org/v1.0.0/item-search",
    "https://api.stacspec.org/v1.0.0/ogcapi-features/extensions/transaction",
    "https://api.stacspec.org/v1.0.0/collections/extensions/transaction",
    "https://api.stacspec.org/v1.0.0-rc.2/item-search#filter",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
]
ALTERNATE_EXTENSION = "https://stac-extensions.github.io/alternate-assets/v1.1.0/schema.json"
DEFAULT_LIMIT = 10
MAX_LIMIT = 10_000
EXPIRATION = timedelta(days=30)
GEOJSON = "application/geo+json"
_S3_HREF = re.compile(r"^s3://([^/]+)/(.+)$")
_Match = tuple[float, str, str, str, dict[str, Any]]
"""One item a search matched: (sort time, id, owner, collection, stored item)."""
_Chunks = list[bytes | str]
"""A stored item serialised: JSON bytes, and the names of the holes (``collection``,
``links``) a public item fills."""
_HOLES = ("collection", "links")
_MARKS = {name: f"\x00rs-simulator-hole:{name}:{uuid.uuid4()}\x00" for name in _HOLES}
_MARK_BYTES = {name: dumps(mark) for name, mark in _MARKS.items()}
_Fills = tuple[bytes, bytes, bool]


class _BadRequest(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


def _bad(detail: Any) -> _BadRequest:
    return _BadRequest(detail_response(400, detail))


def _not_found(description: str) -> Response:
    return json_response(404, {"code": "NotFoundError", "description": description})


def _stamp(moment: datetime) -> str:
    return f"{moment:%Y-%m-%dT%H:%M:%S.%f}Z"


def _error(kind: str, loc: list[Any], msg: str, value: Any) -> dict[str, Any]:
    return {"type": kind, "loc": ["body", *loc], "msg": msg, "input": value}


def _check_collection(body: Any) -> list[dict[str, Any]]:
    if not isinstance(body, dict):
        return [_error("dict_type", [], "Input should be a valid dictionary", body)]
    errors: list[dict[str, Any]] = []
    if "type" not in body:
        errors.append(_error("missing", ["type"], "Field required", body))
    elif body["type"] != "Collection":
        errors.append(
            _error("literal_error", ["type"], "Input should be 'Collection'", body["type"])
        )
    for name in ("id", "description", "license"):
        if name not in body:
            errors.append(_error("missing", [name], "Field required", body))
        elif not isinstance(body[name], str) or (name == "id" and not body[name]):
            errors.append(
                _error("string_type", [name], "Input should be a valid string", body[name])
            )
    extent = body.get("extent")
    if extent is None:
        errors.append(_error("missing", ["extent"], "Field required", body))
    elif not isinstance(extent, dict):
        errors.append(_error("dict_type", ["extent"], "Input should be a valid dictionary", extent))
    else:
        for part, key in (("spatial", "bbox"), ("temporal", "interval")):
            value = extent.get(part)
            if not isinstance(value, dict) or not isinstance(value.get(key), list):
                errors.append(_error("missing", ["extent", part, key], "Field required", value))
    if "links" in body and not isinstance(body["links"], list):
        errors.append(_error("list_type", ["links"], "Input should be a valid list", body["links"]))
    return errors


def _check_item(body: Any) -> list[dict[str, Any]]:
    if not isinstance(body, dict):
        return [_error("dict_type", [], "Input should be a valid dictionary", body)]
    errors: list[dict[str, Any]] = []
    if body.get("type") != "Feature":
        if "type" not in body:
            errors.append(_error("missing", ["type"], "Field required", body))
        else:
            errors.append(
                _error("literal_error", ["type"], "Input should be 'Feature'", body["type"])
            )
    if "id" not in body:
        errors.append(_error("missing", ["id"], "Field required", body))
    elif not isinstance(body["id"], str) or not body["id"]:
        errors.append(_error("string_type", ["id"], "Input should be a valid string", body["id"]))
    if "geometry" not in body:
        errors.append(_error("missing", ["geometry"], "Field required", body))
    elif body["geometry"] is not None and not isinstance(body["geometry"], dict):
        errors.append(
            _error(
                "dict_type", ["geometry"], "Input should be a valid dictionary", body["geometry"]
            )
        )
    for name, kind, msg in (
        ("properties", dict, "dictionary"),
        ("assets", dict, "dictionary"),
        ("stac_extensions", list, "list"),
    ):
        if name not in body:
            errors.append(_error("missing", [name], "Field required", body))
        elif not isinstance(body[name], kind):
            errors.append(
                _error(
                    f"{kind.__name__}_type", [name], f"Input should be a valid {msg}", body[name]
                )
            )
    props = body.get("properties")
    if isinstance(props, dict) and props.get("datetime") is None:
        for name in ("start_datetime", "end_datetime"):
            if not props.get(name):
                errors.append(
                    _error(
                        "value_error",
                        ["properties", name],
                        "Value error, start_datetime and end_datetime must be set "
                        "when datetime is null",
                        props,
                    )
                )
                break
    return errors


def _epoch(value: Any) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_odata_date(value).timestamp()
    except ValueError:
        return None


def _item_interval(item: dict[str, Any]) -> tuple[float, float] | None:
    props = item.get("properties") or {}
    instant = _epoch(props.get("datetime"))
    if instant is not None:
        return instant, instant
    start, end = _epoch(props.get("start_datetime")), _epoch(props.get("end_datetime"))
    if start is None or end is None:
        return None
    return start, end


def _coords(value: Any) -> list[tuple[float, float]]:
    if isinstance(value, list | tuple):
        if len(value) >= 2 and all(isinstance(v, int | float) for v in value[:2]):
            return [(float(value[0]), float(value[1]))]
        return [point for part in value for point in _coords(part)]
    return []


def _item_bbox(item: dict[str, Any]) -> tuple[float, float, float, float] | None:
    bbox = item.get("bbox")
    if isinstance(bbox, list) and len(bbox) in (4, 6):
        if len(bbox) == 6:
            return bbox[0], bbox[1], bbox[3], bbox[4]
        return bbox[0], bbox[1], bbox[2], bbox[3]
    geometry = item.get("geometry")
    if not isinstance(geometry, dict):
        return None
    points = _coords(geometry.get("coordinates"))
    if not points:
        return None
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return min(xs), min(ys), max(xs), max(ys)


def _parse_datetime_filter(text: str) -> tuple[float | None, float | None]:
    parts = text.split("/")
    if len(parts) > 2:
        raise _bad(f"Invalid datetime: {text!r}")
    bounds: list[float | None] = []
    for part in parts:
        if part in ("", ".."):
            bounds.append(None)
            continue
        value = _epoch(part)
        if value is None:
            raise _bad(f"Invalid datetime: {text!r}")
        bounds.append(value)
    if len(bounds) == 1:
        if bounds[0] is None:
            raise _bad(f"Invalid datetime: {text!r}")
        return bounds[0], bounds[0]
    return bounds[0], bounds[1]


def _parse_bbox(value: Any) -> tuple[float, float, float, float]:
    try:
        numbers = [float(v) for v in (value.split(",") if isinstance(value, str) else value)]
    except (TypeError, ValueError) as exc:
        raise _bad(f"Invalid bbox: {value!r}") from exc
    if len(numbers) == 6:
        return numbers[0], numbers[1], numbers[3], numbers[4]
    if len(numbers) != 4:
        raise _bad(f"Invalid bbox: {value!r}")
    return numbers[0], numbers[1], numbers[2], numbers[3]


# -- CQL2 subset -------------------------------------------------------------------------

_TEXT_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+(?:\.\d+)?)|(?P<op><>|!=|<=|>=|=|<|>)"
    r"|(?P<lpar>\()|(?P<rpar>\))|(?P<comma>,)|(?P<word>[A-Za-z_][\w:.\-]*|\"[^\"]+\"))"
)


def _text_to_json(text: str) -> dict[str, Any]:
    """Parse ``a = 'x' AND b >= 3 AND c IN ('p','q')`` into CQL2-JSON."""
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TEXT_TOKEN.match(text, position)
        if match is None or match.lastgroup is None:
            raise _bad(f"Unsupported CQL2 text filter: {text!r}")
        tokens.append((match.lastgroup, match.group(match.lastgroup)))
        position = match.end()

    def literal(kind: str, value: str) -> Any:
        if kind == "str":
            return value[1:-1].replace("''", "'")
        if kind == "num":
            return float(value) if "." in value else int(value)
        if kind == "word" and value.upper() in ("TRUE", "FALSE"):
            return value.upper() == "TRUE"
        raise _bad(f"Unsupported CQL2 text filter: {text!r}")

    clauses: list[dict[str, Any]] = []
    index = 0
    while index < len(tokens):
        if index + 2 >= len(tokens):
            raise _bad(f"Unsupported CQL2 text filter: {text!r}")
        kind, name = tokens[index]
        if kind != "word":
            raise _bad(f"Unsupported CQL2 text filter: {text!r}")
        prop = {"property": name.strip('"')}
        op_kind, op = tokens[index + 1]
        if op_kind == "word" and op.upper() == "IN":
            if tokens[index + 2][0] != "lpar":
                raise _bad(f"Unsupported CQL2 text filter: {text!r}")
            values: list[Any] = []
            index += 3
            while index < len(tokens) and tokens[index][0] != "rpar":
                if tokens[index][0] != "comma":
                    values.append(literal(*tokens[index]))
                index += 1
            clauses.append({"op": "in", "args": [prop, values]})
            index += 1
        elif op_kind == "op":
            clauses.append({"op": op, "args": [prop, literal(*tokens[index + 2])]})
            index += 3
        else:
            raise _bad(f"Unsupported CQL2 text filter: {text!r}")
        if index < len(tokens):
            if tokens[index][0] != "word" or tokens[index][1].upper() != "AND":
                raise _bad(f"Unsupported CQL2 text filter: {text!r}")
            index += 1
    if not clauses:
        raise _bad(f"Unsupported CQL2 text filter: {text!r}")
    return clauses[0] if len(clauses) == 1 else {"op": "and", "args": clauses}


def _value(arg: Any, item: dict[str, Any], owner: str, coll: str) -> Any:
    if isinstance(arg, dict) and "property" in arg:
        name = arg["property"]
        if name == "id":
            return item.get("id")
        if name == "collection":
            return f"{owner}_{coll}"
        return (item.get("properties") or {}).get(name)
    if isinstance(arg, dict) and ("timestamp" in arg or "date" in arg):
        return arg.get("timestamp", arg.get("date"))
    return arg


def _compare(op: str, left: Any, right: Any) -> bool:
    if op == "=":
        return bool(left == right)
    if op in ("<>", "!="):
        return bool(left != right)
    if left is None or right is None:
        return False
    try:
        if op == "<":
            return bool(left < right)
        if op == "<=":
            return bool(left <= right)
        if op == ">":
            return bool(left > right)
        if op == ">=":
            return bool(left >= right)
    except TypeError:
        return False
    raise _bad(f"Unsupported CQL2 operator: {op!r}")


def _evaluate(node: Any, item: dict[str, Any], owner: str, coll: str) -> bool:
    if not isinstance(node, dict) or "op" not in node:
        raise _bad(f"Unsupported CQL2 JSON filter: {node!r}")
    op = str(node["op"]).lower()
    args = node.get("args") or []
    if op == "and":
        return all(_evaluate(arg, item, owner, coll) for arg in args)
    if op == "or":
        return any(_evaluate(arg, item, owner, coll) for arg in args)
    if op == "not":
        return not _evaluate(args[0], item, owner, coll)
    if op == "isnull":
        return _value(args[0], item, owner, coll) is None
    if op == "in":
        return _value(args[0], item, owner, coll) in list(args[1])
    if len(args) != 2:
        raise _bad(f"Unsupported CQL2 JSON filter: {node!r}")
    return _compare(op, _value(args[0], item, owner, coll), _value(args[1], item, owner, coll))


def _item_links(href: str, root: str, item: dict[str, Any]) -> list[dict[str, Any]]:
    """A public item's links (``href``: its collection's)."""
    return [
        {"rel": "collection", "type": "application/json", "href": href},
        {"rel": "parent", "type": "application/json", "href": href},
        {"rel": "root", "type": "application/json", "href": f"{root}/"},
        {
            "rel": "self",
            "type": GEOJSON,
            "href": f"{href}/items/{quote(str(item['id']), safe='')}",
        },
    ]


def _template(item: dict[str, Any]) -> _Chunks | None:
    """``item`` serialised as :func:`~.messages.dumps` would, but for the values of its
    ``collection`` and ``links`` (holes, marked by strings no item holds: when one does, or a
    hole is missing, None)."""
    if not all(name in item for name in _HOLES):
        return None
    text = dumps({**item, **_MARKS})
    found = sorted((text.find(mark), name, mark) for name, mark in _MARK_BYTES.items())
    if any(text.count(mark) != 1 for mark in _MARK_BYTES.values()):
        return None
    chunks: _Chunks = []
    start = 0
    for position, name, mark in found:
        chunks += [text[start:position], name]
        start = position + len(mark)
    chunks.append(text[start:])
    return chunks


class Catalog:
    """The catalog's state and routes (see the module docstring for the behaviour)."""

    bulk_items: bool = True
    """Serve ``POST /collections/{owner}:{coll}/bulk_items`` (RS-Server 1.0's catalog, after
    stac-fastapi-pgstac: ``{"items": {id: item}, "method": "insert"|"upsert"}``, all or
    nothing); false: 404 as RS-Server 0.2."""

    def __init__(self, base_url: Callable[[], str]) -> None:
        self.base_url = base_url
        self._lock = threading.RLock()
        self._collections: dict[tuple[str, str], dict[str, Any]] = {}
        self._items: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
        self.selections: SelectionCache[_Match] = SelectionCache()
        """The sorted search selections kept per query, dropped on every write
        (``selections.size = 0``: select per page)."""
        self._templates: dict[tuple[str, str, str], tuple[dict[str, Any], _Chunks | None]] = {}

    def collection_count(self) -> int:
        """How many collections exist."""
        with self._lock:
            return len(self._collections)

    def clear(self) -> None:
        """Drop every collection and item."""
        with self._lock:
            self._collections.clear()
            self._items.clear()
            self._templates.clear()
            self.selections.changed()

    # -- links and public shapes ----------------------------------------------------------

    def _root(self) -> str:
        return f"{self.base_url()}/catalog"

    def _collection_href(self, owner: str, coll: str) -> str:
        return f"{self._root()}/collections/{quote(f'{owner}:{coll}', safe=':')}"

    def _public_collection(self, owner: str, coll: str, listed: bool) -> dict[str, Any]:
        stored = self._collections[(owner, coll)]
        result = copy.deepcopy(stored)
        result["id"] = f"{owner}_{coll}" if listed else coll
        result["owner"] = owner
        href = self._collection_href(owner, coll)
        kept = [
            link
            for link in stored.get("links") or []
            if isinstance(link, dict) and link.get("rel") not in ("self", "root", "parent", "items")
        ]
        result["links"] = [
            {"rel": "self", "type": "application/json", "href": href},
            {"rel": "parent", "type": "application/json", "href": f"{self._root()}/"},
            {"rel": "root", "type": "application/json", "href": f"{self._root()}/"},
            {"rel": "items", "type": GEOJSON, "href": f"{href}/items"},
            *kept,
        ]
        return result

    def _public_item(
        self, owner: str, coll: str, item: dict[str, Any], in_search: bool
    ) -> dict[str, Any]:
        result = dict(item)  # serialised at once: the nested values are shared, never changed
        result["collection"] = f"{owner}_{coll}" if in_search else coll
        result["links"] = _item_links(self._collection_href(owner, coll), self._root(), item)
        return result

    def _public_item_bytes(
        self, key: tuple[str, str], item: dict[str, Any], fills: _Fills
    ) -> bytes:
        """``dumps(self._public_item(...))`` from the item's serialised template (made on
        first use, again when the stored item is replaced); ``fills``: :meth:`_fills`."""
        item_key = (*key, str(item["id"]))
        kept = self._templates.get(item_key)
        if kept is None or kept[0] is not item:
            kept = self._templates[item_key] = (item, _template(item))
        chunks = kept[1]
        if chunks is None:
            return dumps(self._public_item(*key, item, fills[2]))
        links = fills[1] + quote(str(item["id"]), safe="").encode() + b'"}]'
        return b"".join(
            c if isinstance(c, bytes) else fills[0] if c == "collection" else links for c in chunks
        )

    def _fills(self, key: tuple[str, str], in_search: bool) -> _Fills:
        """What fills the holes of ``key``'s items: the ``collection`` value's JSON, the
        ``links`` JSON up to the item's quoted id in the last href, ``in_search``."""
        owner, coll = key
        href = self._collection_href(owner, coll)
        links = dumps(_item_links(href, self._root(), {"id": ""}))  # ends with '/items/"}]'
        collection = dumps(f"{owner}_{coll}" if in_search else coll)
        return collection, links[: -len(b'"}]')], in_search

    def _forget_templates(self, key: tuple[str, str], item_ids: Iterable[str]) -> None:
        for item_id in list(item_ids):
            self._templates.pop((*key, item_id), None)

    # -- routing --------------------------------------------------------------------------

    def handle(
        self, request: RecordedRequest, segments: list[str], principal: ApiKey | None
    ) -> Response:
        """Answer ``/catalog/<segments>`` (segments already percent-decoded once)."""
        while len(segments) > 1 and segments[-1] == "":
            segments = segments[:-1]
        try:
            with self._lock:
                return self._route(request, segments, principal)
        except _BadRequest as bad:
            return bad.response

    def _route(
        self, request: RecordedRequest, segs: list[str], principal: ApiKey | None
    ) -> Response:
        method = request.method
        allowed: tuple[str, ...]
        if segs in ([], [""]):
            allowed = ("GET",)
            if method == "GET":
                return self._landing(principal)
        elif segs == ["conformance"]:
            allowed = ("GET",)
            if method == "GET":
                return json_response(200, {"conformsTo": CONFORMANCE})
        elif segs == ["queryables"]:
            allowed = ("GET",)
            if method == "GET":
                return json_response(200, self._queryables(), "application/schema+json")
        elif segs == ["search"]:
            allowed = ("GET", "POST")
            if method in allowed:
                return self._search(request, principal)
        elif segs == ["collections"]:
            allowed = ("GET", "POST")
            if method == "GET":
                return self._list_collections(principal)
            if method == "POST":
                return self._create_collection(request, principal)
        elif segs[0] == "collections" and len(segs) == 3 and segs[2] == "bulk_items":
            allowed = ("POST",)
            if method == "POST" and self.bulk_items:
                return self._bulk_items(request, self._key(segs[1], principal), principal)
            if not self.bulk_items:
                return detail_response(404, "Not Found")
        elif segs[0] == "collections" and len(segs) in (2, 3, 4):
            if len(segs) >= 3 and segs[2] != "items":
                return detail_response(404, "Not Found")
            key = self._key(segs[1], principal)
            if len(segs) == 2:
                allowed = ("GET", "PUT", "DELETE")
                if method in allowed:
                    return self._collection(request, key, principal)
            elif len(segs) == 3:
                allowed = ("GET", "POST")
                if method in allowed:
                    return self._collection_items(request, key, principal)
            else:
                allowed = ("GET", "PUT", "DELETE")
                if method in allowed:
                    return self._item(request, key, segs[3], principal)
        else:
            return detail_response(404, "Not Found")
        return detail_response(405, "Method Not Allowed")

    @staticmethod
    def _key(public_id: str, principal: ApiKey | None) -> tuple[str, str]:
        if ":" in public_id:
            owner, coll = public_id.split(":", 1)
            return owner, coll
        if principal is not None:
            return principal.user_login, public_id
        return "", public_id

    @staticmethod
    def _denied(principal: ApiKey | None, key: tuple[str, str], access: str) -> Response | None:
        if principal is None or principal.can_access_collection(key[0], key[1], access):
            return None
        return detail_response(
            401,
            f"The user {principal.user_login!r} has no {access} access to the collection "
            f"'{key[0]}:{key[1]}'",
        )

    def _readable(self, principal: ApiKey | None) -> list[tuple[str, str]]:
        return [
            key
            for key in self._collections
            if principal is None or principal.can_access_collection(key[0], key[1], "read")
        ]

    # -- landing --------------------------------------------------------------------------

    def _landing(self, principal: ApiKey | None) -> Response:
        root = f"{self._root()}/"
        links: list[dict[str, Any]] = [
            {"rel": "self", "type": "application/json", "href": root},
            {"rel": "root", "type": "application/json", "href": root},
            {"rel": "data", "type": "application/json", "href": f"{self._root()}/collections"},
            {
                "rel": "conformance",
                "type": "application/json",
                "href": f"{self._root()}/conformance",
            },
            {"rel": "search", "type": GEOJSON, "method": "GET", "href": f"{self._root()}/search"},
            {"rel": "search", "type": GEOJSON, "method": "POST", "href": f"{self._root()}/search"},
            {
                "rel": "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                "type": "application/schema+json",
                "href": f"{self._root()}/queryables",
            },
        ]
        for owner, coll in self._readable(principal):
            links.append(
                {
                    "rel": "child",
                    "type": "application/json",
                    "title": f"{owner}:{coll}",
                    "href": self._collection_href(owner, coll),
                }
            )
        return json_response(
            200,
            {
                "type": "Catalog",
                "id": "rs-server-catalog",
                "title": "RS-Server catalog (simulator)",
                "description": "In-memory STAC catalog of the RS-Server simulator",
                "stac_version": "1.0.0",
                "conformsTo": CONFORMANCE,
                "links": links,
            },
        )

    def _queryables(self) -> dict[str, Any]:
        return {
            "$schema": "https://json-schema.org/draft/2019-09/schema",
            "$id": f"{self._root()}/queryables",
            "type": "object",
            "title": "Queryables for the RS-Server catalog simulator",
            "properties": {
                "id": {"title": "Item id", "type": "string"},
                "collection": {"title": "Collection id (owner_collection)", "type": "string"},
                "owner": {"title": "Owner of the item", "type": "string"},
                "datetime": {
                    "title": "Acquisition datetime",
                    "type": "string",
                    "format": "date-time",
                },
            },
            "additionalProperties": True,
        }

    # -- collections ----------------------------------------------------------------------

    def _list_collections(self, principal: ApiKey | None) -> Response:
        collections = [
            self._public_collection(o, c, listed=True) for o, c in self._readable(principal)
        ]
        links = [
            {"rel": "root", "type": "application/json", "href": f"{self._root()}/"},
            {"rel": "parent", "type": "application/json", "href": f"{self._root()}/"},
            {"rel": "self", "type": "application/json", "href": f"{self._root()}/collections"},
        ]
        return json_response(200, {"collections": collections, "links": links})

    @staticmethod
    def _body(request: RecordedRequest) -> Any:
        try:
            return request.json()
        except (ValueError, UnicodeDecodeError) as exc:
            raise _bad(
                [
                    {
                        "type": "json_invalid",
                        "loc": ["body"],
                        "msg": "JSON decode error",
                        "input": {},
                        "ctx": {"error": str(exc)},
                    }
                ]
            ) from exc

    def _create_collection(self, request: RecordedRequest, principal: ApiKey | None) -> Response:
        body = self._body(request)
        errors = _check_collection(body)
        if errors:
            return detail_response(400, errors)
        owner = body.get("owner")
        if not isinstance(owner, str) or not owner:
            if principal is None:
                return detail_response(400, [_error("missing", ["owner"], "Field required", body)])
            owner = principal.user_login
        key = (owner, str(body["id"]))
        denied = self._denied(principal, key, "write")
        if denied is not None:
            return denied
        if key in self._collections:
            return json_response(
                409,
                {
                    "code": "ConflictError",
                    "description": f"Collection {owner}_{key[1]} already exists",
                },
            )
        stored = copy.deepcopy(body)
        stored["owner"] = owner
        stored.setdefault("stac_version", "1.0.0")
        stored.setdefault("links", [])
        self._collections[key] = stored
        self._items[key] = {}
        self.selections.changed()
        return json_response(201, self._public_collection(owner, key[1], listed=False))

    def _collection(
        self, request: RecordedRequest, key: tuple[str, str], principal: ApiKey | None
    ) -> Response:
        access = "read" if request.method == "GET" else "write"
        denied = self._denied(principal, key, access)
        if denied is not None:
            return denied
        if key not in self._collections:
            return _not_found(f"Collection {key[0]}_{key[1]} does not exist.")
        owner, coll = key
        if request.method == "GET":
            return json_response(200, self._public_collection(owner, coll, listed=False))
        if request.method == "DELETE":
            del self._collections[key]
            self._forget_templates(key, self._items.pop(key, {}))
            self.selections.changed()
            return json_response(200, {"deleted collection": coll})
        body = self._body(request)
        errors = _check_collection(body)
        if errors:
            return detail_response(400, errors)
        if body["id"] not in (coll, f"{owner}_{coll}"):
            return detail_response(
                400, f"Collection id {body['id']!r} in the body does not match {coll!r}"
            )
        stored = copy.deepcopy(body)
        stored["id"] = coll
        stored["owner"] = owner
        stored.setdefault("stac_version", "1.0.0")
        stored.setdefault("links", [])
        self._collections[key] = stored
        self.selections.changed()
        return json_response(200, self._public_collection(owner, coll, listed=False))

    # -- items ----------------------------------------------------------------------------

    def _prepare_item(
        self,
        body: dict[str, Any],
        owner: str,
        coll: str,
        previous: dict[str, Any] | None,
    ) -> dict[str, Any]:
        stated = body.get("collection")
        if stated is not None and stated not in (coll, f"{owner}_{coll}"):
            raise _bad(f"Item collection {stated!r} does not match the collection {coll!r}")
        item_id = str(body["id"])
        assets: dict[str, Any] = {}
        for name, asset in body["assets"].items():
            if not isinstance(asset, dict):
                raise _bad(f"Asset {name!r} must be an object")
            href = asset.get("href")
            alternate = asset.get("alternate")
            if not (isinstance(href, str) and href.startswith("s3://")) and isinstance(
                alternate, dict
            ):
                href = (alternate.get("s3") or {}).get("href")
            match = _S3_HREF.match(href) if isinstance(href, str) else None
            if match is None:
                raise _bad(f"Asset {name!r}: href {href!r} is not an s3://<bucket>/<key> location")
            if match.group(2).rsplit("/", 1)[-1] != name:
                raise _bad(
                    f"Asset {name!r}: the file name of {href!r} must equal the asset key {name!r}"
                )
            rewritten = {k: v for k, v in asset.items() if k not in ("href", "alternate")}
            rewritten["href"] = (
                f"{self._root()}/{quote(owner)}/collections/{quote(coll)}/items/"
                f"{quote(item_id, safe='')}/download/{quote(name, safe='')}"
            )
            rewritten["alternate"] = {"s3": {"href": href}}
            assets[name] = rewritten
        now = datetime.now(UTC)
        item = copy.deepcopy(body)
        item["assets"] = assets
        item["collection"] = coll
        item.setdefault("stac_version", "1.0.0")
        item["links"] = []
        extensions = list(item.get("stac_extensions") or [])
        if ALTERNATE_EXTENSION not in extensions:
            extensions.append(ALTERNATE_EXTENSION)
        item["stac_extensions"] = extensions
        props = item["properties"]
        props["owner"] = owner
        if previous is None:
            props["published"] = _stamp(now)
            props["expires"] = _stamp(now + EXPIRATION)
        else:
            old = previous.get("properties") or {}
            props["published"] = old.get("published", _stamp(now))
            props["expires"] = old.get("expires", _stamp(now + EXPIRATION))
        props["updated"] = _stamp(now)
        return item

    def _collection_items(
        self, request: RecordedRequest, key: tuple[str, str], principal: ApiKey | None
    ) -> Response:
        owner, coll = key
        if request.method == "GET":
            denied = self._denied(principal, key, "read")
            if denied is not None:
                return denied
            if key not in self._collections:
                return _not_found(f"Collection {owner}_{coll} does not exist.")
            params = {name: values[-1] for name, values in request.query.items()}
            href = f"{self._collection_href(owner, coll)}/items"
            return self._page(
                params=params,
                keys=[key],
                in_search=False,
                self_href=href,
                extra_links=[
                    {
                        "rel": "collection",
                        "type": "application/json",
                        "href": self._collection_href(owner, coll),
                    },
                    {
                        "rel": "parent",
                        "type": "application/json",
                        "href": self._collection_href(owner, coll),
                    },
                ],
                post=False,
            )
        denied = self._denied(principal, key, "write")
        if denied is not None:
            return denied
        body = self._body(request)
        errors = _check_item(body)
        if errors:
            return detail_response(400, errors)
        if key not in self._collections:
            return _not_found(f"Collection {owner}_{coll} does not exist.")
        items = self._items[key]
        if body["id"] in items:
            return json_response(
                409,
                {
                    "code": "ConflictError",
                    "description": f"Item {body['id']} already exists in collection {owner}_{coll}",
                },
            )
        item = self._prepare_item(body, owner, coll, None)
        items[item["id"]] = item
        self.selections.changed()
        return json_response(201, self._public_item(owner, coll, item, in_search=False), GEOJSON)

    def _bulk_items(
        self, request: RecordedRequest, key: tuple[str, str], principal: ApiKey | None
    ) -> Response:
        """Insert (or upsert) many items in one transaction: every one stored, or none."""
        owner, coll = key
        denied = self._denied(principal, key, "write")
        if denied is not None:
            return denied
        body = self._body(request)
        if not isinstance(body, dict) or not isinstance(body.get("items"), dict):
            return detail_response(400, "bulk_items takes {'items': {id: item}, 'method': ...}")
        method = body.get("method", "insert")
        if method not in ("insert", "upsert"):
            return detail_response(400, f"unknown bulk method {method!r}")
        if key not in self._collections:
            return _not_found(f"Collection {owner}_{coll} does not exist.")
        items = self._items[key]
        prepared: dict[str, dict[str, Any]] = {}
        for item_id, item in body["items"].items():
            errors = _check_item(item)
            if errors:
                return detail_response(400, errors)
            if item["id"] != item_id:
                return detail_response(400, f"item id {item['id']!r} under key {item_id!r}")
            if method == "insert" and item_id in items:
                return json_response(
                    409,
                    {
                        "code": "ConflictError",
                        "description": f"Item {item_id} already exists in collection "
                        f"{owner}_{coll}",
                    },
                )
            prepared[item_id] = self._prepare_item(item, owner, coll, items.get(item_id))
        items.update(prepared)
        self.selections.changed()
        return json_response(200, f"Successfully added {len(prepared)} items.")

    def _item(
        self,
        request: RecordedRequest,
        key: tuple[str, str],
        item_id: str,
        principal: ApiKey | None,
    ) -> Response:
        owner, coll = key
        access = "read" if request.method == "GET" else "write"
        denied = self._denied(principal, key, access)
        if denied is not None:
            return denied
        if key not in self._collections:
            return _not_found(f"Collection {owner}_{coll} does not exist.")
        items = self._items[key]
        current = items.get(item_id)
        if current is None and request.method != "PUT":
            return _not_found(f"Item {item_id} in Collection {owner}_{coll} does not exist.")
        if request.method == "GET":
            assert current is not None
            return json_response(200, self._public_item(owner, coll, current, False), GEOJSON)
        if request.method == "DELETE":
            del items[item_id]
            self._forget_templates(key, [item_id])
            self.selections.changed()
            return json_response(200, {"deleted item": item_id})
        body = self._body(request)
        errors = _check_item(body)
        if errors:
            return detail_response(400, errors)
        if current is None:
            return _not_found(f"Item {item_id} in Collection {owner}_{coll} does not exist.")
        if body["id"] != item_id:
            return detail_response(
                400, f"Item id {body['id']!r} in the body does not match {item_id!r}"
            )
        item = self._prepare_item(body, owner, coll, current)
        items[item_id] = item
        self.selections.changed()
        return json_response(200, self._public_item(owner, coll, item, False), GEOJSON)

    # -- search and paging ----------------------------------------------------------------

    def _resolve(self, names: list[str], principal: ApiKey | None) -> list[tuple[str, str]]:
        candidates: list[tuple[str, str]] = []
        for name in names:
            if ":" in name:
                candidates.append(self._key(name, principal))
                continue
            found = [k for k in self._collections if f"{k[0]}_{k[1]}" == name]
            if not found and principal is not None:
                found = [(principal.user_login, name)]
            candidates.extend(found)
        keys: list[tuple[str, str]] = []
        for key in candidates:
            denied = self._denied(principal, key, "read")
            if denied is not None:
                raise _BadRequest(denied)
            if key in self._collections and key not in keys:
                keys.append(key)
        return keys

    def _search(self, request: RecordedRequest, principal: ApiKey | None) -> Response:
        post = request.method == "POST"
        params: dict[str, Any]
        if post:
            body = self._body(request) if request.body.strip() else {}
            if not isinstance(body, dict):
                raise _bad("The search body must be a JSON object")
            params = dict(body)
        else:
            params = {name: values[-1] for name, values in request.query.items()}
        names = params.get("collections")
        if isinstance(names, str):
            names = [n.strip() for n in names.split(",") if n.strip()]
        keys = self._resolve(list(names), principal) if names else self._readable(principal)
        ids = params.get("ids")
        if isinstance(ids, str):
            params["ids"] = [i.strip() for i in ids.split(",") if i.strip()]
        return self._page(
            params=params,
            keys=keys,
            in_search=True,
            self_href=f"{self._root()}/search",
            extra_links=[],
            post=post,
        )

    def _page(
        self,
        *,
        params: dict[str, Any],
        keys: list[tuple[str, str]],
        in_search: bool,
        self_href: str,
        extra_links: list[dict[str, Any]],
        post: bool,
    ) -> Response:
        try:
            limit = int(params.get("limit", DEFAULT_LIMIT))
        except (TypeError, ValueError) as exc:
            raise _bad(f"Invalid limit: {params.get('limit')!r}") from exc
        if limit < 1:
            raise _bad("limit must be at least 1")
        limit = min(limit, MAX_LIMIT)
        token = params.get("token")
        offset = 0
        if token:
            match = re.fullmatch(r"next:(\d+)", str(token))
            if match is None:
                raise _bad(f"Invalid token: {token!r}")
            offset = int(match.group(1))
        interval = _parse_datetime_filter(params["datetime"]) if params.get("datetime") else None
        bbox = _parse_bbox(params["bbox"]) if params.get("bbox") else None
        ids = params.get("ids")
        id_set = set(ids) if ids else None
        cql = params.get("filter")
        if isinstance(cql, str) and cql.strip():
            lang = params.get("filter-lang") or params.get("filter_lang") or "cql2-text"
            cql = _text_to_json(cql) if lang == "cql2-text" else _parse_json_text(cql)
        elif not cql:
            cql = None
        try:  # the query, as the selection reads it (the page position and limit are not in it)
            cql_key = None if cql is None else json.dumps(cql, sort_keys=True)
        except (TypeError, ValueError):
            cql_key = repr(cql)
        query_key = (
            tuple(keys),
            interval,
            bbox,
            None if id_set is None else frozenset(id_set),
            cql_key,
        )
        matched = self.selections.get(
            query_key, lambda: self._select(keys, interval, bbox, id_set, cql)
        )
        page = matched[offset : offset + limit]
        fills = {key: self._fills(key, in_search) for key in {(o, c) for _t, _i, o, c, _ in page}}
        features = [self._public_item_bytes((o, c), it, fills[o, c]) for _t, _i, o, c, it in page]
        links: list[dict[str, Any]] = [
            {"rel": "root", "type": "application/json", "href": f"{self._root()}/"},
            *extra_links,
        ]
        query = {k: v for k, v in params.items() if k != "token"}
        if post:
            links.append({"rel": "self", "type": GEOJSON, "href": self_href})
        else:
            suffix = f"?{urlencode(query)}" if query else ""
            links.append({"rel": "self", "type": GEOJSON, "href": f"{self_href}{suffix}"})
        if offset + limit < len(matched):
            next_token = f"next:{offset + limit}"
            if post:
                links.append(
                    {
                        "rel": "next",
                        "type": GEOJSON,
                        "method": "POST",
                        "href": self_href,
                        "body": {**query, "token": next_token},
                        "merge": False,
                    }
                )
            else:
                links.append(
                    {
                        "rel": "next",
                        "type": GEOJSON,
                        "method": "GET",
                        "href": f"{self_href}?{urlencode({**query, 'token': next_token})}",
                    }
                )
        rest = dumps(  # = dumps of the whole answer, its features serialised item by item
            {
                "links": links,
                "numberMatched": len(matched),
                "numberReturned": len(features),
                "context": {"limit": limit, "returned": len(features), "matched": len(matched)},
            }
        )
        body = b'{"type":"FeatureCollection","features":[' + b",".join(features) + b"]," + rest[1:]
        return Response(200, body, GEOJSON)

    def _select(
        self,
        keys: list[tuple[str, str]],
        interval: tuple[float | None, float | None] | None,
        bbox: tuple[float, float, float, float] | None,
        id_set: set[str] | None,
        cql: Any,
    ) -> list[_Match]:
        """Every item of ``keys`` matching, sorted like pgstac (datetime, then id, descending)."""
        matched: list[_Match] = []
        for owner, coll in keys:
            for item in self._items.get((owner, coll), {}).values():
                if id_set is not None and item["id"] not in id_set:
                    continue
                if interval is not None:
                    span = _item_interval(item)
                    low, high = interval
                    if (
                        span is None
                        or (low is not None and span[1] < low)
                        or (high is not None and span[0] > high)
                    ):
                        continue
                if bbox is not None:
                    extent = _item_bbox(item)
                    if extent is None or not (
                        extent[0] <= bbox[2]
                        and extent[2] >= bbox[0]
                        and extent[1] <= bbox[3]
                        and extent[3] >= bbox[1]
                    ):
                        continue
                if cql is not None and not _evaluate(cql, item, owner, coll):
                    continue
                span = _item_interval(item)
                matched.append((span[0] if span else float("-inf"), item["id"], owner, coll, item))
        matched.sort(key=lambda entry: (entry[0], entry[1]), reverse=True)
        return matched


def _parse_json_text(text: str) -> Any:
    try:
        return json.loads(unquote(text))
    except ValueError as exc:
        raise _bad(f"Invalid cql2-json filter: {text!r}") from exc
