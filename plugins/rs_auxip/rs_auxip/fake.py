"""The fake ADGS station of the rs-core simulator: AUX products, RS-Server v1 and 0.2/1.0 faces.

Registered in the plugin's record (``StationType(..., fake="rs_auxip.fake:FAKE")``), so the
simulator, ``rs simulate`` and the station test kit serve it whenever rs-plugin-auxip is
installed. Its records are the station's OData products (list ``adgs_products``; packaged
default ``rs_auxip/data/adgs_products.json``, 97 products).

v1 (``/adgs/aux/search``, ``/adgs/aux``, ``/adgs/aux/status``): each product is mapped once
into its v1 feature (``Name`` -> id, ``Id`` -> ``adgs:id``, ``ContentDate`` ->
``datetime``/``start_datetime``/``end_datetime``, ``PublicationDate`` -> ``created``,
``ContentLength`` -> ``file:size``). Searches filter on ``PublicationDate`` (both bounds
inclusive; ``start == stop`` is empty, as v1 does); ``datetime`` is required (422).

v2 (``/auxip``, RS-Server 0.2 mapping, checked field by field against the recordings in
``shared/fixtures/rs-server-v2``): stations ``adgs`` and ``adgs2``; per station one
``<station>`` collection with every product and one ``<station>_<product type, lower-case>``
collection per product type of RS-Server's search config, whose ``query`` is
``{"productType": T}`` (exact match: the recorded ``OPER_AUX_RESORB_OPODs`` collection matches
nothing). Item: ``id`` = ``Name`` without its last extension; ``datetime``/``start_datetime`` =
``ContentDate.Start``, ``end_datetime`` = ``ContentDate.End``, ``created`` and ``published``
= ``PublicationDate``, ``platform`` = ``<platformShortName><platformSerialIdentifier>``
lower-case, ``constellation``, ``auxip:id``, ``product:type``, ``processing:datetime``,
``processing:facility``; one asset keyed by ``Name`` (``href`` ``<sim>/Products(<Id>)/$value``,
``file:checksum`` the server's unevaluated template ``$.Checksum[0].Value``, a real quirk).
``sortby=published`` is refused (404 "not sortable"), as RS-Server 1.0 does.

Example:
    >>> len(FAKE.default_lists()["adgs_products"])
    97
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

from rs_core.roles import landing_page_role
from rs_core.roles import station_role as v1_0_role
from rs_core.testing.simulator.auth import ApiKey
from rs_core.testing.simulator.dataset import (
    FILE_EXTENSION,
    Record,
    as_int,
    compact_stamp,
    odata_stamp,
)
from rs_core.testing.simulator.fakes import FakeContext, FakeStation
from rs_core.testing.simulator.messages import RecordedRequest, Response
from rs_core.testing.simulator.stations import V1Station
from rs_core.testing.simulator.v2_stations import (
    TIMESTAMPS_EXTENSION,
    StacCollection,
    StacService,
    V2Item,
    item_links,
    published_epoch,
)

__all__ = ["AUXIP_PRODUCT_TYPES", "AUXIP_STATIONS", "FAKE", "AuxipFake", "auxip_item"]

AUXIP_EXTENSION = "https://home.rs-python.eu/auxip-stac-extension/v1.1.0/schema.json"
AUXIP_STATIONS = ("adgs", "adgs2")
AUXIP_PRODUCT_TYPES = (
    "AUX_PP2",
    "OPER_AUX_ECMWFD_PDMC",
    "OPER_AUX_OBMEMC",
    "OPER_AUX_OBMEMC_PDMC",
    "OPER_AUX_PREORB_OPOD",
    "OPER_AUX_RESORB_OPOD",
    "OPER_AUX_RESORB_OPODs",
    "OPER_MPL_ORBPRE",
    "OPER_MPL_ORBSCT",
)
_DESCRIBED_BY = (
    "https://sentiwiki.copernicus.eu/web/copernicus-operations"
    "#CopernicusOperations-AuxiliaryDataGathering",
    "Auxiliary Data",
)
_SORTABLE = ("created", "datetime", "start_datetime", "end_datetime", "id", "doNotSort")


# -- v1 -----------------------------------------------------------------------------------


def adgs_record(odata: Mapping[str, Any], order: int) -> Record:
    """Map one AUX product's OData record into its v1 record."""
    content = odata.get("ContentDate") or {}
    start = content.get("Start")
    feature: dict[str, Any] = {
        "stac_version": "1.0.0",
        "stac_extensions": [FILE_EXTENSION],
        "type": "Feature",
        "id": odata.get("Name"),
        "geometry": None,
        "properties": {
            "datetime": start,
            "start_datetime": start,
            "end_datetime": content.get("End"),
            "adgs:id": odata.get("Id"),
            "created": odata.get("PublicationDate"),
        },
        "links": [],
        "assets": {"file": {"file:size": as_int(odata.get("ContentLength"))}},
    }
    return Record(odata, feature, order, start)


