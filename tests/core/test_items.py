"""Lazy search results (rs_core.items): the same pystac items as the eager path, built on use.

The property tests compare :func:`build_item` with ``pystac.Item.from_dict`` on generated
features; the search tests compare what the station and catalog searches return with the
eager construction of the same answers (fetched with a bare session), and check that ``raw``
stays what the server sent and that items share nothing with it or with each other.
"""

from __future__ import annotations

import copy
import json
import pickle
import subprocess
import sys
import warnings
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pystac
import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rs_auxip import AuxipClient
from rs_cadip import CadipClient

from rs_core.http import HttpSettings
from rs_core.items import (
    LazyItemList,
    _assembler,
    _same_state,
    build_item,
    json_copy,
    lazy_item_collection,
)
from rs_core.rsserver_v1 import (
    _normalise_timestamps,
    _rfc3339_parsed,
    _rfc3339_text,
    _rfc3339_zulu,
    normalise_feature,
)
from rs_core.testing.kit.catalog import make_collection, make_item
from rs_core.testing.simulator import ApiKey, RsServerSimulator

KEY = "items-key"
FAST = HttpSettings(timeout=10.0, connect_timeout=5.0, retries=1, backoff_factor=0.01)
FILE_EXT = "https://stac-extensions.github.io/file/v2.1.0/schema.json"
EO_EXT = "https://stac-extensions.github.io/eo/v1.1.0/schema.json"
PROJ_EXT = "https://stac-extensions.github.io/projection/v1.1.0/schema.json"
STORAGE_EXT = "https://stac-extensions.github.io/storage/v1.0.0/schema.json"
SAR_EXT = "https://stac-extensions.github.io/sar/v1.0.0/schema.json"
LABEL_EXT = "https://stac-extensions.github.io/label/v1.0.0/schema.json"
CLASSIFICATION_EXT = "https://stac-extensions.github.io/classification/v1.0.0/schema.json"
VERSION_EXT = "https://stac-extensions.github.io/version/v1.0.0/schema.json"
EXTENSIONS = [
    FILE_EXT,
    EO_EXT,
    PROJ_EXT,
    STORAGE_EXT,
    SAR_EXT,
    LABEL_EXT,
    CLASSIFICATION_EXT,
    VERSION_EXT,
]
MIGRATED_FIELDS = {
    "eo:platform": "S1A",
    "eo:gsd": 10,
    "eo:epsg": 4326,
    "sar:platform": "S1A",
    "sar:type": "GRD",
    "label:property": ["x"],
    "label:task": ["y"],
    "storage:platform": "AWS",
    "storage:region": "eu-west-1",
    "proj:epsg": 32631,
    "file:checksum": "1220abcd",
    "deprecated": True,
}
"""Item properties that some pystac extension hook rewrites or warns about."""
MIGRATED_ASSET_FIELDS = {
    "proj:epsg": 4326,
    "storage:platform": "AWS",
    "classification:classes": [{"value": 1, "color-hint": "FF0000"}],
    "file:bits_per_sample": 8,
}

# -- generated features ---------------------------------------------------------------------

_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
_scalar = st.one_of(st.none(), st.booleans(), st.integers(-(10**6), 10**6), _text)
_json = st.recursive(
    _scalar,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_text, inner, max_size=3)),
    max_leaves=8,
)


def _stamp(draw: Any) -> str:
    when = draw(
        st.datetimes(
            min_value=datetime(1970, 1, 1),
            max_value=datetime(2100, 1, 1),
        )
    )
    suffix = draw(st.sampled_from(["Z", ".123456Z", "+00:00", "+02:00"]))
    return when.strftime("%Y-%m-%dT%H:%M:%S") + suffix


@st.composite
def features(draw: Any) -> dict[str, Any]:
    properties: dict[str, Any] = draw(st.dictionaries(_text, _json, max_size=4))
    if draw(st.booleans()):
        properties["datetime"] = _stamp(draw)
    else:
        properties["datetime"] = None
        properties["start_datetime"] = _stamp(draw)
        properties["end_datetime"] = _stamp(draw)
    for name in ("created", "updated"):
        if draw(st.booleans()):
            properties[name] = _stamp(draw)
    if draw(st.booleans()):
        properties["license"] = draw(st.sampled_from(["proprietary", "various", "CC-BY-4.0"]))
    if draw(st.booleans()):
        properties["proj:epsg"] = 4326
    for name in draw(st.lists(st.sampled_from(sorted(MIGRATED_FIELDS)), unique=True, max_size=3)):
        properties[name] = MIGRATED_FIELDS[name]
    assets = {
        name: {
            "href": f"s3://bucket/{draw(_text)}",
            **draw(st.dictionaries(st.sampled_from(["file:size", "roles", "title", "x"]), _json)),
            **{
                k: MIGRATED_ASSET_FIELDS[k]
                for k in draw(st.lists(st.sampled_from(sorted(MIGRATED_ASSET_FIELDS)), unique=True))
            },
        }
        for name in draw(st.lists(_text, max_size=3, unique=True))
    }
    links = [
        {"rel": draw(st.sampled_from(["self", "parent", "related", "next"])), "href": draw(_text)}
        for _ in range(draw(st.integers(0, 2)))
    ]
    feature: dict[str, Any] = {
        "type": "Feature",
        "stac_version": draw(st.sampled_from(["1.0.0", "1.1.0"])),
        "stac_extensions": draw(st.lists(st.sampled_from(EXTENSIONS), unique=True, max_size=3)),
        "id": draw(_text.filter(bool)),
        "geometry": draw(st.sampled_from([None, {"type": "Point", "coordinates": [1.0, 2.0]}])),
        "properties": properties,
        "links": links,
        "assets": assets,
    }
    if draw(st.booleans()):
        feature["bbox"] = [1.0, 2.0, 1.0, 2.0]
    if draw(st.booleans()):
        feature["collection"] = draw(_text)
    if draw(st.booleans()):
        feature["extra:top"] = draw(_json)
    return feature


