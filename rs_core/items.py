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

import functools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, SupportsIndex, cast

if TYPE_CHECKING:
    import pystac

__all__ = ["LazyItemList", "build_item", "json_copy", "lazy_item_collection"]

Build = Callable[[dict[str, Any]], "pystac.Item"]


def json_copy(value: Any) -> Any:
    """A deep copy of decoded JSON (dicts, lists, scalars): several times cheaper than
    :func:`copy.deepcopy`, which it equals for such data.

    >>> a = {"x": [1, {"y": 2}]}; b = json_copy(a); b["x"][1]["y"] = 3; a["x"][1]["y"]
    2
    """
    kind = type(value)
    if kind is dict:
        return {k: json_copy(v) for k, v in value.items()}
    if kind is list:
        return [json_copy(v) for v in value]
    if kind is tuple:
        return tuple(json_copy(v) for v in value)
    return value


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

_INERT_CHECKED_ON = ("1.15.",)
"""The pystac releases whose hooks :data:`_INERT_WHEN_UNDECLARED` was read in: with any other,
every hook that overrides ``migrate`` runs."""


def _declares(hook: Any, extensions: Sequence[str]) -> bool:
    """Whether ``extensions`` lists ``hook``'s extension: a version of its schema (the URI up
    to its version) or one of its previous ids."""
    from pystac.extensions.base import VERSION_REGEX

    prefix = VERSION_REGEX.split(hook.schema_uri)[0] + "/"
    return any(e.startswith(prefix) or e in hook.prev_extension_ids for e in extensions)


