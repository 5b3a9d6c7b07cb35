"""Registration of the ``stac`` catalog kind (entry point ``catalog`` of ``rs_core.plugins``)."""

from __future__ import annotations

from collections.abc import Iterator

from rs_core.hookspecs import hookimpl
from rs_core.records import Capability, CatalogType

__all__ = ["rs_register_catalogs"]


@hookimpl
def rs_register_catalogs() -> Iterator[CatalogType]:
    """The RS-Server STAC catalog: ``rs_core.get_catalog("stac", ...)``, ``get_stac_client()``.

    >>> [record.kind for record in rs_register_catalogs()]
    ['stac']
    """
    yield CatalogType(
        kind="stac",
        client_class="rs_catalog.client:StacClient",  # imported when used
        capabilities=frozenset({Capability.TRANSACTIONS, Capability.ITEM_SEARCH}),
        description="RS-Server STAC catalog (pystac-client Client with transactions)",
    )