def same_item(lazy: pystac.Item, eager: pystac.Item) -> None:
    """Everything a caller can read is equal (pystac items compare by identity)."""
    assert type(lazy) is type(eager)
    assert lazy.to_dict() == eager.to_dict()
    assert lazy.to_dict(include_self_link=False) == eager.to_dict(include_self_link=False)
    assert (lazy.id, lazy.datetime, lazy.geometry, lazy.bbox) == (
        eager.id,
        eager.datetime,
        eager.geometry,
        eager.bbox,
    )
    assert lazy.properties == eager.properties and lazy.extra_fields == eager.extra_fields
    assert lazy.collection_id == eager.collection_id
    assert lazy.stac_extensions == eager.stac_extensions
    assert {k: a.to_dict() for k, a in lazy.assets.items()} == {
        k: a.to_dict() for k, a in eager.assets.items()
    }
    assert all(a.owner is lazy for a in lazy.assets.values())
    assert [link.to_dict() for link in lazy.links] == [link.to_dict() for link in eager.links]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(feature=features())
def test_build_item_equals_from_dict(feature: dict[str, Any]) -> None:
    with warnings.catch_warnings(record=True) as eager_warnings:
        warnings.simplefilter("always")
        eager = pystac.Item.from_dict(copy.deepcopy(feature))
    with warnings.catch_warnings(record=True) as lazy_warnings:
        warnings.simplefilter("always")
        lazy = build_item(json_copy(feature))
    same_item(lazy, eager)
    assert _same_state(lazy, eager), "the same attributes, values and owners as from_dict's"
    assert [(w.category, str(w.message)) for w in lazy_warnings] == [
        (w.category, str(w.message)) for w in eager_warnings
    ]


def _undeclared_items() -> Iterator[dict[str, Any]]:
    """Items of STAC 1.0.0 and 1.1.0 full of fields that extension hooks migrate, listing
    none of those extensions (or only the file extension)."""
    for version in ("1.0.0", "1.1.0"):
        for extensions in ([], [FILE_EXT]):
            yield {
                "type": "Feature",
                "stac_version": version,
                "stac_extensions": list(extensions),
                "id": "x",
                "geometry": None,
                "properties": {"datetime": "2024-01-01T00:00:00Z", **MIGRATED_FIELDS},
                "links": [],
                "assets": {"a": {"href": "s3://bucket/a", **json_copy(MIGRATED_ASSET_FIELDS)}},
            }


def test_hooks_skipped_as_inert_are_inert_on_the_installed_pystac() -> None:
    """The hooks build_item skips for an item that does not list their extension change
    nothing and warn of nothing on such items (pystac's own migration of the same item);
    with a pystac release the table was not read in, none is skipped."""
    from pystac.extensions.hooks import ExtensionHooks
    from pystac.serialization import identify_stac_object

    from rs_core.items import (
        _INERT_CHECKED_ON,
        _INERT_WHEN_UNDECLARED,
        _QUIET_WHEN_UNDECLARED,
        _description,
    )

    registry = pystac.EXTENSION_HOOKS
    registry._discover()
    by_name = {(type(h).__module__, type(h).__qualname__): h for h in registry.hooks.values()}
    tables = _INERT_WHEN_UNDECLARED | _QUIET_WHEN_UNDECLARED
    assert tables <= set(by_name), "a hook of the tables is gone from pystac"
    checked = pystac.__version__.startswith(_INERT_CHECKED_ON)
    for item in _undeclared_items():
        _, hooks, version = _description(item["stac_version"], tuple(item["stac_extensions"]))
        kept = {(type(h).__module__, type(h).__qualname__) for h, _ in hooks}
        overriding = {
            name for name, h in by_name.items() if type(h).migrate is not ExtensionHooks.migrate
        }
        if not checked:
            assert overriding <= kept
            continue
        assert kept & _INERT_WHEN_UNDECLARED == set()
        assert ("pystac.extensions.file", "FileExtensionHooks") in kept
        for name in _INERT_WHEN_UNDECLARED:
            before = copy.deepcopy(item)
            probe = copy.deepcopy(item)
            with warnings.catch_warnings(record=True) as seen:
                warnings.simplefilter("always")
                by_name[name].migrate(probe, version, identify_stac_object(copy.deepcopy(item)))
            assert probe == before, name
            assert seen == [], name
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            built = pystac.Item.from_dict(copy.deepcopy(item))
        for name in _QUIET_WHEN_UNDECLARED:
            assert by_name[name].get_deprecation_message(built) is None, name


