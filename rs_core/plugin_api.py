"""Everything a plugin needs from rs-core, in one module: the public plugin API.

A plugin imports from here (``from rs_core.plugin_api import StationClient, V1Station``);
importing it is cheap (the station, HTTP and simulator names load on first use), so a
plugin's entry module may import from it too. What is not listed here (and in
``docs/plugin-api.md``) is internal to rs-core and may change without notice. The names, by
topic:

Hooks and records
    :data:`hookimpl`, :class:`StationType` (``generations``, ``fake``, ``search_options``),
    :class:`CatalogType`, :class:`CommandType`, :class:`SearchOption`, :class:`Capability`,
    :data:`GENERATIONS`, :class:`PluginInfo`, :func:`load_class`.
Station base class and results
    :class:`StationClient`, :class:`RsClient` (what a command's ``make_client()``
    returns), :class:`StagingStatus`, :class:`StagingReport`, :class:`EDownloadStatus`,
    :class:`StationItemCollection`.
RS-Server v1 station conventions
    :class:`StationProtocolV1`, :class:`StationEndpoints`, :func:`search_params`,
    :func:`staging_params`, :func:`check_timeout`, :func:`parse_staging_status`.
RS-Server v2 (0.2 / 1.0) station conventions
    :class:`StationProtocolV2`, :class:`StagingJob`, :func:`asset_files` (one file-level
    feature per asset of an item), :func:`files_per_asset` (marks an ``explode`` that makes
    exactly those, so that searches read file names without making the features).
HTTP layer
    :class:`HttpClient` (a client's ``self.http``: ``get_json(url, timeout=, what=)``,
    ``request(method, url, timeout=, what=, ok=, retry_on=, ...)``), :class:`HttpSettings`.
Errors
    :class:`RsError` and its subclasses below; raise them chained (``raise ... from err``).
Fake stations for the simulator and the kit
    :class:`FakeStation`, :class:`FakeContext`, :class:`V1Station`, :class:`StacService`,
    :class:`StacCollection`, :class:`V2Item`, :func:`stac_item`, :func:`check_dataset`,
    :class:`FakeRuleError`, :data:`FAKE_RULES`, :class:`RsServerSimulator`, :class:`ApiKey`,
    :class:`Fault`, :class:`RecordedRequest`, :class:`Response`, :func:`json_response`,
    :func:`detail_response`.

>>> import rs_core.plugin_api as api
>>> api.StationClient.__name__, api.V1Station.__name__
('StationClient', 'V1Station')
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from rs_core.enums import EDownloadStatus
from rs_core.errors import (
    AuthenticationError,
    BadResponseError,
    ConfigurationError,
    ConflictError,
    HttpError,
    InvalidInputError,
    NotFoundError,
    PluginError,
    RateLimitedError,
    RequestRejectedError,
    RsConnectionError,
    RsError,
    RsTimeoutError,
    ServerError,
    StagingError,
    UnknownKindError,
    UnknownStationError,
    UnsupportedOperationError,
)
from rs_core.hookspecs import hookimpl
from rs_core.records import (
    GENERATIONS,
    Capability,
    CatalogType,
    CommandType,
    PluginInfo,
    SearchOption,
    StationType,
    load_class,
)

if TYPE_CHECKING:
    from rs_core.client import RsClient
    from rs_core.http import HttpClient, HttpSettings
    from rs_core.rsserver_v1 import (
        StationEndpoints,
        StationItemCollection,
        StationProtocolV1,
        check_timeout,
        parse_staging_status,
        search_params,
        staging_params,
    )
    from rs_core.rsserver_v2 import StagingJob, StationProtocolV2, asset_files, files_per_asset
    from rs_core.staging import StagingReport, StagingStatus
    from rs_core.station import StationClient
    from rs_core.testing.simulator import (
        FAKE_RULES,
        ApiKey,
        FakeContext,
        FakeRuleError,
        FakeStation,
        Fault,
        RecordedRequest,
        Response,
        RsServerSimulator,
        StacCollection,
        StacService,
        V1Station,
        V2Item,
        check_dataset,
        detail_response,
        json_response,
        stac_item,
    )

_SIMULATOR = "rs_core.testing.simulator"
_LAZY = {
    "RsClient": "rs_core.client",
    "HttpClient": "rs_core.http",
    "HttpSettings": "rs_core.http",
    "StationEndpoints": "rs_core.rsserver_v1",
    "StationItemCollection": "rs_core.rsserver_v1",
    "StationProtocolV1": "rs_core.rsserver_v1",
    "check_timeout": "rs_core.rsserver_v1",
    "parse_staging_status": "rs_core.rsserver_v1",
    "search_params": "rs_core.rsserver_v1",
    "staging_params": "rs_core.rsserver_v1",
    "StagingJob": "rs_core.rsserver_v2",
    "StationProtocolV2": "rs_core.rsserver_v2",
    "asset_files": "rs_core.rsserver_v2",
    "files_per_asset": "rs_core.rsserver_v2",
    "StagingReport": "rs_core.staging",
    "StagingStatus": "rs_core.staging",
    "StationClient": "rs_core.station",
    **{
        name: _SIMULATOR
        for name in (
            "FAKE_RULES",
            "ApiKey",
            "FakeContext",
            "FakeRuleError",
            "FakeStation",
            "Fault",
            "RecordedRequest",
            "Response",
            "RsServerSimulator",
            "StacCollection",
            "StacService",
            "V1Station",
            "V2Item",
            "check_dataset",
            "detail_response",
            "json_response",
            "stac_item",
        )
    },
}
"""Names imported on first use: a plugin's entry module imports this module, and ``rs
--help`` must not pay for requests, pystac or the simulator."""

__all__ = [
    "FAKE_RULES",
    "GENERATIONS",
    "ApiKey",
    "AuthenticationError",
    "BadResponseError",
    "Capability",
    "CatalogType",
    "CommandType",
    "ConfigurationError",
    "ConflictError",
    "EDownloadStatus",
    "FakeContext",
    "FakeRuleError",
    "FakeStation",
    "Fault",
    "HttpClient",
    "HttpError",
    "HttpSettings",
    "InvalidInputError",
    "NotFoundError",
    "PluginError",
    "PluginInfo",
    "RateLimitedError",
    "RecordedRequest",
    "RequestRejectedError",
    "Response",
    "RsClient",
    "RsConnectionError",
    "RsError",
    "RsServerSimulator",
    "RsTimeoutError",
    "SearchOption",
    "ServerError",
    "StacCollection",
    "StacService",
    "StagingError",
    "StagingJob",
    "StagingReport",
    "StagingStatus",
    "StationClient",
    "StationEndpoints",
    "StationItemCollection",
    "StationProtocolV1",
    "StationProtocolV2",
    "StationType",
    "UnknownKindError",
    "UnknownStationError",
    "UnsupportedOperationError",
    "V1Station",
    "V2Item",
    "asset_files",
    "check_dataset",
    "check_timeout",
    "detail_response",
    "files_per_asset",
    "hookimpl",
    "json_response",
    "load_class",
    "parse_staging_status",
    "search_params",
    "stac_item",
    "staging_params",
]


def __getattr__(name: str) -> Any:
    """The heavier names, imported on first use (:data:`_LAZY`)."""
    module = _LAZY.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'rs_core.plugin_api' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
