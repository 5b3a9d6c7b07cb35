"""The RS-Server 0.2 (v2) station face: ``/auxip`` and ``/cadip`` as read-only STAC APIs.

Serves the same :class:`~rs_core.testing.simulator.dataset.Dataset` as the v1 face, mapped the
way RS-Server 0.2 maps the stations' OData records (checked field by field against the
recordings in ``shared/fixtures/rs-server-v2``, which were produced from these very records).

Collections (from the recorded ``auxip_collections.json`` / ``cadip_collections.json``; every
station name serves the same records, as in the recording set-up):

- AUXIP: stations ``adgs`` and ``adgs2``; per station one ``<station>`` collection with every
  product (``query`` null) and one ``<station>_<product type, lower-case>`` collection per
  product type of RS-Server's search config, whose ``query`` is ``{"productType": T}``: a
  product belongs to it when its ``productType`` attribute equals ``T`` (exact match; the
  recorded ``OPER_AUX_RESORB_OPODs`` collection therefore matches nothing).
- CADIP: stations ``cadip``, ``mti``, ``sgs``; per station one ``<station>`` collection with every
  session and ``<station>_sentinel1|2|3|5`` whose ``query`` is ``{"Satellite": "S1A, S1B,
  S1C"}`` etc.: a session belongs to it when its ``Satellite`` is in that list.

Items (RS-Server's OData -> STAC mapping):

- AUXIP product: ``id`` = ``Name`` without its last extension; properties ``datetime`` and
  ``start_datetime`` = ``ContentDate.Start``, ``end_datetime`` = ``ContentDate.End``,
  ``created`` and ``published`` = ``PublicationDate``, ``platform`` =
  ``<platformShortName><platformSerialIdentifier>`` lower-case (``sentinel-1a``),
  ``constellation`` = ``platformShortName`` lower-case, ``auxip:id`` = ``Id``, ``product:type``
  = ``productType``, ``processing:datetime`` = ``processingDate``, ``processing:facility`` =
  ``processingCenter``; one asset keyed by ``Name``: ``href`` ``<sim>/Products(<Id>)/$value``,
  ``type``, ``file:size``, ``file:checksum`` (the server's unevaluated template
  ``$.Checksum[0].Value``, a real quirk) and ``eviction_datetime``.
- CADIP session: ``id`` = ``SessionId``; ``datetime`` and ``published`` = ``PublicationDate``,
  ``start_datetime`` = ``DownlinkStart``, ``end_datetime`` = the latest ``PublicationDate`` of
  its files (``DownlinkStop`` without files), ``platform``/``constellation`` from
  ``Satellite`` (``S1A`` -> ``sentinel-1a``/``sentinel-1``), ``sat:absolute_orbit`` =
  ``DownlinkOrbit`` and the ``cadip:*`` fields; its assets are its CADU files keyed by file
  name, by publication date (station order for ties): ``href`` ``<sim>/Files(<Id>)/$value``,
  ``title``, ``roles: ["cadu"]``,
  ``cadip:*``, ``created``, ``eviction_datetime``, ``file:size``.

Searches (as RS-Server asks the station): ``datetime`` filters ``PublicationDate`` (both
bounds inclusive, open ``..`` bounds allowed), default order ``PublicationDate`` descending
(``sortby=+created`` ascending; other fields sort on the property), ``limit`` default 10,
pages of ``limit`` (``page`` parameter or ``token=next:page=N`` / ``prev:page=N``, the token
wins). A ``next`` link is given when the page is full, a ``previous`` link from page 2; their
query is the request's own (decoded, ``token`` removed) plus the new token, so a ``page=2``
request's link keeps ``page=2`` (the recorded quirk). ``filter`` supports what
:mod:`.cql2` supports (else 422).

Performance: each item is serialised once, with ``{{sim}}`` / ``{{coll}}`` placeholders for
the simulator URL and the collection id; a page is a ``bisect`` plus a slice, a join and two
``bytes.replace``.

Errors the simulator chose where the recordings say nothing (documented guesses): unknown
collection -> 404 ``{"code": "NotFound", "description": "Unknown AUXIP collection: 'x'"}``;
bad ``datetime`` -> 400 ``{"code": "BadRequest", ...}``; bad filter -> 422 ``{"detail": ...}``.

Example:
    >>> from .dataset import Dataset
    >>> stac = V2Stations(Dataset.default(), lambda: "http://127.0.0.1:1")
    >>> [c["id"] for c in stac.collections("cadip")][:4]
    ['cadip', 'mti', 'sgs', 'cadip_sentinel1']
"""

