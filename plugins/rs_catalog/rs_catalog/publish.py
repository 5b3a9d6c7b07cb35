"""Publish staged station files as catalog items: the last step of the operator's day.

A station search returns STAC items whose assets point at the station; once staged, each file
lives in object storage at ``{s3_path}/{name}``. :func:`catalog_item` turns one such item into
the item RS-Server's catalog accepts (same id, datetime and properties; one asset named like
the file, at its ``s3://`` href); :func:`publish` does it for many and posts them::

    report = cadip.stage_and_wait(files, s3_path="s3://bucket/cadu")
    results = catalog.publish("s1_cadu", files, s3_path="s3://bucket/cadu", report=report)

``rs stage ... -o ndjson`` writes each staged item with its destination in the property
:data:`STAGING_PROPERTY`; :func:`publish` reads it, so ``rs publish COLL -`` needs no ``--s3``.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pystac

from rs_catalog.records import ItemResult
from rs_core.errors import InvalidInputError, RsError, StagingError

if TYPE_CHECKING:
    from rs_catalog.client import StacClient

__all__ = ["FILE_EXTENSION", "STAGING_PROPERTY", "catalog_item", "publish", "staged_href"]

STAGING_PROPERTY = "rs:staging"
FILE_EXTENSION = "https://stac-extensions.github.io/file/v2.1.0/schema.json"


def staged_href(name: str, s3_path: str) -> str:
    """Where RS-Server puts a file staged with ``s3_path``.

    >>> staged_href("a.raw", "s3://bucket/dir/")
    's3://bucket/dir/a.raw'
    """
    return f"{s3_path.rstrip('/')}/{name}"


def _as_item(value: pystac.Item | Mapping[str, Any]) -> pystac.Item:
    if isinstance(value, pystac.Item):
        return value
    if isinstance(value, Mapping) and value.get("type") == "Feature":
        try:
            return pystac.Item.from_dict(dict(value), preserve_dict=True)
        except (KeyError, TypeError, ValueError, pystac.STACError, pystac.STACTypeError) as err:
            raise InvalidInputError(
                f"Not a STAC item: {value.get('id', '?')!r} ({type(err).__name__}: {err})"
            ) from err
    raise InvalidInputError(
        f"publish takes STAC items (pystac.Item or Feature dicts), got {type(value).__name__}"
    )


def _destination(item: pystac.Item) -> str | None:
    staging = item.properties.get(STAGING_PROPERTY)
    if isinstance(staging, Mapping):
        where = staging.get("destination")
        return where if isinstance(where, str) and where else None
    return None


def catalog_item(
    station_item: pystac.Item | Mapping[str, Any], href: str, collection_id: str | None = None
) -> pystac.Item:
    """The catalog item of one staged station file.

    It keeps the station item's id, geometry, datetime (or start/end) and properties, and has
    one ``data`` asset keyed by the file name at ``href`` (with the station's ``file:size``).

    >>> item = pystac.Item("a.raw", None, None, datetime(2024, 1, 1, tzinfo=UTC), {})
    >>> catalog_item(item, "s3://bucket/dir/a.raw", "s1_cadu").assets["a.raw"].href
    's3://bucket/dir/a.raw'
    """
    source = _as_item(station_item)
    if not href.startswith("s3://"):
        raise InvalidInputError(
            f"The staged href of {source.id!r} must be s3://bucket/key (stage with s3_path), "
            f"got {href!r}"
        )
    size = next(
        (
            a.extra_fields["file:size"]
            for a in source.assets.values()
            if isinstance(a.extra_fields.get("file:size"), int)
        ),
        None,
    )
    properties = {
        k: v for k, v in source.properties.items() if k not in ("datetime", STAGING_PROPERTY)
    }
    when = source.datetime
    if when is None and not (properties.get("start_datetime") and properties.get("end_datetime")):
        when = datetime.now(UTC)
    item = pystac.Item(
        id=source.id,
        geometry=source.geometry,
        bbox=source.bbox,
        datetime=when,
        properties=properties,
        collection=collection_id,
        stac_extensions=[FILE_EXTENSION] if size is not None else [],
    )
    item.add_asset(
        posixpath.basename(href),
        pystac.Asset(
            href=href,
            roles=["data"],
            media_type="application/octet-stream",
            extra_fields={"file:size": size} if size is not None else {},
        ),
    )
    return item


def _not_staged(report: Any, name: str) -> str | None:
    """Why ``name`` must not be published according to a staging report (``None``: publish)."""
    outcome = report.outcomes.get(name)
    if outcome is None:
        return "not in the staging report"
    if outcome.state != "DONE":
        return f"staging ended {outcome.state}" + (
            f": {outcome.message}" if outcome.message else ""
        )
    return None


def _ensure_collection(
    catalog: StacClient, collection_id: str, owner_id: str | None, items: list[pystac.Item]
) -> None:
    if catalog.collection_exists(collection_id, owner_id):
        return
    moments = [
        m
        for i in items
        for m in (
            i.datetime,
            i.common_metadata.start_datetime,
            i.common_metadata.end_datetime,
        )
        if m is not None
    ] or [datetime.now(UTC)]
    extent = pystac.Extent(
        pystac.SpatialExtent([[-180.0, -90.0, 180.0, 90.0]]),
        pystac.TemporalExtent([[min(moments), max(moments)]]),
    )
    owner, _, short = collection_id.rpartition(":")
    catalog.add_collection(
        pystac.Collection(id=short, description="Staged station files", extent=extent),
        owner_id=owner or owner_id,
    )


def publish(
    catalog: StacClient,
    collection_id: str,
    files: Iterable[pystac.Item | Mapping[str, Any]],
    *,
    s3_path: str | None = None,
    hrefs: Mapping[str, str] | None = None,
    report: Any = None,
    create_collection: bool = True,
    owner_id: str | None = None,
    timeout: float | None = None,
) -> list[ItemResult]:
    """Publish staged station files into ``collection_id``; one :class:`ItemResult` per file.

    Each file's href is, in this order: ``hrefs[file id]``, the destination that
    ``rs stage -o ndjson`` wrote in :data:`STAGING_PROPERTY`, or ``{s3_path}/{file id}``.
    With ``report`` (the :class:`~rs_core.StagingReport` of ``stage_and_wait``), files that
    did not end ``DONE`` are not posted: their result carries a
    :class:`~rs_core.StagingError`. The collection is created when missing
    (``create_collection=False``: :class:`~rs_core.NotFoundError` per item instead).
    A file without any href is an :class:`~rs_core.InvalidInputError` before any request.
    """
    wanted: list[tuple[pystac.Item, str, str | None]] = []  # (item, href, why not)
    for item in (_as_item(f) for f in files):
        href = (hrefs or {}).get(item.id) or _destination(item)
        if href is None and s3_path:
            href = staged_href(item.id, s3_path)
        if href is None:
            raise InvalidInputError(
                f"No staged href for {item.id!r}: give s3_path (where it was staged) or hrefs"
            )
        wanted.append((item, href, _not_staged(report, item.id) if report is not None else None))
    to_post = [catalog_item(item, href, collection_id) for item, href, why in wanted if not why]
    if to_post and create_collection:
        _ensure_collection(catalog, collection_id, owner_id, to_post)
    posted = iter(
        catalog.add_items(collection_id, to_post, owner_id=owner_id, timeout=timeout)
        if to_post
        else []
    )
    results: list[ItemResult] = []
    for item, _href, why in wanted:
        if why:
            error: RsError = StagingError(f"{item.id} is not published: {why}")
            results.append(ItemResult(item.id, ok=False, error=error))
        else:
            results.append(next(posted))
    return results