# -- v2 -----------------------------------------------------------------------------------


def _attributes(odata: Mapping[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for attribute in odata.get("Attributes") or ():
        if isinstance(attribute, Mapping) and "Name" in attribute:
            found[str(attribute["Name"])] = attribute.get("Value")
    return found


def _platform(short_name: Any, serial: Any) -> tuple[str | None, str | None]:
    if not isinstance(short_name, str) or not short_name:
        return None, None
    constellation = short_name.lower()
    return f"{constellation}{str(serial or '').lower()}", constellation


def auxip_item(odata: Mapping[str, Any], order: int) -> V2Item:
    """Map one AUX product's OData record into its v2 item."""
    name = str(odata.get("Name", ""))
    item_id = name.rsplit(".", 1)[0] if "." in name else name
    attributes = _attributes(odata)
    content = odata.get("ContentDate") or {}
    platform, constellation = _platform(
        attributes.get("platformShortName"), attributes.get("platformSerialIdentifier")
    )
    published = odata.get("PublicationDate")
    properties = {
        "datetime": content.get("Start"),
        "created": published,
        "start_datetime": content.get("Start"),
        "end_datetime": content.get("End"),
        "platform": platform,
        "constellation": constellation,
        "auxip:id": odata.get("Id"),
        "published": published,
        "product:type": attributes.get("productType"),
        "processing:datetime": attributes.get("processingDate"),
        "processing:facility": attributes.get("processingCenter"),
    }
    feature = {
        "type": "Feature",
        "geometry": None,
        "properties": properties,
        "id": item_id,
        "stac_version": "1.0.0",
        "assets": {
            name: {
                "href": "{{sim}}" + f"/Products({odata.get('Id')})/$value",
                "type": odata.get("ContentType") or "application/octet-stream",
                "file:size": as_int(odata.get("ContentLength")),
                "file:checksum": "$.Checksum[0].Value",
                "eviction_datetime": odata.get("EvictionDate"),
            }
        },
        "links": item_links("auxip", item_id),
        "stac_extensions": [AUXIP_EXTENSION, FILE_EXTENSION, TIMESTAMPS_EXTENSION],
        "collection": "{{coll}}",
    }
    item = V2Item(item_id, feature, order, published_epoch(published))
    item.values["Name"] = name
    item.tags["productType"] = attributes.get("productType")
    return item


def _collections() -> list[StacCollection]:
    found = [StacCollection("auxip", s, s) for s in AUXIP_STATIONS]
    for station in AUXIP_STATIONS:
        found += [
            StacCollection(
                "auxip",
                f"{station}_{t.lower()}",
                station,
                {"productType": t},
                f"{t} {station!r} station",
                member=lambda item, t=t: item.tags.get("productType") == t,  # type: ignore[misc]
            )
            for t in AUXIP_PRODUCT_TYPES
        ]
    return found


# -- the fake -----------------------------------------------------------------------------


class AuxipFake:
    """The ADGS station's v1 routes and its ``/auxip`` STAC service over ``adgs_products``."""

    def __init__(self, context: FakeContext) -> None:
        products = context.dataset.adgs_products
        self.context = context
        self._products = products
        self.v1 = V1Station(
            context,
            "adgs",
            (),
            search_path="/adgs/aux/search",
            staging_path="/adgs/aux",
            status_path="/adgs/aux/status",
            records=[adgs_record(o, i) for i, o in enumerate(products)],
            not_found=lambda name: (
                "No AdgsDownloadStatus entry found in table "
                f"'adgs_download_status' for name={name!r}"
            ),
            check=False,  # the records may be a user's dataset
        )

    def owns_v1(self, segments: list[str]) -> bool:
        """``/adgs/aux``, ``/adgs/aux/search``, ``/adgs/aux/status``."""
        return self.v1.owns_v1(segments)

    def stac_services(self) -> Sequence[StacService]:
        """The ``/auxip`` service (items mapped now: only the v2 simulator asks)."""
        queryables = json.loads(
            (resources.files("rs_auxip") / "data" / "auxip_queryables.json").read_text("utf-8")
        )
        return [
            StacService(
                "auxip",
                [auxip_item(o, i) for i, o in enumerate(self._products)],
                _collections(),
                base_url=self.context.base_url,
                queryables=queryables,
                collection_queryables=False,
                role=lambda station, access: f"rs_adgs_{access}",
                role_label=lambda station: "adgs",
                item_label="AUXIP item",
                sortable=_SORTABLE,
                described_by=_DESCRIBED_BY,
            )
        ]

    def route_v1(
        self, request: RecordedRequest, segments: list[str], principal: ApiKey | None
    ) -> Response | None:
        """Answer ``/adgs/aux...``: the generic v1 station block."""
        return self.v1.route_v1(request, segments, principal)


def synthetic(
    *, start: datetime | None = None, seed: int = 0, n_products: int = 100
) -> dict[str, list[Any]]:
    """``n_products`` AUX products, published one a minute from ``start`` (default
    2024-01-01T00:00:00Z), in a seeded shuffled station order (so ``+doNotSort`` differs from
    a sorted answer)."""
    rng = random.Random(seed)
    origin = start or datetime(2024, 1, 1)
    if origin.tzinfo is not None:  # naive means UTC
        origin = origin.astimezone(UTC).replace(tzinfo=None)
    products: list[dict[str, Any]] = []
    kinds = ("AUX_RESORB", "AUX_PREORB", "AUX_POEORB", "MPL_ORBSCT", "AUX_ECMWFD")
    for i in range(n_products):
        published = origin + timedelta(minutes=i, milliseconds=rng.randint(0, 59_999))
        valid_from = published - timedelta(hours=3)
        valid_to = valid_from + timedelta(days=1)
        sat = ("S1A", "S1B", "S2A", "S2B", "S3A", "S3B")[i % 6]
        stamp = odata_stamp(published)
        name = (
            f"{sat}_OPER_{kinds[i % len(kinds)]}_OPOD_{compact_stamp(published)}"
            f"_V{compact_stamp(valid_from)}_{compact_stamp(valid_to)}_{i:06d}.EOF"
        )
        products.append(
            {
                "Id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "Name": name,
                "ContentType": "application/octet-stream",
                "ContentLength": str(rng.randint(1_000, 50_000_000)),
                "OriginDate": stamp,
                "PublicationDate": stamp,
                "EvictionDate": odata_stamp(published + timedelta(days=7)),
                "ContentDate": {"Start": odata_stamp(valid_from), "End": odata_stamp(valid_to)},
            }
        )
    rng.shuffle(products)
    return {"adgs_products": products}


FAKE = FakeStation(
    kind="auxip",
    build=AuxipFake,
    lists=("adgs_products",),
    data_package="rs_auxip",
    sizes={"n_products": 1.0},
    synthetic=synthetic,
    roles=("rs_adgs_read", "rs_adgs_download"),
    rs_server_1_roles=[
        landing_page_role("auxip"),
        *(v1_0_role("auxip", s, a) for s in ("adgs", "adgs2") for a in ("read", "download")),
    ],
)
"""The fake ADGS station (``StationType.fake`` of rs-plugin-auxip)."""