def test_the_file_hook_runs_only_for_assets_with_removed_fields() -> None:
    """The file extension's hook, skipped for an item none of whose assets has a field the
    extension removed, changes nothing and warns of nothing on such an item; an asset with
    one gets the hook (and pystac's warning)."""
    from pystac.extensions.file import FILE_EXTENSION_HOOKS
    from pystac.serialization import identify_stac_object

    from rs_core.items import _INERT_CHECKED_ON, _description

    removed = set(FILE_EXTENSION_HOOKS.removed_fields)
    for item in _undeclared_items():
        _, hooks, migrated = _description(item["stac_version"], tuple(item["stac_extensions"]))
        fields = {type(h).__qualname__: f for h, f in hooks}["FileExtensionHooks"]
        if not pystac.__version__.startswith(_INERT_CHECKED_ON):
            assert fields is None
            continue
        assert fields == removed
        item["assets"] = {"a": {"href": "s3://b/a", "file:size": 1, "file:checksum": "12"}}
        probe = copy.deepcopy(item)
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            FILE_EXTENSION_HOOKS.migrate(probe, migrated, identify_stac_object(probe))
        assert probe == item and seen == []
        item["assets"]["a"]["file:unit"] = "m"
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            build_item(copy.deepcopy(item))
        assert any("removed from the file extension" in str(w.message) for w in seen)


def test_an_item_of_the_former_checksum_extension_is_migrated_as_pystac_does() -> None:
    """pystac's file hook moves the former checksum extension's fields to the file extension
    (whatever the item's version): the hook is not skipped for an item listing it."""
    item = {
        "type": "Feature",
        "stac_version": "1.0.0",
        "stac_extensions": ["checksum"],
        "id": "c",
        "geometry": None,
        "properties": {"datetime": "2024-01-01T00:00:00Z", "checksum:multihash": "1220aa"},
        "links": [],
        "assets": {"a": {"href": "s3://b/a", "checksum:multihash": "1220bb"}},
    }
    expected = pystac.Item.from_dict(copy.deepcopy(item))
    built = build_item(copy.deepcopy(item))
    assert built.to_dict() == expected.to_dict()
    assert built.properties.get("file:checksum") == "1220aa", "the migration ran"


def test_a_declared_extension_keeps_its_hook() -> None:
    from rs_core.items import _description

    _, hooks, _ = _description("1.0.0", (STORAGE_EXT, PROJ_EXT))
    kinds = {type(h).__qualname__ for h, _ in hooks}
    assert {"StorageExtensionHooks", "ProjectionExtensionHooks"} <= kinds
    _, hooks, _ = _description("1.0.0-rc.1", ())
    assert "LabelExtensionHooks" in {type(h).__qualname__ for h, _ in hooks}
    item = {
        "type": "Feature",
        "stac_version": "1.0.0",
        "stac_extensions": [VERSION_EXT],
        "id": "old",
        "geometry": None,
        "properties": {"datetime": "2024-01-01T00:00:00Z", "deprecated": True},
        "links": [],
        "assets": {},
    }
    with pytest.warns(pystac.errors.DeprecatedWarning, match="'old' is deprecated"):
        build_item(item)


@pytest.mark.filterwarnings("ignore:Assets .* contain fields")
@settings(max_examples=60, deadline=None)
@given(feature=features())
def test_build_item_not_owned_leaves_the_dict_alone(feature: dict[str, Any]) -> None:
    kept = copy.deepcopy(feature)
    item = build_item(feature, owned=False)
    item.properties["touched"] = 1
    for asset in item.assets.values():
        asset.extra_fields["touched"] = 1
    assert feature == kept


@settings(max_examples=300)
@given(
    when=st.datetimes(
        min_value=datetime(1, 1, 1),
        max_value=datetime(9999, 12, 31),
    ),
    fraction=st.sampled_from(["", ".0", ".000", ".5", ".123", ".000001", ".123456", ".1234567"]),
    zone=st.sampled_from(["Z", "z", "+00:00", "+02:00", ""]),
)
def test_timestamp_fast_path_equals_the_parsing_path(when: Any, fraction: str, zone: str) -> None:
    text = when.strftime("%Y-%m-%dT%H:%M:%S") + fraction + zone
    assert _rfc3339_text(text) == _rfc3339_parsed(text)
    assert _rfc3339_text("2024-13-01T00:00:00.5Z") == _rfc3339_parsed("2024-13-01T00:00:00.5Z")


@settings(max_examples=300)
@given(
    when=st.datetimes(
        min_value=datetime(1, 1, 1),
        max_value=datetime(9999, 12, 31),
    ),
    fraction=st.sampled_from(["", ".5", ".123", ".123456"]),
    zone=st.sampled_from(["Z", "+00:00", "-03:30", ""]),
    sep=st.sampled_from(["T", " "]),
)
def test_an_item_datetime_is_the_one_pystac_parses(
    when: Any, fraction: str, zone: str, sep: str
) -> None:
    from pystac.utils import str_to_datetime

    from rs_core.items import _parse_datetime

    text = when.isoformat(sep=sep, timespec="seconds") + fraction + zone
    mine, theirs = _parse_datetime(text), str_to_datetime(text)
    assert mine == theirs
    assert (mine.tzinfo is None) == (theirs.tzinfo is None)
    assert mine.utcoffset() == theirs.utcoffset()
    assert _parse_datetime(text[:10]) == str_to_datetime(text[:10])  # a date alone


_STAMP_CHARS = "0123456789-T:.Z,W+ z\u0660\u00e9"


