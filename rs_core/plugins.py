"""Plugin discovery: entry points of the group ``rs_core.plugins``, loaded lazily, once.

Nothing happens at import time. The first call that needs a plugin builds the registry:
each entry point is loaded in its own ``try``; a plugin that fails to import, register or
answer its hooks is reported (a :class:`PluginLoadWarning` and a log line naming its
distribution, version and error) and the others keep working. Two plugins claiming the same
kind make that kind unusable with an error naming both distributions.

Environment variables:

``RS_CORE_DISABLE_PLUGINS``
    Comma-separated plugin names (entry point names) not to load, e.g. ``cadip,prip``.
``RS_CORE_TRACE_PLUGINS``
    ``1`` logs every hook call and its result on the ``rs_core.plugins`` logger (DEBUG).
``RS_CORE_NO_ENTRY_POINTS``
    ``1`` skips entry point discovery (only plugins registered with
    :func:`register_plugin` count); handy in tests.

>>> reg = get_registry()          # doctest: +SKIP
>>> sorted(reg.stations)          # doctest: +SKIP
['auxip', 'cadip']
"""

from __future__ import annotations

import logging
import os
import threading
import warnings
from collections.abc import Callable, Iterable
from importlib import metadata
from types import ModuleType
from typing import Any, TypeVar

import attrs
import pluggy
from attrs import define, field

from rs_core import hookspecs
from rs_core.errors import PluginError, UnknownKindError
from rs_core.records import CatalogType, CommandType, PluginInfo, StationType

__all__ = [
    "DISABLE_ENV",
    "ENTRY_POINT_GROUP",
    "NO_ENTRY_POINTS_ENV",
    "TRACE_ENV",
    "PluginLoadWarning",
    "PluginRegistry",
    "get_registry",
    "list_plugins",
    "register_plugin",
    "reset_registry",
]

ENTRY_POINT_GROUP = "rs_core.plugins"
DISABLE_ENV = "RS_CORE_DISABLE_PLUGINS"
TRACE_ENV = "RS_CORE_TRACE_PLUGINS"
NO_ENTRY_POINTS_ENV = "RS_CORE_NO_ENTRY_POINTS"

log = logging.getLogger("rs_core.plugins")

R = TypeVar("R", StationType, CatalogType, CommandType)


class PluginLoadWarning(UserWarning):
    """A plugin could not be loaded; the others keep working."""


@define
class _Source:
    name: str
    distribution: str
    version: str


@define
class _Claim:
    record: Any
    source: _Source


@define
class PluginRegistry:
    """What discovery found: records by kind, and every plugin's state.

    Use :func:`get_registry` rather than building one yourself.
    """

    manager: pluggy.PluginManager
    stations: dict[str, StationType] = field(factory=dict)
    catalogs: dict[str, CatalogType] = field(factory=dict)
    commands: dict[str, CommandType] = field(factory=dict)
    sources: dict[tuple[str, str], _Source] = field(factory=dict)
    conflicts: dict[tuple[str, str], list[_Source]] = field(factory=dict)
    infos: list[PluginInfo] = field(factory=list)

    def station_type(self, kind: str) -> StationType:
        """The :class:`StationType` registered for ``kind`` (case-insensitive)."""
        return self._lookup("station", kind.lower(), self.stations)

    def catalog_type(self, kind: str | None = None) -> CatalogType:
        """The :class:`CatalogType` for ``kind``; with no kind, the only (or first) one."""
        if kind is None:
            if not self.catalogs:
                raise UnknownKindError(
                    "No catalog plugin is installed (pip install rs-plugin-catalog)"
                    + self._broken_hint()
                )
            kind = sorted(self.catalogs)[0]
        return self._lookup("catalog", kind.lower(), self.catalogs)

    def _lookup(self, category: str, kind: str, table: dict[str, R]) -> R:
        if (category, kind) in self.conflicts:
            names = ", ".join(
                f"{s.distribution} {s.version} ({s.name})" for s in self.conflicts[(category, kind)]
            )
            raise PluginError(
                f"Two plugins claim the {category} kind {kind!r}: {names}. Uninstall one, or "
                f"disable one with {DISABLE_ENV}=<plugin name>."
            )
        try:
            return table[kind]
        except KeyError:
            installed = ", ".join(sorted(table)) or "none"
            raise UnknownKindError(
                f"No plugin serves the {category} kind {kind!r}; installed {category} kinds: "
                f"{installed}" + self._broken_hint()
            ) from None

    def _broken_hint(self) -> str:
        broken = [i for i in self.infos if i.state == "broken"]
        if not broken:
            return ""
        return (
            " (not loaded: "
            + "; ".join(f"{i.name} from {i.distribution} {i.version}: {i.error}" for i in broken)
            + ")"
        )


