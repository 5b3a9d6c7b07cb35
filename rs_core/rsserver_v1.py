"""RS-Server v1 station conventions shared by every station plugin.

RS-Server v1 fronts each kind of station (ADGS, CADIP, and any future PRIP/EDIP...) with the
same three endpoints and the same quirks. This module speaks them once, so that a plugin only
names its paths:

* a file search ``GET <search>?datetime=S/E[&limit=N][&sortby=±field]`` answers a GeoJSON
  ``FeatureCollection`` of STAC items (file extension, no hrefs, ``{"file": {"file:size": N}}``);
* a staging request ``GET <stage>?name=NAME[&obs=s3://...][&local=/dir]`` answers hand-made JSON
  with *string* booleans: 200 ``{"started": "true"}``, 503 ``{"started": "false"}`` when the name
  was never returned by a search (or the database is down), 408 when the worker did not start;
* a status request ``GET <status>?name=NAME`` answers a status object (``status`` in
  ``NOT_STARTED | IN_PROGRESS | FAILED | DONE``, times ``%Y-%m-%dT%H:%M:%S.%f`` without zone),
  404 for an unknown name.

It names no station: a third-party plugin reuses it as is::

    from rs_core.rsserver_v1 import StationEndpoints, StationProtocolV1

    class PripProtocolV1(StationProtocolV1):
        def __init__(self, http, base_href):
            super().__init__(http, StationEndpoints.under(base_href, "/prip/search",
                                                          "/prip", "/prip/status"),
                             label="PRIP")

Search answers become a :class:`StationItemCollection` (a :class:`pystac.ItemCollection`):
timestamps rewritten as RFC 3339, list-form assets (``[{"<file>": {...}}]``) turned into a
STAC assets mapping keyed by file name, and the server's untouched answer kept in
:attr:`StationItemCollection.raw`.

Public (the plugin API, re-exported by :mod:`rs_core.plugin_api`): :class:`StationProtocolV1`,
:class:`StationEndpoints`, :class:`StationItemCollection`, :func:`search_params`,
:func:`staging_params`, :func:`check_timeout`, :func:`parse_staging_status`. The other names
of ``__all__`` are internal: shared by rs-core's modules and the first-party plugins, they may
change without notice.
"""

from __future__ import annotations

import copy
import functools
import json
import logging
import random
import re
import reprlib
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

import pystac
import requests
from attrs import frozen

from rs_core.dates import WIRE_FORMAT, check_interval, parse_datetime, to_wire
from rs_core.enums import EDownloadStatus
from rs_core.errors import BadResponseError, HttpError, InvalidInputError, StagingError
from rs_core.http import HttpClient, _retry_after, decode_json, require
from rs_core.items import _ATOMS, _STRINGS, LazyItemList, build_item, copy_nested, json_copy
from rs_core.roles import station_role
from rs_core.staging import StagingStatus

__all__ = [
    "DATETIME_PROPERTIES",
    "FILE_EXTENSION",
    "STAGING_RETRY_ON",
    "ItemBuilder",
    "StationEndpoints",
    "StationItemCollection",
    "StationProtocolV1",
    "check_limit",
    "check_names",
    "check_sortby",
    "check_timeout",
    "content_problem",
    "feature_collection_to_items",
    "feature_problem",
    "normalise_assets",
    "normalise_feature",
    "parse_staging_status",
    "search_params",
    "staging_params",
    "string_bool",
]

FILE_EXTENSION = "https://stac-extensions.github.io/file/v2.1.0/schema.json"

STAGING_RETRY_ON: tuple[int, ...] = (429, 502, 504)
"""Statuses the HTTP layer retries for a staging request. A 503 is retried by
:meth:`StationProtocolV1.stage` itself, unless its body is v1's refusal ``{"started": ...}``."""

DATETIME_PROPERTIES = frozenset(
    {
        "datetime",
        "start_datetime",
        "end_datetime",
        "created",
        "updated",
        "published",
        "expires",
        "unpublished",
        "eviction_datetime",
    }
)
"""Property (and asset field) names whose values are rewritten as RFC 3339 timestamps.

Fields ending in ``_datetime`` or ``:planned_data_start``/``_stop`` are rewritten as well.
"""

_LOG = logging.getLogger("rs_core.rsserver_v1")
_SORTBY = re.compile(r"^[+-]?[A-Za-z_][A-Za-z0-9_:.\-]*$")
_TIMESTAMP_SUFFIXES = ("_datetime", "planned_data_start", "planned_data_stop")