@settings(max_examples=800)
@given(
    base=st.sampled_from(
        [
            "2024-01-07T19:39:40Z",
            "2024-01-07T19:39:40.3Z",
            "2024-01-07T19:39:40.302Z",
            "2024-01-07T19:39:40.000Z",
            "2024-01-07T19:39:40.123456Z",
            "2024-01-07T19:39:40.000000Z",
            "2024-01-07T19:39:40.000010Z",
            "2024-12-31T23:59:60.5Z",
        ]
    ),
    edits=st.lists(
        st.tuples(st.integers(0, 27), st.sampled_from(_STAMP_CHARS), st.sampled_from("rid")),
        max_size=3,
    ),
)
def test_the_timestamp_shortcut_equals_its_reference(base: str, edits: list[Any]) -> None:
    """The shortcut of ``_rfc3339_text`` (shape from length and separators) gives what the
    regular expression path gives, on timestamps with characters replaced, inserted or
    deleted (week dates, commas, other digits, 13th months...)."""
    text = base
    for where, char, how in edits:
        at = min(where, len(text))
        if how == "r":
            text = text[:at] + char + text[at + 1 :]
        elif how == "i":
            text = text[:at] + char + text[at:]
        else:
            text = text[:at] + text[at + 1 :]
    assert _rfc3339_text(text) == _rfc3339_zulu(text)


def _reference_normalised(fields: dict[Any, Any]) -> dict[Any, Any]:
    from rs_core.rsserver_v1 import _is_timestamp_field

    return {
        k: _rfc3339_zulu(v)
        if type(k) is str and _is_timestamp_field(k) and type(v) is str and v.strip()
        else v
        for k, v in fields.items()
    }


@given(
    fields=st.dictionaries(
        st.sampled_from(
            ["datetime", "created", "x:start_datetime", "a:planned_data_stop", "name", "size"]
        ),
        st.one_of(
            st.sampled_from(["2024-01-07T19:39:40.5Z", "2024-01-07", "", "  ", "x"]),
            st.none(),
            st.integers(),
            st.lists(st.integers(), max_size=2),
            st.dictionaries(st.just("k"), st.integers(), max_size=1),
        ),
    ),
    copy=st.booleans(),
)
def test_timestamps_are_rewritten_in_place_as_the_reference_does(
    fields: dict[str, Any], copy: bool
) -> None:
    """``_normalise_timestamps`` rewrites the timestamp fields (by name) holding a non-blank
    text, leaves the rest, keeps the key order; ``copy``: its dicts and lists are copies."""
    expected = _reference_normalised(fields)
    given = dict(fields)
    _normalise_timestamps(given, copy=copy)
    assert given == expected and list(given) == list(fields)
    for key, value in given.items():
        if isinstance(value, (dict, list)):
            assert (value is fields[key]) is not copy


def test_keys_that_are_not_plain_text_are_read_field_by_field() -> None:
    """A key of a str subclass (an enum of field names) is a timestamp field as its text is,
    and its layout is not remembered for plain dicts (it equals theirs); a key that is no
    text beside a text value raises as it always did (the feature is refused)."""
    import enum

    class Field(enum.StrEnum):
        CREATED = "created"

    stamp, rewritten = "2024-01-07T19:39:40.5Z", "2024-01-07T19:39:40.500000Z"
    for first in range(2):  # the enum's dict first, then a plain dict of the same layout
        fields: list[dict[Any, Any]] = [{Field.CREATED: stamp}, {"created": stamp}]
        for entry in fields[first:] + fields[:first]:
            _normalise_timestamps(entry)
        assert [list(f.values()) for f in fields] == [[rewritten], [rewritten]]
    with pytest.raises(AttributeError):
        _normalise_timestamps({"created": stamp, 5: "x"})  # type: ignore[dict-item]
    odd = {"created": stamp, 5: 6, "x": [1]}
    _normalise_timestamps(odd, copy=True)  # type: ignore[arg-type]
    assert odd == {"created": rewritten, 5: 6, "x": [1]}


@given(value=_json)
def test_json_copy_is_a_deep_copy(value: Any) -> None:
    copied = json_copy(value)
    assert copied == value
    if isinstance(value, (dict, list)) and value:
        assert copied is not value


def test_items_are_assembled_on_the_pystac_it_was_written_from() -> None:
    if pystac.__version__.startswith("1.15."):
        assert _assembler() is not None, "the assembly's self-check fails on pystac 1.15"


