"""The fake CADIP stations of the rs-core simulator: sessions and CADU files, v1 and 0.2/1.0.

Registered in the plugin's record (``StationType(..., fake="rs_cadip.fake:FAKE")``), so the
simulator, ``rs simulate`` and the station test kit serve it whenever rs-plugin-cadip is
installed. Its records are the station's OData lists ``cadip_files`` and ``cadip_sessions``
(packaged defaults in ``rs_cadip/data/``: 409 files, 7 sessions).

v1 (``/cadip/{station}/cadu/search``, ``/cadip/{station}/session``, ``/cadip/{station}/cadu``,
``/cadip/{station}/cadu/status``; stations ``cadip``, ``ins``, ``mps``, ``mti``, ``nsg``,
``sgs``, else 400): file searches filter on ``PublicationDate`` (both bounds inclusive) and/or
``session_id``; a CADU feature's ``datetime``/``start_datetime``/``end_datetime`` hold the
constant v1 servers write. Session searches match ``id``, ``platform`` (exact), and, only
with both bounds, ``DownlinkStart`` within them; criteria combine with AND; sessions come in
station order, at most 20 (RS-Server's default page); a session feature's assets are a list
of ``{file name: asset}`` dicts (a v1 quirk). Only station ``cadip`` answers session searches
(the others 500, as the recorded set-up did). Every station shares one status table.

v2 (``/cadip``, RS-Server 0.2 mapping, checked against the recordings): stations ``cadip``,
``mti``, ``sgs``; per station one ``<station>`` collection with every session and
``<station>_sentinel1|2|3|5`` whose ``query`` is ``{"Satellite": "S1A, S1B, S1C"}`` etc.
Items are sessions: ``id`` = ``SessionId``; ``datetime`` and ``published`` =
``PublicationDate``, ``start_datetime`` = ``DownlinkStart``, ``end_datetime`` = the latest
``PublicationDate`` of its files (``DownlinkStop`` without files), ``platform`` /
``constellation`` from ``Satellite`` (``S1A`` -> ``sentinel-1a``/``sentinel-1``),
``sat:absolute_orbit`` and the ``cadip:*`` fields; its assets are its CADU files keyed by file
name, by publication date (``href`` ``<sim>/Files(<Id>)/$value``, ``roles: ["cadu"]``).

Example:
    >>> sorted(len(v) for v in FAKE.default_lists().values())
    [7, 409]
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

from rs_core.roles import landing_page_role
from rs_core.roles import station_role as v1_0_role
from rs_core.testing.simulator.auth import ApiKey
from rs_core.testing.simulator.dataset import (
    FILE_EXTENSION,
    Record,
    RecordIndex,
    as_bool,
    as_int,
    epoch,
    odata_stamp,
    parse_odata_date,
    sorted_capped,
)
from rs_core.testing.simulator.fakes import FakeContext, FakeStation
from rs_core.testing.simulator.messages import (
    RecordedRequest,
    Response,
    detail_response,
    json_response,
    validation_error,
)
from rs_core.testing.simulator.stations import (
    feature_collection,
    int_param,
    inverted_range,
    parse_interval,
    split_list,
    stage_answer,
    status_answer,
)
from rs_core.testing.simulator.v2_stations import (
    TIMESTAMPS_EXTENSION,
    StacCollection,
    StacService,
    V2Item,
    item_links,
    published_epoch,
)

__all__ = [
    "CADIP_PLATFORM_GROUPS",
    "CADIP_STATIONS",
    "CADIP_STATIONS_V2",
    "FAKE",
    "CadipFake",
    "cadip_item",
    "station_role",
]

CADU_CONSTANT_DATE = "1970-01-01T12:00:00.000Z"
"""v1 servers put this constant in a CADU feature's datetime/start_datetime/end_datetime."""
SESSION_PAGE_SIZE = 20
PLATFORMS = ("S1A", "S1B", "S1C", "S2A", "S2B", "S2C", "S3A", "S3B")
CADIP_EXTENSION = "https://home.rs-python.eu/cadip-stac-extension/v1.3.0/schema.json"
CADIP_STATIONS = ("cadip", "ins", "mps", "mti", "nsg", "sgs")
"""The v1 CADIP stations (lower case); others answer 400."""
CADIP_STATIONS_V2 = ("cadip", "mti", "sgs")
CADIP_PLATFORM_GROUPS = (
    ("sentinel1", "Sentinel-1", "S1A, S1B, S1C"),
    ("sentinel2", "Sentinel-2", "S2A, S2B, S2C"),
    ("sentinel3", "Sentinel-3", "S3A, S3B"),
    ("sentinel5", "Sentinel-5", "S5P"),
)
_DESCRIBED_BY = (
    "https://sentiwiki.copernicus.eu/web/copernicus-operations"
    "#CopernicusOperations-DataAcquisition",
    "Data Acquisition",
)