# -- input checks ------------------------------------------------------------------------


def check_limit(limit: Any) -> int | None:
    """``None`` or an ``int >= 1``; anything else is an :class:`InvalidInputError`.

    >>> check_limit(None), check_limit(5)
    (None, 5)
    """
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise InvalidInputError(f"limit must be a positive integer or None, got {limit!r}")
    if limit < 1:
        raise InvalidInputError(f"limit must be >= 1, got {limit}")
    return limit


def check_sortby(sortby: Any) -> str | None:
    """``None`` or ``field``, ``+field``, ``-field`` (``field`` means ascending: ``+field``).

    >>> check_sortby("created"), check_sortby("-created")
    ('+created', '-created')
    """
    if sortby is None:
        return None
    if not isinstance(sortby, str) or not _SORTBY.match(sortby.strip()):
        raise InvalidInputError(
            f"sortby must be 'field', '+field' or '-field' (e.g. '-created'), got {sortby!r}"
        )
    text = sortby.strip()
    return text if text[0] in "+-" else f"+{text}"


def check_timeout(timeout: Any) -> float | None:
    """``None`` (the client's default) or a positive number of seconds."""
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise InvalidInputError(f"timeout must be a positive number of seconds, got {timeout!r}")
    return float(timeout)


def check_names(values: Any, *, what: str) -> list[str]:
    """A name or an iterable of names, each a non-empty string without ``,``.

    >>> check_names("a", what="session_id"), check_names(["a", "b"], what="session_id")
    (['a'], ['a', 'b'])
    """
    items = [values] if isinstance(values, str) else values
    if not isinstance(items, Iterable) or isinstance(items, Mapping):
        raise InvalidInputError(f"{what} must be a string or a list of strings, got {values!r}")
    names: list[str] = []
    for value in items:
        if not isinstance(value, str) or not value.strip() or "," in value:
            raise InvalidInputError(
                f"each {what} must be a non-empty string without ',', got {value!r}"
            )
        names.append(value.strip())
    if not names:
        raise InvalidInputError(f"{what} is empty")
    return names


def search_params(
    start_date: datetime | date | str,
    stop_date: datetime | date | str,
    limit: int | None = None,
    sortby: str | None = None,
) -> dict[str, str]:
    """The query of a v1 file search, validated: ``datetime``, ``limit``, ``sortby``.

    Naive datetimes are taken as UTC, aware ones converted to UTC.

    >>> from datetime import datetime
    >>> search_params(datetime(2024, 1, 1), datetime(2024, 1, 2), 10, "-created")
    {'datetime': '2024-01-01T00:00:00Z/2024-01-02T00:00:00Z', 'limit': '10', 'sortby': '-created'}
    """
    begin, end = check_interval(start_date, stop_date)
    params = {"datetime": f"{begin.strftime(WIRE_FORMAT)}/{end.strftime(WIRE_FORMAT)}"}
    checked_limit = check_limit(limit)
    if checked_limit is not None:
        params["limit"] = str(checked_limit)
    checked_sortby = check_sortby(sortby)
    if checked_sortby is not None:
        params["sortby"] = checked_sortby
    return params


def staging_params(filename: Any, s3_path: Any = "", tmp_download_path: Any = "") -> dict[str, str]:
    """The query of a v1 staging request: ``name``, and ``obs``/``local`` when given.

    >>> staging_params("a.raw", "s3://bucket/dir")
    {'name': 'a.raw', 'obs': 's3://bucket/dir'}
    """
    if not isinstance(filename, str) or not filename.strip():
        raise InvalidInputError(f"filename must be a non-empty string, got {filename!r}")
    params = {"name": filename}
    if s3_path:
        if not isinstance(s3_path, str) or not s3_path.startswith("s3://"):
            raise InvalidInputError(f"s3_path must start with 's3://', got {s3_path!r}")
        params["obs"] = s3_path
    if tmp_download_path:
        if not isinstance(tmp_download_path, str):
            raise InvalidInputError(
                f"tmp_download_path must be a string, got {type(tmp_download_path).__name__}"
            )
        params["local"] = tmp_download_path
    return params


# -- answers -----------------------------------------------------------------------------