def test_assembly_steps_aside_when_pystac_makes_items_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A pystac whose constructors set what the assembly does not (a later release): the
    self-check sees it and items are made by the constructors."""
    if _assembler() is None:
        pytest.skip(f"no assembly on pystac {pystac.__version__}")
    init = pystac.Asset.__init__

    def later_init(self: pystac.Asset, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        self.checksum = None  # type: ignore[attr-defined]

    monkeypatch.setattr(pystac.Asset, "__init__", later_init)
    _assembler.cache_clear()
    try:
        assert _assembler() is None
        feature = _feature(1)
        built = build_item(json_copy(feature))
        assert _same_state(built, pystac.Item.from_dict(copy.deepcopy(feature)))
        assert all(hasattr(a, "checksum") for a in built.assets.values())
    finally:
        monkeypatch.undo()
        _assembler.cache_clear()
    assert _assembler() is not None


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (lambda f: f["properties"].update(datetime=None), pystac.STACError),
        (lambda f: f["assets"]["a.bin"].pop("href"), KeyError),
        (lambda f: f["links"].append({"href": "x"}), KeyError),
        (lambda f: f.pop("id"), None),  # from_dict makes an item of id None
    ],
)
def test_assembly_refuses_what_the_constructors_refuse(change: Any, error: type | None) -> None:
    feature = _feature(1)
    feature["assets"] = {"a.bin": {"href": "s3://b/a.bin"}}
    change(feature)
    if error is None:
        built = build_item(json_copy(feature))
        assert _same_state(built, pystac.Item.from_dict(copy.deepcopy(feature)))
        return
    with pytest.raises(error):
        pystac.Item.from_dict(copy.deepcopy(feature))
    with pytest.raises(error):
        build_item(json_copy(feature))


def test_stac_0x_takes_pystacs_own_path() -> None:
    old = {
        "type": "Feature",
        "stac_version": "0.9.0",
        "id": "old",
        "geometry": None,
        "bbox": None,
        "properties": {"datetime": "2024-01-01T00:00:00Z", "eo:platform": "S1A"},
        "links": [],
        "assets": {},
    }
    same_item(build_item(copy.deepcopy(old)), pystac.Item.from_dict(copy.deepcopy(old)))


# -- the lazy list ---------------------------------------------------------------------------


def _feature(i: int) -> dict[str, Any]:
    return {
        "type": "Feature",
        "stac_version": "1.0.0",
        "id": f"f{i}",
        "geometry": None,
        "properties": {"datetime": "2024-01-01T00:00:00Z", "n": i},
        "links": [],
        "assets": {"file": {"href": f"s3://b/f{i}", "file:size": i}},
    }


def test_lazy_list_builds_on_use() -> None:
    items = LazyItemList([_feature(i) for i in range(5)])
    assert isinstance(items, list) and len(items) == 5 and items.built == 0
    assert items.ids == [f"f{i}" for i in range(5)] and items.built == 0
    assert items[1].id == "f1" and items[-1].id == "f4" and items.built == 2
    assert items[1] is items[1], "an item is built once"
    first = next(iter(items))
    assert first.id == "f0" and items.built == 3
    assert [i.id for i in items[1:3]] == ["f1", "f2"] and items.built == 5
    assert items.index(first) == 0 and first in items and items.count(first) == 1
    assert items == list(items) and next(reversed(items)).id == "f4"
    assert "built" in repr(items)


def test_iterating_builds_runs_ahead_with_the_collector_paused() -> None:
    """Iteration builds a run of items at a time (1, 2, 4... at most 4,096), the cyclic
    collector paused for the run only: taking k items builds fewer than 2k + 1; the caller's
    loop runs with the collector on; a collector the caller turned off stays off."""
    import gc

    paused: list[bool] = []

    def build(feature: dict[str, Any]) -> pystac.Item:
        paused.append(not gc.isenabled())
        return build_item(feature)

    items = LazyItemList([_feature(i) for i in range(3000)], build)
    for taken, item in enumerate(items, start=1):
        assert gc.isenabled(), "the caller's loop runs with the collector on"
        assert item.id == f"f{taken - 1}"
        assert taken <= items.built < 2 * taken + 1
        if taken == 100:
            break
    assert all(paused) and len(paused) == items.built
    assert [i.id for i in items] == [f"f{i}" for i in range(3000)] and items.built == 3000
    gc.disable()
    try:
        again = LazyItemList([_feature(i) for i in range(10)])
        assert len(list(again)) == 10 and not gc.isenabled()
    finally:
        gc.enable()


def test_runs_double_up_to_the_cap() -> None:
    """Runs are 1, 2, 4... items, then _AHEAD items each (the collector's passes per item
    built fall with the run's length; a loop that stops early built at most _AHEAD more)."""
    from rs_core import items as module

    made = build_item(_feature(0))
    calls = 0

    def build(feature: dict[str, Any]) -> pystac.Item:
        nonlocal calls
        calls += 1
        return made

    size = 3 * module._AHEAD
    items = LazyItemList([_feature(i) for i in range(size)], build)
    runs, before = [], 0
    for _ in items:
        if calls != before:
            runs.append(calls - before)
            before = calls
    doubling = [2**k for k in range(module._AHEAD.bit_length()) if 2**k < module._AHEAD]
    assert runs[: len(doubling)] == doubling
    assert set(runs[len(doubling) :]) <= {module._AHEAD} | {size - sum(runs[:-1])}
    assert max(runs) == module._AHEAD == 4096 and sum(runs) == size


def test_an_entry_that_fails_ahead_raises_when_reached() -> None:
    """An entry built ahead that fails raises its own error when the iteration reaches it,
    after the entries before it were handed out; the entries after it still build."""
    features = [_feature(i) for i in range(8)]
    features[5]["properties"]["datetime"] = None  # no datetime, no range: pystac refuses it
    items = LazyItemList(features)
    seen = []
    with pytest.raises(pystac.STACError) as caught:
        for item in items:
            seen.append(item.id)
    assert seen == ["f0", "f1", "f2", "f3", "f4"]
    with pytest.raises(pystac.STACError) as direct:
        build_item(_feature(5) | {"properties": {"datetime": None}})
    assert str(caught.value) == str(direct.value)
    assert items[6].id == "f6" and items[7].id == "f7"
    with pytest.raises(pystac.STACError):
        items.build_all()


def test_the_collector_comes_back_after_an_error() -> None:
    import gc

    from rs_core.items import gc_paused

    with pytest.raises(ZeroDivisionError), gc_paused():
        assert not gc.isenabled()
        _ = 1 / 0
    assert gc.isenabled()


def test_lazy_list_copies_and_pickles_as_items() -> None:
    items = LazyItemList([_feature(i) for i in range(3)])
    for copied in (copy.copy(items), items.copy(), list(items)):
        assert [type(i) for i in copied] == [pystac.Item] * 3
    restored = pickle.loads(pickle.dumps(LazyItemList([_feature(7)])))
    assert restored[0].id == "f7"
    head = LazyItemList([_feature(i) for i in range(4)]).head(2)
    assert len(head) == 2 and head.built == 0 and head[1].id == "f1"


def test_lazy_list_sort_and_pop_build_first() -> None:
    items = LazyItemList([_feature(i) for i in (3, 1, 2)])
    items.sort(key=lambda i: i.properties["n"])
    assert [i.id for i in items] == ["f1", "f2", "f3"]
    assert items.pop().id == "f3" and len(items) == 2


def test_lazy_item_collection_is_an_item_collection() -> None:
    found = lazy_item_collection([_feature(i) for i in range(3)], {"numberMatched": 3})
    assert isinstance(found, pystac.ItemCollection) and len(found) == 3
    eager = pystac.ItemCollection([pystac.Item.from_dict(_feature(i)) for i in range(3)])
    assert found.to_dict()["features"] == eager.to_dict()["features"]
    assert found.to_dict()["numberMatched"] == 3
    assert [i.id for i in found.clone()] == ["f0", "f1", "f2"]
    assert len(found + eager) == 6


# -- station searches ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def sim_v2() -> Iterator[RsServerSimulator]:
    with RsServerSimulator(api_keys={KEY: ApiKey.full_access("tester")}, api_version="v2") as s:
        yield s


@pytest.fixture(scope="module")
def sim_v1() -> Iterator[RsServerSimulator]:
    with RsServerSimulator(api_keys={KEY: ApiKey.full_access("tester")}) as s:
        yield s


def _pages(url: str, params: dict[str, str]) -> list[dict[str, Any]]:
    """Every page of a v2 search, with a bare session (the eager reference)."""
    out = []
    with requests.Session() as http:
        http.headers["x-api-key"] = KEY
        answer = http.get(url, params=params, timeout=10).json()
        out.append(answer)
        links = answer.get("links", [])
        while next_link := next((k for k in links if k["rel"] == "next"), None):
            answer = http.get(next_link["href"], timeout=10).json()
            out.append(answer)
            links = answer.get("links", [])
    return out


def test_v2_station_search_equals_the_eager_path(sim_v2: RsServerSimulator) -> None:
    with AuxipClient(sim_v2.url, KEY, "tester", http_settings=FAST) as auxip:
        found = auxip.search_stations("2000-01-01", "2100-01-01", page_size=3)
        assert found.items.built == 0 and len(found) > 6, "several pages, nothing built"
        pages = _pages(
            f"{sim_v2.url}/auxip/collections/adgs/items",
            {
                "datetime": "2000-01-01T00:00:00Z/2100-01-01T00:00:00Z",
                "limit": "3",
            },
        )
        sent = [f for page in pages for f in page["features"]]
        eager = [
            pystac.Item.from_dict(normalise_feature(made))
            for f in sent
            for made in auxip._v2_protocol().explode(f, "adgs")
        ]
        assert found.ids == [i.id for i in eager]
        for lazy, ref in zip(found, eager, strict=True):
            same_item(lazy, ref)
        assert found.raw["features"] == sent, "raw is the answer as sent"
        found[0].properties["mutated"] = True
        found[0].assets["file"].extra_fields["mutated"] = True
        assert "mutated" not in json.dumps(found.raw), "items share nothing with raw"


_V2_ITEM: dict[str, Any] = {
    "type": "Feature",
    "stac_version": "1.0.0",
    "stac_extensions": [FILE_EXT],
    "id": "S1A_AUX",
    "geometry": {"type": "Point", "coordinates": [1.0, 2.0]},
    "bbox": [1.0, 2.0, 1.0, 2.0],
    "collection": "adgs",
    "links": [],
    "properties": {
        "datetime": "2024-01-01T00:00:00.302Z",
        "start_datetime": "2024-01-01T00:00:00.302Z",
        "end_datetime": "2024-01-02T00:00:00Z",
        "auxip:id": "u1",
        "tags": ["a", {"b": 1}],
    },
    "assets": {
        "S1A_AUX.zip": {"href": "h1", "file:size": 3, "roles": ["data"]},
        "S1A_AUX.xml": {"href": "h2", "eviction_datetime": "2024-02-01T00:00:00.5Z"},
    },
}


def _served_items(sim: RsServerSimulator, features: Any) -> None:
    from rs_core.testing.simulator import Fault

    body = {"type": "FeatureCollection", "features": features, "links": []}
    sim.clear_faults()
    sim.add_fault(
        Fault(
            path_regex=r"^/auxip/collections/adgs/items$",
            kind="status",
            status=200,
            body=json.dumps(body).encode(),
        )
    )


def _search_with(auxip: AuxipClient, explode: Any) -> Any:
    protocol = auxip._v2_protocol()
    return protocol.search_items(
        "adgs", {"limit": "10"}, max_items=None, timeout=10, what="test", explode=explode
    )


def _unmarked(item: Any, collection: str) -> list[dict[str, Any]]:
    from rs_auxip.protocol_v2 import AdgsProtocolV2

    return AdgsProtocolV2.explode(item, collection)


def test_per_asset_files_equal_the_full_explosion(sim_v2: RsServerSimulator) -> None:
    """An explode marked files_per_asset (AUXIP's) gives the items the unmarked one gives;
    the files of one item, and a file built twice, share nothing; the items as sent (kept
    for staging) are left as they were."""
    from rs_auxip.protocol_v2 import AdgsProtocolV2

    from rs_core.rsserver_v2 import _PER_ASSET

    assert getattr(AdgsProtocolV2.explode, _PER_ASSET, False)
    second = {**copy.deepcopy(_V2_ITEM), "id": "S1B_AUX", "assets": {"S1B.zip": {"href": "h3"}}}
    try:
        with AuxipClient(sim_v2.url, KEY, "tester", http_settings=FAST) as auxip:
            _served_items(sim_v2, [_V2_ITEM, second])
            fast = _search_with(auxip, AdgsProtocolV2.explode)
            slow = _search_with(auxip, _unmarked)
            assert fast.ids == slow.ids == ["S1A_AUX.zip", "S1A_AUX.xml", "S1B.zip"]
            again = fast.items.head(3)
            for one, other in zip(fast, slow, strict=True):
                same_item(one, other)
            assert fast[1].assets["file"].extra_fields["eviction_datetime"] == (
                "2024-02-01T00:00:00.500000Z"
            )
            kept = copy.deepcopy(fast.raw["features"])
            for item in (fast[0], again[0]):
                item.properties["tags"][1]["b"] = "mutated"
                item.geometry["coordinates"].append(9)
                item.assets["file"].roles.append("mutated")
            assert again[0] is not fast[0], "a file built twice is two items"
            assert fast[1].properties["tags"] == [
                "a",
                {"b": 1},
            ], "sibling files share nothing"
            assert fast.raw["features"] == kept == [_V2_ITEM, second]
            with auxip._v2_state.lock:
                held = auxip._v2_state.files["S1A_AUX.zip"].item
            assert held == _V2_ITEM, "the item kept for staging is as sent"
    finally:
        sim_v2.clear_faults()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"properties": {"auxip:id": "u1"}}, "'S1A_AUX.zip' is not a valid STAC item (no date"),
        ({"properties": "x"}, "is not a valid STAC item ("),
        ({"assets": {"": {"href": "h"}}}, "'' is not a valid STAC item (no id)"),
    ],
)
def test_per_asset_search_refuses_what_the_full_explosion_refuses(
    sim_v2: RsServerSimulator, change: dict[str, Any], message: str
) -> None:
    from rs_auxip.protocol_v2 import AdgsProtocolV2

    from rs_core.errors import BadResponseError

    try:
        with AuxipClient(sim_v2.url, KEY, "tester", http_settings=FAST) as auxip:
            _served_items(sim_v2, [{**copy.deepcopy(_V2_ITEM), **change}])
            for explode in (AdgsProtocolV2.explode, _unmarked):
                with pytest.raises(BadResponseError) as caught:
                    _search_with(auxip, explode)
                assert message in str(caught.value), explode
    finally:
        sim_v2.clear_faults()