@functools.lru_cache(maxsize=64)
def _description(version: str, extensions: tuple[str, ...]) -> tuple[Any, tuple[Any, ...], Any]:
    """pystac's identification of a STAC 1.x item of ``version`` with ``extensions`` (only
    these two fields and the type decide it), and the extension hooks whose migration can
    change such an item: every hook that overrides ``migrate`` (except those known to be inert
    for it, :data:`_INERT_WHEN_UNDECLARED`), and the others (which only rename a previous
    schema id) when the item lists one of their previous ids; and the version as the hooks get
    it, whose comparisons (``version < "0.9"``...) are cached, also as the identified range's
    latest version (which the file extension's hook compares)."""
    import pystac
    from pystac.extensions.hooks import ExtensionHooks
    from pystac.serialization import identify_stac_object

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

    hooks = tuple(
        h
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


def _migrate_in_place(d: dict[str, Any]) -> bool:
    """pystac's ``migrate_to_latest`` on ``d`` itself (no deep copy); False when ``d`` is not
    a STAC 1.x item with string extensions (then the caller takes pystac's own path)."""
    _, object_migrations, removed, latest, _ = _pystac_parts()
    version = d.get("stac_version")
    extensions = d.get("stac_extensions") or []
    if (
        d.get("type") != "Feature"
        or not isinstance(version, str)
        or not version.startswith("1.")
        or not isinstance(extensions, list)
        or not all(isinstance(e, str) for e in extensions)
    ):
        return False
    info, hooks, version = _description(version, tuple(extensions))
    if version != latest:
        object_migrations[info.object_type](d, version, info)
        d["stac_version"] = latest
    d["stac_extensions"] = extensions
    for hook in hooks:
        hook.migrate(d, version, info)
    for ext in extensions[:]:
        if ext in removed:
            object_types, migration_fn = removed[ext]
            if object_types is None or info.object_type in object_types:
                if migration_fn:
                    migration_fn(d, version, info)
                extensions.remove(ext)
    return True


@functools.lru_cache(maxsize=1024)
def _parse_datetime(text: str) -> datetime:
    """pystac's ``str_to_datetime``, cached (answers repeat their timestamps); an aware
    RFC 3339 text takes the standard library's parser (an equal datetime, with
    :data:`datetime.timezone.utc` as its zone instead of dateutil's)."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        parsed = None
    if parsed is not None and parsed.tzinfo is not None and "T" in text:
        return parsed
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
    properties = d.get("properties", {})
    when = properties.get("datetime")
    extra = {
        k: v
        for k, v in d.items()
        if k
        not in (
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
        )
    }
    item = pystac.Item(
        id=d["id"],
        geometry=d.get("geometry"),
        bbox=d.get("bbox"),
        datetime=_parse_datetime(when) if when is not None else None,
        properties=properties,
        stac_extensions=d.get("stac_extensions"),
        collection=d.get("collection"),
        extra_fields=extra,
        assets={k: pystac.Asset.from_dict(v) for k, v in d.get("assets", {}).items()},
    )
    for link in d.get("links", []):
        item.add_link(pystac.Link.from_dict(link))
    for hooks in _deprecating(tuple(item.stac_extensions)):
        message = hooks.get_deprecation_message(item)
        if message is not None:
            import warnings

            from pystac.errors import DeprecatedWarning

            warnings.warn(message, DeprecatedWarning, stacklevel=2)
            break
    return item


# -- the lazy list -------------------------------------------------------------------------


_ITEM: Any = None
"""``pystac.Item``, once a lazy list exists (importing rs_core does not import pystac)."""


def _item_class() -> Any:
    global _ITEM  # noqa: PLW0603 - set once, read on every entry (a module global is the fastest)
    if _ITEM is None:
        import pystac

        _ITEM = pystac.Item
    return _ITEM


def _built_first(name: str) -> Any:
    method = getattr(list, name)

    @functools.wraps(method)
    def wrapper(self: LazyItemList, *args: Any, **kwargs: Any) -> Any:
        self.build_all()
        return method(self, *args, **kwargs)

    return wrapper


class LazyItemList(list):  # type: ignore[type-arg]  # of pystac.Item, built on use
    """A ``list`` of :class:`pystac.Item` that builds each item from its feature when touched.

    It is a real ``list`` (``isinstance(x, list)``); ``len`` builds nothing, ``x[i]`` builds
    item ``i``, iteration builds as it goes, every other list operation builds all first.
    ``build(feature)`` makes the item (default :func:`build_item`, which takes the feature as
    its own); ``ids`` reads the features' ids without building. An entry is a feature (any
    mapping) until it is built, then its :class:`pystac.Item`: the list holds nothing else
    per entry.
    """

    __slots__ = ("_build",)

    def __init__(
        self,
        features: Iterable[Mapping[str, Any] | pystac.Item] = (),
        build: Build | None = None,
    ) -> None:
        _item_class()
        self._build: Build = build or build_item
        super().__init__(features)

    def _at(self, index: int) -> pystac.Item:
        value = list.__getitem__(self, index)
        if not isinstance(value, _ITEM):
            value = self._build(value)
            list.__setitem__(self, index, value)
        return cast("pystac.Item", value)

    @property
    def built(self) -> int:
        """How many items are built."""
        return sum(1 for v in list.__iter__(self) if isinstance(v, _ITEM))

    @property
    def ids(self) -> list[str]:
        """Every item's id, without building the items."""
        return [v.id if isinstance(v, _ITEM) else str(v.get("id")) for v in list.__iter__(self)]

    def head(self, count: int) -> LazyItemList:
        """The first ``count`` entries as a new list, building nothing (built items and
        pending features are shared with this list, which builds the same way)."""
        out = LazyItemList(build=self._build)
        list.extend(out, list.__getitem__(self, slice(0, count)))
        return out

    def build_all(self) -> None:
        """Build every item not built yet."""
        for index in range(list.__len__(self)):
            if not isinstance(list.__getitem__(self, index), _ITEM):
                self._at(index)

    def __getitem__(self, index: SupportsIndex | slice) -> Any:
        if isinstance(index, slice):
            self.build_all()
            return list(list.__getitem__(self, index))
        position = index.__index__()
        return self._at(position if position >= 0 else position + list.__len__(self))

    def __iter__(self) -> Iterator[pystac.Item]:
        index = 0
        while index < list.__len__(self):
            yield self._at(index)
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