def string_bool(value: Any) -> bool | None:
    """Decode v1's hand-made booleans: ``"true"``/``"false"`` (any case) or real booleans.

    >>> string_bool("true"), string_bool("False"), string_bool(True), string_bool("maybe")
    (True, False, True, None)
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
    return None


class StationItemCollection(pystac.ItemCollection):
    """A :class:`pystac.ItemCollection` that keeps the server's untouched answer in :attr:`raw`.

    ``extra_fields`` holds the answer's other top-level keys (``numberMatched``,
    ``numberReturned``), which :meth:`to_dict` writes back.

    The items of a search answer are built when first touched (see :mod:`rs_core.items`):
    ``len()`` and :attr:`ids` build none.

    >>> found = StationItemCollection([], raw={"type": "FeatureCollection", "features": []})
    >>> len(found), found.raw["type"]
    (0, 'FeatureCollection')
    """

    def __init__(
        self,
        items: Iterable[Any],
        extra_fields: dict[str, Any] | None = None,
        clone_items: bool = True,
        raw: dict[str, Any] | Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        if isinstance(items, LazyItemList):
            super().__init__([], extra_fields=extra_fields, clone_items=False)
            self.items = items
        else:
            super().__init__(items, extra_fields=extra_fields, clone_items=clone_items)
        self._raw: dict[str, Any] | None = None
        self._raw_source: Callable[[], dict[str, Any]] | None = None
        if callable(raw):
            self._raw_source = raw
        else:
            self._raw = raw if raw is not None else {}

    @property
    def raw(self) -> dict[str, Any]:
        """The decoded JSON answer exactly as the server sent it (before any normalisation).

        Decoded again from the answer's bytes the first time it is read, when the items were
        built from the first decoding: the items never share anything with it.
        """
        if self._raw is None:
            source, self._raw_source = self._raw_source, None
            self._raw = source() if source is not None else {}
        return self._raw

    @raw.setter
    def raw(self, value: dict[str, Any]) -> None:
        self._raw, self._raw_source = value, None

    @property
    def ids(self) -> list[str]:
        """Every item's id, without building items that are not built yet."""
        if isinstance(self.items, LazyItemList):
            return self.items.ids
        return [item.id for item in self.items]

    @property
    def number_matched(self) -> int | None:
        """The server's ``numberMatched``, if it sent one."""
        value = self.extra_fields.get("numberMatched")
        return value if isinstance(value, int) else None

    def head(self, count: int) -> StationItemCollection:
        """The first ``count`` items, with the same extra fields and ``raw``; builds nothing."""
        items = self.items
        kept = items.head(count) if isinstance(items, LazyItemList) else items[:count]
        out = StationItemCollection(kept, extra_fields=self.extra_fields, clone_items=False)
        out._raw, out._raw_source = self._raw, self._raw_source
        return out

    def clone(self) -> StationItemCollection:
        """A deep copy (items, extra fields and the raw answer)."""
        return StationItemCollection(
            [item.clone() for item in self.items],
            extra_fields=copy.deepcopy(self.extra_fields),
            clone_items=False,
            raw=copy.deepcopy(self.raw),
        )

    def __repr__(self) -> str:
        return f"<StationItemCollection of {len(self.items)} items>"


def _is_timestamp_field(key: str) -> bool:
    """Whether field ``key`` holds a timestamp (remembered in :data:`_STAMP_KEYS`)."""
    stamp = _STAMP_KEYS.get(key)
    if stamp is None:
        if len(_STAMP_KEYS) >= 1024:
            _STAMP_KEYS.clear()
        stamp = _STAMP_KEYS[key] = key in DATETIME_PROPERTIES or key.endswith(_TIMESTAMP_SUFFIXES)
    return stamp


_STAMP_KEYS: dict[str, bool] = {}
"""Field names known to hold a timestamp or not (emptied when it holds 1,024)."""


def _rfc3339(value: Any) -> Any:
    """``value`` rewritten as an RFC 3339 UTC timestamp, or left alone if it is not one."""
    if not isinstance(value, str) or not value.strip():
        return value
    return _rfc3339_text(value)


_ZULU = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.(\d{1,6}))?Z\Z")

_fromisoformat = datetime.fromisoformat


