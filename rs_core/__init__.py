"""rs-core: the core of rs-client, the Python client of the Copernicus Reference System.

Stations and catalogs come from plugins (``pip install rs-plugin-cadip`` ...), found through
the entry point group ``rs_core.plugins``::

    import rs_core

    cadip = rs_core.get_station("cadip", station="MTI",
                                rs_server_href="https://rs.example.eu", rs_server_api_key=KEY)
    sessions = cadip.search_sessions(start_date=start, stop_date=stop, platforms=["S1A"])

    catalog = rs_core.get_catalog(rs_server_href="https://rs.example.eu",
                                  rs_server_api_key=KEY)

Names are imported lazily: ``import rs_core`` costs little until you use something.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, TypeVar, cast, overload

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # errors
    "RsError": "rs_core.errors",
    "ConfigurationError": "rs_core.errors",
    "InvalidInputError": "rs_core.errors",
    "UnknownStationError": "rs_core.errors",
    "UnknownCollectionError": "rs_core.errors",
    "UnsortableFieldError": "rs_core.errors",
    "PluginError": "rs_core.errors",
    "UnknownKindError": "rs_core.errors",
    "RsConnectionError": "rs_core.errors",
    "RsTimeoutError": "rs_core.errors",
    "BadResponseError": "rs_core.errors",
    "HttpError": "rs_core.errors",
    "RequestRejectedError": "rs_core.errors",
    "AuthenticationError": "rs_core.errors",
    "NotFoundError": "rs_core.errors",
    "ConflictError": "rs_core.errors",
    "RateLimitedError": "rs_core.errors",
    "ServerError": "rs_core.errors",
    "StagingError": "rs_core.errors",
    "UnsupportedOperationError": "rs_core.errors",
    # enums
    "ECadipStation": "rs_core.enums",
    "EPlatform": "rs_core.enums",
    "EDownloadStatus": "rs_core.enums",
    # records and hooks
    "StationType": "rs_core.records",
    "CatalogType": "rs_core.records",
    "CommandType": "rs_core.records",
    "Capability": "rs_core.records",
    "PluginInfo": "rs_core.records",
    "hookimpl": "rs_core.hookspecs",
    # clients
    "RsClient": "rs_core.client",
    "StationClient": "rs_core.station",
    "HttpSettings": "rs_core.http",
    "StagingStatus": "rs_core.staging",
    "StagingReport": "rs_core.staging",
    "StagingOutcome": "rs_core.staging",
    "StagingInterrupted": "rs_core.staging",
    "StagingLedger": "rs_core.ledger",
    # discovery
    "list_plugins": "rs_core.plugins",
    "register_plugin": "rs_core.plugins",
    "reset_registry": "rs_core.plugins",
}

__all__ = [
    "AuthenticationError",
    "BadResponseError",
    "Capability",
    "CatalogType",
    "CommandType",
    "ConfigurationError",
    "ConflictError",
    "ECadipStation",
    "EDownloadStatus",
    "EPlatform",
    "HttpError",
    "HttpSettings",
    "InvalidInputError",
    "NotFoundError",
    "PluginError",
    "PluginInfo",
    "RateLimitedError",
    "RequestRejectedError",
    "RsClient",
    "RsConnectionError",
    "RsError",
    "RsTimeoutError",
    "ServerError",
    "StagingError",
    "StagingInterrupted",
    "StagingLedger",
    "StagingOutcome",
    "StagingReport",
    "StagingStatus",
    "StationClient",
    "StationType",
    "UnknownCollectionError",
    "UnknownKindError",
    "UnknownStationError",
    "UnsortableFieldError",
    "UnsupportedOperationError",
    "get_catalog",
    "get_station",
    "hookimpl",
    "list_plugins",
    "register_plugin",
    "reset_registry",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'rs_core' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


_Client = TypeVar("_Client")


@overload
def get_station(
    kind: type[_Client],
    station: str | None = None,
    *,
    rs_server_href: str | None = None,
    rs_server_api_key: str | None = None,
    owner_id: str | None = None,
    client: RsClient | None = None,
    **settings: Any,
) -> _Client: ...


@overload
def get_station(
    kind: str,
    station: str | None = None,
    *,
    rs_server_href: str | None = None,
    rs_server_api_key: str | None = None,
    owner_id: str | None = None,
    client: RsClient | None = None,
    **settings: Any,
) -> Any: ...


def get_station(
    kind: str | type[Any],
    station: str | None = None,
    *,
    rs_server_href: str | None = None,
    rs_server_api_key: str | None = None,
    owner_id: str | None = None,
    client: RsClient | None = None,
    **settings: Any,
) -> Any:
    """Build the client of an installed station plugin.

    ``kind`` is the plugin's kind (``"auxip"``, ``"cadip"``...) or its client class: with the
    class, the result is typed, so an editor completes its methods
    (``get_station(CadipClient, station="MTI")`` is a ``CadipClient``). ``station`` is one of
    the ids it accepts (default: its first). Pass ``client=`` to share an existing
    :class:`RsClient`'s settings and session; else the other arguments build one
    (``settings`` go to :class:`RsClient`: ``timeout``, ``retries``, ``verify``, ``logger``,
    ``api_version`` = ``"v1"``/``"v2"``/``"auto"``...).

    >>> cadip = get_station("cadip", station="MTI", rs_server_href="http://127.0.0.1:8000",
    ...                     rs_server_api_key="key", owner_id="me")   # doctest: +SKIP
    >>> cadip.station_name                                             # doctest: +SKIP
    'MTI'
    >>> from rs_cadip import CadipClient                               # doctest: +SKIP
    >>> mti = get_station(CadipClient, station="MTI", client=cadip)    # doctest: +SKIP

    Unknown kind: :class:`UnknownKindError` listing the installed kinds; unknown station:
    :class:`UnknownStationError` listing the valid ones.
    """
    if isinstance(kind, type):
        parent = client or _rs_client(rs_server_href, rs_server_api_key, owner_id, settings)
        return cast(Any, kind).from_rs_client(parent, station=station)
    from rs_core.plugins import get_registry

    record = get_registry().station_type(kind)  # fail on the kind before building anything
    parent = client or _rs_client(rs_server_href, rs_server_api_key, owner_id, settings)
    return record.load_client_class().from_rs_client(parent, station=station)


@overload
def get_catalog(
    kind: type[_Client],
    *,
    rs_server_href: str | None = None,
    rs_server_api_key: str | None = None,
    owner_id: str | None = None,
    client: RsClient | None = None,
    **options: Any,
) -> _Client: ...


@overload
def get_catalog(
    kind: str | None = None,
    *,
    rs_server_href: str | None = None,
    rs_server_api_key: str | None = None,
    owner_id: str | None = None,
    client: RsClient | None = None,
    **options: Any,
) -> Any: ...


def get_catalog(
    kind: str | type[Any] | None = None,
    *,
    rs_server_href: str | None = None,
    rs_server_api_key: str | None = None,
    owner_id: str | None = None,
    client: RsClient | None = None,
    **options: Any,
) -> Any:
    """Build the client of an installed catalog plugin (default: the only one installed).

    ``kind`` may be the catalog client class, for a typed result
    (``get_catalog(StacClient, client=cadip)`` is a ``StacClient``).

    >>> catalog = get_catalog(rs_server_href="http://127.0.0.1:8000", rs_server_api_key="k",
    ...                       owner_id="me")                         # doctest: +SKIP
    >>> catalog.get_collection("s1_l0")                              # doctest: +SKIP
    """
    if isinstance(kind, type):
        settings = {k: options.pop(k) for k in _CLIENT_SETTINGS if k in options}
        parent = client or _rs_client(rs_server_href, rs_server_api_key, owner_id, settings)
        return cast(Any, kind).from_rs_client(parent, **options)
    from rs_core.plugins import get_registry

    record = get_registry().catalog_type(kind)
    settings = {k: options.pop(k) for k in _CLIENT_SETTINGS if k in options}
    parent = client or _rs_client(rs_server_href, rs_server_api_key, owner_id, settings)
    return record.load_client_class().from_rs_client(parent, **options)


_CLIENT_SETTINGS = (
    "timeout",
    "retries",
    "verify",
    "logger",
    "apikey_check_url",
    "http_settings",
    "api_version",
    "oauth2_cookie",
    "bearer_token",
    "profile",
    "deadline",
)


def _rs_client(
    href: str | None, api_key: str | None, owner_id: str | None, settings: dict[str, Any]
) -> RsClient:
    from rs_core.client import RsClient

    return RsClient(href, api_key, owner_id, **settings)


if TYPE_CHECKING:
    from rs_core.client import RsClient
    from rs_core.enums import ECadipStation, EDownloadStatus, EPlatform
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
        UnknownCollectionError,
        UnknownKindError,
        UnknownStationError,
        UnsortableFieldError,
        UnsupportedOperationError,
    )
    from rs_core.hookspecs import hookimpl
    from rs_core.http import HttpSettings
    from rs_core.ledger import StagingLedger
    from rs_core.plugins import list_plugins, register_plugin, reset_registry
    from rs_core.records import Capability, CatalogType, CommandType, PluginInfo, StationType
    from rs_core.staging import (
        StagingInterrupted,
        StagingOutcome,
        StagingReport,
        StagingStatus,
    )
    from rs_core.station import StationClient