from __future__ import annotations

import bisect
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from importlib import resources
from typing import Any
from urllib.parse import unquote

from .auth import ApiKey, station_role
from .cql2 import Cql2Error, Node, matches
from .cql2 import parse as parse_cql2
from .dataset import Dataset, parse_odata_date
from .messages import RecordedRequest, Response, dumps, json_response, validation_error

__all__ = ["AUXIP_PRODUCT_TYPES", "CADIP_PLATFORM_GROUPS", "V2Item", "V2Stations"]

SIM = "{{sim}}"
COLL = "{{coll}}"
GEOJSON = "application/geo+json"
SCHEMA_JSON = "application/schema+json"
DEFAULT_LIMIT = 10
FILE_EXTENSION = "https://stac-extensions.github.io/file/v2.1.0/schema.json"
TIMESTAMPS_EXTENSION = "https://stac-extensions.github.io/timestamps/v1.1.0/schema.json"
AUXIP_EXTENSION = "https://home.rs-python.eu/auxip-stac-extension/v1.1.0/schema.json"
CADIP_EXTENSION = "https://home.rs-python.eu/cadip-stac-extension/v1.3.0/schema.json"
AUXIP_STATIONS = ("adgs", "adgs2")
AUXIP_PRODUCT_TYPES = (
    "AUX_PP2",
    "OPER_AUX_ECMWFD_PDMC",
    "OPER_AUX_OBMEMC",
    "OPER_AUX_OBMEMC_PDMC",
    "OPER_AUX_PREORB_OPOD",
    "OPER_AUX_RESORB_OPOD",
    "OPER_AUX_RESORB_OPODs",
    "OPER_MPL_ORBPRE",
    "OPER_MPL_ORBSCT",
)
CADIP_STATIONS_V2 = ("cadip", "mti", "sgs")
CADIP_PLATFORM_GROUPS = (
    ("sentinel1", "Sentinel-1", "S1A, S1B, S1C"),
    ("sentinel2", "Sentinel-2", "S2A, S2B, S2C"),
    ("sentinel3", "Sentinel-3", "S3A, S3B"),
    ("sentinel5", "Sentinel-5", "S5P"),
)
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
_DESCRIBED_BY = {
    "auxip": (
        "https://sentiwiki.copernicus.eu/web/copernicus-operations"
        "#CopernicusOperations-AuxiliaryDataGathering",
        "Auxiliary Data",
    ),
    "cadip": (
        "https://sentiwiki.copernicus.eu/web/copernicus-operations"
        "#CopernicusOperations-DataAcquisition",
        "Data Acquisition",
    ),
}
_QUERYABLES_RELATION = "http://www.opengis.net/def/rel/ogc/1.0/queryables"
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
_DATE_FIELDS = frozenset(
    ("created", "published", "datetime", "start_datetime", "end_datetime", "processing:datetime")
)


def _ms(value: Any) -> Any:
    """``2025-10-10T18:41:42.000000Z`` -> ``2025-10-10T18:41:42.000Z`` (other values as-is)."""
    if not isinstance(value, str) or not value:
        return value
    try:
        moment = parse_odata_date(value).replace(tzinfo=None)
    except ValueError:
        return value
    return moment.isoformat(timespec="milliseconds") + "Z"


def _epoch(value: Any) -> float:
    if not isinstance(value, str) or not value:
        return -math.inf
    try:
        return parse_odata_date(value).timestamp()
    except ValueError:
        return -math.inf


