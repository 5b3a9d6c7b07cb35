"""The simulated stations' data: OData records mapped once into RS-Server v1 STAC.

A :class:`Dataset` holds the three OData record lists a real station serves (AUX products for
ADGS, CADU files and sessions for CADIP), maps each record into its v1 STAC feature at load
time, serialises it once, and keeps the records sorted by publication date so a search is a
``bisect`` plus a slice.

Filtering semantics (decided from ``requests-from-rs-server-0.2.txt`` and RS-Server's code):

- ADGS and CADIP file searches filter on the record's ``PublicationDate`` (RS-Server sends
  ``PublicationDate ge start and PublicationDate le stop`` to the station), both bounds
  inclusive. ``ContentDate`` only feeds the ADGS ``datetime``/``start_datetime``/
  ``end_datetime`` properties. ``start == stop`` gives an empty answer (as v1 does).
- ``sortby`` (``+field`` / ``-field``; a ``+`` decoded as a space counts as ascending) sorts on
  the feature's ``created``, ``datetime``, ``start_datetime``, ``end_datetime``,
  ``eviction_datetime`` or ``id``; ``doNotSort`` (and any unknown field) keeps the station
  order, which is the order of the records in the OData list. The station sorts, then ``limit``
  caps the answer (there is no pagination).
- CADIP ``session_id`` selects files by ``SessionId``; with a ``datetime`` too, both apply.
- Session searches match ``SessionId`` (ids), ``Satellite`` (platforms, exact, unknown values
  match nothing), and, only when both bounds are given, ``DownlinkStart`` within the bounds
  (inclusive). Several criteria combine with AND. Sessions come in station order, at most 20
  (RS-Server's default page).

Example:
    >>> ds = Dataset.synthetic(n_products=3, n_files=4, n_sessions=2, seed=1)
    >>> len(ds.adgs_products), len(ds.cadip_files), len(ds.cadip_sessions)
    (3, 4, 2)
"""

from __future__ import annotations

import bisect
import contextlib
import gc
import heapq
import json
import random
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = [
    "CADU_CONSTANT_DATE",
    "FILE_EXTENSION",
    "SESSION_PAGE_SIZE",
    "Dataset",
    "Record",
    "Session",
    "parse_odata_date",
]

FILE_EXTENSION = "https://stac-extensions.github.io/file/v2.1.0/schema.json"
CADU_CONSTANT_DATE = "1970-01-01T12:00:00.000Z"
"""v1 servers put this constant in a CADU feature's datetime/start_datetime/end_datetime."""
SESSION_PAGE_SIZE = 20
PLATFORMS = ("S1A", "S1B", "S1C", "S2A", "S2B", "S2C", "S3A", "S3B")
_DATA_FILES = ("adgs_products.json", "cadip_files.json", "cadip_sessions.json")
_SORT_FIELDS = ("created", "datetime", "start_datetime", "end_datetime", "eviction_datetime")


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def parse_odata_date(value: str) -> datetime:
    """Parse an OData date (``2019-02-16T18:29:37.522Z``, any fraction) into an aware UTC datetime.

    >>> parse_odata_date("2025-10-10T18:41:42.000000Z").isoformat()
    '2025-10-10T18:41:42+00:00'
    """
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _epoch(value: Any) -> float:
    if not isinstance(value, str) or not value:
        return 0.0
    try:
        return parse_odata_date(value).timestamp()
    except ValueError:
        return 0.0


def _odata_stamp(moment: datetime) -> str:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="milliseconds") + "Z"


def _compact(moment: datetime) -> str:
    """``20240101T000000`` (the form product names use)."""
    return moment.isoformat(timespec="seconds").replace("-", "").replace(":", "")


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while building many small containers (it dominates big loads)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def _as_int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