_lock = threading.RLock()
_registry: PluginRegistry | None = None
_manual: list[tuple[str, object]] = []


def _disabled_names() -> set[str]:
    raw = os.environ.get(DISABLE_ENV, "")
    return {n.strip().lower() for n in raw.split(",") if n.strip()}


def _entry_points() -> list[metadata.EntryPoint]:
    if os.environ.get(NO_ENTRY_POINTS_ENV, "") in ("1", "true", "yes"):
        return []
    seen: set[tuple[str, str]] = set()
    found = []
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        key = (ep.name, ep.value)
        if key not in seen:  # the same dist on sys.path twice shows up twice
            seen.add(key)
            found.append(ep)
    return sorted(found, key=lambda e: e.name)


def _source_of(ep: metadata.EntryPoint) -> _Source:
    dist = ep.dist
    if dist is None:
        return _Source(ep.name, "<unknown distribution>", "?")
    return _Source(ep.name, dist.metadata["Name"] or dist.name, dist.version)


def _warn_broken(source: _Source, what: str, err: BaseException) -> PluginInfo:
    text = f"{type(err).__name__}: {err}"
    message = (
        f"rs-core plugin {source.name!r} from {source.distribution} {source.version} "
        f"could not be {what} and is ignored: {text}"
    )
    log.warning(message)
    warnings.warn(message, PluginLoadWarning, stacklevel=3)
    return PluginInfo(
        name=source.name,
        distribution=source.distribution,
        version=source.version,
        category="",
        state="broken",
        error=text,
    )


def _constant(obj: object) -> Callable[[], object]:
    return lambda: obj


def _build() -> PluginRegistry:
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    tracing = os.environ.get(TRACE_ENV, "") in ("1", "true", "yes")
    if tracing:
        pm.trace.root.setwriter(lambda msg: log.debug("pluggy: %s", msg.rstrip()))
        pm.enable_tracing()
    registry = PluginRegistry(manager=pm)
    disabled = _disabled_names()

    candidates: list[tuple[_Source, Callable[[], object]]] = []
    for ep in _entry_points():
        candidates.append((_source_of(ep), ep.load))
    for name, obj in _manual:
        module = getattr(obj, "__module__", "") or getattr(obj, "__name__", "")
        candidates.append((_Source(name, f"<registered {module}>", "-"), _constant(obj)))

    loaded: list[tuple[_Source, object]] = []
    for source, load in candidates:
        if source.name.lower() in disabled:
            registry.infos.append(
                PluginInfo(
                    name=source.name,
                    distribution=source.distribution,
                    version=source.version,
                    category="",
                    state="disabled",
                )
            )
            continue
        plugin: object = None
        try:
            plugin = load()
            # two distributions may use one entry point name: keep both, report the clash
            taken = pm.get_plugin(source.name) is not None
            pm.register(
                plugin, name=f"{source.name} ({source.distribution})" if taken else source.name
            )
            pm.check_pending()
        except Exception as err:
            if plugin is not None and pm.is_registered(plugin):
                pm.unregister(plugin)
            registry.infos.append(_warn_broken(source, "loaded", err))
            continue
        loaded.append((source, plugin))

    for source, plugin in loaded:
        try:
            stations = _call(pm, plugin, "rs_register_stations", StationType, tracing)
            catalogs = _call(pm, plugin, "rs_register_catalogs", CatalogType, tracing)
            commands = _call(pm, plugin, "rs_register_commands", CommandType, tracing)
        except Exception as err:
            pm.unregister(plugin)
            registry.infos.append(_warn_broken(source, "registered", err))
            continue
        _claim(registry, "station", stations, registry.stations, source)
        _claim(registry, "catalog", catalogs, registry.catalogs, source)
        _claim(registry, "command", commands, registry.commands, source)
        if not (stations or catalogs or commands):
            registry.infos.append(
                PluginInfo(
                    name=source.name,
                    distribution=source.distribution,
                    version=source.version,
                    category="",
                    state="ok",
                    description="registers nothing",
                )
            )
    for (category, kind), sources in registry.conflicts.items():
        table: dict[str, Any] = getattr(registry, category + "s")
        table.pop(kind, None)
        log.warning(
            "Plugins %s all claim the %s kind %r; it is disabled",
            ", ".join(s.distribution for s in sources),
            category,
            kind,
        )
    return registry


