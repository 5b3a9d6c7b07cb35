"""Offline structural validation of STAC collections and items before they are sent.

pystac's own ``validate()`` needs ``jsonschema`` and downloads the STAC JSON schemas from
``schemas.stacspec.org``: it cannot work without internet access. These checks need neither:
they look at the fields a STAC API server requires (STAC 1.0 core) and, for RS-Server, at the
catalog's extra item rules (``stac_extensions`` present, ``s3://`` asset hrefs whose file name
equals the asset key). They catch what a server would reject with a 400, with a message that
names every problem at once.

>>> collection_problems({"type": "Collection", "id": "s1"})[:2]
['stac_version: missing', 'description: missing']
>>> validate_item({"type": "Feature", "id": "x"})  # doctest: +ELLIPSIS
Traceback (most recent call last):
rs_core.errors.InvalidInputError: Invalid STAC item 'x': stac_version: missing; ...
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from rs_core.errors import InvalidInputError

__all__ = [
    "collection_problems",
    "item_problems",
    "s3_href_of",
    "validate_collection",
    "validate_item",
]

_GEOMETRY_TYPES = frozenset(
    {
        "Point",
        "MultiPoint",
        "LineString",
        "MultiLineString",
        "Polygon",
        "MultiPolygon",
        "GeometryCollection",
    }
)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_datetime(value: Any) -> bool:
    if not isinstance(value, str) or "T" not in value.upper():
        return False
    try:
        datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        return False
    return True


def _check_id(d: Mapping[str, Any], problems: list[str]) -> None:
    value = d.get("id")
    if value is None:
        problems.append("id: missing")
    elif not isinstance(value, str) or not value.strip():
        problems.append(f"id: must be a non-empty string, got {value!r}")


def _check_common(d: Mapping[str, Any], expected_type: str, problems: list[str]) -> None:
    if d.get("type") != expected_type:
        problems.append(f"type: must be {expected_type!r}, got {d.get('type')!r}")
    version = d.get("stac_version")
    if version is None:
        problems.append("stac_version: missing")
    elif not isinstance(version, str):
        problems.append(f"stac_version: must be a string, got {version!r}")
    _check_id(d, problems)
    extensions = d.get("stac_extensions", [])
    if not isinstance(extensions, list) or not all(isinstance(e, str) for e in extensions):
        problems.append("stac_extensions: must be a list of URLs")
    links = d.get("links", [])
    if not isinstance(links, list):
        problems.append("links: must be a list")
    else:
        for n, link in enumerate(links):
            if not isinstance(link, Mapping) or not isinstance(link.get("href"), str):
                problems.append(f"links[{n}]: must be an object with a string 'href'")
            elif not isinstance(link.get("rel"), str):
                problems.append(f"links[{n}]: must have a string 'rel'")


def _check_bbox(value: Any, where: str, problems: list[str]) -> None:
    if (
        not isinstance(value, list)
        or len(value) not in (4, 6)
        or not all(_is_number(v) for v in value)
    ):
        problems.append(f"{where}: must be a list of 4 or 6 numbers, got {value!r}")


def collection_problems(d: Mapping[str, Any]) -> list[str]:
    """Everything wrong with a STAC collection dict, as ``"field: problem"`` lines.

    >>> collection_problems({"type": "Collection", "stac_version": "1.0.0", "id": "c",
    ...     "description": "d", "license": "x", "links": [],
    ...     "extent": {"spatial": {"bbox": [[-180, -90, 180, 90]]},
    ...                "temporal": {"interval": [[None, None]]}}})
    []
    """
    if not isinstance(d, Mapping):
        return [f"a collection must be a JSON object, got {type(d).__name__}"]
    problems: list[str] = []
    _check_common(d, "Collection", problems)
    for name in ("description", "license"):
        value = d.get(name)
        if value is None:
            problems.append(f"{name}: missing")
        elif not isinstance(value, str):
            problems.append(f"{name}: must be a string, got {value!r}")
    extent = d.get("extent")
    if not isinstance(extent, Mapping):
        problems.append("extent: missing (needs spatial.bbox and temporal.interval)")
        return problems
    spatial = extent.get("spatial")
    bboxes = spatial.get("bbox") if isinstance(spatial, Mapping) else None
    if not isinstance(bboxes, list) or not bboxes:
        problems.append("extent.spatial.bbox: must be a non-empty list of bounding boxes")
    else:
        for n, box in enumerate(bboxes):
            _check_bbox(box, f"extent.spatial.bbox[{n}]", problems)
    temporal = extent.get("temporal")
    intervals = temporal.get("interval") if isinstance(temporal, Mapping) else None
    if not isinstance(intervals, list) or not intervals:
        problems.append("extent.temporal.interval: must be a non-empty list of intervals")
    else:
        for n, interval in enumerate(intervals):
            where = f"extent.temporal.interval[{n}]"
            if not isinstance(interval, list) or len(interval) != 2:
                problems.append(f"{where}: must be a [start, end] pair")
                continue
            for bound in interval:
                if bound is not None and not _is_datetime(bound):
                    problems.append(f"{where}: {bound!r} is not an RFC 3339 date-time or null")
    return problems


def s3_href_of(asset: Mapping[str, Any]) -> str | None:
    """The ``s3://`` location of an asset: its ``href``, else its ``alternate.s3.href``.

    RS-Server rewrites an item's asset hrefs into download URLs and keeps the ``s3://`` one as
    an alternate; sending such an item back (an update) is fine.

    >>> s3_href_of({"href": "https://h/dl", "alternate": {"s3": {"href": "s3://b/k/f.bin"}}})
    's3://b/k/f.bin'
    """
    href = asset.get("href")
    if isinstance(href, str) and href.startswith("s3://"):
        return href
    alternate = asset.get("alternate")
    if isinstance(alternate, Mapping):
        s3 = alternate.get("s3")
        if isinstance(s3, Mapping) and isinstance(s3.get("href"), str):
            value: str = s3["href"]
            return value if value.startswith("s3://") else None
    return None


def item_problems(d: Mapping[str, Any], *, rs_server_rules: bool = False) -> list[str]:
    """Everything wrong with a STAC item dict, as ``"field: problem"`` lines.

    ``rs_server_rules`` adds RS-Server's catalog rules: ``stac_extensions`` present, and
    every asset's ``s3://`` href ends with the asset key as file name.

    >>> item_problems({"type": "Feature", "stac_version": "1.0.0", "id": "a", "links": [],
    ...     "geometry": None, "properties": {"datetime": "2024-01-01T00:00:00Z"},
    ...     "assets": {"a.bin": {"href": "s3://bucket/x/b.bin"}}}, rs_server_rules=True)[0]
    'stac_extensions: required by RS-Server (may be [])'
    """
    if not isinstance(d, Mapping):
        return [f"an item must be a JSON object, got {type(d).__name__}"]
    problems: list[str] = []
    _check_common(d, "Feature", problems)
    if "geometry" not in d:
        problems.append("geometry: missing (use null for none)")
    else:
        geometry = d["geometry"]
        if geometry is not None and (
            not isinstance(geometry, Mapping)
            or geometry.get("type") not in _GEOMETRY_TYPES
            or ("coordinates" not in geometry and "geometries" not in geometry)
        ):
            problems.append("geometry: must be a GeoJSON geometry or null")
    if d.get("bbox") is not None:
        _check_bbox(d["bbox"], "bbox", problems)
    properties = d.get("properties")
    if not isinstance(properties, Mapping):
        problems.append("properties: missing (needs datetime)")
    else:
        moment = properties.get("datetime")
        if moment is None:
            start, end = properties.get("start_datetime"), properties.get("end_datetime")
            if not (_is_datetime(start) and _is_datetime(end)):
                problems.append(
                    "properties.datetime: null or missing needs start_datetime and end_datetime"
                )
        elif not _is_datetime(moment):
            problems.append(f"properties.datetime: {moment!r} is not an RFC 3339 date-time")
    assets = d.get("assets", {})
    if not isinstance(assets, Mapping):
        problems.append("assets: must be an object")
        assets = {}
    for key, asset in assets.items():
        if not isinstance(asset, Mapping) or not isinstance(asset.get("href"), str):
            problems.append(f"assets[{key!r}]: must be an object with a string 'href'")
    if rs_server_rules:
        if "stac_extensions" not in d:
            problems.append("stac_extensions: required by RS-Server (may be [])")
        if not assets:
            problems.append("assets: RS-Server requires at least one asset")
        for key, asset in assets.items():
            if not isinstance(asset, Mapping):
                continue
            s3 = s3_href_of(asset)
            if s3 is None:
                problems.append(f"assets[{key!r}]: RS-Server needs an s3://<bucket>/<key> href")
            elif len(s3) <= 5 or "/" not in s3[5:] or posixpath.basename(s3) != key:
                problems.append(
                    f"assets[{key!r}]: the file name of {s3!r} must equal the asset key"
                )
    return problems


def _raise(kind: str, problems: list[str], d: Mapping[str, Any]) -> None:
    ident = d.get("id") if isinstance(d, Mapping) else None
    label = f"Invalid STAC {kind}" + (f" {ident!r}" if isinstance(ident, str) else "")
    raise InvalidInputError(f"{label}: {'; '.join(problems)}", detail=problems)


def validate_collection(d: Mapping[str, Any]) -> None:
    """Raise :class:`~rs_core.InvalidInputError` listing every problem of a collection dict."""
    problems = collection_problems(d)
    if problems:
        _raise("collection", problems, d)


def validate_item(d: Mapping[str, Any], *, rs_server_rules: bool = False) -> None:
    """Raise :class:`~rs_core.InvalidInputError` listing every problem of an item dict."""
    problems = item_problems(d, rs_server_rules=rs_server_rules)
    if problems:
        _raise("item", problems, d)