def _rfc3339_text(value: str) -> str:
    """``value`` as pystac writes it (``datetime_to_str(parse_datetime(value))``), or
    ``value`` itself when it is no timestamp. The common case, an RFC 3339 UTC text with ``Z``
    (what v2 and the catalog send), is rewritten without a round trip through pystac: its
    shape is read from its length and separators (``YYYY-MM-DDTHH:MM:SS``, then nothing or
    ``.`` and 1-6 digits, then ``Z``: :data:`_ZULU_SHAPES`), its digits and values by the
    standard library's parser; anything else takes :func:`_rfc3339_zulu`."""
    pad = _ZULU_SHAPES.get((len(value), value[4:20:3], value[-1:]))
    if pad is None or not value.isascii():
        return _rfc3339_zulu(value)
    try:
        _fromisoformat(value)  # digits where the separators leave room, real values
    except ValueError:
        return _rfc3339_zulu(value)
    if pad == "Z":  # whole seconds
        return value
    if value[20:-1].strip("0"):  # microseconds, in 6 digits
        return f"{value[:-1]}{pad}Z" if pad else value
    return f"{value[:19]}Z"


_ZULU_SHAPES: dict[tuple[int, str, str], str] = {
    (20, "--T::Z", "Z"): "Z",
    **{(size, "--T::.", "Z"): "0" * (27 - size) for size in range(22, 28)},
}
"""The shapes of an RFC 3339 UTC text (its length, the characters at 4, 7... 19, its last):
``Z`` for whole seconds, else the zeros its fraction is padded with (to microseconds)."""


def _rfc3339_zulu(value: str) -> str:
    """:func:`_rfc3339_text` by a regular expression: the reference its shortcut keeps to
    (``tests/core/test_items.py`` compares both on texts of every shape)."""
    match = _ZULU.match(value)
    if match is not None:
        try:
            datetime.fromisoformat(value)  # a real date and time (no 13th month)
        except ValueError:
            return value
        fraction = match.group(1)
        if fraction and fraction.strip("0"):
            return f"{value[:19]}.{fraction.ljust(6, '0')}Z"
        return f"{value[:19]}Z"
    return _rfc3339_parsed(value)


@functools.lru_cache(maxsize=4096)
def _rfc3339_parsed(value: str) -> str:
    # Cached: answers repeat their timestamps (v1's constant 1970 dates, a session's times).
    try:
        parsed = parse_datetime(value)
    except InvalidInputError:
        return value
    return pystac.utils.datetime_to_str(parsed)


_REWRITTEN: dict[str, str] = {}
"""Timestamp texts already rewritten by :func:`_normalise_timestamps` (an item repeats its
times: ``datetime`` is often ``start_datetime``, ``created`` is ``published``); emptied when
it holds 1,024 (bounded: a search streamed page after page keeps its memory flat)."""


def _normalise_timestamps(fields: dict[str, Any], *, copy: bool = False) -> None:
    """Timestamps of ``fields`` rewritten in place as RFC 3339 UTC; ``copy``: its dict and
    list values replaced by copies as well."""
    keys = tuple(fields)
    stamped = _STAMPED.get(keys)
    if stamped is None:
        if not _STRINGS.issuperset(map(type, keys)):
            # not decoded JSON's keys: field by field, a layout not remembered (a str
            # subclass key equals its text: its layout would stand for plain dicts' too)
            _normalise_each(fields, copy=copy)
            return
        if len(_STAMPED) >= 256:
            _STAMPED.clear()
        stamped = _STAMPED[keys] = tuple(k for k in keys if _is_timestamp_field(k))
    done = _REWRITTEN
    for key in stamped:
        value = fields[key]
        if type(value) is str:
            text = done.get(value)  # a text in there is a non-blank timestamp
            if text is None:
                if not value.strip():
                    continue
                if len(done) >= 1024:
                    done.clear()
                text = done[value] = _rfc3339_text(value)
            fields[key] = text
    if copy and not _ATOMS.issuperset(map(type, fields.values())):
        for key, value in fields.items():  # values replaced: the keys do not change
            if type(value) is dict or type(value) is list:
                fields[key] = json_copy(value)


def _normalise_each(fields: dict[Any, Any], *, copy: bool) -> None:
    """:func:`_normalise_timestamps` field by field, for keys that are not all ``str`` (a
    key that is no text, beside a text value, raises as it did: such a feature is refused)."""
    for key, value in fields.items():  # values replaced in place: the keys do not change
        kind = type(value)
        if kind is str:
            if _is_timestamp_field(key) and value.strip():
                fields[key] = _rfc3339_text(value)
        elif copy and (kind is dict or kind is list):
            fields[key] = json_copy(value)


