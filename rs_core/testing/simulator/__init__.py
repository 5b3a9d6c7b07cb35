"""An RS-Server simulator: a real HTTP server on 127.0.0.1 serving every installed station
plugin's fake station, the catalog, API keys, faults and a request log.

Standard library and ``attrs`` only. Built for the test suite, the plugin test kit, the
benchmarks, ``rs simulate`` and ``rs demo``. The core names no station: each station plugin
declares a :class:`FakeStation` (:mod:`.fakes`) built from the blocks :class:`V1Station`
(RS-Server v1 conventions) and :class:`StacService` (a STAC station service of RS-Server
0.2/1.0). ``RsServerSimulator(api_version="v2")`` (CLI ``--api v2``) serves the fakes' STAC
services and staging as OGC API - Processes (:mod:`.v2_staging`) instead of their v1 routes.
:meth:`RsServerSimulator.add_route` serves any other route.

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
from .fakes import FAKE_RULES, FakeContext, FakeRuleError, FakeStation, check_dataset
from .faults import FAULT_KINDS, Fault
from .messages import Headers, RecordedRequest, Response, detail_response, json_response
from .server import RouteHandler, RsServerSimulator, serve
from .stations import V1Station
from .v2_stations import StacCollection, StacService, V2Item, stac_item

__all__ = [
    "FAKE_RULES",
    "FAULT_KINDS",
    "ApiKey",
    "Dataset",
    "FakeContext",
    "FakeRuleError",
    "FakeStation",
    "Fault",
    "Headers",
    "RecordedRequest",
    "Response",
    "RouteHandler",
    "RsServerSimulator",
    "StacCollection",
    "StacService",
    "V1Station",
    "V2Item",
    "check_dataset",
    "detail_response",
    "json_response",
    "serve",
    "stac_item",
]