def test_cadip_sessions_files_share_nothing(sim_v2: RsServerSimulator) -> None:
    with CadipClient(sim_v2.url, KEY, "tester", "CADIP", http_settings=FAST) as cadip:
        files = cadip.search_stations("2000-01-01", "2100-01-01", limit=10)
        assert len(files) >= 2
        files[0].properties["mutated"] = True
        if files[0].geometry is not None:
            files[0].geometry["mutated"] = True
        assert all("mutated" not in f.properties for f in files[1:])
        assert "mutated" not in json.dumps(files.raw)


def test_v1_station_search_equals_the_eager_path(sim_v1: RsServerSimulator) -> None:
    with AuxipClient(sim_v1.url, KEY, "tester", http_settings=FAST) as auxip:
        found = auxip.search_stations("2000-01-01", "2100-01-01", limit=50)
        assert found.items.built == 0
        with requests.Session() as http:
            body = http.get(
                f"{sim_v1.url}/adgs/aux/search",
                params={"datetime": "2000-01-01T00:00:00Z/2100-01-01T00:00:00Z", "limit": "50"},
                headers={"x-api-key": KEY},
                timeout=10,
            ).json()
        protocol = auxip._protocol()
        eager = [
            pystac.Item.from_dict(normalise_feature(f, protocol.staging_href))
            for f in body["features"]
        ]
        for lazy, ref in zip(found, eager, strict=True):
            same_item(lazy, ref)
        found[0].properties["mutated"] = True
        assert found.raw == body and found.to_dict()["numberMatched"] == body["numberMatched"]
        capped = auxip.search_stations("2000-01-01", "2100-01-01", max_items=2)
        assert len(capped) == 2 and capped.items.built == 0
        assert capped.ids == [f["id"] for f in capped.raw["features"][:2]]