_STAMPED: dict[tuple[Any, ...], tuple[str, ...]] = {}
"""The timestamp fields among a dict's keys, by its keys in order (the features of an answer
share their layout: a field's name is judged once, not once per feature); emptied when it
holds 256 layouts."""


def normalise_assets(assets: Any, default_href: str | None = None) -> dict[str, dict[str, Any]]:
    """Turn v1 assets into a STAC assets mapping, keeping every field.

    v1 session answers send a *list* of one-key dicts; each key (a file name) becomes the
    asset key. A mapping passes through. Timestamps in assets become RFC 3339. An asset
    without ``href`` (v1 file assets have none; STAC requires one) gets ``default_href``.

    >>> normalise_assets([{"a.raw": {"href": "h", "file:size": 3}}])
    {'a.raw': {'href': 'h', 'file:size': 3}}
    """
    merged: dict[str, Any] = {}
    if assets is None:
        return {}
    if isinstance(assets, Mapping):
        merged.update(assets)
    elif isinstance(assets, list):
        for entry in assets:
            if not isinstance(entry, Mapping):
                raise ValueError(f"an asset list entry is not an object: {entry!r}")
            merged.update(entry)
    else:
        raise ValueError(f"assets must be an object or a list, got {type(assets).__name__}")
    out: dict[str, dict[str, Any]] = {}
    for key, value in merged.items():
        if not isinstance(value, Mapping):
            raise ValueError(f"asset {key!r} is not an object: {value!r}")
        asset = dict(value)
        _normalise_timestamps(asset)
        if "href" not in asset:
            asset["href"] = default_href or ""
        out[str(key)] = asset
    return out


def normalise_feature(
    feature: Mapping[str, Any], asset_href: Callable[[str], str] | None = None
) -> dict[str, Any]:
    """A v1 feature made valid for pystac: RFC 3339 timestamps, mapping assets, links list.

    ``asset_href(item_id)`` gives the href of assets that have none (v1 file assets).
    The input is not modified. v1 CADU features carry a constant 1970 date in
    ``datetime``/``start_datetime``/``end_datetime``; it is kept (it parses), use ``created``.
    """
    return _normalised(copy.deepcopy(dict(feature)), asset_href)


def _with_defaults(feature: dict[str, Any]) -> dict[str, Any]:
    feature.setdefault("type", "Feature")
    feature.setdefault("stac_version", "1.0.0")
    feature.setdefault("geometry", None)
    if feature.get("links") is None:
        feature["links"] = []
    return feature


def _date_fallback(properties: dict[str, Any]) -> None:
    if properties.get("datetime") is None and not (
        properties.get("start_datetime") and properties.get("end_datetime")
    ):
        # pystac needs a datetime or a range; fall back on the publication date.
        fallback = properties.get("created") or properties.get("published")
        if fallback:
            properties["datetime"] = fallback


def _normalised(
    feature: Mapping[str, Any], asset_href: Callable[[str], str] | None
) -> dict[str, Any]:
    """:func:`normalise_feature` without the deep copy: the levels it rewrites (the feature,
    its properties, its assets) are new dicts, deeper values are shared with ``feature``."""
    out = _with_defaults(dict(feature))
    properties = out.get("properties")
    if properties is None:
        properties = {}
    if not isinstance(properties, dict):
        raise ValueError("properties is not an object")
    properties = dict(properties)
    _normalise_timestamps(properties)
    _date_fallback(properties)
    out["properties"] = properties
    default_href = asset_href(str(out.get("id", ""))) if asset_href is not None else None
    out["assets"] = normalise_assets(out.get("assets"), default_href)
    return out


