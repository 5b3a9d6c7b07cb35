"""The CADIP service of RS-Server v2 (0.2 and later): a STAC API under ``/cadip``.

Sessions are the items of a station's collection (``cadip``, ``mti``, ``sgs``...: the station
id in lower case); a session's CADU files are its assets (a mapping keyed by file name, with
``href``, ``roles: ["cadu"]``, ``file:size``, ``cadip:*``, ``created``, ``eviction_datetime``).
The seed API's file search is file-level, so :meth:`CadipProtocolV2.explode` makes one
feature per asset, shaped like a v1 CADU file: ``id`` = file name, properties ``created``,
``datetime`` (= ``created``: v2 files have no other date), ``eviction_datetime``, the asset's
``cadip:*`` fields, ``cadip:session_id`` (the session's id) and the session's ``platform``;
one ``file`` asset with ``href`` and ``file:size``.

>>> session = {"id": "S1A_1", "properties": {"platform": "sentinel-1a"},
...            "assets": {"a.raw": {"href": "h", "file:size": 3, "cadip:channel": 1,
...                                 "created": "2024-01-01T00:00:00Z"}}}
>>> file = CadipProtocolV2.explode(session, "mti")[0]
>>> file["id"], file["properties"]["cadip:session_id"], file["properties"]["cadip:channel"]
('a.raw', 'S1A_1', 1)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rs_core.rsserver_v2 import StationProtocolV2

__all__ = ["ASSET_FILE_FIELDS", "SORTABLE", "CadipProtocolV2", "platform_v2", "station_collection"]

ASSET_FILE_FIELDS = ("href", "type", "title", "roles", "file:size")
"""Asset fields that stay on the file's ``file`` asset; the others become its properties."""

SORTABLE = (
    "id",
    "start_datetime",
    "datetime",
    "end_datetime",
    "published",
    "platform",
    "cadip:id",
    "cadip:num_channels",
    "cadip:station_id",
    "cadip:station_unit_id",
    "sat:absolute_orbit",
    "cadip:acquisition_id",
    "cadip:antenna_id",
    "cadip:front_end_id",
    "cadip:retransfer",
    "cadip:antenna_status_ok",
    "cadip:front_end_status_ok",
    "cadip:planned_data_start",
    "cadip:planned_data_stop",
    "cadip:downlink_status_ok",
    "cadip:delivery_push_ok",
)
"""The session fields RS-Server 1.0 sorts on (``sort_param_mapping`` of its CADIP session
station config)."""


def station_collection(station: str) -> str:
    """The v2 collection of a station's sessions: its id in lower case.

    >>> station_collection("MTI")
    'mti'
    """
    return station.lower()


def platform_v2(platform: str) -> str:
    """A v1 platform code as RS-Server v2 writes it.

    >>> platform_v2("S1A")
    'sentinel-1a'
    """
    code = platform.strip().upper()
    return f"sentinel-{code[1:-1]}{code[-1].lower()}"


class CadipProtocolV2(StationProtocolV2):
    """RS-Server v2 CADIP: ``/cadip/collections/{station}/items`` (sessions), OGC staging."""

    service = "cadip"

    @staticmethod
    def explode(session: Mapping[str, Any], collection: str) -> list[dict[str, Any]]:
        """One v1-shaped CADU file feature per asset of a v2 session item."""
        session_props = session.get("properties") or {}
        assets = session.get("assets") or {}
        files = []
        for name, asset in assets.items() if isinstance(assets, Mapping) else ():
            fields = dict(asset) if isinstance(asset, Mapping) else {}
            file_asset = {k: fields.pop(k) for k in ASSET_FILE_FIELDS if k in fields}
            properties: dict[str, Any] = dict(fields)
            created = properties.get("created") or session_props.get("published")
            properties["datetime"] = created or session_props.get("datetime")
            properties["cadip:session_id"] = str(session.get("id"))
            for key in ("platform", "constellation"):
                if key in session_props:
                    properties[key] = session_props[key]
            files.append(
                {
                    "type": "Feature",
                    "stac_version": session.get("stac_version", "1.0.0"),
                    "stac_extensions": list(session.get("stac_extensions") or []),
                    "id": str(name),
                    "geometry": session.get("geometry"),
                    "bbox": session.get("bbox"),
                    "properties": properties,
                    "links": [],
                    "assets": {"file": file_asset},
                    "collection": collection,
                }
            )
        return files
