"""STAC station services (RS-Server 0.2 and 1.0): the :class:`StacService` building block.

A plugin's fake serves each of its STAC services (``/auxip``, ``/cadip``, ``/prip``...) as a
:class:`StacService` over a list of :class:`V2Item` (the items as the real server maps them)
and its :class:`StacCollection` list; :class:`V2Stations` routes ``/<service>/...`` to them.

What a service serves: the landing page, ``/conformance``, ``/queryables``, ``/collections``,
``/collections/{id}`` (404 ``{"code": "NotFound", "description": "Unknown <SERVICE>
collection: 'x'"}`` for an unknown one), ``/collections/{id}/queryables`` (the service's
queryables, or ``{}`` when ``collection_queryables`` is false, a recorded 0.2 quirk),
``/collections/{id}/items[/{item}]`` and ``GET|POST /search``.

Searches: ``datetime`` filters the publication date (both bounds inclusive, open ``..``
bounds allowed); ``collections`` (a comma list on GET, a JSON list on POST) selects the
collections, and an item is served in the first of them holding it; a collection the
service does not have gives **200 with no features** (RS-Server 1.0; ``/collections/x`` stays
404); without ``collections`` the ``default_collections`` are searched (all when None).
``ids``, ``bbox`` (``minx,miny,maxx,maxy``; items without a geometry never match) and
``intersects`` (a GeoJSON geometry, compared by bounding boxes: a documented simplification)
narrow it; ``filter`` supports what :mod:`.cql2` supports (cql2-text on GET, cql2-json on
POST; else 422). ``sortby`` (``+f``/``-f``, or the POST list form) sorts on a property;
``default_sort`` when absent; a field outside ``sortable`` (when given) is refused with 404
"not sortable", as RS-Server 1.0 does. Paging: ``limit`` (default 10), pages by ``page`` or
``token=next:page=N`` / ``prev:page=N`` (the token wins); a ``next`` link when the page is
full, ``previous`` from page 2, their query the request's own (decoded, ``token`` removed)
plus the new token (a recorded 0.2 quirk: a ``page=2`` request's link keeps ``page=2``); POST
links carry the body.

Performance: each item is serialised once, with ``{{sim}}`` / ``{{coll}}`` placeholders for
the simulator URL and the collection id; a query's sorted selection is kept
(:class:`~.selections.SelectionCache`, a few queries, dropped by :meth:`StacService.add_items`),
so a page is a slice of it, a join and two ``bytes.replace`` per item: paging through N items
is O(N).

Example:
    >>> item = V2Item("a", stac_item("things", "a", {"created": "2024-01-01T00:00:00Z",
    ...     "published": "2024-01-01T00:00:00Z"}, {}), 0, 1704067200.0)
    >>> service = StacService("things", [item], [StacCollection("things", "all", "all")],
    ...                       base_url=lambda: "http://127.0.0.1:1")
    >>> [c["id"] for c in service.collections()]
    ['all']
"""

from __future__ import annotations

import bisect
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from .auth import ApiKey
from .cql2 import Cql2Error, Node, matches
from .cql2 import parse as parse_cql2
from .dataset import parse_odata_date
from .fakes import check_dataset
from .messages import RecordedRequest, Response, dumps, json_response, validation_error
from .selections import SelectionCache

__all__ = [
    "COLL",
    "SIM",
    "StacCollection",
    "StacService",
    "V2Item",
    "V2Stations",
    "code_response",
    "item_links",
    "published_epoch",
    "stac_item",
]

