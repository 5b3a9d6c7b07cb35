"""Search results whose pystac items cost what they are used for.

A search answer is decoded JSON; a :class:`pystac.Item` per feature costs several times the
decoding (pystac's ``Item.from_dict`` deep-copies the dict for its migration, then parses and
wraps every field). The results here keep the decoded features and build each item when it is
touched: ``len()`` and :attr:`LazyItemList.ids` build nothing, indexing builds one item,
iterating builds them one after the other, anything else (slices, ``sort``, ``==``...) builds
them all. The items are the ones ``Item.from_dict`` would give: :func:`build_item` runs
pystac's own migration steps in place (no deep copy) and pystac's constructors.

Example::

    >>> from rs_core.items import LazyItemList
    >>> feature = {"type": "Feature", "stac_version": "1.0.0", "id": "a", "geometry": None,
    ...            "properties": {"datetime": "2024-01-01T00:00:00Z"}, "links": [], "assets": {}}
    >>> items = LazyItemList([feature])
    >>> len(items), items.built, items.ids
    (1, 0, ['a'])
    >>> items[0].id, items.built
    ('a', 1)
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from itertools import compress
from typing import TYPE_CHECKING, Any, SupportsIndex, cast

if TYPE_CHECKING:
    import pystac

__all__ = [
    "LazyItemList",
    "build_item",
    "copy_nested",
    "gc_paused",
    "json_copy",
    "lazy_item_collection",
]

Build = Callable[[dict[str, Any]], "pystac.Item"]


def json_copy(value: Any) -> Any:
    """A deep copy of decoded JSON (dicts, lists, scalars): several times cheaper than
    :func:`copy.deepcopy`, which it equals for such data.

    >>> a = {"x": [1, {"y": 2}]}; b = json_copy(a); b["x"][1]["y"] = 3; a["x"][1]["y"]
    2
    """
    kind = type(value)
    if kind is dict:
        copied = value.copy()
        if not _ATOMS.issuperset(map(type, copied.values())):
            for k, v in copied.items():  # values replaced in place: the keys do not change
                if type(v) not in _ATOMS:
                    copied[k] = json_copy(v)
        return copied
    if kind is list:
        items = value.copy()
        if not _ATOMS.issuperset(map(type, items)):
            for i, v in enumerate(items):
                if type(v) not in _ATOMS:
                    items[i] = json_copy(v)
        return items
    if kind is tuple:
        return tuple(json_copy(v) for v in value)
    return value


_ATOMS = frozenset({str, int, float, bool, type(None)})
"""Types of JSON values that are not containers (a copy is the value itself)."""


def copy_nested(fields: dict[str, Any], skip: frozenset[str] = frozenset()) -> dict[str, Any]:
    """``fields`` itself, each of its dict and list values (but those of the keys in ``skip``)
    replaced by a :func:`json_copy`: for a dict made afresh whose values may be shared.

    >>> shared = [1]; fields = {"a": shared, "b": "x"}; copy_nested(fields)["a"] is shared
    False
    """
    nested = _CONTAINERS.__contains__
    for key in list(compress(fields, map(nested, map(type, fields.values())))):
        if key not in skip:  # values replaced in place: the keys do not change
            fields[key] = json_copy(fields[key])
    return fields


_CONTAINERS = frozenset({dict, list})
"""The types of decoded JSON values :func:`copy_nested` copies."""


# -- building one item ---------------------------------------------------------------------


_INERT_WHEN_UNDECLARED = frozenset(
    {
        ("pystac.extensions.storage", "StorageExtensionHooks"),
        ("pystac.extensions.projection", "ProjectionExtensionHooks"),
        ("pystac.extensions.label", "LabelExtensionHooks"),
        ("pystac.extensions.sar", "SarExtensionHooks"),
        ("pystac.extensions.mlm", "MLMExtensionHooks"),
        ("pystac.extensions.classification", "ClassificationExtensionHooks"),
        ("pystac.extensions.eo", "EOExtensionHooks"),
    }
)
"""pystac's extension hooks whose ``migrate`` (read in pystac 1.15) changes nothing and warns
of nothing on an item of STAC 1.0.0 or later that does not list the extension (any version of
its schema, or one of its previous ids): each acts only on items that list it, or on items
older than 1.0.0. ``tests/core/test_items.py`` runs each on items full of the fields it would
migrate to check this on the installed pystac. Not the file extension's hook: it warns about
asset fields whatever the item lists."""

_INERT_UNLESS_ASSET_FIELDS = frozenset({("pystac.extensions.file", "FileExtensionHooks")})
"""pystac's extension hooks whose ``migrate`` (read in pystac 1.15), on an item of STAC 1.0.0
or later that lists neither one of their previous ids nor the former checksum extension (its
short id ``checksum``, which the file extension's hook migrates whatever the item's version),
only warns when an asset has one of the hook's ``removed_fields``: run only for such an
item."""

_INERT_CHECKED_ON = ("1.15.",)
"""The pystac releases whose hooks :data:`_INERT_WHEN_UNDECLARED` was read in: with any other,
every hook that overrides ``migrate`` runs."""


def _declares(hook: Any, extensions: Sequence[str]) -> bool:
    """Whether ``extensions`` lists ``hook``'s extension: a version of its schema (the URI up
    to its version) or one of its previous ids."""
    from pystac.extensions.base import VERSION_REGEX

    prefix = VERSION_REGEX.split(hook.schema_uri)[0] + "/"
    return any(e.startswith(prefix) or e in hook.prev_extension_ids for e in extensions)


def _description(version: str, extensions: tuple[str, ...]) -> tuple[Any, tuple[Any, ...], Any]:
    """pystac's identification of a STAC 1.x item of ``version`` with ``extensions`` (only
    these two fields and the type decide it), and the extension hooks whose migration can
    change such an item: every hook that overrides ``migrate`` (except those known to be inert
    for it, :data:`_INERT_WHEN_UNDECLARED`), and the others (which only rename a previous
    schema id) when the item lists one of their previous ids; and the version as the hooks get
    it, whose comparisons (``version < "0.9"``...) are cached, also as the identified range's
    latest version (which the file extension's hook compares). Each hook comes with the asset
    fields without which it does nothing (:data:`_INERT_UNLESS_ASSET_FIELDS`), or None.
    Not cached itself: :func:`_migration_plan`, its one caller, is."""
    import pystac
    from pystac.extensions.hooks import ExtensionHooks
    from pystac.serialization import identify_stac_object
    from pystac.serialization.identify import OldExtensionShortIDs

    info = identify_stac_object(
        {"type": "Feature", "stac_version": version, "stac_extensions": list(extensions)}
    )
    latest = _cached_version(str(info.version_range.latest_valid_version()))
    info.version_range.max_version = latest
    registry = pystac.EXTENSION_HOOKS
    registry._discover()
    known = pystac.__version__.startswith(_INERT_CHECKED_ON) and not latest < "1.0.0"

    def inert(hook: Any) -> bool:
        kind = type(hook)
        return (
            known
            and (kind.__module__, kind.__qualname__) in _INERT_WHEN_UNDECLARED
            and not _declares(hook, info.extensions)
        )

    def condition(hook: Any) -> frozenset[str] | None:
        kind = type(hook)
        if (
            known
            and (kind.__module__, kind.__qualname__) in _INERT_UNLESS_ASSET_FIELDS
            and not any(p in info.extensions for p in hook.prev_extension_ids)
            and OldExtensionShortIDs.CHECKSUM.value not in info.extensions
        ):
            return frozenset(hook.removed_fields)
        return None

    hooks = tuple(
        (h, condition(h))
        for h in registry.hooks.values()
        if info.object_type in h._get_stac_object_types()
        and (
            (type(h).migrate is not ExtensionHooks.migrate and not inert(h))
            or any(p in info.extensions for p in h.prev_extension_ids)
        )
    )
    return info, hooks, latest


@functools.lru_cache(maxsize=16)
def _cached_version(text: str) -> Any:
    """pystac's ``STACVersionID`` of ``text`` whose comparisons with a given other version are
    computed once (the migration hooks compare the same versions for every item)."""
    from pystac.serialization.identify import STACVersionID

    class CachedVersionID(STACVersionID):
        _lt: dict[str, bool]
        _eq: dict[str, bool]

        def __lt__(self, other: object) -> bool:
            key = str(other)
            if key not in self._lt:
                self._lt[key] = super().__lt__(other)
            return self._lt[key]

        def __eq__(self, other: object) -> bool:
            key = str(other)
            if key not in self._eq:
                self._eq[key] = super().__eq__(other)
            return self._eq[key]

        __hash__ = STACVersionID.__hash__

    version = CachedVersionID(text)
    version._lt, version._eq = {}, {}
    return version


@functools.lru_cache(maxsize=1)
def _pystac_parts() -> tuple[Any, ...]:
    import pystac
    from pystac.extensions.hooks import ExtensionHooks
    from pystac.serialization import migrate
    from pystac.version import STACVersion

    hooks = pystac.EXTENSION_HOOKS
    hooks._discover()
    deprecating = tuple(
        h
        for h in hooks.hooks.values()
        if type(h).get_deprecation_message is not ExtensionHooks.get_deprecation_message
    )
    return (
        pystac,
        migrate._get_object_migrations(),
        migrate._get_removed_extension_migrations(),
        STACVersion.DEFAULT_STAC_VERSION,
        deprecating,
    )


_QUIET_WHEN_UNDECLARED = frozenset({("pystac.extensions.version", "VersionExtensionHooks")})
"""pystac's extension hooks whose ``get_deprecation_message`` (read in pystac 1.15) is None for
an item that does not list the extension (it reads the extension's fields only through
``ext()``, which refuses such an item)."""


@functools.lru_cache(maxsize=64)
def _deprecating(extensions: tuple[str, ...]) -> tuple[Any, ...]:
    """The hooks whose deprecation check can warn about an item listing ``extensions``."""
    import pystac

    known = pystac.__version__.startswith(_INERT_CHECKED_ON)
    return tuple(
        h
        for h in _pystac_parts()[4]
        if not (
            known
            and (type(h).__module__, type(h).__qualname__) in _QUIET_WHEN_UNDECLARED
            and not _declares(h, extensions)
        )
    )


_STRINGS = frozenset({str})
"""The item types of an extension list pystac's migration is taken in place for (a ``str``
subclass takes pystac's own path)."""


def _migrate_in_place(d: dict[str, Any]) -> bool:
    """pystac's ``migrate_to_latest`` on ``d`` itself (no deep copy); False when ``d`` is not
    a STAC 1.x item with string extensions (then the caller takes pystac's own path)."""
    version = d.get("stac_version")
    extensions = d.get("stac_extensions") or []
    if (
        d.get("type") != "Feature"
        or not isinstance(version, str)
        or not version.startswith("1.")
        or not isinstance(extensions, list)
        or not (extensions == [] or _STRINGS.issuperset(map(type, extensions)))
    ):
        return False
    info, hooks, version, to_latest, removed = _migration_plan(version, tuple(extensions))
    if to_latest is not None:
        migrate_object, latest = to_latest
        migrate_object(d, version, info)
        d["stac_version"] = latest
    d["stac_extensions"] = extensions
    for hook, fields in hooks:
        if fields is not None and not _assets_have(d, fields):
            continue  # the hook would do nothing
        hook.migrate(d, version, info)
    if removed:
        for ext in extensions[:]:
            if ext in removed:
                object_types, migration_fn = removed[ext]
                if object_types is None or info.object_type in object_types:
                    if migration_fn:
                        migration_fn(d, version, info)
                    extensions.remove(ext)
    return True


@functools.lru_cache(maxsize=64)
def _migration_plan(version: str, extensions: tuple[str, ...]) -> tuple[Any, ...]:
    """What pystac's migration does to a STAC 1.x item of ``version`` listing ``extensions``
    (:func:`_description`'s identification, hooks and version), and what is decided by these
    two alone: the object's migration and the latest version when ``version`` is not the
    latest (else None); pystac's removed-extension migrations when ``extensions`` lists one
    of them (else None)."""
    _, object_migrations, removed, latest, _ = _pystac_parts()
    info, hooks, parsed = _description(version, extensions)
    to_latest = (object_migrations[info.object_type], latest) if parsed != latest else None
    listed = removed if any(e in removed for e in extensions) else None
    return info, hooks, parsed, to_latest, listed


def _assets_have(d: dict[str, Any], fields: frozenset[str]) -> bool:
    """Whether an asset of the item dict ``d`` has one of ``fields``."""
    assets = d.get("assets")
    if type(assets) is not dict:
        return True  # not the usual shape: let the hook see it
    for asset in assets.values():  # noqa: SIM110 - a loop: no generator per item
        if type(asset) is not dict or not fields.isdisjoint(asset):
            return True
    return False


def _parse_datetime(text: str) -> datetime:
    """pystac's ``str_to_datetime``: an aware RFC 3339 text (what servers send) through the
    standard library's parser (an equal datetime, with :data:`datetime.timezone.utc` as its
    zone instead of dateutil's), uncached (such a parse costs less than a cache's miss); any
    other text through pystac's, cached (:func:`_parsed_by_pystac`)."""
    try:
        parsed = _fromisoformat(text)
    except ValueError:
        return _parsed_by_pystac(text)
    if parsed.tzinfo is not None and "T" in text:
        return parsed
    return _parsed_by_pystac(text)


_fromisoformat = datetime.fromisoformat


@functools.lru_cache(maxsize=1024)
def _parsed_by_pystac(text: str) -> datetime:
    """pystac's ``str_to_datetime`` of ``text``, cached (answers repeat such texts: v1's
    constant 1970 dates)."""
    from pystac.utils import str_to_datetime

    return str_to_datetime(text)


def build_item(d: dict[str, Any], *, owned: bool = True) -> pystac.Item:
    """The :class:`pystac.Item` that ``pystac.Item.from_dict(d)`` makes, cheaper.

    ``owned``: ``d`` (and everything in it) belongs to the item from now on, as with
    ``preserve_dict=False``; otherwise it is copied first. pystac's migration runs in place
    (the same steps, no deep copy), timestamps are parsed once per distinct text, and
    pystac's deprecation check runs only where an installed extension can deprecate.
    Anything unusual (STAC 0.x, odd extension lists) takes ``from_dict`` itself.
    """
    import pystac

    if not owned:
        d = json_copy(d)
    if not _migrate_in_place(d):
        return pystac.Item.from_dict(d, preserve_dict=False)
    # a "Feature" with a stac_version (checked by the migration): what matches_object_type asks
    item = _made(_assembler() or _constructed, d)
    for hooks in _deprecating(tuple(item.stac_extensions)):
        message = hooks.get_deprecation_message(item)
        if message is not None:
            import warnings

            from pystac.errors import DeprecatedWarning

            warnings.warn(message, DeprecatedWarning, stacklevel=2)
            break
    return cast("pystac.Item", item)


# -- assembling an item without pystac's constructors --------------------------------------


_ASSEMBLY_CHECKED_ON = ("1.15.",)
"""The pystac releases whose constructors :func:`_assembler` was written from (``Item``,
``Asset.from_dict``, ``Link.from_dict`` and the ``add_asset``/``add_link`` they are joined
with): with any other, items are made by those constructors."""

Assemble = Callable[[dict[str, Any], dict[str, Any], "datetime | None", dict[str, Any]], Any]


@functools.lru_cache(maxsize=1)
def _assembler() -> Assemble | None:
    """A function that makes, from a migrated item dict, the :class:`pystac.Item` that
    pystac's constructors make (the same attributes, in the same order, with the same values
    and owners), setting each object's attributes at once instead of through the
    constructors (a third of an item's cost). Only for the pystac releases it was written
    from (:data:`_ASSEMBLY_CHECKED_ON`), and only if it makes exactly what the constructors
    make of :data:`_SAMPLES` on the installed pystac: else None (the constructors are used)."""
    import pystac

    if not pystac.__version__.startswith(_ASSEMBLY_CHECKED_ON):
        return None
    assemble = _make_assembler()
    for sample in _SAMPLES:
        try:
            made = _made(_constructed, json_copy(sample))
            fast = _made(assemble, json_copy(sample))
        except Exception:  # whatever goes wrong: the constructors are used
            return None
        if not _same_state(fast, made):
            return None
    return assemble


def _made(make: Assemble, d: dict[str, Any]) -> Any:
    """``make``'s item of the migrated item dict ``d``: its properties, their datetime parsed,
    its other fields as ``extra_fields``."""
    properties = d.get("properties", {})
    when = properties.get("datetime")
    extra = {k: v for k, v in d.items() if k not in _ITEM_FIELDS} if d.keys() - _ITEM_FIELDS else {}
    return make(d, properties, _parse_datetime(when) if when is not None else None, extra)


_ITEM_FIELDS = frozenset(
    {
        "id",
        "geometry",
        "bbox",
        "stac_extensions",
        "collection",
        "links",
        "assets",
        "properties",
        "type",
        "stac_version",
    }
)
"""The top-level fields of an item dict that are not its ``extra_fields``."""


def _make_assembler() -> Assemble:
    """The assembly (see :func:`_assembler`). The item dict is the item's own (``owned``):
    its asset and link dicts become the assets' and links' ``extra_fields`` (where pystac's
    ``from_dict`` copies them first)."""
    import os
    from copy import copy

    import pystac
    from pystac.errors import STACError
    from pystac.utils import make_absolute_href

    item_class, asset_class, link_class = pystac.Item, pystac.Asset, pystac.Link
    new = object.__new__
    self_rel = pystac.RelType.SELF

    def posix(href: Any) -> str:  # pystac.utils.make_posix_style
        text = href if type(href) is str else str(os.fspath(href))
        return text.replace("\\\\", "/").replace("\\", "/") if "\\" in text else text

    def assemble(
        d: dict[str, Any], properties: dict[str, Any], when: Any, extra: dict[str, Any]
    ) -> Any:
        if when is None and (
            "start_datetime" not in properties or "end_datetime" not in properties
        ):
            raise STACError(
                "Invalid Item: If datetime is None, a start_datetime and end_datetime "
                "must be supplied."
            )
        # attributes set one by one, in the constructors' order: the objects keep their
        # attributes inline as the constructors' do (no dict of their own)
        item: Any = new(item_class)
        item.links = links = []
        item.stac_extensions = d.get("stac_extensions") or []
        item.id = d.get("id")
        item.geometry = d.get("geometry")
        item.bbox = d.get("bbox")
        item.properties = properties
        item.extra_fields = extra
        item.assets = assets = {}
        item.datetime = when
        item.collection_id = collection = d.get("collection")
        if collection is None:
            item.collection = None
        for key, value in d.get("assets", {}).items():
            fields = value if type(value) is dict else copy(value)  # Asset.from_dict's copy
            href = fields.pop("href")
            media_type = fields.pop("type", None)
            title = fields.pop("title", None)
            description = fields.pop("description", None)
            roles = fields.pop("roles", None)
            asset = new(asset_class)
            asset.href = posix(href)
            asset.title = title
            asset.description = description
            asset.media_type = media_type
            asset.roles = roles
            asset.extra_fields = fields if any(fields) else {}
            asset.owner = item
            assets[key] = asset
        for value in d.get("links", []):
            fields = value if type(value) is dict else copy(value)  # Link.from_dict's copy
            rel = fields.pop("rel")
            target = fields.pop("href")
            media_type = fields.pop("type", None)
            title = fields.pop("title", None)
            link = new(link_class)
            link.rel = rel
            if isinstance(target, str):
                link._target_href = make_absolute_href(target) if rel == self_rel else posix(target)
                link._target_object = None
            else:
                link._target_href = None
                link._target_object = target
            link.media_type = media_type
            link._title = title
            link.extra_fields = fields if any(fields) else {}
            link.owner = item
            links.append(link)
        return item

    return assemble


def _constructed(
    d: dict[str, Any], properties: dict[str, Any], when: Any, extra: dict[str, Any]
) -> Any:
    """The item pystac's constructors make of the migrated item dict ``d`` (``properties``
    are its properties, ``when`` their datetime parsed, ``extra`` its other fields)."""
    import pystac

    item = pystac.Item(
        id=cast(str, d.get("id")),  # None when missing, as from_dict
        geometry=d.get("geometry"),
        bbox=d.get("bbox"),
        datetime=when,
        properties=properties,
        stac_extensions=d.get("stac_extensions"),
        collection=d.get("collection"),
        extra_fields=extra,
        assets={k: pystac.Asset.from_dict(v) for k, v in d.get("assets", {}).items()},
    )
    for link in d.get("links", []):
        item.add_link(pystac.Link.from_dict(link))
    return item


def _same_state(a: Any, b: Any, pairs: dict[int, Any] | None = None) -> bool:
    """Whether ``a`` and ``b`` (items, their links and assets, and the values in them) have
    the same attributes in the same order with equal values, owners included (the owner of
    a part of ``a`` is the object of ``a`` that pairs with the owner of that part of ``b``)."""
    import pystac

    pairs = {} if pairs is None else pairs
    if type(a) is not type(b):
        return False
    if isinstance(a, (pystac.Item, pystac.Link, pystac.Asset)):
        if id(a) in pairs:
            return pairs[id(a)] is b
        pairs[id(a)] = b
        mine, theirs = vars(a), vars(b)
        return list(mine) == list(theirs) and all(
            _same_state(mine[k], theirs[k], pairs) for k in mine
        )
    if type(a) is list:
        return len(a) == len(b) and all(_same_state(x, y, pairs) for x, y in zip(a, b, strict=True))
    if type(a) is dict:
        return list(a) == list(b) and all(_same_state(a[k], b[k], pairs) for k in a)
    return bool(a == b)


_SAMPLES: tuple[dict[str, Any], ...] = (
    {
        "type": "Feature",
        "stac_version": "1.1.0",
        "stac_extensions": [],
        "id": "sample-1",
        "geometry": {"type": "Point", "coordinates": [1.0, 2.0]},
        "bbox": [1.0, 2.0, 1.0, 2.0],
        "properties": {"datetime": "2024-01-01T00:00:00Z", "x": [1, {"y": 2}]},
        "links": [
            {"rel": "self", "href": "https://h/c/items/sample-1", "type": "application/json"},
            {"rel": "parent", "href": "https://h/c", "title": "c", "x": {"y": 1}},
            {"rel": "related", "href": "rel\\\\a"},
        ],
        "assets": {
            "a.bin": {
                "href": "s3://b/a.bin",
                "type": "application/octet-stream",
                "title": "t",
                "description": "d",
                "roles": ["data"],
                "file:size": 3,
            },
            "b": {"href": "b\\\\c"},
        },
        "collection": "c",
        "extra:top": {"z": 1},
    },
    {
        "type": "Feature",
        "stac_version": "1.1.0",
        "id": "sample-2",
        "geometry": None,
        "properties": {
            "datetime": None,
            "start_datetime": "2024-01-01T00:00:00Z",
            "end_datetime": "2024-01-02T00:00:00Z",
        },
        "links": [{"rel": "self", "href": "relative/sample-2.json"}],
        "assets": {},
    },
)
"""Items :func:`_assembler` must make as pystac's constructors do before it is used."""


# -- the lazy list -------------------------------------------------------------------------


_ITEM: Any = None
"""``pystac.Item``, once a lazy list exists (importing rs_core does not import pystac)."""


def _item_class() -> Any:
    global _ITEM  # noqa: PLW0603 - set once, read on every entry (a module global is the fastest)
    if _ITEM is None:
        import pystac

        _ITEM = pystac.Item
    return _ITEM


_KINDS: dict[type, bool] = {}
"""Whether an entry of this type is a built item (``isinstance(x, pystac.Item)`` costs a
microsecond: pystac.Item's metaclass is typing's protocol metaclass)."""


def _is_item(value: Any) -> bool:
    kind = type(value)
    known = _KINDS.get(kind)
    if known is None:
        known = _KINDS[kind] = isinstance(value, _ITEM)
    return known


def _built_first(name: str) -> Any:
    method = getattr(list, name)

    @functools.wraps(method)
    def wrapper(self: LazyItemList, *args: Any, **kwargs: Any) -> Any:
        self.build_all()
        return method(self, *args, **kwargs)

    return wrapper


_AHEAD = 4096
"""The most items an iteration builds in one run (:meth:`LazyItemList._build_ahead`). Each
run ends with one pass of the collector over the young objects; every tenth such pass is a
pass over the middle generation, and every eleventh of those a full pass over the process.
With 50,000 results held, runs of 1,024 led to a full pass in the iteration and 313 ms in
the collector (``bench/README.md``, sixth round); runs of 4,096 (about 0.05-0.1 s of building
each) to none and 83 ms. The cost: a loop that stops early built up to 4,096 items it did not
take. Longer pauses are no better: the passes they defer walk more objects, colder in the
CPU's caches."""


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Run the block with Python's cyclic garbage collector paused (if it is enabled).

    Building many long-lived objects (search results) triggers a collection every few hundred
    of them, each walking the young objects and, every so often, the whole heap: work that
    frees nothing when the objects are kept, and that grows with what the process holds.
    Reference counting still frees what it can meanwhile; collection resumes after the block
    (the collector counts what was allocated meanwhile). Kept short by its callers, and never
    around the caller's code (a run of at most :data:`_AHEAD` items); a thread that turns
    the collector off during the block has it turned on again at the end.

    >>> import gc
    >>> with gc_paused():
    ...     gc.isenabled()
    False
    >>> gc.isenabled()
    True
    """
    import gc

    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


class LazyItemList(list):  # type: ignore[type-arg]  # of pystac.Item, built on use
    """A ``list`` of :class:`pystac.Item` that builds each item from its feature when touched.

    It is a real ``list`` (``isinstance(x, list)``); ``len`` builds nothing, ``x[i]`` builds
    item ``i``, iteration builds as it goes, every other list operation builds all first.
    ``build(feature)`` makes the item (default :func:`build_item`, which takes the feature as
    its own); ``ids`` reads the features' ids without building. An entry is a feature (any
    mapping) until it is built, then its :class:`pystac.Item`: the list holds nothing else
    per entry.
    """

    __slots__ = ("_build", "_failed")

    def __init__(
        self,
        features: Iterable[Mapping[str, Any] | pystac.Item] = (),
        build: Build | None = None,
    ) -> None:
        _item_class()
        self._build: Build = build or build_item
        self._failed: dict[int, tuple[Any, BaseException]] | None = None
        super().__init__(features)

    def _at(self, index: int) -> pystac.Item:
        value = list.__getitem__(self, index)
        if not _is_item(value):
            if self._failed is not None and id(value) in self._failed:
                entry, error = self._failed.pop(id(value))
                if entry is value:
                    raise error
            value = self._build(value)
            list.__setitem__(self, index, value)
        return cast("pystac.Item", value)

    def _build_ahead(self, index: int, count: int) -> None:
        """Build entry ``index`` and the next ones up to ``count`` entries, with the cyclic
        garbage collector paused (see :func:`gc_paused`). An entry after the first that fails
        to build keeps its error, raised when that entry is reached (as if built then)."""
        stop = min(index + count, list.__len__(self))
        build = self._build
        with gc_paused():
            self._at(index)
            for at in range(index + 1, stop):
                value = list.__getitem__(self, at)
                if _is_item(value):
                    continue
                try:
                    item = build(value)
                except Exception as err:  # kept, raised when its entry is reached
                    if self._failed is None:
                        self._failed = {}
                    self._failed[id(value)] = (value, err)
                    return
                list.__setitem__(self, at, item)

    @property
    def built(self) -> int:
        """How many items are built."""
        return sum(1 for v in list.__iter__(self) if _is_item(v))

    @property
    def ids(self) -> list[str]:
        """Every item's id, without building the items."""
        return [v.id if _is_item(v) else str(v.get("id")) for v in list.__iter__(self)]

    def head(self, count: int) -> LazyItemList:
        """The first ``count`` entries as a new list, building nothing (built items and
        pending features are shared with this list, which builds the same way)."""
        out = LazyItemList(build=self._build)
        list.extend(out, list.__getitem__(self, slice(0, count)))
        return out

    def build_all(self) -> None:
        """Build every item not built yet (in order: the first that fails raises)."""
        for _ in self:
            pass

    def __getitem__(self, index: SupportsIndex | slice) -> Any:
        if isinstance(index, slice):
            self.build_all()
            return list(list.__getitem__(self, index))
        position = index.__index__()
        return self._at(position if position >= 0 else position + list.__len__(self))

    def __iter__(self) -> Iterator[pystac.Item]:
        # Items are built a run at a time (1, 2, 4... up to _AHEAD entries, the collector
        # paused for each run): an iteration that stops early built at most twice what it
        # took (or _AHEAD more).
        index, ahead = 0, 1
        while index < list.__len__(self):
            value = list.__getitem__(self, index)
            if not _is_item(value):
                self._build_ahead(index, ahead)
                ahead = min(2 * ahead, _AHEAD)
                value = list.__getitem__(self, index)
            yield value
            index += 1

    def __reversed__(self) -> Iterator[pystac.Item]:
        for index in range(list.__len__(self) - 1, -1, -1):
            yield self._at(index)

    def __repr__(self) -> str:
        return f"<LazyItemList of {list.__len__(self)} items, {self.built} built>"

    def __reduce_ex__(self, protocol: SupportsIndex) -> Any:
        return (list, (list(iter(self)),))

    def copy(self) -> list[pystac.Item]:
        """A plain list of the (built) items."""
        return list(iter(self))

    __contains__ = _built_first("__contains__")
    __eq__ = _built_first("__eq__")
    __ne__ = _built_first("__ne__")
    __lt__ = _built_first("__lt__")
    __le__ = _built_first("__le__")
    __gt__ = _built_first("__gt__")
    __ge__ = _built_first("__ge__")
    __add__ = _built_first("__add__")
    __mul__ = _built_first("__mul__")
    __rmul__ = _built_first("__rmul__")
    index = _built_first("index")
    count = _built_first("count")
    pop = _built_first("pop")
    remove = _built_first("remove")
    sort = _built_first("sort")
    reverse = _built_first("reverse")
    __hash__ = None


def lazy_item_collection(
    features: Iterable[Mapping[str, Any]],
    extra_fields: dict[str, Any] | None = None,
    build: Build | None = None,
) -> pystac.ItemCollection:
    """A :class:`pystac.ItemCollection` of ``features`` whose items are built when touched
    (its ``items`` is a :class:`LazyItemList`).

    >>> found = lazy_item_collection([{"type": "Feature", "stac_version": "1.0.0", "id": "a",
    ...     "geometry": None, "properties": {"datetime": "2024-01-01T00:00:00Z"}}])
    >>> len(found), found.items.built, found[0].id
    (1, 0, 'a')
    """
    import pystac

    collection = pystac.ItemCollection([], extra_fields=extra_fields, clone_items=False)
    collection.items = LazyItemList(features, build)
    return collection