# -- v1 -----------------------------------------------------------------------------------


def station_role(station: str, access: str) -> str:
    """The role a call to a CADIP station needs (``rs_cadip_mti_read``)."""
    return f"rs_cadip_{station.lower()}_{access}"


class Session:
    """One CADIP session record and its v1 feature without assets (they depend on the URL)."""

    __slots__ = ("downlink_start", "feature", "odata", "order", "platform", "session_id")

    def __init__(self, odata: Mapping[str, Any], order: int) -> None:
        self.odata = odata
        self.order = order
        self.session_id: str = str(odata.get("SessionId", ""))
        self.platform: str = str(odata.get("Satellite", ""))
        self.downlink_start: float = epoch(odata.get("DownlinkStart"))
        self.feature = _session_feature(odata)


def _cadu_properties(odata: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "cadip:id": odata.get("Id"),
        "cadip:retransfer": as_bool(odata.get("Retransfer")),
        "cadip:final_block": as_bool(odata.get("FinalBlock")),
        "cadip:block_number": as_int(odata.get("BlockNumber")),
        "cadip:channel": as_int(odata.get("Channel")),
        "cadip:session_id": odata.get("SessionId"),
    }


def cadu_record(odata: Mapping[str, Any], order: int) -> Record:
    published = odata.get("PublicationDate")
    properties: dict[str, Any] = {
        "created": published,
        "datetime": CADU_CONSTANT_DATE,
        "start_datetime": CADU_CONSTANT_DATE,
        "end_datetime": CADU_CONSTANT_DATE,
        "eviction_datetime": odata.get("EvictionDate"),
    }
    properties.update(_cadu_properties(odata))
    feature: dict[str, Any] = {
        "stac_version": "1.0.0",
        "stac_extensions": [FILE_EXTENSION],
        "type": "Feature",
        "id": odata.get("Name"),
        "geometry": None,
        "properties": properties,
        "links": [],
        "assets": {"file": {"file:size": as_int(odata.get("Size"))}},
    }
    return Record(odata, feature, order, published)


def _session_feature(odata: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "stac_version": "1.0.0",
        "stac_extensions": [FILE_EXTENSION],
        "type": "Feature",
        "id": odata.get("SessionId"),
        "geometry": None,
        "properties": {
            "datetime": odata.get("DownlinkStart"),
            "start_datetime": odata.get("DownlinkStart"),
            "end_datetime": odata.get("DownlinkStop"),
            "published": odata.get("PublicationDate"),
            "platform": odata.get("Satellite"),
            "cadip:id": odata.get("Id"),
            "cadip:num_channels": odata.get("NumChannels"),
            "cadip:station_unit_id": odata.get("StationUnitId"),
            "cadip:downlink_orbit": odata.get("DownlinkOrbit"),
            "cadip:acquisition_id": odata.get("AcquisitionId"),
            "cadip:antenna_id": odata.get("AntennaId"),
            "cadip:front_end_id": odata.get("FrontEndId"),
            "cadip:retransfer": odata.get("Retransfer"),
            "cadip:antenna_status_ok": odata.get("AntennaStatusOK"),
            "cadip:front_end_status_ok": odata.get("FrontEndStatusOK"),
            "cadip:planned_data_start": odata.get("PlannedDataStart"),
            "cadip:planned_data_stop": odata.get("PlannedDataStop"),
            "cadip:downlink_status_ok": odata.get("DownlinkStatusOK"),
            "cadip:delivery_push_ok": odata.get("DeliveryPushOK"),
        },
        "links": [],
        "assets": [],
    }