SIM = "{{sim}}"
COLL = "{{coll}}"
GEOJSON = "application/geo+json"
SCHEMA_JSON = "application/schema+json"
DEFAULT_LIMIT = 10
FILE_EXTENSION = "https://stac-extensions.github.io/file/v2.1.0/schema.json"
TIMESTAMPS_EXTENSION = "https://stac-extensions.github.io/timestamps/v1.1.0/schema.json"
CONFORMANCE = [
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "https://api.stacspec.org/v1.0.0-rc.2/item-search#filter",
    "https://api.stacspec.org/v1.0.0/collections",
    "https://api.stacspec.org/v1.0.0/core",
    "https://api.stacspec.org/v1.0.0/item-search",
    "https://api.stacspec.org/v1.0.0/item-search#fields",
    "https://api.stacspec.org/v1.0.0/item-search#query",
    "https://api.stacspec.org/v1.0.0/item-search#sort",
    "https://api.stacspec.org/v1.0.0/ogcapi-features",
]
_EXTENT = {
    "spatial": {"bbox": [[-180, -82.85, 180, 82.82]]},
    "temporal": {"interval": [["2024-06-12T02:57:21.459000Z", "2024-08-22T11:30:12.767000Z"]]},
}
_PROVIDERS = [
    {
        "name": "European Union/ESA/Copernicus",
        "roles": ["producer", "licensor"],
        "url": "https://sentiwiki.copernicus.eu/web/s1-mission",
    },
    {"name": "Reference System", "roles": ["host"], "url": "https://home.rs-python.eu/"},
]
_LICENSE_LINK = {
    "href": "https://sentinels.copernicus.eu/documents/247904/690755/Sentinel_Data_Legal_Notice",
    "rel": "license",
    "type": "application/pdf",
    "title": "Legal notice on the use of Copernicus Sentinel Data and Service Information",
}
_QUERYABLES_RELATION = "http://www.opengis.net/def/rel/ogc/1.0/queryables"
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
_DATE_FIELDS = frozenset(
    ("created", "published", "datetime", "start_datetime", "end_datetime", "processing:datetime")
)


def published_epoch(value: Any) -> float:
    if not isinstance(value, str) or not value:
        return -math.inf
    try:
        return parse_odata_date(value).timestamp()
    except ValueError:
        return -math.inf


class V2Item:
    """One v2 STAC item and its serialised template (``tags``: what collections match on).

    ``template`` is the feature's JSON with ``{{sim}}`` and ``{{coll}}`` placeholders;
    ``values`` are the queryables a filter sees (the properties plus ``id`` and ``Name``).
    """

    __slots__ = (
        "_sort_cache",
        "feature",
        "item_id",
        "order",
        "published",
        "tags",
        "template",
        "values",
    )

    def __init__(self, item_id: str, feature: dict[str, Any], order: int, published: float) -> None:
        self.item_id = item_id
        self.feature = feature
        self.order = order
        self.published = published
        self.template = _ENCODER.encode(feature).encode("utf-8")
        self.values: dict[str, Any] = {"id": item_id, **feature["properties"]}
        self.tags: dict[str, Any] = {}
        self._sort_cache: dict[str, Any] = {}

    def sort_value(self, field: str) -> Any:
        """The value ``sortby=field`` orders on."""
        if field in ("created", "published"):
            return self.published
        if field == "id":
            return self.item_id
        cached = self._sort_cache.get(field)
        if cached is None:
            value = self.values.get(field)
            cached = (
                published_epoch(value) if field in _DATE_FIELDS else (str(value) if value else "")
            )
            self._sort_cache[field] = cached
        return cached

    def render(self, base: str, collection: str) -> dict[str, Any]:
        """The item as a dict, with real URLs and ``collection``."""
        text = self.template.replace(b"{{sim}}", base.encode()).replace(
            b"{{coll}}", collection.encode()
        )
        result: dict[str, Any] = json.loads(text)
        return result


def _item_links(service: str, item_id: str) -> list[dict[str, Any]]:
    coll = f"{SIM}/{service}/collections/{COLL}"
    return [
        {"rel": "collection", "type": "application/json", "href": coll},
        {"rel": "parent", "type": "application/json", "href": coll},
        {"rel": "root", "type": "application/json", "href": f"{SIM}/{service}/"},
        {"rel": "self", "type": GEOJSON, "href": f"{coll}/items/{item_id}"},
    ]


def item_links(service: str, item_id: str) -> list[dict[str, Any]]:
    """An item's links as RS-Server writes them (with the ``{{sim}}``/``{{coll}}`` holes)."""
    coll = f"{SIM}/{service}/collections/{COLL}"
    return [
        {"rel": "collection", "type": "application/json", "href": coll},
        {"rel": "parent", "type": "application/json", "href": coll},
        {"rel": "root", "type": "application/json", "href": f"{SIM}/{service}/"},
        {"rel": "self", "type": GEOJSON, "href": f"{coll}/items/{item_id}"},
    ]