class Record:
    """One searchable station record (an AUX product or a CADU file) and its v1 feature.

    ``feature`` is the mapped STAC dict, ``feature_json`` its serialised bytes (computed once);
    sort keys other than the publication date are parsed on first use.
    """

    __slots__ = (
        "_sort_cache",
        "_status_source",
        "feature",
        "feature_json",
        "name",
        "odata",
        "order",
        "product_id",
        "published",
        "session_id",
        "size",
    )

    def __init__(
        self,
        odata: Mapping[str, Any],
        feature: dict[str, Any],
        order: int,
        status_source: str | None,
    ) -> None:
        self.odata = odata
        self.feature = feature
        self.feature_json = _ENCODER.encode(feature).encode("utf-8")
        self.name: str = str(odata.get("Name", ""))
        self.product_id: str = str(odata.get("Id", ""))
        self.session_id: str = str(odata.get("SessionId", ""))
        self.size: int = _as_int(odata.get("ContentLength", odata.get("Size", 0)))
        self.published: float = _epoch(odata.get("PublicationDate"))
        self.order = order
        self._status_source = status_source
        self._sort_cache: dict[str, float | str] = {}

    @property
    def available_at_station(self) -> str:
        """The status table's ``available_at_station`` (``%Y-%m-%dT%H:%M:%S.%f``)."""
        return _status_date(self._status_source)

    def sort_value(self, field: str) -> float | str:
        """The value ``sortby=field`` orders on (epoch seconds for dates, the name for ``id``)."""
        if field == "created":
            return self.published
        if field == "id":
            return self.name
        cached = self._sort_cache.get(field)
        if cached is None:
            cached = self._sort_cache[field] = _epoch(self.feature["properties"].get(field))
        return cached


class Session:
    """One CADIP session record and its v1 feature without assets (they depend on the URL)."""

    __slots__ = ("downlink_start", "feature", "odata", "order", "platform", "session_id")

    def __init__(self, odata: Mapping[str, Any], order: int) -> None:
        self.odata = odata
        self.order = order
        self.session_id: str = str(odata.get("SessionId", ""))
        self.platform: str = str(odata.get("Satellite", ""))
        self.downlink_start: float = _epoch(odata.get("DownlinkStart"))
        self.feature = _session_feature(odata)


def _status_date(value: str | None) -> str:
    if not value:
        return ""
    try:
        return parse_odata_date(value).replace(tzinfo=None).strftime("%Y-%m-%dT%H:%M:%S.%f")
    except ValueError:
        return ""


def _adgs_record(odata: Mapping[str, Any], order: int) -> Record:
    content = odata.get("ContentDate") or {}
    start = content.get("Start")
    end = content.get("End")
    published = odata.get("PublicationDate")
    feature: dict[str, Any] = {
        "stac_version": "1.0.0",
        "stac_extensions": [FILE_EXTENSION],
        "type": "Feature",
        "id": odata.get("Name"),
        "geometry": None,
        "properties": {
            "datetime": start,
            "start_datetime": start,
            "end_datetime": end,
            "adgs:id": odata.get("Id"),
            "created": published,
        },
        "links": [],
        "assets": {"file": {"file:size": _as_int(odata.get("ContentLength"))}},
    }
    return Record(odata, feature, order, start)


def _cadu_properties(odata: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "cadip:id": odata.get("Id"),
        "cadip:retransfer": _as_bool(odata.get("Retransfer")),
        "cadip:final_block": _as_bool(odata.get("FinalBlock")),
        "cadip:block_number": _as_int(odata.get("BlockNumber")),
        "cadip:channel": _as_int(odata.get("Channel")),
        "cadip:session_id": odata.get("SessionId"),
    }


def _cadu_record(odata: Mapping[str, Any], order: int) -> Record:
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
        "assets": {"file": {"file:size": _as_int(odata.get("Size"))}},
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


def _parse_sortby(sortby: str) -> tuple[str, bool]:
    """Return (field, descending)."""
    text = sortby.strip("\t\r\n")
    if text.startswith("-"):
        return text[1:].strip(), True
    if text.startswith(("+", " ")):
        return text[1:].strip(), False
    return text.strip(), False


def _sorted_capped(records: Sequence[Record], sortby: str, limit: int) -> list[Record]:
    """Sort ``records`` (given in ascending publication order) like the station, then cap."""
    field, descending = _parse_sortby(sortby)
    if limit <= 0:
        return []
    if field == "created":
        if descending:
            return list(reversed(records[-limit:]))
        return list(records[:limit])
    if field not in _SORT_FIELDS and field != "id":
        return heapq.nsmallest(limit, records, key=lambda rec: rec.order)
    ordered = sorted(records, key=lambda rec: rec.order)  # stable base: station order
    ordered.sort(key=lambda rec: rec.sort_value(field), reverse=descending)
    return ordered[:limit]