def feature_collection_to_items(
    body: Any,
    response: requests.Response,
    *,
    what: str,
    asset_href: Callable[[str], str] | None = None,
    owned: bool = False,
) -> StationItemCollection:
    """Check a v1 ``FeatureCollection`` answer and turn it into a :class:`StationItemCollection`.

    ``asset_href(item_id)`` fills the href of assets that have none (see
    :func:`normalise_feature`). Each item is built when first touched; ``raw`` is ``body``.
    ``owned``: ``body`` was decoded for this call alone: the items take its features as
    their own and ``raw`` is decoded again from the response's bytes when first read.

    A malformed answer (not a FeatureCollection, a feature without an id, properties, or any
    date) is a :class:`~rs_core.BadResponseError` naming the request and the offending
    feature; a feature that pystac still cannot read raises it when its item is built.
    """
    require(body, dict, response, what=what, keys=("features",))
    features = body["features"]
    if body.get("type") not in (None, "FeatureCollection") or not isinstance(features, list):
        raise _bad(response, f"{what}: the answer is not a GeoJSON FeatureCollection")
    for index, feature in enumerate(features):
        if not isinstance(feature, Mapping):
            raise _bad(response, f"{what}: feature #{index} is not an object")
        problem = feature_problem(feature)
        if problem:
            raise _bad(response, _invalid_feature(what, feature, index, problem))
    extra = {k: copy.deepcopy(v) for k, v in body.items() if k not in ("type", "features")}
    method = response.request.method if response.request is not None else None
    builder = ItemBuilder(
        what, method=method, url=response.url, status=response.status_code, copy=not owned
    )
    builder.asset_href = asset_href
    raw: dict[str, Any] | Callable[[], dict[str, Any]] = body
    if owned:
        content = response.content
        raw = functools.partial(json.loads, content)
    return StationItemCollection(
        LazyItemList(features, builder), extra_fields=extra, clone_items=False, raw=raw
    )


def feature_problem(feature: Mapping[str, Any]) -> str:
    """What makes ``feature`` unusable as a STAC item (cheap checks, before any item is
    built), or ``""``.

    >>> feature_problem({"id": "a", "properties": {"datetime": "2024-01-01T00:00:00Z"}})
    ''
    >>> feature_problem({"id": "a", "properties": {}})
    'no datetime, start/end or publication date'
    """
    ident = feature.get("id")
    if not isinstance(ident, str) or not ident:
        return "no id"
    return content_problem(feature)


def content_problem(feature: Mapping[str, Any]) -> str:
    """:func:`feature_problem` without the id check (the properties, dates and assets)."""
    properties = feature.get("properties")
    if properties is None:
        properties = {}
    if type(properties) is not dict and not isinstance(properties, Mapping):
        return "properties is not an object"
    if not (
        properties.get("datetime")
        or (properties.get("start_datetime") and properties.get("end_datetime"))
        or properties.get("created")
        or properties.get("published")
    ):
        return "no datetime, start/end or publication date"
    assets = feature.get("assets")
    if assets is not None and type(assets) is not dict and not isinstance(assets, (Mapping, list)):
        return "assets is neither an object nor a list"
    return ""


def _isolated(made: dict[str, Any]) -> dict[str, Any]:
    """``made`` (fresh from :func:`_normalised`: the feature, its properties and assets are new
    dicts) with every deeper value copied: it shares nothing with the feature it came from."""
    copy_nested(made["properties"])
    for asset in made["assets"].values():
        copy_nested(asset)
    return copy_nested(made, skip=_OWN_PARTS)


def _isolated_in_place(
    feature: dict[str, Any], asset_href: Callable[[str], str] | None
) -> dict[str, Any]:
    """``_isolated(_normalised(feature, asset_href))`` for a ``feature`` whose own dict, its
    properties, its assets and each asset are new dicts that nothing else holds (what
    :func:`~rs_core.rsserver_v2.asset_files` makes): those are rewritten in place, every
    deeper value is copied, in one pass."""
    _with_defaults(feature)
    properties = feature.get("properties")
    if properties is None:
        properties = feature["properties"] = {}
    if type(properties) is not dict:
        return _isolated(_normalised(feature, asset_href))
    assets = feature.get("assets")
    if type(assets) is not dict or any(type(a) is not dict for a in assets.values()):
        return _isolated(_normalised(feature, asset_href))
    copy_nested(feature, skip=_OWN_PARTS)
    _normalise_timestamps(properties, copy=True)
    _date_fallback(properties)
    default_href = asset_href(str(feature.get("id", ""))) if asset_href is not None else None
    for asset in assets.values():
        _normalise_timestamps(asset, copy=True)
        if "href" not in asset:
            asset["href"] = default_href or ""
    if not _STRINGS.issuperset(map(type, assets)):
        feature["assets"] = {str(k): v for k, v in assets.items()}
    return feature


_OWN_PARTS = frozenset({"properties", "assets"})
"""The parts of a normalised feature that are new dicts (their own values are copied apart)."""


def _invalid_feature(what: str, feature: Mapping[str, Any], index: int, reason: str) -> str:
    ident = reprlib.repr(feature.get("id", f"#{index}"))
    return f"{what}: feature {ident} is not a valid STAC item ({reprlib.repr(reason)[1:-1]})"


