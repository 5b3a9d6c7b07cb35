"""rs-core plugin module of rs-plugin-auxip (entry point ``auxip = "rs_auxip.plugin"``)."""

from __future__ import annotations

from collections.abc import Iterator

from rs_core.hookspecs import hookimpl
from rs_core.records import Capability, StationType

__all__ = ["rs_register_stations"]


@hookimpl
def rs_register_stations() -> Iterator[StationType]:
    """Register the ``auxip`` station kind."""
    capabilities: frozenset[str] = frozenset({Capability.SEARCH, Capability.STAGING})
    yield StationType(
        kind="auxip",
        client_class="rs_auxip.client:AuxipClient",  # imported when used
        stations=("AUXIP",),
        capabilities=capabilities,
        generations=("v1", "v2"),
        fake="rs_auxip.fake:FAKE",  # the simulator's fake station, imported only by it
        description="AUXIP: auxiliary data (ADGS) through RS-Server",
    )