def stac_item(
    service: str,
    item_id: str,
    properties: Mapping[str, Any],
    assets: Mapping[str, Any],
    *,
    geometry: Mapping[str, Any] | None = None,
    extensions: Sequence[str] = (FILE_EXTENSION, TIMESTAMPS_EXTENSION),
) -> dict[str, Any]:
    """A STAC item dict of ``service`` in RS-Server's key order, with the ``{{sim}}`` (the
    simulator URL, e.g. in asset hrefs) and ``{{coll}}`` (the collection served) holes."""
    feature: dict[str, Any] = {
        "type": "Feature",
        "geometry": dict(geometry) if geometry is not None else None,
        "properties": dict(properties),
        "id": item_id,
        "stac_version": "1.0.0",
        "assets": dict(assets),
        "links": item_links(service, item_id),
        "stac_extensions": list(extensions),
        "collection": COLL,
    }
    if geometry is not None:
        feature["bbox"] = list(_bbox_of(geometry) or ())
    return feature


def _positions(value: Any) -> Iterable[tuple[float, float]]:
    if (
        isinstance(value, (list, tuple))
        and len(value) >= 2
        and all(isinstance(v, (int, float)) for v in value[:2])
    ):
        yield float(value[0]), float(value[1])
    elif isinstance(value, (list, tuple)):
        for part in value:
            yield from _positions(part)


def _bbox_of(geometry: Any) -> tuple[float, float, float, float] | None:
    if not isinstance(geometry, Mapping):
        return None
    points = list(_positions(geometry.get("coordinates")))
    if not points:
        return None
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return min(xs), min(ys), max(xs), max(ys)


def _overlaps(a: Sequence[float], b: Sequence[float]) -> bool:
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]


class StacCollection:
    """One collection of a :class:`StacService`.

    ``station`` is the station it reads (roles are per station); ``query`` is shown as the
    collection's ``query`` (RS-Server's search config); ``member(item)`` says whether an item
    belongs to it (None: every item).
    """

    __slots__ = ("description", "id", "member", "query", "service", "station")

    def __init__(
        self,
        service: str,
        coll_id: str,
        station: str,
        query: Mapping[str, Any] | None = None,
        description: str = "",
        *,
        member: Callable[[V2Item], bool] | None = None,
    ) -> None:
        self.service = service
        self.id = coll_id
        self.station = station
        self.query = dict(query) if query is not None else None
        self.description = description or f"All from {station!r} station"
        self.member = member

    def accepts(self, item: V2Item) -> bool:
        """Whether ``item`` belongs to this collection."""
        return self.member is None or self.member(item)

    def to_json(self, base: str, described_by: tuple[str, str] | None = None) -> dict[str, Any]:
        """The collection as served (hrefs under ``base``)."""
        root = f"{base}/{self.service}"
        href = f"{root}/collections/{self.id}"
        links: list[dict[str, Any]] = [
            {"rel": "items", "type": GEOJSON, "href": f"{href}/items"},
            {"rel": "parent", "type": "application/json", "href": f"{root}/"},
            {"rel": "root", "type": "application/json", "href": f"{root}/"},
            {"rel": "self", "type": "application/json", "href": href},
            dict(_LICENSE_LINK),
        ]
        if described_by is not None:
            links.append(
                {"href": described_by[0], "rel": "describedby", "type": "text/html",
                 "title": described_by[1]}
            )  # fmt: skip
        links.append(
            {"rel": _QUERYABLES_RELATION, "type": SCHEMA_JSON, "title": "Queryables",
             "href": f"{href}/queryables"}
        )  # fmt: skip
        return {
            "id": self.id,
            "description": self.description,
            "stac_version": "1.0.0",
            "links": links,
            "stac_extensions": [],
            "title": self.description,
            "type": "Collection",
            "license": "other",
            "extent": json.loads(json.dumps(_EXTENT)),
            "providers": json.loads(json.dumps(_PROVIDERS)),
            "station": self.station,
            "query": dict(self.query) if self.query is not None else None,
        }


class _Index:
    """Items sorted by publication date for bisect, plus an id lookup."""

    def __init__(self, items: list[V2Item]) -> None:
        self.items = sorted(items, key=lambda item: (item.published, item.order))
        self.keys = [item.published for item in self.items]
        self.by_id: dict[str, V2Item] = {}
        for item in self.items:  # ascending: the latest publication wins a shared id
            self.by_id[item.item_id] = item

    def between(self, start: float, stop: float) -> list[V2Item]:
        low = bisect.bisect_left(self.keys, start)
        high = bisect.bisect_right(self.keys, stop)
        return self.items[low:high]


