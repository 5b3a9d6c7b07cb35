"""The ADGS (AUXIP) service of RS-Server v1: paths, and nothing else.

Every wire detail of the AUXIP client lives here; :class:`~rs_auxip.client.AuxipClient`
validates inputs and delegates. The generic v1 conventions (string booleans, status objects,
FeatureCollection parsing) come from :mod:`rs_core.rsserver_v1`. An RS-Server v2 protocol
(``/auxip/collections/.../items`` + OGC staging) can be added next to this one behind the same
client methods.

>>> AdgsProtocolV1.paths("http://h")
StationEndpoints(search='http://h/adgs/aux/search', stage='http://h/adgs/aux', status='http://h/adgs/aux/status')
"""

from __future__ import annotations

from rs_core.http import HttpClient
from rs_core.rsserver_v1 import StationEndpoints, StationProtocolV1

__all__ = ["SEARCH_PATH", "STAGING_PATH", "STATUS_PATH", "AdgsProtocolV1"]

SEARCH_PATH = "/adgs/aux/search"
STAGING_PATH = "/adgs/aux"
STATUS_PATH = "/adgs/aux/status"


class AdgsProtocolV1(StationProtocolV1):
    """RS-Server v1 ADGS: ``/adgs/aux/search``, ``/adgs/aux``, ``/adgs/aux/status``."""

    def __init__(self, http: HttpClient, base_href: str) -> None:
        super().__init__(http, self.paths(base_href), label="AUXIP")

    @staticmethod
    def paths(base_href: str) -> StationEndpoints:
        """The three endpoint URLs under ``base_href``."""
        return StationEndpoints.under(base_href, SEARCH_PATH, STAGING_PATH, STATUS_PATH)
