"""The fake PRIP station of the rs-core simulator: RS-Server 1.0's ``/prip`` STAC service.

Registered in the plugin's record (``StationType(..., fake="rs_prip.fake:FAKE")``), so the v2
simulator, ``rs simulate`` and the station test kit serve it whenever rs-plugin-prip is
installed. Its records (list ``prip_products``; packaged default
``rs_prip/data/prip_products.json``, 15 products published in March-April 2024) are the
station's OData products, mapped as RS-Server 1.0 maps them (PROTOCOL.md):

- collections as shipped in ``prip_search_config.yaml``: ``S1A_L0_IW_RAW`` and ``IW_SLC__1S``
  (station ``s1a``), ``S2B_L0_DS``, ``S2B_L0_GR``, ``S2B_L2A_TL`` (station ``s2b``), each
  selecting one product type; there is no all-products collection (a search without
  ``collections`` searches them all: the simulator's choice);
- an item is a product: ``id`` = ``Name`` without ``.zip``/``.SAFE``; ``datetime`` /
  ``start_datetime`` / ``end_datetime`` from ``ContentDate``, ``created`` = ``OriginDate``,
  ``published`` = ``PublicationDate``, ``expires`` = ``EvictionDate``, ``product:type``,
  ``platform``, ``constellation``, ``processing:facility``, ``sat:absolute_orbit``; the
  geometry is the footprint; the single asset is keyed by the item id, roles ``data`` and
  ``metadata``, href ``<sim>/Products(<Id>)/$value``;
- default sort ``-published``; roles ``rs_prip_<station>_read``.

Example:
    >>> len(FAKE.default_lists()["prip_products"])
    15
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rs_core.roles import landing_page_role
from rs_core.roles import station_role as v1_0_role
from rs_core.testing.simulator import (
    FakeContext,
    FakeStation,
    StacCollection,
    StacService,
    V2Item,
    stac_item,
)
from rs_core.testing.simulator.v2_stations import published_epoch

__all__ = ["FAKE", "PRIP_COLLECTIONS", "PripFake", "prip_item"]

PRIP_COLLECTIONS = (
    ("S1A_L0_IW_RAW", "s1a", "IW_RAW__0S"),
    ("IW_SLC__1S", "s1a", "IW_SLC__1S"),
    ("S2B_L0_DS", "s2b", "MSI_L0__DS"),
    ("S2B_L0_GR", "s2b", "MSI_L0__GR"),
    ("S2B_L2A_TL", "s2b", "MSI_L2A_TL"),
)
"""(collection id, station, product type) of RS-Server 1.0's shipped PRIP collections."""
_QUERYABLES = {
    name: {"title": name, "type": kind}
    for name, kind in (
        ("product:type", "string"),
        ("platform", "string"),
        ("constellation", "string"),
        ("processing:facility", "string"),
        ("sat:absolute_orbit", "integer"),
        ("eopf:origin_datetime", "string"),
        ("published", "string"),
        ("expires", "string"),
        ("eviction_datetime", "string"),
        ("file:checksum", "string"),
    )
}


def prip_item(odata: Mapping[str, Any], order: int) -> V2Item:
    """Map one PRIP product's OData record into its 1.0 item."""
    name = str(odata["Name"])
    item_id = name.removesuffix(".zip").removesuffix(".SAFE")
    attributes = odata.get("Attributes") or {}
    short = str(attributes.get("platformShortName", "")).lower()
    properties = {
        "datetime": odata["ContentDate"]["Start"],
        "start_datetime": odata["ContentDate"]["Start"],
        "end_datetime": odata["ContentDate"]["End"],
        "created": odata["OriginDate"],
        "published": odata["PublicationDate"],
        "expires": odata.get("EvictionDate"),
        "eopf:origin_datetime": odata["OriginDate"],
        "product:type": attributes.get("productType"),
        "platform": f"{short}{str(attributes.get('platformSerialIdentifier', '')).lower()}",
        "constellation": short,
        "processing:facility": attributes.get("processingCenter"),
        "sat:absolute_orbit": attributes.get("orbitNumber"),
    }
    asset = {
        "href": "{{sim}}" + f"/Products({odata['Id']})/$value",
        "type": odata.get("ContentType", "application/zip"),
        "roles": ["data", "metadata"],
        "file:size": odata.get("ContentLength"),
        "file:checksum": (odata.get("Checksum") or [{}])[0].get("Value"),
    }
    feature = stac_item("prip", item_id, properties, {item_id: asset}, geometry=odata["Footprint"])
    item = V2Item(item_id, feature, order, published_epoch(odata["PublicationDate"]))
    item.values["Name"] = name
    return item


class PripFake:
    """The ``/prip`` STAC service over the dataset's ``prip_products`` (no v1 face)."""

    def __init__(self, context: FakeContext) -> None:
        self.context = context
        self.items = [prip_item(o, i) for i, o in enumerate(context.dataset.prip_products)]

    def owns_v1(self, segments: list[str]) -> bool:
        """None: RS-Server v1 had no PRIP service."""
        return False

    def route_v1(self, request: Any, segments: list[str], principal: Any) -> None:
        """Never called (:meth:`owns_v1` owns nothing)."""

    def stac_services(self) -> Sequence[StacService]:
        """The ``/prip`` service."""
        collections = [
            StacCollection(
                "prip",
                coll_id,
                station,
                {"productType": ptype},
                f"{ptype} products of the {station!r} PRIP station",
                member=lambda item, t=ptype: item.values.get("product:type") == t,  # type: ignore[misc]
            )
            for coll_id, station, ptype in PRIP_COLLECTIONS
        ]
        return [
            StacService(
                "prip",
                self.items,
                collections,
                base_url=self.context.base_url,
                queryables=_QUERYABLES,
                role=lambda station, access: f"rs_prip_{station}_{access}",
                role_label=lambda station: f"prip_{station}",
                item_label="PRIP product",
                default_sort="-published",
                check=True,
            )
        ]


FAKE = FakeStation(
    kind="prip",
    build=PripFake,
    lists=("prip_products",),
    data_package="rs_prip",
    roles=[f"rs_prip_{s}_{a}" for s in ("s1a", "s2b") for a in ("read", "download")],
    rs_server_1_roles=[
        landing_page_role("prip"),
        *(v1_0_role("prip", s, a) for s in ("s1a", "s2b") for a in ("read", "download")),
    ],
)
"""The fake PRIP station (``StationType.fake`` of rs-plugin-prip)."""