class _RecordIndex:
    """Records sorted by publication date, for bisect range queries."""

    def __init__(self, records: list[Record]) -> None:
        self.records = sorted(records, key=lambda rec: (rec.published, rec.order))
        self.keys = [rec.published for rec in self.records]
        self.by_name = {rec.name: rec for rec in records}

    def between(self, start: float, stop: float) -> list[Record]:
        low = bisect.bisect_left(self.keys, start)
        high = bisect.bisect_right(self.keys, stop)
        return self.records[low:high]


class Dataset:
    """The stations' OData records, mapped into v1 STAC once at load.

    Build one with :meth:`default` (the packaged fixtures), :meth:`from_folder` or
    :meth:`synthetic`, or pass the OData record lists directly.

    Example:
        >>> ds = Dataset.default()
        >>> ds.find_product(ds.adgs_products[0]["Name"]).feature["type"]
        'Feature'
    """

    def __init__(
        self,
        adgs_products: Iterable[Mapping[str, Any]] = (),
        cadip_files: Iterable[Mapping[str, Any]] = (),
        cadip_sessions: Iterable[Mapping[str, Any]] = (),
    ) -> None:
        self.adgs_products: list[Mapping[str, Any]] = list(adgs_products)
        self.cadip_files: list[Mapping[str, Any]] = list(cadip_files)
        self.cadip_sessions: list[Mapping[str, Any]] = list(cadip_sessions)
        with _gc_paused():
            adgs = [_adgs_record(o, i) for i, o in enumerate(self.adgs_products)]
            files = [_cadu_record(o, i) for i, o in enumerate(self.cadip_files)]
            self._adgs = _RecordIndex(adgs)
            self._files = _RecordIndex(files)
            self._sessions = [Session(o, i) for i, o in enumerate(self.cadip_sessions)]
            self._files_by_session: dict[str, list[Record]] = {}
            for rec in files:
                self._files_by_session.setdefault(rec.session_id, []).append(rec)

    def __repr__(self) -> str:
        return (
            f"Dataset(adgs_products={len(self.adgs_products)}, cadip_files={len(self.cadip_files)}"
            f", cadip_sessions={len(self.cadip_sessions)})"
        )

    # -- constructors ---------------------------------------------------------------------

    @classmethod
    def default(cls) -> Dataset:
        """The OData fixtures shipped with the package (97 AUX products, 409 CADU files, 7
        sessions).

        >>> len(Dataset.default().cadip_sessions)
        7
        """
        package = resources.files("rs_core.testing.simulator") / "data"
        lists = [json.loads((package / n).read_text("utf-8"))["Data"] for n in _DATA_FILES]
        return cls(*lists)

    @classmethod
    def from_folder(cls, path: str | Path) -> Dataset:
        """Load ``adgs_products.json``, ``cadip_files.json`` and ``cadip_sessions.json``
        (``{"Data": [...]}`` each; a missing file means no records) from ``path``.

        >>> Dataset.from_folder("/nonexistent-folder").adgs_products
        []
        """
        folder = Path(path)
        lists: list[list[Mapping[str, Any]]] = []
        for name in _DATA_FILES:
            file = folder / name
            if file.is_file():
                content = json.loads(file.read_text("utf-8"))
                lists.append(list(content["Data"] if isinstance(content, dict) else content))
            else:
                lists.append([])
        return cls(*lists)

    @classmethod
    def synthetic(
        cls,
        n_products: int = 100,
        n_files: int = 100,
        n_sessions: int = 5,
        start: datetime | None = None,
        seed: int = 0,
    ) -> Dataset:
        """Generate a deterministic dataset of the given sizes.

        Products are published one a minute from ``start`` (default 2024-01-01T00:00:00Z);
        sessions start every 100 minutes from ``start``; files are spread over the sessions
        (two channels, numbered blocks, a final block per channel). ``start`` may be naive
        (taken as UTC). The AUX products' station order is a seeded shuffle, so
        ``+doNotSort`` differs from a sorted answer.

        >>> ds = Dataset.synthetic(n_products=2, n_files=0, n_sessions=0)
        >>> ds.adgs_products[0]["Name"].endswith(".EOF")
        True
        """
        if n_files and not n_sessions:
            raise ValueError("synthetic CADU files need at least one session (n_sessions >= 1)")
        with _gc_paused():
            products, files, sessions = cls._generate(n_products, n_files, n_sessions, start, seed)
        return cls(products, files, sessions)

    @staticmethod
    def _generate(
        n_products: int, n_files: int, n_sessions: int, start: datetime | None, seed: int
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
        rng = random.Random(seed)
        origin = start or datetime(2024, 1, 1)
        if origin.tzinfo is not None:  # naive means UTC
            origin = origin.astimezone(UTC).replace(tzinfo=None)

        def new_id() -> str:
            return str(uuid.UUID(int=rng.getrandbits(128), version=4))

        products: list[dict[str, Any]] = []
        kinds = ("AUX_RESORB", "AUX_PREORB", "AUX_POEORB", "MPL_ORBSCT", "AUX_ECMWFD")
        for i in range(n_products):
            published = origin + timedelta(minutes=i, milliseconds=rng.randint(0, 59_999))
            valid_from = published - timedelta(hours=3)
            valid_to = valid_from + timedelta(days=1)
            sat = ("S1A", "S1B", "S2A", "S2B", "S3A", "S3B")[i % 6]
            kind = kinds[i % len(kinds)]
            stamp = _odata_stamp(published)
            name = (
                f"{sat}_OPER_{kind}_OPOD_{_compact(published)}_V{_compact(valid_from)}"
                f"_{_compact(valid_to)}_{i:06d}.EOF"
            )
            products.append(
                {
                    "Id": new_id(),
                    "Name": name,
                    "ContentType": "application/octet-stream",
                    "ContentLength": str(rng.randint(1_000, 50_000_000)),
                    "OriginDate": stamp,
                    "PublicationDate": stamp,
                    "EvictionDate": _odata_stamp(published + timedelta(days=7)),
                    "ContentDate": {
                        "Start": _odata_stamp(valid_from),
                        "End": _odata_stamp(valid_to),
                    },
                }
            )
        rng.shuffle(products)

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
                    "PublicationDate": _odata_stamp(dl_stop + timedelta(minutes=10)),
                    "Satellite": sat,
                    "StationUnitId": f"{j % 10:02d}",
                    "DownlinkOrbit": 50_000 + j,
                    "AcquisitionId": f"{50_000 + j}_A1",
                    "AntennaId": "MSP21",
                    "FrontEndId": "01",
                    "Retransfer": False,
                    "AntennaStatusOK": True,
                    "FrontEndStatusOK": True,
                    "PlannedDataStart": _odata_stamp(dl_start),
                    "PlannedDataStop": _odata_stamp(dl_start + timedelta(minutes=9)),
                    "DownlinkStart": _odata_stamp(dl_start),
                    "DownlinkStop": _odata_stamp(dl_stop),
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
                            f"DCS_{j % 100:02d}_{session['SessionId']}_ch{channel}"
                            f"_DSDB_{block:05d}.raw"
                        ),
                        "SessionId": session["SessionId"],
                        "Channel": channel,
                        "BlockNumber": block,
                        "FinalBlock": block == last_block[channel],
                        "PublicationDate": _odata_stamp(published),
                        "EvictionDate": _odata_stamp(published + timedelta(days=7)),
                        "Size": str(rng.randint(40, 400_000)),
                        "Retransfer": False,
                    }
                )
        return products, files, sessions

    # -- lookups --------------------------------------------------------------------------

    def find_product(self, name: str) -> Record | None:
        """The ADGS record named ``name``, or None."""
        return self._adgs.by_name.get(name)

    def find_file(self, name: str) -> Record | None:
        """The CADU file record named ``name``, or None."""
        return self._files.by_name.get(name)

    def search_products(self, start: float, stop: float, limit: int, sortby: str) -> list[Record]:
        """AUX products published in ``[start, stop]`` (epoch seconds), sorted and capped."""
        if start == stop:
            return []
        return _sorted_capped(self._adgs.between(start, stop), sortby, limit)

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
        return _sorted_capped(selected, sortby, limit)

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