class ItemBuilder:
    """Builds the pystac item of one search feature (normalised first), raising
    :class:`~rs_core.BadResponseError` naming the request for a feature pystac cannot read.

    ``copy``: the feature is shared (with ``raw``, or with sibling features): build from a
    copy, so that items never share anything with ``raw`` or with each other. ``fresh``: the
    feature's own dict, properties, assets and each asset were made for this build (only
    deeper values are shared): they are normalised in place and the rest is copied.
    """

    def __init__(
        self,
        what: str,
        *,
        method: str | None = None,
        url: str | None = None,
        status: int | None = None,
        copy: bool = True,
        fresh: bool = False,
    ) -> None:
        self.what = what
        self.method = method
        self.url = url
        self.status = status
        self.copy = copy
        self.fresh = fresh
        self.asset_href: Callable[[str], str] | None = None

    def __call__(self, feature: dict[str, Any]) -> pystac.Item:
        try:
            if self.fresh:
                return build_item(_isolated_in_place(feature, self.asset_href))
            made = _normalised(feature, self.asset_href)
            return build_item(_isolated(made) if self.copy else made)
        except Exception as err:
            raise BadResponseError(
                _invalid_feature(self.what, feature, 0, str(err)),
                method=self.method,
                url=self.url,
                status=self.status,
            ) from err


def _bad(response: requests.Response, message: str) -> BadResponseError:
    method = response.request.method if response.request is not None else None
    return BadResponseError(
        message, method=method, url=response.url, status=response.status_code, response=response
    )


def _status_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return parse_datetime(value)  # "%Y-%m-%dT%H:%M:%S.%f" without zone: taken as UTC
    except InvalidInputError:
        return None


def parse_staging_status(
    body: Any, response: requests.Response, *, name: str, what: str
) -> StagingStatus:
    """Turn a v1 status object into a :class:`~rs_core.StagingStatus`.

    ``message`` is ``status_fail_message`` (``""`` when null), times are aware UTC datetimes.
    """
    require(body, dict, response, what=what, keys=("status",))
    try:
        status = EDownloadStatus(str(body["status"]).upper())
    except ValueError as err:
        raise _bad(
            response,
            f"{what}: unknown staging status {body['status']!r} (expected one of "
            f"{', '.join(s.value for s in EDownloadStatus)})",
        ) from err
    return StagingStatus(
        name=str(body.get("name") or name),
        status=status,
        message=str(body.get("status_fail_message") or ""),
        download_start=_status_time(body.get("download_start")),
        download_stop=_status_time(body.get("download_stop")),
        raw=body,
    )


# -- the protocol ------------------------------------------------------------------------


@frozen
class StationEndpoints:
    """The three full URLs of one v1 station service."""

    search: str
    stage: str
    status: str

    @classmethod
    def under(cls, base: str, search: str, stage: str, status: str) -> StationEndpoints:
        """Join ``base`` (no trailing ``/``) with the three paths."""
        root = base.rstrip("/")
        return cls(f"{root}{search}", f"{root}{stage}", f"{root}{status}")


