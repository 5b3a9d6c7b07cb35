"""The AUXIP service of RS-Server v2 (0.2 and later): a STAC API under ``/auxip``.

Every AUXIP product is an item of the station collection ``adgs`` (and of one
``adgs_<product type>`` collection), whose id is the product name without its extension and
whose one asset, keyed by the file name, is the file. The seed API is file-level, so
:meth:`AdgsProtocolV2.explode` makes one feature per asset, shaped like a v1 file: ``id`` = file
name, the item's properties (plus v1's ``adgs:id``), one ``file`` asset with ``href`` and
``file:size``. Generic v2 conventions come from :mod:`rs_core.rsserver_v2`.

>>> feature = {"id": "S1A_X", "properties": {"auxip:id": "u1", "datetime": "2024-01-01T00:00:00Z"},
...            "assets": {"S1A_X.EOF": {"href": "h", "file:size": 3}}}
>>> [f["id"] for f in AdgsProtocolV2.explode(feature, "adgs")]
['S1A_X.EOF']
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rs_core.rsserver_v2 import StationProtocolV2, asset_files, files_per_asset

__all__ = ["SORTABLE", "STATION_COLLECTION", "AdgsProtocolV2"]

STATION_COLLECTION = "adgs"
"""The v2 collection holding every product of the AUXIP station."""

SORTABLE = (
    "id",
    "auxip:id",
    "file:size",
    "type",
    "eviction_datetime",
    "created",
    "start_datetime",
    "end_datetime",
)
"""The fields RS-Server 1.0 sorts AUXIP products on (``sort_param_mapping`` of its ADGS
station config): ``published`` is refused ("not sortable")."""


class AdgsProtocolV2(StationProtocolV2):
    """RS-Server v2 AUXIP: ``/auxip/collections/{c}/items``, OGC staging."""

    service = "auxip"

    @staticmethod
    @files_per_asset
    def explode(item: Mapping[str, Any], collection: str) -> list[dict[str, Any]]:
        """One v1-shaped file feature per asset of a v2 AUXIP item."""
        files = asset_files(item, collection)
        for file in files:
            properties = file["properties"]
            if "auxip:id" in properties:
                properties.setdefault("adgs:id", properties["auxip:id"])
        return files