def _attributes(odata: Mapping[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for attribute in odata.get("Attributes") or ():
        if isinstance(attribute, Mapping) and "Name" in attribute:
            found[str(attribute["Name"])] = attribute.get("Value")
    return found


def _platform(short_name: Any, serial: Any) -> tuple[str | None, str | None]:
    if not isinstance(short_name, str) or not short_name:
        return None, None
    constellation = short_name.lower()
    return f"{constellation}{str(serial or '').lower()}", constellation


def _satellite_platform(satellite: str) -> tuple[str | None, str | None]:
    """``S1A`` -> (``sentinel-1a``, ``sentinel-1``); ``S5P`` -> ``sentinel-5P`` twice."""
    if len(satellite) != 3 or satellite[0] != "S":
        return None, None
    if satellite == "S5P":
        return "sentinel-5P", "sentinel-5P"
    return f"sentinel-{satellite[1]}{satellite[2].lower()}", f"sentinel-{satellite[1]}"


def _strip_extension(name: str) -> str:
    return name.rsplit(".", 1)[0] if "." in name else name


class V2Item:
    """One v2 STAC item (an AUX product or a CADIP session) and its serialised template.

    ``template`` is the feature's JSON with ``{{sim}}`` and ``{{coll}}`` placeholders;
    ``values`` are the queryables a filter sees (the properties plus ``id`` and ``Name``).
    """

    __slots__ = (
        "_sort_cache",
        "feature",
        "item_id",
        "order",
        "product_type",
        "published",
        "satellite",
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
        self.product_type: str | None = None
        self.satellite: str | None = None
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
            cached = _epoch(value) if field in _DATE_FIELDS else (str(value) if value else "")
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


def auxip_item(odata: Mapping[str, Any], order: int) -> V2Item:
    """Map one AUX product's OData record into its v2 item."""
    name = str(odata.get("Name", ""))
    item_id = _strip_extension(name)
    attributes = _attributes(odata)
    content = odata.get("ContentDate") or {}
    platform, constellation = _platform(
        attributes.get("platformShortName"), attributes.get("platformSerialIdentifier")
    )
    published = odata.get("PublicationDate")
    properties = {
        "datetime": content.get("Start"),
        "created": published,
        "start_datetime": content.get("Start"),
        "end_datetime": content.get("End"),
        "platform": platform,
        "constellation": constellation,
        "auxip:id": odata.get("Id"),
        "published": published,
        "product:type": attributes.get("productType"),
        "processing:datetime": attributes.get("processingDate"),
        "processing:facility": attributes.get("processingCenter"),
    }
    try:
        size = int(odata.get("ContentLength") or 0)
    except (TypeError, ValueError):
        size = 0
    feature = {
        "type": "Feature",
        "geometry": None,
        "properties": properties,
        "id": item_id,
        "stac_version": "1.0.0",
        "assets": {
            name: {
                "href": f"{SIM}/Products({odata.get('Id')})/$value",
                "type": odata.get("ContentType") or "application/octet-stream",
                "file:size": size,
                "file:checksum": "$.Checksum[0].Value",
                "eviction_datetime": odata.get("EvictionDate"),
            }
        },
        "links": _item_links("auxip", item_id),
        "stac_extensions": [AUXIP_EXTENSION, FILE_EXTENSION, TIMESTAMPS_EXTENSION],
        "collection": COLL,
    }
    item = V2Item(item_id, feature, order, _epoch(published))
    item.values["Name"] = name
    item.product_type = attributes.get("productType")
    return item


def cadip_item(
    session: Mapping[str, Any], files: Sequence[Mapping[str, Any]], order: int
) -> V2Item:
    """Map one CADIP session (and its files, in station order) into its v2 item."""
    session_id = str(session.get("SessionId", ""))
    satellite = str(session.get("Satellite", ""))
    platform, constellation = _satellite_platform(satellite)
    latest = max((str(f.get("PublicationDate")) for f in files), key=_epoch, default=None)
    published = session.get("PublicationDate")
    properties = {
        "datetime": published,
        "start_datetime": session.get("DownlinkStart"),
        "end_datetime": _ms(latest) if latest else session.get("DownlinkStop"),
        "platform": platform,
        "constellation": constellation,
        "published": published,
        "cadip:id": session.get("Id"),
        "cadip:num_channels": session.get("NumChannels"),
        "cadip:station_unit_id": session.get("StationUnitId"),
        "sat:absolute_orbit": session.get("DownlinkOrbit"),
        "cadip:acquisition_id": session.get("AcquisitionId"),
        "cadip:antenna_id": session.get("AntennaId"),
        "cadip:front_end_id": session.get("FrontEndId"),
        "cadip:retransfer": session.get("Retransfer"),
        "cadip:antenna_status_ok": session.get("AntennaStatusOK"),
        "cadip:front_end_status_ok": session.get("FrontEndStatusOK"),
        "cadip:planned_data_start": session.get("PlannedDataStart"),
        "cadip:planned_data_stop": session.get("PlannedDataStop"),
        "cadip:downlink_status_ok": session.get("DownlinkStatusOK"),
        "cadip:delivery_push_ok": session.get("DeliveryPushOK"),
    }
    assets: dict[str, Any] = {}
    for odata in sorted(files, key=lambda f: _epoch(f.get("PublicationDate"))):  # stable
        name = str(odata.get("Name", ""))
        try:
            size = int(odata.get("Size") or 0)
        except (TypeError, ValueError):
            size = 0
        assets[name] = {
            "href": f"{SIM}/Files({odata.get('Id')})/$value",
            "title": name,
            "roles": ["cadu"],
            "cadip:id": odata.get("Id"),
            "cadip:retransfer": odata.get("Retransfer"),
            "cadip:final_block": odata.get("FinalBlock"),
            "cadip:block_number": odata.get("BlockNumber"),
            "cadip:channel": odata.get("Channel"),
            "created": odata.get("PublicationDate"),
            "eviction_datetime": odata.get("EvictionDate"),
            "file:size": size,
        }
    feature = {
        "type": "Feature",
        "geometry": None,
        "properties": properties,
        "id": session_id,
        "stac_version": "1.0.0",
        "assets": assets,
        "links": _item_links("cadip", session_id),
        "stac_extensions": [CADIP_EXTENSION, FILE_EXTENSION, TIMESTAMPS_EXTENSION],
        "collection": COLL,
    }
    item = V2Item(session_id, feature, order, _epoch(published))
    item.satellite = satellite
    return item


class _Collection:
    __slots__ = ("description", "id", "query", "satellites", "service", "station")

    def __init__(
        self, service: str, coll_id: str, station: str, query: dict[str, str] | None, desc: str
    ) -> None:
        self.service = service
        self.id = coll_id
        self.station = station
        self.query = query
        self.description = desc
        sats = (query or {}).get("Satellite")
        self.satellites = frozenset(s.strip() for s in sats.split(",")) if sats else None

    def accepts(self, item: V2Item) -> bool:
        if self.query is None:
            return True
        if self.service == "auxip":
            return item.product_type == self.query.get("productType")
        return self.satellites is not None and item.satellite in self.satellites

    def to_json(self, base: str) -> dict[str, Any]:
        root = f"{base}/{self.service}"
        href = f"{root}/collections/{self.id}"
        described, title = _DESCRIBED_BY[self.service]
        return {
            "id": self.id,
            "description": self.description,
            "stac_version": "1.0.0",
            "links": [
                {"rel": "items", "type": GEOJSON, "href": f"{href}/items"},
                {"rel": "parent", "type": "application/json", "href": f"{root}/"},
                {"rel": "root", "type": "application/json", "href": f"{root}/"},
                {"rel": "self", "type": "application/json", "href": href},
                dict(_LICENSE_LINK),
                {"href": described, "rel": "describedby", "type": "text/html", "title": title},
                {
                    "rel": _QUERYABLES_RELATION,
                    "type": SCHEMA_JSON,
                    "title": "Queryables",
                    "href": f"{href}/queryables",
                },
            ],
            "stac_extensions": [],
            "title": self.description,
            "type": "Collection",
            "license": "other",
            "extent": json.loads(json.dumps(_EXTENT)),
            "providers": json.loads(json.dumps(_PROVIDERS)),
            "station": self.station,
            "query": dict(self.query) if self.query is not None else None,
        }


def _collections() -> dict[str, list[_Collection]]:
    auxip = [_Collection("auxip", s, s, None, f"All from {s!r} station") for s in AUXIP_STATIONS]
    for station in AUXIP_STATIONS:
        auxip += [
            _Collection(
                "auxip",
                f"{station}_{t.lower()}",
                station,
                {"productType": t},
                f"{t} {station!r} station",
            )
            for t in AUXIP_PRODUCT_TYPES
        ]
    cadip = [_Collection("cadip", s, s, None, f"All from {s!r} station") for s in CADIP_STATIONS_V2]
    for station in CADIP_STATIONS_V2:
        cadip += [
            _Collection(
                "cadip",
                f"{station}_{suffix}",
                station,
                {"Satellite": sats},
                f"{title} {station!r} station",
            )
            for suffix, title, sats in CADIP_PLATFORM_GROUPS
        ]
    return {"auxip": auxip, "cadip": cadip}


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


class V2Stations:
    """The ``/auxip`` and ``/cadip`` STAC endpoints over one :class:`Dataset`."""

    def __init__(self, dataset: Dataset, base_url: Callable[[], str]) -> None:
        self.dataset = dataset
        self.base_url = base_url
        self._collections = _collections()
        self._by_id = {
            service: {c.id: c for c in colls} for service, colls in self._collections.items()
        }
        auxip = [auxip_item(odata, i) for i, odata in enumerate(dataset.adgs_products)]
        files: dict[str, list[Mapping[str, Any]]] = {}
        for odata in dataset.cadip_files:
            files.setdefault(str(odata.get("SessionId", "")), []).append(odata)
        cadip = [
            cadip_item(odata, files.get(str(odata.get("SessionId", "")), []), i)
            for i, odata in enumerate(dataset.cadip_sessions)
        ]
        self._index = {"auxip": _Index(auxip), "cadip": _Index(cadip)}
        package = resources.files("rs_core.testing.simulator") / "data"
        self._queryables: dict[str, Any] = json.loads(
            (package / "v2_queryables.json").read_text("utf-8")
        )

    # -- public helpers (staging, tests) --------------------------------------------------

    def collections(self, service: str) -> list[dict[str, Any]]:
        """The collections of ``service`` (``auxip``/``cadip``) as served."""
        base = self.base_url()
        return [c.to_json(base) for c in self._collections[service]]

    def collection_station(self, service: str, coll_id: str) -> str | None:
        """The ``station`` of a collection, or None if unknown."""
        found = self._by_id[service].get(coll_id)
        return found.station if found is not None else None

    def find(self, service: str, item_id: str) -> V2Item | None:
        """The item ``item_id`` of ``service``, or None."""
        return self._index[service].by_id.get(item_id)

    # -- routing --------------------------------------------------------------------------

    @staticmethod
    def owns(segments: list[str]) -> bool:
        """Whether ``segments`` is a v2 station path."""
        return bool(segments) and segments[0] in ("auxip", "cadip")

    def handle(
        self, request: RecordedRequest, segments: list[str], principal: ApiKey | None
    ) -> Response:
        """Answer ``/auxip/...`` or ``/cadip/...``."""
        service = segments[0]
        rest = segments[1:]
        while rest and rest[-1] == "":
            rest = rest[:-1]
        try:
            return self._route(request, service, rest, principal)
        except _Problem as problem:
            return problem.response

    def _route(
        self, request: RecordedRequest, service: str, rest: list[str], principal: ApiKey | None
    ) -> Response:
        method = request.method
        if rest == ["search"]:
            if method not in ("GET", "POST"):
                return json_response(405, {"detail": "Method Not Allowed"})
            return self._search(request, service, principal)
        if method not in ("GET", "HEAD"):
            return json_response(405, {"detail": "Method Not Allowed"})
        base = self.base_url()
        if not rest:
            return json_response(200, self._landing(service, base))
        if rest == ["conformance"]:
            return json_response(200, {"conformsTo": list(CONFORMANCE)})
        if rest == ["queryables"]:
            return self._queryables_response(service, f"{base}/{service}/queryables", True)
        if rest == ["collections"]:
            colls = [c for c in self._collections[service] if self._allowed(c, principal)]
            body = {
                "collections": [c.to_json(base) for c in colls],
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
            coll = self._collection(service, rest[1], principal)
            tail = rest[2:]
            if not tail:
                return json_response(200, coll.to_json(base))
            if tail == ["queryables"]:
                href = f"{base}/{service}/collections/{coll.id}/queryables"
                return self._queryables_response(service, href, service == "cadip")
            if tail == ["items"]:
                return self._items(request, service, coll)
            if len(tail) == 2 and tail[0] == "items":
                return self._item(service, coll, tail[1])
        return json_response(404, {"detail": "Not Found"})

    def _landing(self, service: str, base: str) -> dict[str, Any]:
        root = f"{base}/{service}"
        title = service.capitalize()
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

    def _queryables_response(self, service: str, href: str, full: bool) -> Response:
        body = {
            "$id": href,
            "type": "object",
            "title": "STAC Queryables.",
            "$schema": "http://json-schema.org/draft-07/schema#",
            "properties": self._queryables[service] if full else {},
        }
        return json_response(200, body, SCHEMA_JSON)

    # -- access ---------------------------------------------------------------------------

    @staticmethod
    def _role(coll: _Collection, access: str) -> str:
        if coll.service == "auxip":
            return station_role("adgs", "adgs", access)
        return station_role("cadip", coll.station, access)

    def _allowed(self, coll: _Collection, principal: ApiKey | None) -> bool:
        return principal is None or principal.has_role(self._role(coll, "read"))

    def _collection(self, service: str, coll_id: str, principal: ApiKey | None) -> _Collection:
        coll = self._by_id[service].get(coll_id)
        if coll is None:
            raise _Problem(
                code_response(404, "NotFound", f"Unknown {service.upper()} collection: {coll_id!r}")
            )
        if not self._allowed(coll, principal):
            full = "adgs" if service == "auxip" else f"cadip_{coll.station}"
            raise _Problem(
                json_response(
                    401,
                    {
                        "detail": "Authorization key does not include the right role to read "
                        f"from the {full!r} station"
                    },
                )
            )
        return coll

    # -- searching ------------------------------------------------------------------------

    def select(
        self,
        service: str,
        *,
        colls: Sequence[_Collection],
        interval: tuple[float, float] | None,
        node: Node | None,
        ids: Sequence[str],
        sortby: str,
    ) -> list[tuple[V2Item, _Collection]]:
        """Every matching item (with the first of ``colls`` holding it), sorted."""
        index = self._index[service]
        if ids:
            candidates = [index.by_id[i] for i in dict.fromkeys(ids) if i in index.by_id]
            if interval is not None:
                candidates = [c for c in candidates if interval[0] <= c.published <= interval[1]]
        elif interval is not None:
            candidates = index.between(*interval)
        else:
            candidates = index.items
        found: list[tuple[V2Item, _Collection]] = []
        for item in candidates:
            holder = next((c for c in colls if c.accepts(item)), None)
            if holder is None or (node is not None and not matches(node, item.values)):
                continue
            found.append((item, holder))
        field, descending = _sort_spec(sortby)
        if field in ("created", "published") and not ids:
            if descending:
                found.reverse()
            return found
        found.sort(key=lambda pair: pair[0].order)
        found.sort(key=lambda pair: pair[0].sort_value(field), reverse=descending)
        return found

    def _items(self, request: RecordedRequest, service: str, coll: _Collection) -> Response:
        limit = _limit_of(request.param("limit"), ["query"])
        node = _filter_of(request.param("filter"), request.param("filter-lang"))
        raw_dt = request.param("datetime")
        interval = _parse_datetime(raw_dt) if raw_dt else None
        page = _page_of(request.param("token"), request.param("page"))
        selected = self.select(
            service,
            colls=[coll],
            interval=interval,
            node=node,
            ids=[],
            sortby=request.param("sortby") or "-created",
        )
        chunk = selected[(page - 1) * limit : page * limit]
        base = self.base_url()
        href = f"{base}/{service}/collections/{coll.id}"
        links: list[dict[str, Any]] = [
            {"rel": "collection", "type": "application/json", "href": href},
            {"rel": "parent", "type": "application/json", "href": href},
            {"rel": "root", "type": "application/json", "href": f"{base}/{service}/"},
            {"rel": "self", "type": GEOJSON, "href": f"{href}/items"},
        ]
        links += _paging_links(f"{href}/items", request.raw_query, page, len(chunk) == limit)
        return Response(200, _collection_bytes(chunk, base, links), GEOJSON)

    def _item(self, service: str, coll: _Collection, item_id: str) -> Response:
        item = self._index[service].by_id.get(item_id)
        if item is None:
            what = "AUXIP item" if service == "auxip" else "Cadip session"
            return code_response(404, "NotFound", f"{what} {item_id!r} not found.")
        body = _render(item, self.base_url(), coll.id)
        return Response(200, body, GEOJSON)

    def _search(self, request: RecordedRequest, service: str, principal: ApiKey | None) -> Response:
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
        names = _split(params.get("collections"))
        colls = (
            [self._collection(service, name, principal) for name in names]
            if names
            else [c for c in self._collections[service][:1] if self._allowed(c, principal)]
        )
        sortby = params.get("sortby") or "-created"
        if isinstance(sortby, list):
            first = sortby[0] if sortby else {}
            if isinstance(first, dict):
                sign = "-" if first.get("direction") == "desc" else "+"
                sortby = f"{sign}{first.get('field', 'created')}"
            else:
                sortby = str(first)
        selected = self.select(
            service,
            colls=colls,
            interval=interval,
            node=node,
            ids=_split(params.get("ids")),
            sortby=str(sortby),
        )
        chunk = selected[(page - 1) * limit : page * limit]
        base = self.base_url()
        href = f"{base}/{service}/search"
        links: list[dict[str, Any]] = [
            {"rel": "root", "type": "application/json", "href": f"{base}/{service}/"},
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
    chunk: Iterable[tuple[V2Item, _Collection]], base: str, links: list[dict[str, Any]]
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
