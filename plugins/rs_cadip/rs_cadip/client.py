"""The CADIP station client: CADU files, sessions, staging.

>>> cadip = CadipClient("http://127.0.0.1:8000", "my-key", "alice", station="mti")
>>> cadip.station_name, cadip.href_search
('MTI', 'http://127.0.0.1:8000/cadip/MTI/cadu/search')
>>> sessions = CadipClient("http://127.0.0.1:8000", "my-key", "alice", "CADIP").search_sessions(
...     start_date="2024-01-01", stop_date="2024-01-02", platforms=["S1A"])   # doctest: +SKIP
>>> list(sessions[0].assets)                                                  # doctest: +SKIP
['DCS_04_S1A_20231126151600051390_ch1_DSDB_00001.raw', ...]
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, ClassVar, cast

from rs_cadip.protocol_v1 import CadipProtocolV1
from rs_cadip.protocol_v2 import SORTABLE, CadipProtocolV2, platform_v2, station_collection
from rs_cadip.readiness import READY_PROPERTY, SessionReadiness, session_readiness
from rs_core.dates import check_interval, to_wire
from rs_core.enums import ECadipStation, EPlatform
from rs_core.errors import InvalidInputError, NotFoundError, StagingError
from rs_core.generations import V2
from rs_core.rsserver_v1 import (
    StationItemCollection,
    check_limit,
    check_names,
    check_sortby,
    check_timeout,
    search_params,
)
from rs_core.rsserver_v2 import (
    StagingJob,
    V2Search,
    cap_items,
    check_collections_arg,
    check_max_items,
    merge_results,
    unique,
    v1_lacks,
    v2_search,
)
from rs_core.staging import StagingReport
from rs_core.station import StationClient

if TYPE_CHECKING:
    import pystac

__all__ = ["CADIP_ENV", "CadipClient"]

CADIP_ENV = "RSPY_HOST_CADIP"

_PLATFORMS = tuple(p.value for p in EPlatform)


class CadipClient(StationClient):
    """Search, stage and follow CADU files and sessions of one CADIP station.

    :param rs_server_href: RS-Server URL (cluster mode), or ``None`` for local mode where the
        service URL comes from env ``RSPY_HOST_CADIP``.
    :param rs_server_api_key: API key (cluster mode; else env ``RSPY_APIKEY``).
    :param owner_id: catalog owner.
    :param station: one of ``CADIP, INS, MPS, MTI, NSG, SGS`` (any case, or an
        :class:`~rs_core.ECadipStation`); anything else is an
        :class:`~rs_core.UnknownStationError` listing the valid ones.
    :param settings: :class:`~rs_core.RsClient` settings (``timeout``, ``retries``...).

    Search results are :class:`~rs_core.rsserver_v1.StationItemCollection` objects (a
    :class:`pystac.ItemCollection`; the server's untouched answer is in ``.raw``).
    """

    station_kind: ClassVar[str] = "cadip"
    station_ids: ClassVar[tuple[str, ...]] = tuple(s.value for s in ECadipStation)
    service_env_var: ClassVar[str] = CADIP_ENV
    v2_service: ClassVar[str] = "cadip"
    sortable_fields: ClassVar[tuple[str, ...]] = SORTABLE
    """The session fields RS-Server 1.0 sorts on (v2 file searches sort sessions, then files)."""

    def __init__(
        self,
        rs_server_href: str | None,
        rs_server_api_key: str | None,
        owner_id: str | None,
        station: str | ECadipStation,
        logger: logging.Logger | None = None,
        **settings: Any,
    ) -> None:
        # Validate the station before anything else (no client is built for a bad one).
        self.validate_station(station)
        super().__init__(
            rs_server_href, rs_server_api_key, owner_id, str(station), logger, **settings
        )

    # -- where --------------------------------------------------------------------------

    @property
    def href_cadip(self) -> str:
        """Base URL of the CADIP service: env ``RSPY_HOST_CADIP``, else ``rs_server_href``."""
        return self.service_href(CADIP_ENV, "CADIP")

    def _protocol(self) -> CadipProtocolV1:
        return CadipProtocolV1(self.http, self.href_cadip, self.station_name)

    def _v2_protocol(self) -> CadipProtocolV2:
        label = "CADIP" if self.station_name == "CADIP" else f"CADIP {self.station_name}"
        return CadipProtocolV2(
            self.http,
            self.v2_endpoints(),
            self._v2_state,
            label=label,
            owner=self.staging_owner,
            local_mode=self.local_mode,
        )

    @property
    def session_collection(self) -> str:
        """The v2 collection of this station's sessions (the station id in lower case)."""
        return station_collection(self.station_name)

    @property
    def href_search(self) -> str:
        """URL of the CADU file search of this station."""
        return CadipProtocolV1.paths(self.href_cadip, self.station_name).search

    @property
    def href_session(self) -> str:
        """URL of the session search of this station."""
        return CadipProtocolV1.session_href(self.href_cadip, self.station_name)

    @property
    def href_staging(self) -> str:
        """URL of the staging request."""
        return CadipProtocolV1.paths(self.href_cadip, self.station_name).stage

    @property
    def href_status(self) -> str:
        """URL of the staging status."""
        return CadipProtocolV1.paths(self.href_cadip, self.station_name).status

    # -- files ----------------------------------------------------------------------------

    def search_stations(
        self,
        start_date: datetime | date | str | None = None,
        stop_date: datetime | date | str | None = None,
        limit: int | None = None,
        sortby: str | None = None,
        timeout: float | None = None,
        *,
        session_id: str | Iterable[str] | None = None,
        max_items: int | None = None,
        filter: str | dict[str, Any] | None = None,
        page_size: int | None = None,
        collection: str | list[str] | tuple[str, ...] | None = None,
        bbox: Any = None,
        intersects: Any = None,
    ) -> StationItemCollection:
        """CADU files published in ``[start_date, stop_date]`` and/or of given sessions.

        Give a time range, ``session_id`` (one id or several), or both (both then apply).
        ``limit`` caps the answer, ``max_items`` the total (v2 follows ``next`` links lazily
        until it is reached; ``page_size`` sets the sessions asked per request). On v2 the
        files are the assets of the station's session items: the time range and ``filter``
        (CQL2, v2 only) select *sessions*, every file of a
        selected session is returned (one item per file, with ``cadip:session_id``), and
        ``sortby`` orders the files returned. Also v2 only: ``collection`` (one id or a list,
        default the station's: e.g. ``mti_sentinel1``), ``bbox``, ``intersects`` (GeoJSON);
        a filter is sent as cql2-json by ``POST /cadip/search``. A station without a
        collection on the server (INS, MPS, NSG in RS-Server 1.0's shipped config) is an
        :class:`~rs_core.UnknownCollectionError` naming the valid ones, never an empty result.

        >>> files = cadip.search_stations(session_id="S1A_20231126151600051390")  # doctest: +SKIP
        >>> files = cadip.search_stations(start, stop, limit=50)  # doctest: +SKIP

        v1 servers send a constant 1970 date in ``datetime``; ``created`` is the publication
        date. Raises :class:`~rs_core.InvalidInputError` before any request for bad input.
        """
        return self.search_files(
            start_date,
            stop_date,
            session_id=session_id,
            limit=limit,
            sortby=sortby,
            timeout=timeout,
            max_items=max_items,
            filter=filter,
            page_size=page_size,
            collection=collection,
            bbox=bbox,
            intersects=intersects,
        )

    def search_files(
        self,
        start_date: datetime | date | str | None = None,
        stop_date: datetime | date | str | None = None,
        *,
        session_id: str | Iterable[str] | None = None,
        limit: int | None = None,
        sortby: str | None = None,
        timeout: float | None = None,
        max_items: int | None = None,
        filter: str | dict[str, Any] | None = None,
        page_size: int | None = None,
        collection: str | list[str] | tuple[str, ...] | None = None,
        bbox: Any = None,
        intersects: Any = None,
    ) -> StationItemCollection:
        """Same as :meth:`search_stations`, keyword-friendly."""
        return cast(
            StationItemCollection,
            self._files(
                start_date, stop_date, stream=False, session_id=session_id, limit=limit,
                sortby=sortby, timeout=timeout, max_items=max_items, filter=filter,
                page_size=page_size, collection=collection, bbox=bbox, intersects=intersects,
            ),
        )  # fmt: skip

    def iter_stations(
        self,
        start_date: datetime | date | str | None = None,
        stop_date: datetime | date | str | None = None,
        limit: int | None = None,
        sortby: str | None = None,
        timeout: float | None = None,
        *,
        session_id: str | Iterable[str] | None = None,
        max_items: int | None = None,
        filter: str | dict[str, Any] | None = None,
        page_size: int | None = None,
        collection: str | list[str] | tuple[str, ...] | None = None,
        bbox: Any = None,
        intersects: Any = None,
    ) -> Iterator[pystac.Item]:
        """:meth:`search_stations`, one pystac item after the other (see
        :meth:`rs_core.StationClient.iter_stations`): on v2 a page of sessions is fetched
        when the files of the previous one are used up, and let go with them. Files sorted by
        ``sortby`` need every file first: with ``sortby`` this iterates the held result of
        :meth:`search_stations`. Bad arguments raise here, before any request.

        >>> for item in cadip.iter_stations("2024-01-01", "2024-01-02"):  # doctest: +SKIP
        ...     print(item.id, item.properties["cadip:session_id"])
        """
        return cast(
            "Iterator[pystac.Item]",
            self._files(
                start_date, stop_date, stream=True, session_id=session_id, limit=limit,
                sortby=sortby, timeout=timeout, max_items=max_items, filter=filter,
                page_size=page_size, collection=collection, bbox=bbox, intersects=intersects,
            ),
        )  # fmt: skip

    def _files(
        self,
        start_date: datetime | date | str | None,
        stop_date: datetime | date | str | None,
        *,
        stream: bool,
        session_id: str | Iterable[str] | None,
        limit: int | None,
        sortby: str | None,
        timeout: float | None,
        max_items: int | None,
        filter: str | dict[str, Any] | None,
        page_size: int | None,
        collection: str | list[str] | tuple[str, ...] | None,
        bbox: Any,
        intersects: Any,
    ) -> StationItemCollection | Iterator[pystac.Item]:
        has_range = start_date is not None or stop_date is not None
        if has_range and (start_date is None or stop_date is None):
            raise InvalidInputError("give both start_date and stop_date, or neither")
        sessions = check_names(session_id, what="session_id") if session_id is not None else None
        if not has_range and not sessions:
            raise InvalidInputError("give a time range (start_date, stop_date) or session_id")
        if start_date is not None and stop_date is not None:
            interval = search_params(start_date, stop_date, limit, sortby)
        else:
            interval = {}
            checked_limit = check_limit(limit)
            if checked_limit is not None:
                interval["limit"] = str(checked_limit)
            checked_sortby = check_sortby(sortby)
            if checked_sortby is not None:
                interval["sortby"] = checked_sortby
        cap = check_max_items(max_items)
        base = {k: v for k, v in interval.items() if k != "limit"}
        if base.get("sortby", "")[1:] == "created":
            # Sessions have no 'created' (RS-Server: 404 "not sortable"): the files'
            # publication order follows the sessions' 'published'; the files are then sorted.
            base["sortby"] = base["sortby"][0] + "published"
        search, total = self._v2_request(
            base,
            sessions,
            limit=limit,
            max_items=cap,
            page_size=page_size,
            filter=filter,
            collection=collection,
            bbox=bbox,
            intersects=intersects,
        )
        timeout = check_timeout(timeout)
        sortby = interval.get("sortby")

        def run(version: str) -> StationItemCollection | Iterator[pystac.Item]:
            if version == V2:
                if stream and not sortby:
                    return self._noted(version, self._iter_v2(search, total, timeout=timeout))
                found = self._search_v2(search, total, timeout=timeout, files=True)
                held = merge_results([found], sortby=sortby) if sortby else found
                return iter(held) if stream else held
            _refuse_v2_only(filter=filter, collection=collection, bbox=bbox, intersects=intersects)
            params = CadipProtocolV1.file_search_params(interval, sessions)
            found_v1 = cap_items(self._protocol().search_files(params, timeout=timeout), cap)
            return iter(found_v1) if stream else found_v1

        if stream and not sortby:  # a stream's first page comes later: ask the generation
            with self._generation(timeout) as version:
                return run(version)
        return self._searched(timeout, run)

    def _v2_request(
        self,
        base: dict[str, str],
        ids: list[str] | None,
        *,
        limit: int | None,
        max_items: int | None,
        page_size: Any,
        filter: Any,
        collection: Any,
        bbox: Any,
        intersects: Any,
        clauses: Iterable[dict[str, Any] | None] = (),
    ) -> tuple[V2Search, int | None]:
        names = check_collections_arg(collection)
        return v2_search(
            base,
            collections=names or (self.session_collection,),
            explicit=names is not None,
            limit=limit,
            max_items=max_items,
            page_size=check_max_items(page_size),
            filter=filter,
            clauses=clauses,
            bbox=bbox,
            intersects=intersects,
            ids=ids or (),
        )

    def _search_v2(
        self, search: V2Search, total: int | None, *, timeout: float | None, files: bool
    ) -> StationItemCollection:
        protocol = self._v2_protocol()
        if search.ids:
            search = search.without_sortby()  # a search by ids keeps the server's order
        what = f"{protocol.label} {'file' if files else 'session'} search failed"
        return protocol.find(
            search.check_sortby(self.sortable_fields, protocol.label),
            max_items=total,
            timeout=timeout,
            what=what,
            explode=protocol.explode if files else None,
        )

    def _iter_v2(
        self, search: V2Search, total: int | None, *, timeout: float | None
    ) -> Iterator[pystac.Item]:
        protocol = self._v2_protocol()
        if search.ids:
            search = search.without_sortby()  # a search by ids keeps the server's order
        return protocol.iter_find(
            search.check_sortby(self.sortable_fields, protocol.label),
            max_items=total,
            timeout=timeout,
            what=f"{protocol.label} file search failed",
            explode=protocol.explode,
        )

    # -- sessions -------------------------------------------------------------------------

    def search_sessions(
        self,
        session_ids: str | Iterable[str] | None = None,
        start_date: datetime | date | str | None = None,
        stop_date: datetime | date | str | None = None,
        platforms: str | EPlatform | Iterable[str | EPlatform] | None = None,
        timeout: float | None = None,
        *,
        max_items: int | None = None,
        filter: str | dict[str, Any] | None = None,
        page_size: int | None = None,
        collection: str | list[str] | tuple[str, ...] | None = None,
        bbox: Any = None,
        intersects: Any = None,
    ) -> StationItemCollection:
        """Sessions by id, platform and/or time range ``[start_date, stop_date]``.

        Criteria combine with AND; give at least one (a time range needs both bounds).
        Platforms are checked against :class:`~rs_core.EPlatform` (any case). Each session's
        files are its assets, keyed by file name (v1's list-form assets are normalised).
        RS-Server v1 serves sessions only at the ``CADIP`` station (others answer HTTP 500,
        raised as :class:`~rs_core.ServerError`); v2 serves them at every station that has a
        collection (its id in lower case), where the time range selects on the session's
        ``datetime`` (RS-Server 1.0: the PublicationDate), platforms become a CQL2
        ``platform = 'sentinel-1a'`` filter (one request per platform: RS-Server has no
        ``or``), and ``filter``/``max_items``/``page_size``/``collection``/``bbox``/
        ``intersects`` apply as in :meth:`search_stations`.

        >>> found = cadip.search_sessions(platforms="S1A")  # doctest: +SKIP
        >>> found[0].properties["platform"]                 # doctest: +SKIP
        'S1A'
        """
        ids = check_names(session_ids, what="session id") if session_ids is not None else None
        plats = self._check_platforms(platforms) if platforms is not None else None
        start = stop = None
        if start_date is not None or stop_date is not None:
            if start_date is None or stop_date is None:
                raise InvalidInputError(
                    "give both start_date and stop_date, or neither (the server ignores one alone)"
                )
            begin, end = check_interval(start_date, stop_date)
            start, stop = to_wire(begin), to_wire(end)
        if not ids and not plats and start is None:
            raise InvalidInputError(
                "search_sessions needs session_ids, platforms, or start_date and stop_date"
            )
        cap = check_max_items(max_items)
        interval = {"datetime": f"{start}/{stop}"} if start is not None else {}
        # one request per platform (RS-Server has no 'or'), else one without a platform clause
        platform_clauses = [
            [{"op": "=", "args": [{"property": "platform"}, platform_v2(plat)]}]
            for plat in unique(plats or ())
        ] or [[]]
        requests = [
            self._v2_request(
                interval,
                ids,
                limit=None,
                max_items=cap,
                page_size=page_size,
                filter=filter,
                collection=collection,
                bbox=bbox,
                intersects=intersects,
                clauses=clauses,
            )
            for clauses in platform_clauses
        ]
        timeout = check_timeout(timeout)

        def run(version: str) -> StationItemCollection:
            if version == V2:
                parts = [
                    self._search_v2(search, total, timeout=timeout, files=False)
                    for search, total in requests
                ]
                found = parts[0] if len(parts) == 1 else merge_results(parts, max_items=cap)
                return _with_ready(found)
            _refuse_v2_only(filter=filter, collection=collection, bbox=bbox, intersects=intersects)
            params = CadipProtocolV1.session_params(ids, start, stop, plats)
            return _with_ready(
                cap_items(self._protocol().search_sessions(params, timeout=timeout), cap)
            )

        return self._searched(timeout, run)

    @staticmethod
    def _check_platforms(platforms: Any) -> list[str]:
        values = [platforms] if isinstance(platforms, str) else platforms
        if not isinstance(values, Iterable):
            raise InvalidInputError(f"platforms must be a list of platforms, got {platforms!r}")
        out: list[str] = []
        for value in values:
            name = str(getattr(value, "value", value)).strip().upper()
            if not isinstance(value, str) or name not in _PLATFORMS:
                raise InvalidInputError(
                    f"Unknown platform {value!r}; valid platforms: {', '.join(_PLATFORMS)}"
                )
            out.append(name)
        if not out:
            raise InvalidInputError("platforms is empty")
        return out

    # -- staging --------------------------------------------------------------------------

    def staging(
        self,
        filename: str,
        s3_path: str = "",
        tmp_download_path: str = "",
        timeout: float | None = None,
        *,
        collection: str | None = None,
    ) -> StagingJob | None:
        """Ask RS-Server to stage ``filename`` (see :meth:`rs_core.StationClient.staging`).

        v2: a staging job puts the session that holds the file into the catalog ``collection``
        (default ``cadip_staged``, created when missing) and this returns its
        :class:`~rs_core.rsserver_v2.StagingJob`; v1 ignores ``collection``.
        """
        return self._stage(filename, s3_path, tmp_download_path, timeout, collection)

    # -- session readiness ---------------------------------------------------------------

    def session_readiness(
        self, session: str | pystac.Item, timeout: float | None = None
    ) -> SessionReadiness:
        """Whether ``session`` (an id, asked of the server, or a session item) is complete:
        every channel's final block arrived, downlink and delivery OK (see
        :mod:`rs_cadip.readiness`).

        >>> cadip.session_readiness("S1A_20231126151600051390").ready   # doctest: +SKIP
        True
        """
        if isinstance(session, str):
            found = self.search_sessions(session_ids=[session], timeout=timeout)
            if not found.items:
                raise NotFoundError(f"{self._label()}: no session {session!r}")
            return session_readiness(found.items[0])
        return session_readiness(session)

    def wait_until_ready(
        self,
        session_ids: Iterable[str],
        *,
        timeout: float,
        poll_interval: float = 2.0,
        request_timeout: float | None = None,
    ) -> list[SessionReadiness]:
        """Ask until every session in ``session_ids`` is ready; at most ``timeout`` seconds.

        Raises :class:`~rs_core.StagingError` naming the sessions still incomplete and why.
        """
        ids = check_names(list(session_ids), what="session id")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0:
            raise InvalidInputError(f"timeout must be a number of seconds >= 0, got {timeout!r}")
        deadline = time.monotonic() + timeout
        pause = min(0.1, poll_interval)
        while True:
            found = self.search_sessions(session_ids=ids, timeout=request_timeout)
            states = {item.id: session_readiness(item) for item in found.items}
            waiting = [i for i in ids if i not in states or not states[i].ready]
            if not waiting:
                return [states[i] for i in ids]
            left = deadline - time.monotonic()
            if left <= 0:
                why = "; ".join(
                    f"{i}: {states[i].reason}" if i in states else f"{i}: not found"
                    for i in waiting
                )
                raise StagingError(
                    f"{self._label()}: session(s) not ready after {timeout:g} s ({why})"
                )
            time.sleep(min(pause, left))
            pause = min(poll_interval, pause * 2)

    def stage_and_wait(
        self,
        files: Iterable[Any],
        *,
        wait_ready: float | None = None,
        **options: Any,
    ) -> StagingReport:
        """:meth:`rs_core.StationClient.stage_and_wait`, where ``files`` may also hold session
        items (their files are staged) and ``wait_ready`` (seconds) first waits, bounded,
        until the sessions involved are complete (:meth:`wait_until_ready`; not ready in
        time: :class:`~rs_core.StagingError`, nothing staged).

        >>> cadip.stage_and_wait(sessions, wait_ready=600)   # doctest: +SKIP
        """
        single = isinstance(files, str | Mapping | os.PathLike) or not isinstance(files, Iterable)
        entries: list[Any] = [files] if single else list(files)
        names: list[Any] = []
        sessions: list[str] = []
        for entry in entries:
            props = getattr(entry, "properties", None)
            if isinstance(props, dict) and "cadip:num_channels" in props:
                sessions.append(str(entry.id))
                names.extend(entry.assets)
            else:
                names.append(entry)
        if wait_ready is not None:
            from rs_core.staging import staging_inputs

            for name in staging_inputs(names):
                sid = session_of_file(name)
                if sid:
                    sessions.append(sid)
            if sessions:
                self.wait_until_ready(
                    unique(sessions),
                    timeout=wait_ready,
                    request_timeout=options.get("request_timeout"),
                )
        return super().stage_and_wait(names, **options)

    def _v2_locate(self, filenames: Sequence[str], timeout: float | None) -> None:
        """Find the sessions holding ``filenames`` by id (a CADU file name carries its
        session id), so that a new process can stage files it never searched."""
        ids = unique(s for s in (session_of_file(n) for n in filenames) if s)
        for chunk in range(0, len(ids), _IDS_PER_SEARCH):
            search, total = self._v2_request(
                {},
                ids[chunk : chunk + _IDS_PER_SEARCH],
                limit=None,
                max_items=None,
                page_size=None,
                filter=None,
                collection=None,
                bbox=None,
                intersects=None,
            )
            self._search_v2(search, total, timeout=timeout, files=True)


def _with_ready(found: StationItemCollection) -> StationItemCollection:
    """Set the ``ready`` property on each session (see :mod:`rs_cadip.readiness`)."""
    for item in found.items:
        item.properties[READY_PROPERTY] = session_readiness(item).ready
    return found


def session_of_file(filename: str) -> str | None:
    """The session id a CADU file name carries, else ``None``.

    >>> session_of_file("DCS_01_S1A_20200105072204051312_ch1_DSDB_00000.raw")
    'S1A_20200105072204051312'
    """
    found = _SESSION_IN_NAME.search(filename)
    return found.group(1) if found else None


_SESSION_IN_NAME = re.compile(r"(?:^|_)(S\d[A-Z]_\d{8,})_ch\d+_")
_IDS_PER_SEARCH = 50


def _refuse_v2_only(**arguments: Any) -> None:
    for name, value in arguments.items():
        if value is not None:
            raise v1_lacks(f"{name}=...")
