"""The PRIP service of RS-Server 1.0: a STAC API under ``/prip``.

Collections group products by type (the shipped config: ``S1A_L0_IW_RAW``, ``IW_SLC__1S``,
``S2B_L0_DS``, ``S2B_L0_GR``, ``S2B_L2A_TL``); there is no all-products collection, so a search
names the collections (by default every one the service lists). Items are products; the single
asset, keyed by the item id, is the product file (``href`` ``.../Products({Id})/$value``). The
seed API is file-level, so :meth:`PripProtocolV2.explode` makes one feature per asset: ``id`` =
the asset key (the file name), the product's properties, one ``file`` asset. Generic v2
conventions come from :mod:`rs_core.rsserver_v2`.

>>> product = {"id": "S2B_X.zip", "properties": {"published": "2024-06-12T03:00:00Z",
...            "datetime": "2024-06-12T02:57:21Z", "product:type": "S2B_L0_DS"},
...            "assets": {"S2B_X.zip": {"href": "h", "file:size": 3, "roles": ["data"]}}}
>>> [(f["id"], f["properties"]["product:type"]) for f in PripProtocolV2.explode(product, "c")]
[('S2B_X.zip', 'S2B_L0_DS')]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rs_core.rsserver_v2 import StationProtocolV2, asset_files, files_per_asset

__all__ = ["SORTABLE", "PripProtocolV2"]

SORTABLE = (
    "id",
    "prip:id",
    "file:size",
    "type",
    "eviction_datetime",
    "created",
    "published",
    "start_datetime",
    "end_datetime",
)
"""The fields RS-Server 1.0 sorts PRIP products on (``sort_param_mapping`` of its PRIP
station config); anything else the station refuses."""


class PripProtocolV2(StationProtocolV2):
    """RS-Server 1.0 PRIP: ``/prip/collections``, ``GET|POST /prip/search``, OGC staging."""

    service = "prip"

    @staticmethod
    @files_per_asset
    def explode(item: Mapping[str, Any], collection: str) -> list[dict[str, Any]]:
        """One file-level feature per asset of a PRIP product item."""
        return asset_files(item, collection)