# -- catalog searches ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def catalog_sim() -> Iterator[Any]:
    with RsServerSimulator(api_keys={KEY: ApiKey.full_access("tester")}) as sim:
        import rs_core

        catalog = rs_core.get_catalog(
            rs_server_href=sim.url, rs_server_api_key=KEY, owner_id="tester", http_settings=FAST
        )
        catalog.add_collection(make_collection("lazy"))
        for k in range(7):
            catalog.add_item("lazy", make_item(f"lazy-{k}"))
        yield sim, catalog
        catalog.close()


def test_catalog_searches_equal_the_eager_path(catalog_sim: Any) -> None:
    sim, catalog = catalog_sim
    with requests.Session() as http:
        body = http.post(
            f"{sim.url}/catalog/search",
            json={"collections": ["tester_lazy"], "limit": 100},
            headers={"x-api-key": KEY},
            timeout=10,
        ).json()
    eager = {f["id"]: f for f in body["features"]}
    search = catalog.search(collections=["lazy"], limit=3)
    from_items = list(search.items())
    from_pages = [i for page in catalog.search(collections=["lazy"], limit=3).pages() for i in page]
    collection = catalog.search(collections=["lazy"], limit=3).item_collection()
    assert isinstance(collection, pystac.ItemCollection) and collection.items.built == 0
    assert len(from_items) == len(from_pages) == len(collection) == len(eager) == 7
    for group in (from_items, from_pages, list(collection)):
        for item in group:
            ref = pystac.Item.from_dict(copy.deepcopy(eager[item.id]))
            assert item.to_dict()["properties"] == ref.to_dict(transform_hrefs=False)["properties"]
            assert item.collection_id == "tester:lazy"
            assert {k: a.href for k, a in item.assets.items()} == {
                k: a.href for k, a in ref.assets.items()
            }
    assert collection[0].get_root() is catalog, "item_collection() items keep their root"


