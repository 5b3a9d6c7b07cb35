"""rs-core plugin module of rs-plugin-prip (entry point ``prip = "rs_prip.plugin"``)."""

from __future__ import annotations

from collections.abc import Iterator

from rs_core.hookspecs import hookimpl
from rs_core.records import Capability, SearchOption, StationType

__all__ = ["rs_register_stations"]


@hookimpl
def rs_register_stations() -> Iterator[StationType]:
    """Register the ``prip`` station kind."""
    capabilities: frozenset[str] = frozenset({Capability.SEARCH, Capability.STAGING})
    yield StationType(
        kind="prip",
        client_class="rs_prip.client:PripClient",  # imported when used
        stations=("PRIP",),
        capabilities=capabilities,
        generations=("v2",),  # RS-Server 1.0 only: v1 had no PRIP service
        fake="rs_prip.fake:FAKE",  # the simulator's fake station, imported only by it
        description="PRIP: production products (RS-Server 1.0 PRIP service)",
        search_options=[
            SearchOption("product_type", help="only products of this type (e.g. MSI_L0__DS)"),
            SearchOption("platform", help="only products of this platform (S2B, sentinel-2b)"),
        ],
    )
