"""Validate a plugin distribution: what ``rs plugins --check DIST`` runs.

Checks that the distribution is installed, declares entry points in ``rs_core.plugins``, that
each loads, that its hook implementations match the specs (a misspelt hook is an error, not a
silent no-op), that the hooks yield valid records, and that client classes implement what
their capabilities promise.

>>> problems, notes = check_distribution("rs-plugin-cadip")   # doctest: +SKIP
>>> problems
[]
"""

from __future__ import annotations

from importlib import metadata
from typing import Any

import pluggy

from rs_core import hookspecs
from rs_core.plugins import ENTRY_POINT_GROUP
from rs_core.records import Capability, CatalogType, CommandType, StationType

__all__ = ["check_distribution"]

_CAPABILITY_METHODS = {
    Capability.SEARCH: ("search_stations",),
    Capability.SESSIONS: ("search_sessions",),
    Capability.STAGING: ("staging", "staging_info"),
}


def check_distribution(name: str) -> tuple[list[str], list[str]]:
    """Return ``(problems, notes)`` for the installed distribution ``name``."""
    problems: list[str] = []
    notes: list[str] = []
    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return [f"distribution {name!r} is not installed (pip install it first)"], notes
    label = f"{dist.metadata['Name']} {dist.version}"
    eps = [ep for ep in dist.entry_points if ep.group == ENTRY_POINT_GROUP]
    if not eps:
        return [f"{label} declares no entry point in the group {ENTRY_POINT_GROUP!r}"], notes
    for ep in eps:
        where = f"entry point {ep.name} = {ep.value}"
        try:
            plugin = ep.load()
        except Exception as err:
            problems.append(f"{where} does not load: {type(err).__name__}: {err}")
            continue
        notes.append(f"{where} loads")
        pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        pm.add_hookspecs(hookspecs)
        try:
            pm.register(plugin, name=ep.name)
            pm.check_pending()
        except pluggy.PluginValidationError as err:
            problems.append(f"{where}: hook implementation does not match the specs: {err}")
            continue
        hooks = [c.name for c in pm.get_hookcallers(plugin) or []]
        if not hooks:
            problems.append(f"{where} implements no rs_core hook")
            continue
        for hook in sorted(hooks):
            caller = getattr(pm.hook, hook)
            for impl in caller.get_hookimpls():
                try:
                    records = list(impl.function() or [])
                except Exception as err:
                    problems.append(f"{where}: {hook}() raised {type(err).__name__}: {err}")
                    continue
                notes.append(f"{where}: {hook}() yields {len(records)} record(s)")
                for record in records:
                    problems += _check_record(where, hook, record)
    return problems, notes


def _check_record(where: str, hook: str, record: Any) -> list[str]:
    expected = {
        "rs_register_stations": StationType,
        "rs_register_catalogs": CatalogType,
        "rs_register_commands": CommandType,
    }[hook]
    if not isinstance(record, (StationType, CatalogType, CommandType)) or not isinstance(
        record, expected
    ):
        return [f"{where}: {hook}() yielded {type(record).__name__}, not {expected.__name__}"]
    if isinstance(record, CommandType):
        return (
            []
            if callable(record.run) and callable(record.configure)
            else [f"{where}: command {record.name!r} needs callable configure and run"]
        )
    return _check_client_record(where, record)


def _check_client_record(where: str, record: StationType | CatalogType) -> list[str]:
    problems: list[str] = []
    known = {c.value for c in Capability}
    for capability in sorted(record.capabilities):
        if capability not in known:
            problems.append(
                f"{where}: {record.kind}: unknown capability {capability!r} "
                f"(known: {', '.join(sorted(known))})"
            )
    try:
        cls = record.load_client_class()
    except Exception as err:
        return [
            *problems,
            f"{where}: {record.kind}: client class {record.client_class!r} "
            f"does not import: {type(err).__name__}: {err}",
        ]
    if not callable(getattr(cls, "from_rs_client", None)):
        problems.append(
            f"{where}: {record.kind}: {cls.__name__} has no from_rs_client() "
            "(subclass rs_core.RsClient or rs_core.StationClient)"
        )
    if isinstance(record, StationType):
        if not record.stations:
            problems.append(f"{where}: {record.kind}: no station ids")

        for capability, methods in _CAPABILITY_METHODS.items():
            if capability not in record.capabilities:
                continue
            if capability is Capability.STAGING and _overrides(cls, "_protocol"):
                continue  # the base class stages through the plugin's v1 protocol object
            for method in methods:
                if not _overrides(cls, method):
                    problems.append(
                        f"{where}: {record.kind}: capability {capability.value!r} "
                        f"needs {cls.__name__}.{method}()"
                    )
        declared = tuple(getattr(cls, "station_ids", ()) or ())
        if declared and set(declared) != set(record.stations):
            problems.append(
                f"{where}: {record.kind}: record stations {record.stations} differ "
                f"from {cls.__name__}.station_ids {declared}"
            )
        if "v2" in record.generations and not getattr(cls, "v2_service", ""):
            problems.append(
                f"{where}: {record.kind}: declares generation 'v2' but {cls.__name__} sets "
                "no v2_service"
            )
        problems += _check_fake(where, record)
    return problems


def _check_fake(where: str, record: StationType) -> list[str]:
    """The record's fake station imports, is a FakeStation of the same kind."""
    if record.fake is None:
        return []
    try:
        fake = record.load_fake()
    except Exception as err:
        return [f"{where}: {record.kind}: fake {record.fake!r} does not import: {err!r}"]
    from rs_core.testing.simulator.fakes import FakeStation

    if not isinstance(fake, FakeStation):
        return [f"{where}: {record.kind}: fake {record.fake!r} is not a FakeStation"]
    if fake.kind != record.kind:
        return [f"{where}: {record.kind}: fake {record.fake!r} is of kind {fake.kind!r}"]
    return []


def _overrides(cls: type[Any], method: str) -> bool:
    """True when ``cls`` defines ``method`` itself rather than inheriting StationClient's."""
    from rs_core.station import StationClient

    impl = getattr(cls, method, None)
    return impl is not None and impl is not getattr(StationClient, method, None)
