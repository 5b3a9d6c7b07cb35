"""The fake EDRS station for the simulator and the station test kit: a dataset + declarations.

Declared in the plugin's record (``fake="rs_edrs.fake:FAKE"``): ``rs simulate`` and the kit's
simulators serve it whenever the plugin is installed. :class:`V1Station` does the rest.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from rs_core.plugin_api import FakeContext, FakeStation, V1Station

PRODUCT_TYPES = ("S1A_IW_SLC__1S", "S2B_MSIL1C", "S3A_OL_1_EFR___")


def product(index: int) -> dict[str, Any]:
    """Product ``index``: one every 3 days from 2024-01-01, product types in turn."""
    published = datetime(2024, 1, 1, 6, tzinfo=UTC) + timedelta(days=3 * index, hours=index)
    kind = PRODUCT_TYPES[index % len(PRODUCT_TYPES)]
    properties = {"edrs:product_type": kind, "created": f"{published:%Y-%m-%dT%H:%M:%S.%fZ}"}
    name = f"{kind}_{published:%Y%m%dT%H%M%S}_{index:04d}.SAFE.zip"
    return {"type": "Feature", "id": name, "geometry": None, "properties": properties,
            "assets": {"file": {"file:size": 1_000_000 + 7919 * index}}}  # fmt: skip


def build(context: FakeContext) -> V1Station:
    """``/edrs/search``, ``/edrs`` (staging), ``/edrs/status`` and ``/edrs/types``."""
    return V1Station(
        context, "edrs", [product(i) for i in range(9)],
        filters={"product_type": "edrs:product_type"},  # ?product_type=T: that type only
        routes={"/edrs/types": lambda request: (200, list(PRODUCT_TYPES))},
    )  # fmt: skip


FAKE = FakeStation(kind="edrs", build=build)