def _session_asset(record: Record, base_url: str) -> dict[str, Any]:
    """The v1 quirk: one ``{file name: asset}`` dict per file, in a list."""
    asset: dict[str, Any] = {
        "href": f"{base_url}/cadip/cadip/cadu?name={record.name}",
        "roles": ["cadu"],
        "file:size": record.size,
        "created": record.odata.get("PublicationDate"),
        "eviction_datetime": record.odata.get("EvictionDate"),
    }
    asset.update(_cadu_properties(record.odata))
    return {record.name: asset}


# -- v2 -----------------------------------------------------------------------------------


def _ms(value: Any) -> Any:
    """``2025-10-10T18:41:42.000000Z`` -> ``2025-10-10T18:41:42.000Z`` (other values as-is)."""
    if not isinstance(value, str) or not value:
        return value
    try:
        moment = parse_odata_date(value).replace(tzinfo=None)
    except ValueError:
        return value
    return moment.isoformat(timespec="milliseconds") + "Z"


def _satellite_platform(satellite: str) -> tuple[str | None, str | None]:
    """``S1A`` -> (``sentinel-1a``, ``sentinel-1``); ``S5P`` -> ``sentinel-5P`` twice."""
    if len(satellite) != 3 or satellite[0] != "S":
        return None, None
    if satellite == "S5P":
        return "sentinel-5P", "sentinel-5P"
    return f"sentinel-{satellite[1]}{satellite[2].lower()}", f"sentinel-{satellite[1]}"


def cadip_item(
    session: Mapping[str, Any], files: Sequence[Mapping[str, Any]], order: int
) -> V2Item:
    """Map one CADIP session (and its files, in station order) into its v2 item."""
    session_id = str(session.get("SessionId", ""))
    satellite = str(session.get("Satellite", ""))
    platform, constellation = _satellite_platform(satellite)
    latest = max((str(f.get("PublicationDate")) for f in files), key=published_epoch, default=None)
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
    for odata in sorted(files, key=lambda f: published_epoch(f.get("PublicationDate"))):  # stable
        name = str(odata.get("Name", ""))
        try:
            size = int(odata.get("Size") or 0)
        except (TypeError, ValueError):
            size = 0
        assets[name] = {
            "href": "{{sim}}" + f"/Files({odata.get('Id')})/$value",
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
        "links": item_links("cadip", session_id),
        "stac_extensions": [CADIP_EXTENSION, FILE_EXTENSION, TIMESTAMPS_EXTENSION],
        "collection": "{{coll}}",
    }
    item = V2Item(session_id, feature, order, published_epoch(published))
    item.tags["Satellite"] = satellite
    return item


def _collections() -> list[StacCollection]:
    found = [StacCollection("cadip", s, s) for s in CADIP_STATIONS_V2]
    for station in CADIP_STATIONS_V2:
        for suffix, title, sats in CADIP_PLATFORM_GROUPS:
            members = frozenset(s.strip() for s in sats.split(","))
            found.append(
                StacCollection(
                    "cadip",
                    f"{station}_{suffix}",
                    station,
                    {"Satellite": sats},
                    f"{title} {station!r} station",
                    member=lambda item, m=members: item.tags.get("Satellite") in m,  # type: ignore[misc]
                )
            )
    return found


