"""An RS-Server v1 simulator: a real HTTP server on 127.0.0.1 speaking ADGS, CADIP and catalog.

Standard library and ``attrs`` only. Built for the test suite, the plugin test kit, the
benchmarks and ``rs demo``. ``RsServerSimulator(api_version="v2")`` (CLI ``--api v2``) serves
the same dataset as RS-Server 0.2 does instead: STAC ``/auxip`` and ``/cadip``
(:mod:`.v2_stations`) and staging as OGC API - Processes (:mod:`.v2_staging`).
:meth:`RsServerSimulator.add_route` serves a plugin's own fake service next to them.

Example:
    >>> import json, urllib.request
    >>> from rs_core.testing.simulator import RsServerSimulator, Fault
    >>> with RsServerSimulator(staging_duration=0.05) as sim:
    ...     url = sim.url + "/adgs/aux/search?datetime=2019-01-01T00:00:00Z/2019-12-31T00:00:00Z"
    ...     answer = json.load(urllib.request.urlopen(url))
    ...     answer["type"], answer["numberReturned"] > 0
    ('FeatureCollection', True)
"""

from .auth import ApiKey
from .dataset import Dataset
from .faults import FAULT_KINDS, Fault
from .messages import Headers, RecordedRequest, Response, detail_response, json_response
from .server import RouteHandler, RsServerSimulator, serve

__all__ = [
    "FAULT_KINDS",
    "ApiKey",
    "Dataset",
    "Fault",
    "Headers",
    "RecordedRequest",
    "Response",
    "RouteHandler",
    "RsServerSimulator",
    "detail_response",
    "json_response",
    "serve",
]
