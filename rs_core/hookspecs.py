"""The hooks a plugin may implement. All are *registration* hooks that yield records.

A plugin is a module named by an entry point in the group ``rs_core.plugins``; the entry point
name is the plugin's name::

    # pyproject.toml of rs-plugin-prip
    [project.entry-points."rs_core.plugins"]
    prip = "rs_prip.plugin"

    # rs_prip/plugin.py
    from rs_core.plugin_api import Capability, StationType, hookimpl

    @hookimpl
    def rs_register_stations():
        yield StationType(kind="prip", client_class="rs_prip.client:PripClient",
                          stations=("PRIP",), generations=("v2",),
                          capabilities={Capability.SEARCH, Capability.STAGING},
                          fake="rs_prip.fake:FAKE")

Operations (search, staging, status) are methods of the client classes, not hooks. Everything
a plugin imports is in :mod:`rs_core.plugin_api`.
"""

from __future__ import annotations

from collections.abc import Iterable

import pluggy

from rs_core.records import CatalogType, CommandType, StationType

__all__ = ["PROJECT_NAME", "hookimpl", "hookspec"]

PROJECT_NAME = "rs_core"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def rs_register_stations() -> Iterable[StationType]:  # type: ignore[empty-body]
    """Yield a :class:`~rs_core.records.StationType` for each kind of station served.

    Example::

        @hookimpl
        def rs_register_stations():
            yield StationType(kind="cadip", client_class=CadipClient,
                              stations=("CADIP", "INS", "MPS", "MTI", "NSG", "SGS"),
                              capabilities={"search", "sessions", "staging"})

    The client class must offer ``from_rs_client(parent, station=...)``; subclassing
    :class:`rs_core.station.StationClient` gives that and the seed API for free. The record
    also declares the RS-Server ``generations`` the client speaks, the plugin's ``fake``
    station (served by ``rs simulate`` and the test kit) and extra ``search_options``.
    """


@hookspec
def rs_register_catalogs() -> Iterable[CatalogType]:  # type: ignore[empty-body]
    """Yield a :class:`~rs_core.records.CatalogType` for each kind of catalog served.

    Example::

        @hookimpl
        def rs_register_catalogs():
            yield CatalogType(kind="stac", client_class=StacClient,
                              capabilities={"transactions", "item_search"})

    The client class must offer ``from_rs_client(parent, **options)``.
    """


@hookspec
def rs_register_commands() -> Iterable[CommandType]:  # type: ignore[empty-body]
    """Yield a :class:`~rs_core.records.CommandType` for each ``rs`` sub-command added.

    Example::

        def configure(parser):
            parser.add_argument("--product-type")

        def run(args, make_client):
            client = make_client().get_station_client("prip")
            ...
            return 0

        @hookimpl
        def rs_register_commands():
            yield CommandType(name="prip-types", help="List PRIP product types",
                              configure=configure, run=run)
    """
