"""The CADIP service of RS-Server v1: paths, session search, and its quirks.

Every wire detail of the CADIP client lives here; :class:`~rs_cadip.client.CadipClient`
validates inputs and delegates. Generic v1 conventions come from :mod:`rs_core.rsserver_v1`.
An RS-Server v2 protocol (sessions as items of ``/cadip/collections/...``, OGC staging) can be
added next to this one behind the same client methods.

>>> CadipProtocolV1.paths("http://h", "MTI").search
'http://h/cadip/MTI/cadu/search'
"""

from __future__ import annotations

from collections.abc import Mapping

from rs_core.http import HttpClient
from rs_core.rsserver_v1 import StationEndpoints, StationItemCollection, StationProtocolV1

__all__ = [
    "SEARCH_PATH",
    "SESSION_PATH",
    "SESSION_STATION",
    "STAGING_PATH",
    "STATUS_PATH",
    "CadipProtocolV1",
]

SEARCH_PATH = "/cadip/{station}/cadu/search"
SESSION_PATH = "/cadip/{station}/session"
STAGING_PATH = "/cadip/{station}/cadu"
STATUS_PATH = "/cadip/{station}/cadu/status"
SESSION_STATION = "CADIP"
"""The only station that serves sessions in RS-Server v1 (the others answer 500)."""


class CadipProtocolV1(StationProtocolV1):
    """RS-Server v1 CADIP at one station (upper case in the path)."""

    def __init__(self, http: HttpClient, base_href: str, station: str) -> None:
        label = "CADIP" if station == "CADIP" else f"CADIP {station}"
        super().__init__(http, self.paths(base_href, station), label=label)
        self.station = station
        self.session_url = self.session_href(base_href, station)

    @staticmethod
    def paths(base_href: str, station: str) -> StationEndpoints:
        """The search, staging and status URLs of ``station`` under ``base_href``."""
        return StationEndpoints.under(
            base_href,
            SEARCH_PATH.format(station=station),
            STAGING_PATH.format(station=station),
            STATUS_PATH.format(station=station),
        )

    @staticmethod
    def session_href(base_href: str, station: str) -> str:
        """The session search URL of ``station``."""
        return base_href.rstrip("/") + SESSION_PATH.format(station=station)

    @staticmethod
    def file_search_params(
        interval: Mapping[str, str], session_ids: list[str] | None
    ) -> dict[str, str]:
        """Add ``session_id=a,b`` to validated ``datetime``/``limit``/``sortby`` params."""
        params = dict(interval)
        if session_ids:
            params["session_id"] = ",".join(session_ids)
        return params

    @staticmethod
    def session_params(
        session_ids: list[str] | None,
        start: str | None,
        stop: str | None,
        platforms: list[str] | None,
    ) -> dict[str, str]:
        """``id=a,b``, ``platform=S1A,S2B``, ``start_date``/``stop_date`` (both or none)."""
        params: dict[str, str] = {}
        if session_ids:
            params["id"] = ",".join(session_ids)
        if platforms:
            params["platform"] = ",".join(platforms)
        if start is not None and stop is not None:
            params["start_date"] = start
            params["stop_date"] = stop
        return params

    def search_sessions(
        self, params: Mapping[str, str], *, timeout: float | None = None
    ) -> StationItemCollection:
        """``GET`` the session search; list-form assets become a mapping keyed by file name."""
        what = f"CADIP {self.station} session search failed"
        if self.station != SESSION_STATION:
            what += f" (RS-Server v1 serves sessions only at the {SESSION_STATION} station)"
        return self.get_items(self.session_url, params, timeout=timeout, what=what)
