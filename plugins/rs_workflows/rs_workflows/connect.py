"""Where a flow's clients come from: the settings of the process that runs it.

A flow parameter never carries a secret (Prefect stores parameters in its database and shows
them in its UI). The process running the flow (``rs workflow run``, a served flow, a worker)
finds RS-Server the way the ``rs`` command does (:func:`rs_core.config.resolve_settings`): a
profile (the flow's ``profile`` *name*, else ``RS_PROFILE``, else the config file's default)
and its stored login (``rs login``), overridden by the environment (``RS_SERVER_HREF``,
``RSPY_APIKEY``, ``RS_OWNER_ID``, ``RS_API_VERSION``, ``RS_TIMEOUT``, and in local mode
``RSPY_HOST_*``). A Prefect ``Secret`` block may hold the API key instead: the flow gets its
*name*. The staging ledger is the worker's too: ``RS_LEDGER`` (see :mod:`rs_core.ledger`).

Clients are built once per process and shared by its tasks (one HTTP session, one v2 job
memory per station).
"""

from __future__ import annotations

import threading
from typing import Any

from attrs import frozen

from rs_core.errors import ConfigurationError, InvalidInputError, UnknownStationError

__all__ = ["StationRef", "catalog_client", "resolve_station", "rs_client", "station_client"]

_lock = threading.Lock()
_clients: dict[tuple[str | None, str | None], Any] = {}


@frozen
class StationRef:
    """A station by kind and id, plus how to connect (names only, no secret)."""

    kind: str
    station: str
    profile: str | None = None
    api_key_block: str | None = None

    @property
    def label(self) -> str:
        """``kind:STATION``."""
        return f"{self.kind}:{self.station}"


def resolve_station(
    kind: str | None,
    station: str | None,
    *,
    capability: str | None = None,
    profile: str | None = None,
    api_key_block: str | None = None,
) -> StationRef:
    """Check ``kind``/``station`` against the installed plugins; fill in what is missing.

    Without ``kind``, the one kind (with ``capability``) whose stations include ``station``.

    >>> resolve_station(None, "mti", capability="sessions").kind   # doctest: +SKIP
    'cadip'
    """
    from rs_core.plugins import get_registry

    registry = get_registry()
    if kind is None:
        if station is None:
            raise InvalidInputError("give --kind or --station")
        wanted = station.strip().upper()
        kinds = [
            t
            for t in registry.stations.values()
            if wanted in t.stations and (capability is None or capability in t.capabilities)
        ]
        if len(kinds) != 1:
            found = ", ".join(sorted(t.kind for t in kinds)) or "none"
            raise UnknownStationError(
                f"station {station!r}: give --kind (kinds serving it"
                f"{' with ' + capability if capability else ''}: {found})"
            )
        record = kinds[0]
    else:
        record = registry.station_type(kind)
        if capability is not None and capability not in record.capabilities:
            raise InvalidInputError(f"the {record.kind} stations do not offer {capability}")
    name = record.load_client_class().validate_station(station)
    return StationRef(record.kind, name, profile, api_key_block)


def rs_client(profile: str | None = None, api_key_block: str | None = None) -> Any:
    """The :class:`~rs_core.RsClient` of this process for ``profile`` (cached)."""
    key = (profile, api_key_block)
    with _lock:
        client = _clients.get(key)
        if client is None:
            client = _build(profile, api_key_block)
            _clients[key] = client
        return client


def _build(profile: str | None, api_key_block: str | None) -> Any:
    from rs_core.client import RsClient

    api_key = _block_secret(api_key_block) if api_key_block else None
    return RsClient(rs_server_api_key=api_key, profile=profile)


def _block_secret(name: str) -> str:
    from prefect.blocks.system import Secret

    try:
        block: Any = Secret.load(name)
    except ValueError as err:
        raise ConfigurationError(f"no Prefect Secret block named {name!r}") from err
    value: Any = block.get()
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"the Prefect Secret block {name!r} holds no API key string")
    return value


def station_client(ref: StationRef) -> Any:
    """The station client of ``ref`` (sharing this process's :func:`rs_client`)."""
    key = ("station", ref)
    with _lock:
        cached = _stations.get(key)
    if cached is not None:
        return cached
    client = rs_client(ref.profile, ref.api_key_block).get_station_client(ref.kind, ref.station)
    with _lock:
        return _stations.setdefault(key, client)


def catalog_client(ref: StationRef) -> Any:
    """The catalog client for ``ref``'s connection."""
    key = ("catalog", ref.profile, ref.api_key_block)
    with _lock:
        cached = _stations.get(key)
    if cached is not None:
        return cached
    client = rs_client(ref.profile, ref.api_key_block).get_catalog_client()
    with _lock:
        return _stations.setdefault(key, client)


_stations: dict[tuple[Any, ...], Any] = {}


def forget_clients() -> None:
    """Drop the cached clients (tests; a process whose environment changed)."""
    with _lock:
        for client in _clients.values():
            client.close()
        _clients.clear()
        _stations.clear()