class StationProtocolV1:
    """Build v1 requests for one station service and parse its answers.

    ``label`` names the station in messages (``"ADGS"``, ``"CADIP MTI"``...).
    Client methods validate their inputs, then delegate here; an RS-Server v2 protocol can
    later sit behind the same client methods. ``role_scope`` (``("cadip", "MTI")``,
    ``("adgs", None)``) names the service and station for the roles the calls need
    (:func:`rs_core.roles.station_role`: read to search, download to stage), so a missing role
    is named, and refused before sending once the caller's roles are known.
    """

    def __init__(
        self,
        http: HttpClient,
        endpoints: StationEndpoints,
        *,
        label: str,
        role_scope: tuple[str, str | None] | None = None,
    ) -> None:
        self.http = http
        self.endpoints = endpoints
        self.label = label
        self.role_scope = role_scope

    def _role(self, access: str) -> str | None:
        if self.role_scope is None:
            return None
        return station_role(self.role_scope[0], self.role_scope[1], access)

    def search_files(
        self, params: Mapping[str, str], *, timeout: float | None = None
    ) -> StationItemCollection:
        """``GET`` the file search with validated ``params``; errors are typed, never ``[]``."""
        what = f"{self.label} file search failed"
        return self.get_items(self.endpoints.search, params, timeout=timeout, what=what)

    def get_items(
        self, url: str, params: Mapping[str, str], *, timeout: float | None, what: str
    ) -> StationItemCollection:
        """``GET`` ``url`` and read a FeatureCollection answer."""
        response = self.http.request(
            "GET", url, params=params, timeout=timeout, what=what, role=self._role("read")
        )
        body = decode_json(response, what=what)
        return feature_collection_to_items(
            body, response, what=what, asset_href=self.staging_href, owned=True
        )

    def staging_href(self, name: str) -> str:
        """The staging request URL of file ``name``.

        v1 file assets carry no href, but STAC assets need one: they get this URL, which is
        what v1 itself puts in session assets.
        """
        return f"{self.endpoints.stage}?{urlencode({'name': name})}"

    def stage(self, params: Mapping[str, str], *, timeout: float | None = None) -> None:
        """Ask for staging; raise :class:`~rs_core.StagingError` when the server refuses.

        Retried only on 429/502/504: v1's 503 means "refused" here, not "try again".
        """
        name = params.get("name", "")
        what = f"{self.label} staging request for {name!r} failed"
        attempt = 0
        while True:
            try:
                response = self.http.request(
                    "GET",
                    self.endpoints.stage,
                    params=params,
                    timeout=timeout,
                    retry_on=STAGING_RETRY_ON,
                    what=what,
                    role=self._role("download"),
                )
                break
            except HttpError as err:
                refused = (isinstance(err.detail, dict) and "started" in err.detail) or (
                    err.status == 408
                )
                if refused:
                    raise self._refusal(name, err) from err
                if err.status != 503 or attempt >= self.http.settings.retries:
                    raise
                # a 503 that is not v1's refusal: a busy gateway, retried like 502/504
                delay = retry_delay(self.http, attempt, retry_after_of(err))
                _LOG.debug("%s -> 503 (not a refusal); retry in %.2f s", what, delay)
                attempt += 1
                time.sleep(delay)
        body = decode_json(response, what=what)
        require(body, dict, response, what=what, keys=("started",))
        started = string_bool(body["started"])
        if started is None:
            raise _bad(response, f"{what}: unreadable 'started' value {body['started']!r}")
        if not started:
            raise StagingError(
                f"{self.label} staging of {name!r} not started: the server answered started=false",
                method="GET",
                url=response.url,
                status=response.status_code,
                detail=body,
                response=response,
            )

    def _refusal(self, name: str, err: HttpError) -> StagingError:
        """v1's final refusal of a staging request (503 or 408 ``{"started": "false"}``)."""
        if err.status == 408:
            reason = "the server's staging worker did not start in time (HTTP 408)"
        else:
            reason = (
                "the server refused it: a file must have been returned by a search "
                "of this station before it can be staged (or the server's database is down)"
            )
        return StagingError(
            f"{self.label} staging of {name!r} not started: {reason}",
            method=err.method,
            url=err.url,
            status=err.status,
            detail=err.detail,
            response=err.response,
        )

    def status(self, name: str, *, timeout: float | None = None) -> StagingStatus:
        """The status object of ``name``; 404 is a :class:`~rs_core.NotFoundError`."""
        what = f"{self.label} staging status of {name!r} failed"
        response = self.http.request(
            "GET",
            self.endpoints.status,
            params={"name": name},
            timeout=timeout,
            what=what,
            role=self._role("download"),
        )
        body = decode_json(response, what=what)
        return parse_staging_status(body, response, name=name, what=what)


def retry_after_of(err: HttpError) -> float | None:
    """The server's ``Retry-After`` (seconds) of an HTTP error, if it sent one."""
    hint = getattr(err, "retry_after", None)
    if hint is None and err.response is not None:
        hint = _retry_after(err.response)
    return hint if isinstance(hint, int | float) else None


def retry_delay(http: HttpClient, attempt: int, hint: float | None) -> float:
    """Seconds before retrying a request the caller retries itself (a staging call): the
    server's ``Retry-After`` (capped), else the client's exponential backoff with jitter."""
    settings = http.settings
    if hint is not None:
        return min(hint, settings.retry_after_max)
    base = min(settings.backoff_max, settings.backoff_factor * 2.0**attempt)
    return base * (0.5 + random.random() / 2)


def wire_datetime(value: datetime | date | str, *, name: str) -> str:
    """One datetime in the wire format (``%Y-%m-%dT%H:%M:%SZ``, UTC)."""
    return to_wire(value, name=name)


__all__ += ["retry_after_of", "retry_delay", "wire_datetime"]