# -- the fake -----------------------------------------------------------------------------

_V1_ACTIONS = {
    ("cadu", "search"): "search",
    ("session",): "sessions",
    ("cadu",): "stage",
    ("cadu", "status"): "status",
}


class CadipFake:
    """The CADIP stations' v1 routes and the ``/cadip`` STAC service over the dataset's
    ``cadip_files`` and ``cadip_sessions``."""

    def __init__(self, context: FakeContext) -> None:
        self.context = context
        self.jobs = context.jobs
        self._file_records = list(context.dataset.cadip_files)
        self._session_records = list(context.dataset.cadip_sessions)
        files = [cadu_record(o, i) for i, o in enumerate(self._file_records)]
        self._files = RecordIndex(files)
        self._sessions = [Session(o, i) for i, o in enumerate(self._session_records)]
        self._files_by_session: dict[str, list[Record]] = {}
        for rec in files:
            self._files_by_session.setdefault(rec.session_id, []).append(rec)
        self.jobs.add_service("cadip", self._files.by_name.get)

    def stac_services(self) -> Sequence[StacService]:
        """The ``/cadip`` service (items mapped now: only the v2 simulator asks)."""
        files: dict[str, list[Mapping[str, Any]]] = {}
        for odata in self._file_records:
            files.setdefault(str(odata.get("SessionId", "")), []).append(odata)
        items = [
            cadip_item(odata, files.get(str(odata.get("SessionId", "")), []), i)
            for i, odata in enumerate(self._session_records)
        ]
        queryables = json.loads(
            (resources.files("rs_cadip") / "data" / "cadip_queryables.json").read_text("utf-8")
        )
        return [
            StacService(
                "cadip",
                items,
                _collections(),
                base_url=self.context.base_url,
                queryables=queryables,
                role=station_role,
                role_label=lambda station: f"cadip_{station}",
                item_label="Cadip session",
                default_collections=("cadip",),
                described_by=_DESCRIBED_BY,
            )
        ]

    def owns_v1(self, segments: list[str]) -> bool:
        """``/cadip/{station}/cadu[/search|/status]``, ``/cadip/{station}/session``."""
        return len(segments) >= 3 and segments[0] == "cadip" and tuple(segments[2:]) in _V1_ACTIONS

    def route_v1(
        self, request: RecordedRequest, segments: list[str], principal: ApiKey | None
    ) -> Response | None:
        """Answer a v1 CADIP route (GET only)."""
        if request.method != "GET":
            return detail_response(405, "Method Not Allowed")
        station = segments[1]
        action = _V1_ACTIONS[tuple(segments[2:])]
        if action == "search":
            return self._search(request, station, principal)
        if action == "sessions":
            return self._sessions_search(request, station, principal)
        denied = self._authorise(station, "download", principal)
        if action == "stage":
            return stage_answer(self.jobs, "cadip", request, denied)
        return status_answer(
            self.jobs,
            "cadip",
            request,
            denied,
            lambda name: (
                "No CadipDownloadStatus entry found in table "
                f"'cadip_download_status' for name={name!r}"
            ),
        )

    @staticmethod
    def _authorise(station: str, access: str, principal: ApiKey | None) -> Response | None:
        if station.lower() not in CADIP_STATIONS:
            return detail_response(400, f"Unknown CADIP station: {station!r}")
        if principal is None or principal.has_station_role(station_role(station, access)):
            return None
        return detail_response(
            401,
            f"Authorization key does not include the right role to {access} "
            f"from the {'cadip_' + station.lower()!r} station",
        )

    def _search(self, request: RecordedRequest, station: str, principal: ApiKey | None) -> Response:
        errors: list[dict[str, Any]] = []
        interval = request.param("datetime")
        limit = int_param(request, "limit", 1000, errors)
        if errors:
            return validation_error(errors)
        denied = self._authorise(station, "read", principal)
        if denied is not None:
            return denied
        session_ids = split_list(request.param("session_id"))
        if not (interval or session_ids):
            return detail_response(400, "Missing search parameters")
        start: float | None = None
        stop: float | None = None
        if interval:
            parsed = parse_interval(interval)
            if isinstance(parsed, Response):
                return parsed
            start, stop = parsed
        if limit < 1:
            return detail_response(422, "Pagination cannot be less 0")
        if start is not None and stop is not None and start > stop:
            return inverted_range(start, stop)
        sortby = request.param("sortby") or "-created"
        records = self.search_files(start, stop, session_ids or None, limit, sortby)
        self.jobs.register("cadip", records)
        return Response(200, feature_collection(records))

    def search_files(
        self,
        start: float | None,
        stop: float | None,
        session_ids: Sequence[str] | None,
        limit: int,
        sortby: str,
    ) -> list[Record]:
        """CADU files by publication interval and/or session ids, sorted and capped."""
        if start is not None and stop is not None and start == stop:
            return []
        if session_ids:
            wanted = set(session_ids)
            selected = [
                rec
                for sid in wanted
                for rec in self._files_by_session.get(sid, [])
                if start is None or stop is None or start <= rec.published <= stop
            ]
            selected.sort(key=lambda rec: (rec.published, rec.order))
        elif start is not None and stop is not None:
            selected = self._files.between(start, stop)
        else:
            selected = []
        return sorted_capped(selected, sortby, limit)

    def search_sessions(
        self,
        ids: Sequence[str] | None,
        platforms: Sequence[str] | None,
        start: float | None,
        stop: float | None,
    ) -> list[Session]:
        """Sessions matching every given criterion, in station order, at most 20."""
        found: list[Session] = []
        id_set = set(ids) if ids else None
        platform_set = set(platforms) if platforms else None
        for session in self._sessions:
            if id_set is not None and session.session_id not in id_set:
                continue
            if platform_set is not None and session.platform not in platform_set:
                continue
            if (
                start is not None
                and stop is not None
                and not (start <= session.downlink_start <= stop)
            ):
                continue
            found.append(session)
            if len(found) >= SESSION_PAGE_SIZE:
                break
        return found

    def session_files(self, session_id: str) -> list[Record]:
        """The CADU files of one session, in station order."""
        return list(self._files_by_session.get(session_id, []))

    def session_feature(self, session: Session, base_url: str) -> dict[str, Any]:
        """A session's v1 feature with its assets-as-a-list quirk (hrefs under ``base_url``)."""
        feature = dict(session.feature)
        feature["assets"] = [
            _session_asset(rec, base_url) for rec in self.session_files(session.session_id)
        ]
        return feature

    def _sessions_search(
        self, request: RecordedRequest, station: str, principal: ApiKey | None
    ) -> Response:
        denied = self._authorise(station, "read", principal)
        if denied is not None:
            return denied
        ids = split_list(request.param("id"))
        platforms = split_list(request.param("platform"))
        start_date, stop_date = request.param("start_date"), request.param("stop_date")
        start: float | None = None
        stop: float | None = None
        if start_date and stop_date:
            parsed = parse_interval(f"{start_date}/{stop_date}")
            if isinstance(parsed, Response):
                return parsed
            start, stop = parsed
        if not (ids or platforms or start is not None):
            return detail_response(400, "Missing search parameters")
        if station.lower() != "cadip":
            return Response(500, b"Internal Server Error", "text/plain; charset=utf-8")
        sessions = self.search_sessions(ids or None, platforms or None, start, stop)
        base = self.context.base_url()
        features = [self.session_feature(session, base) for session in sessions]
        for session in sessions:
            self.jobs.register("cadip", self.session_files(session.session_id))
        return json_response(
            200,
            {
                "type": "FeatureCollection",
                "numberMatched": len(features),
                "numberReturned": len(features),
                "features": features,
            },
        )


