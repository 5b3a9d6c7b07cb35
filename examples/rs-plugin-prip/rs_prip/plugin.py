"""The hooks of rs-plugin-prip (entry point ``prip = "rs_prip.plugin"``): keep it light."""

from __future__ import annotations

from collections.abc import Iterator

from rs_core import Capability, CommandType, StationType, hookimpl
from rs_prip import cli


@hookimpl
def rs_register_stations() -> Iterator[StationType]:
    """The ``prip`` station kind: ``rs_core.get_station("prip")``, ``rs search prip``."""
    yield StationType(
        kind="prip",
        client_class="rs_prip.client:PripClient",  # imported only when a client is built
        stations=("PRIP",),
        capabilities={Capability.SEARCH, Capability.STAGING},
        description="PRIP: production products by time range and product type",
    )


@hookimpl
def rs_register_commands() -> Iterator[CommandType]:
    """The ``rs prip-types`` sub-command."""
    yield CommandType(
        name="prip-types",
        help="list the product types the PRIP station serves",
        configure=cli.configure,
        run=cli.run,
    )