def _call(
    pm: pluggy.PluginManager, plugin: object, hook: str, record_type: type[R], tracing: bool
) -> list[R]:
    caller = getattr(pm.hook, hook)
    impl = next((i for i in caller.get_hookimpls() if i.plugin is plugin), None)
    if impl is None:
        return []
    result = impl.function()
    records = list(result) if result is not None else []
    for rec in records:
        if not isinstance(rec, record_type):
            raise PluginError(
                f"{hook} must yield {record_type.__name__} records, got {type(rec).__name__}"
            )
    if tracing:
        log.debug("%s from %s -> %r", hook, pm.get_name(plugin), records)
    return records


def _claim(
    registry: PluginRegistry,
    category: str,
    records: Iterable[Any],
    table: dict[str, Any],
    source: _Source,
) -> None:
    for rec in records:
        key = (category, rec.kind if category != "command" else rec.name)
        name = key[1]
        if key in registry.conflicts:
            registry.conflicts[key].append(source)
        elif name in table:
            registry.conflicts[key] = [registry.sources[key], source]
        else:
            table[name] = rec
            registry.sources[key] = source
        registry.infos.append(_info(category, rec, source))


def _info(category: str, rec: Any, source: _Source) -> PluginInfo:
    return PluginInfo(
        name=source.name,
        distribution=source.distribution,
        version=source.version,
        category=category,
        kind=getattr(rec, "kind", getattr(rec, "name", "")),
        stations=tuple(getattr(rec, "stations", ())),
        capabilities=tuple(sorted(getattr(rec, "capabilities", ()))),
        description=getattr(rec, "description", getattr(rec, "help", "")),
    )


def get_registry() -> PluginRegistry:
    """The plugin registry, built on first use and cached (thread-safe)."""
    global _registry  # noqa: PLW0603
    reg = _registry
    if reg is not None:
        return reg
    with _lock:
        if _registry is None:
            _registry = _build()
        return _registry


def reset_registry() -> None:
    """Forget the cached registry; the next use discovers plugins again.

    Call it after installing a plugin in a running interpreter.
    """
    global _registry  # noqa: PLW0603
    with _lock:
        _registry = None
        import importlib

        importlib.invalidate_caches()


def register_plugin(plugin: ModuleType | object, name: str) -> None:
    """Register a plugin object (a module or any object with ``@hookimpl`` functions).

    Useful in notebooks and tests, where installing a distribution is overkill::

        register_plugin(my_plugin_module, name="myplugin")
    """
    with _lock:
        _manual.append((name, plugin))
    reset_registry()


def unregister_plugin(name: str) -> None:
    """Remove a plugin registered with :func:`register_plugin`."""
    with _lock:
        _manual[:] = [(n, p) for n, p in _manual if n != name]
    reset_registry()


def list_plugins() -> list[PluginInfo]:
    """Every plugin discovery saw: kind, distribution, version, stations, capabilities, state.

    >>> [(p.kind, p.state) for p in list_plugins()]   # doctest: +SKIP
    [('auxip', 'ok'), ('cadip', 'ok'), ('stac', 'ok')]
    """
    reg = get_registry()
    out = []
    for info in reg.infos:
        if info.kind and (info.category, info.kind) in reg.conflicts:
            out.append(attrs.evolve(info, state="conflict"))
        else:
            out.append(_client_checked(reg, info))
    return out


def _client_checked(reg: PluginRegistry, info: PluginInfo) -> PluginInfo:
    """``info``, ``broken`` when its station or catalog client class cannot be imported."""
    tables: dict[str, dict[str, Any]] = {"station": reg.stations, "catalog": reg.catalogs}
    record = tables.get(info.category, {}).get(info.kind)
    if info.state != "ok" or record is None:
        return info
    try:
        record.load_client_class()
    except PluginError as err:
        return attrs.evolve(info, state="broken", error=str(err))
    return info