def synthetic(
    *,
    start: datetime | None = None,
    seed: int = 0,
    n_files: int = 100,
    n_sessions: int = 5,
) -> dict[str, list[Any]]:
    """``n_sessions`` sessions starting every 100 minutes from ``start`` (default
    2024-01-01T00:00:00Z) and ``n_files`` CADU files spread over them (two channels, numbered
    blocks, a final block per channel)."""
    if n_files and not n_sessions:
        raise ValueError("synthetic CADU files need at least one session (n_sessions >= 1)")
    rng = random.Random(seed)
    origin = start or datetime(2024, 1, 1)
    if origin.tzinfo is not None:  # naive means UTC
        origin = origin.astimezone(UTC).replace(tzinfo=None)

    def new_id() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    sessions: list[dict[str, Any]] = []
    for j in range(n_sessions):
        sat = PLATFORMS[j % len(PLATFORMS)]
        dl_start = origin + timedelta(minutes=100 * j, microseconds=rng.randint(0, 999_999))
        dl_stop = dl_start + timedelta(minutes=20)
        sessions.append(
            {
                "Id": new_id(),
                "SessionId": f"{sat}_{dl_start:%Y%m%d%H%M%S}{dl_start.microsecond:06d}",
                "NumChannels": 2,
                "PublicationDate": odata_stamp(dl_stop + timedelta(minutes=10)),
                "Satellite": sat,
                "StationUnitId": f"{j % 10:02d}",
                "DownlinkOrbit": 50_000 + j,
                "AcquisitionId": f"{50_000 + j}_A1",
                "AntennaId": "MSP21",
                "FrontEndId": "01",
                "Retransfer": False,
                "AntennaStatusOK": True,
                "FrontEndStatusOK": True,
                "PlannedDataStart": odata_stamp(dl_start),
                "PlannedDataStop": odata_stamp(dl_start + timedelta(minutes=9)),
                "DownlinkStart": odata_stamp(dl_start),
                "DownlinkStop": odata_stamp(dl_stop),
                "DownlinkStatusOK": True,
                "DeliveryPushOK": True,
            }
        )

    files: list[dict[str, Any]] = []
    for j in range(n_sessions):
        session = sessions[j]
        count = n_files // n_sessions + (1 if j < n_files % n_sessions else 0)
        dl_start = parse_odata_date(session["DownlinkStart"]).replace(tzinfo=None)
        last_block = {1: (count + 1) // 2, 2: count // 2}
        for k in range(count):
            channel = 1 + k % 2
            block = 1 + k // 2
            published = dl_start + timedelta(seconds=3 * k + 1)
            files.append(
                {
                    "Id": new_id(),
                    "Name": (
                        f"DCS_{j % 100:02d}_{session['SessionId']}_ch{channel}_DSDB_{block:05d}.raw"
                    ),
                    "SessionId": session["SessionId"],
                    "Channel": channel,
                    "BlockNumber": block,
                    "FinalBlock": block == last_block[channel],
                    "PublicationDate": odata_stamp(published),
                    "EvictionDate": odata_stamp(published + timedelta(days=7)),
                    "Size": str(rng.randint(40, 400_000)),
                    "Retransfer": False,
                }
            )
    return {"cadip_files": files, "cadip_sessions": sessions}


FAKE = FakeStation(
    kind="cadip",
    build=CadipFake,
    lists=("cadip_files", "cadip_sessions"),
    data_package="rs_cadip",
    sizes={"n_files": 1.0, "n_sessions": 0.02},
    synthetic=synthetic,
    roles=[station_role(s, a) for s in CADIP_STATIONS for a in ("read", "download")],
    rs_server_1_roles=[
        landing_page_role("cadip"),
        *(v1_0_role("cadip", s, a) for s in CADIP_STATIONS for a in ("read", "download")),
    ],
)
"""The fake CADIP stations (``StationType.fake`` of rs-plugin-cadip)."""