def test_a_catalog_keeps_none_of_the_items_it_returned(catalog_sim: Any) -> None:
    """Items from a search (iterated, by page, collected) and from add_items have the catalog
    as their root, and the catalog holds none of them once the caller lets them go: a search
    iterated over any number of items keeps about a page (pystac's set_root would enter each
    in the root's cache of resolved objects, for ever)."""
    import gc
    import weakref

    _, catalog = catalog_sim
    kept: list[Any] = []
    for item in catalog.search(collections=["lazy"], limit=3).items():
        assert item.get_root() is catalog
        kept.append(weakref.ref(item))
    for page in catalog.search(collections=["lazy"], limit=3).pages():
        kept.extend(weakref.ref(item) for item in page)
    collection = catalog.search(collections=["lazy"], limit=3).item_collection()
    kept.extend(weakref.ref(item) for item in collection)
    results = catalog.add_items("lazy", [make_item(f"weak-{k}") for k in range(3)])
    assert all(r.ok and r.item.get_root() is catalog for r in results)
    kept.extend(weakref.ref(r.item) for r in results)
    del item, page, collection, results
    gc.collect()
    assert len(kept) == 7 + 7 + 7 + 3
    assert [ref for ref in kept if ref() is not None] == []
    for k in range(3):
        catalog.remove_item("lazy", f"weak-{k}")


def test_import_rs_core_pulls_no_heavy_dependency() -> None:
    code = (
        "import sys, rs_core; rs_core.RsError; rs_core.EDownloadStatus; "
        "import rs_core.items, rs_core.credentials, rs_core.config, rs_core.roles; "
        "import rs_core.ledger, rs_core.staging, rs_core.records, rs_core.dates; "
        "import rs_core.cli.main, rs_core.cli.staging_cmd, rs_core.cli.auth_cmd; "
        "import rs_core.cli.commands, rs_core.cli.catalog_cmd; "
        "print(sorted(m for m in ('pystac', 'requests', 'pluggy', 'pystac_client') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert out.strip() == "[]", out


def test_the_performance_page_example_runs() -> None:
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "performance.md").read_text()
    block = text.split("```python\n", 1)[1].split("```", 1)[0]
    exec(compile(block, "docs/performance.md", "exec"), {})


def test_v2_raw_read_first_shares_nothing_with_the_items(sim_v2: RsServerSimulator) -> None:
    with AuxipClient(sim_v2.url, KEY, "tester", http_settings=FAST) as auxip:
        found = auxip.search_stations("2000-01-01", "2100-01-01", page_size=4)
        again = auxip.search_stations("2000-01-01", "2100-01-01", page_size=4)
        raw = found.raw
        assert raw == again.raw and raw["features"], "raw read before any item is built"
        for feature in raw["features"]:
            feature["properties"]["mutated"] = True
            for asset in feature["assets"].values():
                asset["mutated"] = True
        assert found.items.built == 0
        for lazy, ref in zip(found, again, strict=True):
            same_item(lazy, ref)
            assert "mutated" not in json.dumps(lazy.to_dict())
        assert found.ids == again.ids


def test_holding_a_v2_file_search_costs_little_over_its_decoded_pages() -> None:
    """The held result keeps each v2 item once (no page bytes, no file-level copies): its
    Python memory is within 1.2x of the pages decoded by a bare session (tracemalloc counts
    allocations, not time). The simulator's own allocations are left out."""
    import tracemalloc

    from rs_core.testing.simulator import Dataset

    dataset = Dataset.synthetic(n_products=400, n_files=1, n_sessions=1)
    keys = {KEY: ApiKey.full_access("tester")}
    with (
        RsServerSimulator(api_keys=keys, api_version="v2", dataset=dataset) as sim,
        AuxipClient(sim.url, KEY, "tester", http_settings=FAST, api_version="v2") as auxip,
    ):
        url = f"{sim.url}/auxip/collections/adgs/items"
        params = {"datetime": "2000-01-01T00:00:00Z/2100-01-01T00:00:00Z", "limit": "100"}
        auxip.search_stations("2000-01-01", "2100-01-01", page_size=100)  # warm up
        _pages(url, params)

        def held(run: Any) -> tuple[int, Any]:
            tracemalloc.start(25)
            try:
                before = tracemalloc.take_snapshot()
                result = run()
                after = tracemalloc.take_snapshot()
            finally:
                tracemalloc.stop()
            leave_out = [tracemalloc.Filter(False, "*/rs_core/testing/*", all_frames=True)]
            diff = after.filter_traces(leave_out).compare_to(
                before.filter_traces(leave_out), "filename"
            )
            return sum(d.size_diff for d in diff), result

        floor, pages = held(lambda: _pages(url, params))
        ours, found = held(lambda: auxip.search_stations("2000-01-01", "2100-01-01", page_size=100))
        assert len(found) == sum(len(p["features"]) for p in pages) == 400
        assert ours <= 1.2 * floor, f"held result {ours} B vs decoded pages {floor} B"
