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
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any, ClassVar

from rs_cadip.protocol_v1 import CadipProtocolV1
from rs_core.dates import check_interval, to_wire
from rs_core.enums import ECadipStation, EPlatform
from rs_core.errors import InvalidInputError
from rs_core.rsserver_v1 import (
    StationItemCollection,
    check_limit,
    check_names,
    check_sortby,
    check_timeout,
    search_params,
    staging_params,
)
from rs_core.staging import StagingStatus
from rs_core.station import StationClient

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
    ) -> StationItemCollection:
        """CADU files published in ``[start_date, stop_date]`` and/or of given sessions.

        Give a time range, ``session_id`` (one id or several), or both (both then apply).

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
    ) -> StationItemCollection:
        """Same as :meth:`search_stations`, keyword-friendly."""
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
        params = CadipProtocolV1.file_search_params(interval, sessions)
        return self._protocol().search_files(params, timeout=check_timeout(timeout))

    # -- sessions -------------------------------------------------------------------------

    def search_sessions(
        self,
        session_ids: str | Iterable[str] | None = None,
        start_date: datetime | date | str | None = None,
        stop_date: datetime | date | str | None = None,
        platforms: str | EPlatform | Iterable[str | EPlatform] | None = None,
        timeout: float | None = None,
    ) -> StationItemCollection:
        """Sessions by id, platform and/or downlink start in ``[start_date, stop_date]``.

        Criteria combine with AND; give at least one (a time range needs both bounds).
        Platforms are checked against :class:`~rs_core.EPlatform` (any case). Each session's
        files are its assets, keyed by file name (v1's list-form assets are normalised).
        RS-Server v1 serves sessions only at the ``CADIP`` station (others answer HTTP 500,
        raised as :class:`~rs_core.ServerError`).

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
        params = CadipProtocolV1.session_params(ids, start, stop, plats)
        return self._protocol().search_sessions(params, timeout=check_timeout(timeout))

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
    ) -> None:
        """Ask RS-Server to stage ``filename`` (to ``s3_path`` and/or ``tmp_download_path``).

        The file must have been returned by a search (files or sessions) first. A refusal
        raises :class:`~rs_core.StagingError`.

        >>> cadip.staging("DCS_04_S1A_..._DSDB_00001.raw", s3_path="s3://b/in")  # doctest: +SKIP
        """
        params = staging_params(filename, s3_path, tmp_download_path)
        self._protocol().stage(params, timeout=check_timeout(timeout))

    def staging_info(self, filename: str, timeout: float | None = None) -> StagingStatus:
        """The staging status of ``filename`` with the server's message and times.

        Unknown name: :class:`~rs_core.NotFoundError`. A network failure raises (after the
        client's retries); it never reads as ``FAILED``.
        """
        name = self.check_filename(filename)
        return self._protocol().status(name, timeout=check_timeout(timeout))