class _Problem(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


def code_response(status: int, code: str, description: str) -> Response:
    """stac-fastapi's error shape ``{"code": ..., "description": ...}``."""
    return json_response(status, {"code": code, "description": description})


def _parse_datetime(text: str) -> tuple[float, float]:
    parts = text.split("/")
    if len(parts) > 2 or not text:
        raise _Problem(code_response(400, "BadRequest", f"Invalid datetime: {text!r}"))
    bounds: list[float] = []
    for index, part in enumerate(parts):
        if part in ("..", "") and len(parts) == 2:
            bounds.append(-math.inf if index == 0 else math.inf)
            continue
        try:
            bounds.append(parse_odata_date(part.replace("Z", "+00:00")).timestamp())
        except ValueError as exc:
            raise _Problem(code_response(400, "BadRequest", f"Invalid datetime: {text!r}")) from exc
    if len(bounds) == 1:
        return bounds[0], bounds[0]
    return bounds[0], bounds[1]


def _page_of(token: str | None, page: Any) -> int:
    if token:
        _kind, _, rest = token.partition(":")
        _name, _, number = rest.partition("=")
        try:
            return max(1, int(number))
        except ValueError as exc:
            raise _Problem(code_response(400, "BadRequest", f"Invalid token: {token!r}")) from exc
    if page in (None, ""):
        return 1
    try:
        return max(1, int(str(page)))
    except ValueError as exc:
        raise _Problem(code_response(400, "BadRequest", f"Invalid page: {page!r}")) from exc


def _limit_of(raw: Any, where: list[str]) -> int:
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    try:
        value = int(str(raw).strip())
    except ValueError as exc:
        raise _Problem(
            validation_error(
                [
                    {
                        "type": "int_parsing",
                        "loc": [*where, "limit"],
                        "msg": "Input should be a valid integer, unable to parse string as an "
                        "integer",
                        "input": raw,
                    }
                ]
            )
        ) from exc
    if value < 1:
        raise _Problem(
            validation_error(
                [
                    {
                        "type": "greater_than",
                        "loc": [*where, "limit"],
                        "msg": "Input should be greater than 0",
                        "input": raw,
                        "ctx": {"gt": 0},
                    }
                ]
            )
        )
    return value


def _filter_of(value: Any, lang: Any) -> Node | None:
    if value in (None, ""):
        return None
    try:
        return parse_cql2(value, str(lang) if lang else None)
    except Cql2Error as exc:
        raise _Problem(json_response(422, {"detail": str(exc)})) from exc


def _split(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value if str(v)]
    if not value:
        return []
    return [part.strip() for part in str(value).split(",") if part.strip()]


def _raw_pairs(raw_query: str) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for part in raw_query.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        pairs.append((unquote(name), unquote(value)))
    return pairs


def _default_role(station: str, access: str) -> str:
    return f"rs_{station}_{access}"


class StacService:
    """One STAC station service (``/<service>``) over its items and collections.

    ``role(station, access)`` names the role a key needs to ``read`` a collection of
    ``station`` (default ``rs_<station>_<access>``) and ``role_label(station)`` how the 401
    names the station; ``item_label`` how a missing item is named in its 404 (default
    ``<SERVICE> item``). ``described_by`` is the collections' ``describedby`` link
    (href, title). The items are checked against the kit's rules when ``check`` is true
    (:func:`~.fakes.check_dataset`).
    """

    def __init__(
        self,
        service: str,
        items: Sequence[V2Item],
        collections: Sequence[StacCollection],
        *,
        base_url: Callable[[], str],
        queryables: Mapping[str, Any] | None = None,
        collection_queryables: bool = True,
        role: Callable[[str, str], str] = _default_role,
        role_label: Callable[[str], str] = str,
        item_label: str | None = None,
        default_sort: str = "-created",
        sortable: Iterable[str] | None = None,
        default_collections: Sequence[str] | None = None,
        described_by: tuple[str, str] | None = None,
        check: bool = False,
    ) -> None:
        if check:
            check_dataset((item.feature for item in items), service)
        self.service = service
        self.base_url = base_url
        self._collections = list(collections)
        self._by_id = {c.id: c for c in self._collections}
        self._index = _Index(list(items))
        self.selections: SelectionCache[tuple[V2Item, StacCollection]] = SelectionCache()
        """The sorted selections kept per query (``selections.size = 0``: select per page)."""
        self._queryables = dict(queryables or {})
        self._collection_queryables = collection_queryables
        self._role = role
        self._role_label = role_label
        self._item_label = item_label or f"{service.upper()} item"
        self._default_sort = default_sort
        self._sortable = frozenset(sortable) if sortable is not None else None
        self._default_collections = default_collections
        self._described_by = described_by

    # -- public helpers (staging, tests) --------------------------------------------------

    def collections(self) -> list[dict[str, Any]]:
        """The collections as served."""
        base = self.base_url()
        return [c.to_json(base, self._described_by) for c in self._collections]

    def collection_station(self, coll_id: str) -> str | None:
        """The ``station`` of a collection, or None if unknown."""
        found = self._by_id.get(coll_id)
        return found.station if found is not None else None

    def find(self, item_id: str) -> V2Item | None:
        """The item ``item_id``, or None."""
        return self._index.by_id.get(item_id)

    def add_items(self, items: Iterable[V2Item]) -> None:
        """Serve ``items`` too, from the next request on: products arriving at the station
        (for a test of a client that polls for new data). Give them new ids and ``order``
        values after the served ones (the station order ``sortby`` ties fall back on)."""
        self._index = _Index([*self._index.items, *items])
        self.selections.changed()

    # -- routing --------------------------------------------------------------------------

    def handle(
        self, request: RecordedRequest, rest: list[str], principal: ApiKey | None
    ) -> Response:
        """Answer ``/<service>/<rest...>``."""
        while rest and rest[-1] == "":
            rest = rest[:-1]
        try:
            return self._route(request, rest, principal)
        except _Problem as problem:
            return problem.response

    def _route(
        self, request: RecordedRequest, rest: list[str], principal: ApiKey | None
    ) -> Response:
        method = request.method
        service = self.service
        if rest == ["search"]:
            if method not in ("GET", "POST"):
                return json_response(405, {"detail": "Method Not Allowed"})
            return self._search(request, principal)
        if method not in ("GET", "HEAD"):
            return json_response(405, {"detail": "Method Not Allowed"})
        base = self.base_url()
        if not rest:
            return json_response(200, self._landing(base))
        if rest == ["conformance"]:
            return json_response(200, {"conformsTo": list(CONFORMANCE)})
        if rest == ["queryables"]:
            return self._queryables_response(f"{base}/{service}/queryables", True)
        if rest == ["collections"]:
            colls = [c for c in self._collections if self._allowed(c, principal)]
            body = {
                "collections": [c.to_json(base, self._described_by) for c in colls],
                "links": [
                    {"rel": "root", "type": "application/json", "href": f"{base}/{service}/"},
                    {
                        "rel": "self",
                        "type": "application/json",
                        "href": f"{base}/{service}/collections",
                    },
                ],
                "numberMatched": len(colls),
                "numberReturned": len(colls),
            }
            return json_response(200, body)
        if len(rest) >= 2 and rest[0] == "collections":
            coll = self._known_collection(rest[1], principal)
            tail = rest[2:]
            if not tail:
                return json_response(200, coll.to_json(base, self._described_by))
            if tail == ["queryables"]:
                href = f"{base}/{service}/collections/{coll.id}/queryables"
                return self._queryables_response(href, self._collection_queryables)
            if tail == ["items"]:
                return self._items(request, coll)
            if len(tail) == 2 and tail[0] == "items":
                return self._item(coll, tail[1])
        return json_response(404, {"detail": "Not Found"})

    def _landing(self, base: str) -> dict[str, Any]:
        root = f"{base}/{self.service}"
        title = self.service.capitalize()
        return {
            "type": "Catalog",
            "id": "stac-fastapi",
            "title": f"RS-PYTHON {title} collections",
            "description": f"{title} collections of Copernicus Reference System Python",
            "stac_version": "1.0.0",
            "conformsTo": list(CONFORMANCE),
            "links": [
                {"rel": "self", "type": "application/json", "title": "This document",
                 "href": f"{root}/"},
                {"rel": "root", "type": "application/json", "title": "Root", "href": f"{root}/"},
                {"rel": "data", "type": "application/json",
                 "title": "Collections available for this Catalog", "href": f"{root}/collections"},
                {"rel": "conformance", "type": "application/json",
                 "title": "STAC/OGC conformance classes implemented by this server",
                 "href": f"{root}/conformance"},
                {"rel": "search", "type": GEOJSON, "title": "STAC search [GET]",
                 "href": f"{root}/search", "method": "GET"},
                {"rel": "search", "type": GEOJSON, "title": "STAC search [POST]",
                 "href": f"{root}/search", "method": "POST"},
                {"rel": _QUERYABLES_RELATION, "type": SCHEMA_JSON,
                 "title": "Queryables available for this Catalog",
                 "href": f"{root}/queryables", "method": "GET"},
                {"rel": "service-desc", "type": "application/vnd.oai.openapi+json;version=3.0",
                 "title": "OpenAPI service description", "href": f"{base}/openapi.json"},
                {"rel": "service-doc", "type": "text/html",
                 "title": "OpenAPI service documentation", "href": f"{base}/docs"},
            ],
            "stac_extensions": [],
        }  # fmt: skip

    def _queryables_response(self, href: str, full: bool) -> Response:
        body = {
            "$id": href,
            "type": "object",
            "title": "STAC Queryables.",
            "$schema": "http://json-schema.org/draft-07/schema#",
            "properties": self._queryables if full else {},
        }
        return json_response(200, body, SCHEMA_JSON)

    # -- access ---------------------------------------------------------------------------

    def _allowed(self, coll: StacCollection, principal: ApiKey | None) -> bool:
        return principal is None or principal.has_station_role(self._role(coll.station, "read"))

    def _collection(
        self, coll_id: str, principal: ApiKey | None, searching: bool = False
    ) -> StacCollection | None:
        coll = self._by_id.get(coll_id)
        if coll is None:
            if searching:
                return None
            raise _Problem(
                code_response(
                    404, "NotFound", f"Unknown {self.service.upper()} collection: {coll_id!r}"
                )
            )
        if not self._allowed(coll, principal):
            raise _Problem(
                json_response(
                    401,
                    {
                        "detail": "Authorization key does not include the right role to read "
                        f"from the {self._role_label(coll.station)!r} station"
                    },
                )
            )
        return coll

    def _known_collection(self, coll_id: str, principal: ApiKey | None) -> StacCollection:
        coll = self._collection(coll_id, principal)
        assert coll is not None  # not searching: an unknown collection raised a 404
        return coll

    # -- searching ------------------------------------------------------------------------

    def select(
        self,
        *,
        colls: Sequence[StacCollection],
        interval: tuple[float, float] | None,
        node: Node | None,
        ids: Sequence[str],
        sortby: str,
        bbox: Sequence[float] | None = None,
    ) -> Sequence[tuple[V2Item, StacCollection]]:
        """Every matching item (with the first of ``colls`` holding it), sorted.

        Kept per query in :attr:`selections` (the page position and limit are not part of
        the query): paging through N items selects once, not once per page. Read-only: slice
        it.
        """
        field, descending = _sort_spec(sortby)
        if self._sortable is not None and field not in self._sortable:
            raise _Problem(code_response(404, "NotFound", f"Field {field!r} is not sortable"))
        key = (
            tuple(c.id for c in colls),
            interval,
            None if node is None else repr(node),
            tuple(ids),
            (field, descending),
            None if bbox is None else tuple(bbox),
        )

        def compute() -> list[tuple[V2Item, StacCollection]]:
            found = self._matching(colls, interval, node, ids, bbox)
            if field in ("created", "published") and not ids:
                if descending:
                    found.reverse()
                return found
            found.sort(key=lambda pair: pair[0].order)
            found.sort(key=lambda pair: pair[0].sort_value(field), reverse=descending)
            return found

        return self.selections.get(key, compute)

    def _matching(
        self,
        colls: Sequence[StacCollection],
        interval: tuple[float, float] | None,
        node: Node | None,
        ids: Sequence[str],
        bbox: Sequence[float] | None,
    ) -> list[tuple[V2Item, StacCollection]]:
        """The items matching (with the first of ``colls`` holding each): in publication
        order, or for ``ids``, in their order."""
        index = self._index
        if ids:
            candidates = [index.by_id[i] for i in dict.fromkeys(ids) if i in index.by_id]
            if interval is not None:
                candidates = [c for c in candidates if interval[0] <= c.published <= interval[1]]
        elif interval is not None:
            candidates = index.between(*interval)
        else:
            candidates = index.items
        found: list[tuple[V2Item, StacCollection]] = []
        first = colls[0] if colls and colls[0].member is None else None  # holds every item
        for item in candidates:
            holder = first or next((c for c in colls if c.accepts(item)), None)
            if holder is None or (node is not None and not matches(node, item.values)):
                continue
            if bbox is not None:
                own = _bbox_of(item.feature.get("geometry"))
                if own is None or not _overlaps(own, bbox):
                    continue
            found.append((item, holder))
        return found

    def _items(self, request: RecordedRequest, coll: StacCollection) -> Response:
        limit = _limit_of(request.param("limit"), ["query"])
        node = _filter_of(request.param("filter"), request.param("filter-lang"))
        raw_dt = request.param("datetime")
        interval = _parse_datetime(raw_dt) if raw_dt else None
        page = _page_of(request.param("token"), request.param("page"))
        bbox = _bbox_param(request.param("bbox"))
        selected = self.select(
            colls=[coll],
            interval=interval,
            node=node,
            ids=[],
            sortby=request.param("sortby") or self._default_sort,
            bbox=bbox,
        )
        chunk = selected[(page - 1) * limit : page * limit]
        base = self.base_url()
        href = f"{base}/{self.service}/collections/{coll.id}"
        links: list[dict[str, Any]] = [
            {"rel": "collection", "type": "application/json", "href": href},
            {"rel": "parent", "type": "application/json", "href": href},
            {"rel": "root", "type": "application/json", "href": f"{base}/{self.service}/"},
            {"rel": "self", "type": GEOJSON, "href": f"{href}/items"},
        ]
        links += _paging_links(f"{href}/items", request.raw_query, page, len(chunk) == limit)
        return Response(200, _collection_bytes(chunk, base, links), GEOJSON)

    def _item(self, coll: StacCollection, item_id: str) -> Response:
        item = self._index.by_id.get(item_id)
        if item is None:
            return code_response(404, "NotFound", f"{self._item_label} {item_id!r} not found.")
        body = _render(item, self.base_url(), coll.id)
        return Response(200, body, GEOJSON)

    def _search(self, request: RecordedRequest, principal: ApiKey | None) -> Response:
        post = request.method == "POST"
        if post:
            try:
                params = request.json()
            except ValueError:
                params = None
            if not isinstance(params, dict):
                return validation_error(
                    [
                        {
                            "type": "model_attributes_type",
                            "loc": ["body"],
                            "msg": "Input should be a valid dictionary or object to extract "
                            "fields from",
                            "input": request.body.decode("utf-8", "replace"),
                        }
                    ]
                )
            where = ["body"]
        else:
            params = {name: request.param(name) for name in request.query}
            where = ["query"]
        limit = _limit_of(params.get("limit"), where)
        lang = params.get("filter-lang") or params.get("filter_lang")
        node = _filter_of(params.get("filter"), lang)
        raw_dt = params.get("datetime")
        interval = _parse_datetime(str(raw_dt)) if raw_dt else None
        page = _page_of(params.get("token"), params.get("page"))
        bbox = _bbox_param(params.get("bbox"))
        intersects = params.get("intersects")
        if isinstance(intersects, str):
            try:
                intersects = json.loads(intersects)
            except ValueError as exc:
                raise _Problem(
                    code_response(400, "BadRequest", "Invalid intersects geometry")
                ) from exc
        if intersects is not None:
            shape = _bbox_of(intersects)
            if shape is None:
                raise _Problem(code_response(400, "BadRequest", "Invalid intersects geometry"))
            bbox = shape if bbox is None else bbox
        names = _split(params.get("collections"))
        if names:
            found = [self._collection(name, principal, searching=True) for name in names]
            colls = [c for c in found if c is not None]
        else:
            defaults = self._default_collections
            colls = [
                c
                for c in self._collections
                if (defaults is None or c.id in defaults) and self._allowed(c, principal)
            ]
        sortby = params.get("sortby") or self._default_sort
        if isinstance(sortby, list):
            first = sortby[0] if sortby else {}
            if isinstance(first, dict):
                sign = "-" if first.get("direction") == "desc" else "+"
                sortby = f"{sign}{first.get('field', 'created')}"
            else:
                sortby = str(first)
        selected = self.select(
            colls=colls,
            interval=interval,
            node=node,
            ids=_split(params.get("ids")),
            sortby=str(sortby),
            bbox=bbox,
        )
        chunk = selected[(page - 1) * limit : page * limit]
        base = self.base_url()
        href = f"{base}/{self.service}/search"
        links: list[dict[str, Any]] = [
            {"rel": "root", "type": "application/json", "href": f"{base}/{self.service}/"},
            {"rel": "self", "type": GEOJSON, "href": href},
        ]
        full = len(chunk) == limit
        if post:
            assert isinstance(params, dict)
            if full:
                links.append(_post_link("next", href, params, f"next:page={page + 1}"))
            if page > 1:
                links.append(_post_link("previous", href, params, f"prev:page={page - 1}"))
        else:
            links += _paging_links(href, request.raw_query, page, full)
        return Response(200, _collection_bytes(chunk, base, links), GEOJSON)


def _bbox_param(raw: Any) -> tuple[float, float, float, float] | None:
    if raw in (None, "", []):
        return None
    parts = raw if isinstance(raw, list) else str(raw).split(",")
    try:
        values = [float(v) for v in parts]
    except (TypeError, ValueError) as exc:
        raise _Problem(code_response(400, "BadRequest", f"Invalid bbox: {raw!r}")) from exc
    if len(values) == 6:  # 3D: drop the heights
        values = [values[0], values[1], values[3], values[4]]
    if len(values) != 4:
        raise _Problem(code_response(400, "BadRequest", f"Invalid bbox: {raw!r}"))
    return values[0], values[1], values[2], values[3]


class V2Stations:
    """Routes ``/<service>/...`` to the :class:`StacService` of every fake that has one."""

    def __init__(self, services: Iterable[StacService]) -> None:
        self.services = {service.service: service for service in services}

    def owns(self, segments: list[str]) -> bool:
        """Whether ``segments`` is a STAC station path."""
        return bool(segments) and segments[0] in self.services

    def handle(
        self, request: RecordedRequest, segments: list[str], principal: ApiKey | None
    ) -> Response:
        """Answer ``/<service>/...``."""
        return self.services[segments[0]].handle(request, segments[1:], principal)

    def collections(self, service: str) -> list[dict[str, Any]]:
        """The collections of ``service`` as served."""
        return self.services[service].collections()

    def collection_station(self, service: str, coll_id: str) -> str | None:
        """The ``station`` of a collection of ``service``, or None if unknown."""
        found = self.services.get(service)
        return found.collection_station(coll_id) if found is not None else None

    def find(self, service: str, item_id: str) -> V2Item | None:
        """The item ``item_id`` of ``service``, or None."""
        found = self.services.get(service)
        return found.find(item_id) if found is not None else None


def _sort_spec(sortby: str) -> tuple[str, bool]:
    text = sortby.strip("\t\r\n")
    if text.startswith("-"):
        return text[1:].strip(), True
    if text.startswith(("+", " ")):
        return text[1:].strip(), False
    return text.strip(), False


def _render(item: V2Item, base: str, coll: str) -> bytes:
    return item.template.replace(b"{{sim}}", base.encode()).replace(b"{{coll}}", coll.encode())


def _collection_bytes(
    chunk: Iterable[tuple[V2Item, StacCollection]], base: str, links: list[dict[str, Any]]
) -> bytes:
    base_bytes = base.encode()
    parts = [
        item.template.replace(b"{{coll}}", coll.id.encode()).replace(b"{{sim}}", base_bytes)
        for item, coll in chunk
    ]
    return (
        b'{"type":"FeatureCollection","features":['
        + b",".join(parts)
        + b'],"links":'
        + dumps(links)
        + b"}"
    )


def _paging_links(href: str, raw_query: str, page: int, full: bool) -> list[dict[str, Any]]:
    kept = "&".join(f"{name}={value}" for name, value in _raw_pairs(raw_query) if name != "token")
    prefix = f"{href}?{kept}&" if kept else f"{href}?"
    links: list[dict[str, Any]] = []
    if full:
        links.append(
            {
                "rel": "next",
                "type": GEOJSON,
                "method": "GET",
                "href": f"{prefix}token=next:page={page + 1}",
            }
        )
    if page > 1:
        links.append(
            {
                "rel": "previous",
                "type": GEOJSON,
                "method": "GET",
                "href": f"{prefix}token=prev:page={page - 1}",
            }
        )
    return links


def _post_link(rel: str, href: str, params: dict[str, Any], token: str) -> dict[str, Any]:
    body = {name: value for name, value in params.items() if name != "token"}
    body["token"] = token
    return {"rel": rel, "type": GEOJSON, "method": "POST", "href": href, "body": body}


def now_stamp() -> str:
    """Now, ``%Y-%m-%dT%H:%M:%SZ`` (the jobs' time format)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
