"""The hooks of rs-plugin-edrs (entry point ``edrs = "rs_edrs.plugin"``): keep it light."""

from __future__ import annotations

from collections.abc import Iterator

from rs_core import Capability, CommandType, StationType, hookimpl
from rs_edrs import cli


@hookimpl
def rs_register_stations() -> Iterator[StationType]:
    """The ``edrs`` station kind: ``rs_core.get_station("edrs")``, ``rs search edrs``."""
    yield StationType(
        kind="edrs",
        client_class="rs_edrs.client:EdrsClient",  # imported only when a client is built
        stations=("EDRS",),
        capabilities={Capability.SEARCH, Capability.STAGING},
        description="EDRS: relayed products by time range and product type",
    )


@hookimpl
def rs_register_commands() -> Iterator[CommandType]:
    """The ``rs edrs-types`` sub-command."""
    yield CommandType(
        name="edrs-types",
        help="list the product types the EDRS station serves",
        configure=cli.configure,
        run=cli.run,
    )
