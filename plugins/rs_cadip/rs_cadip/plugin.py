"""rs-core plugin module of rs-plugin-cadip (entry point ``cadip = "rs_cadip.plugin"``)."""

from __future__ import annotations

from collections.abc import Iterator

from rs_core.enums import ECadipStation
from rs_core.hookspecs import hookimpl
from rs_core.records import Capability, StationType

__all__ = ["rs_register_stations"]


@hookimpl
def rs_register_stations() -> Iterator[StationType]:
    """Register the ``cadip`` station kind."""
    capabilities: frozenset[str] = frozenset(
        {
            Capability.SEARCH,
            Capability.SESSIONS,
            Capability.SEARCH_BY_SESSION,
            Capability.STAGING,
        }
    )
    yield StationType(
        kind="cadip",
        client_class="rs_cadip.client:CadipClient",  # imported when used
        stations=tuple(s.value for s in ECadipStation),
        capabilities=capabilities,
        generations=("v1", "v2"),
        fake="rs_cadip.fake:FAKE",  # the simulator's fake station, imported only by it
        description="CADIP: raw downlinked CADU chunks and sessions through RS-Server",
    )
