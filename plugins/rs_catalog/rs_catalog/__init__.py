"""rs-plugin-catalog: RS-Server's STAC catalog for rs-client.

``StacClient`` is a :class:`pystac_client.Client` that also carries the
:class:`rs_core.RsClient` settings (owner, API key, shared HTTP session) and writes
collections and items::

    import rs_core

    catalog = rs_core.get_catalog(rs_server_href="https://rs.example.eu",
                                  rs_server_api_key=KEY, owner_id="alice")
    # or: rs_core.RsClient(href, KEY, "alice").get_stac_client()
    # or: rs_catalog.StacClient.open(href, KEY, "alice")
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rs_catalog.client import (
        CATALOG_ENV,
        DEFAULT_CATALOG_PATH,
        PUBLIC_LICENSE,
        PUBLIC_LICENSE_URL,
        StacClient,
        quote_segment,
    )
    from rs_catalog.records import ItemResult
    from rs_catalog.stac_io import RsStacApiIO, StacNotFoundError
    from rs_catalog.validation import (
        collection_problems,
        item_problems,
        validate_collection,
        validate_item,
    )

# Lazy: the entry point module (rs_catalog.plugin) must not import pystac-client at discovery.
_HOMES = {
    "CATALOG_ENV": "client",
    "DEFAULT_CATALOG_PATH": "client",
    "PUBLIC_LICENSE": "client",
    "PUBLIC_LICENSE_URL": "client",
    "StacClient": "client",
    "quote_segment": "client",
    "ItemResult": "records",
    "RsStacApiIO": "stac_io",
    "StacNotFoundError": "stac_io",
    "collection_problems": "validation",
    "item_problems": "validation",
    "validate_collection": "validation",
    "validate_item": "validation",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'rs_catalog' has no attribute {name!r}")
    return getattr(importlib.import_module(f"rs_catalog.{home}"), name)


__version__ = "0.1.0"

__all__ = [
    "CATALOG_ENV",
    "DEFAULT_CATALOG_PATH",
    "PUBLIC_LICENSE",
    "PUBLIC_LICENSE_URL",
    "ItemResult",
    "RsStacApiIO",
    "StacClient",
    "StacNotFoundError",
    "collection_problems",
    "item_problems",
    "quote_segment",
    "validate_collection",
    "validate_item",
]
