"""The hooks of rs-plugin-oldprip (entry point ``oldprip = "rs_oldprip.plugin"``): keep it light."""

from __future__ import annotations

from collections.abc import Iterator

from rs_core import Capability, CommandType, StationType, hookimpl
from rs_oldprip import cli


@hookimpl
def rs_register_stations() -> Iterator[StationType]:
    """The ``oldprip`` station kind: ``rs_core.get_station("oldprip")``, ``rs search oldprip``."""
    yield StationType(
        kind="oldprip",
        client_class="rs_oldprip.client:OldPripClient",  # imported only when a client is built
        stations=("OLDPRIP",),
        capabilities={Capability.SEARCH, Capability.STAGING},
        description="OLDPRIP: production products by time range and product type",
    )


@hookimpl
def rs_register_commands() -> Iterator[CommandType]:
    """The ``rs oldprip-types`` sub-command."""
    yield CommandType(
        name="oldprip-types",
        help="list the product types the OLDPRIP station serves",
        configure=cli.configure,
        run=cli.run,
    )
