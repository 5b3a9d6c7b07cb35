"""The small frozen records that plugins register and that discovery reports.

A station plugin yields one :class:`StationType` per kind it serves; a catalog plugin yields a
:class:`CatalogType`. The core builds clients from them through ``client_class.from_rs_client``
and never imports a plugin by name::

    StationType(
        kind="prip",
        client_class=PripClient,
        stations=("PRIP",),
        capabilities=frozenset({Capability.SEARCH, Capability.STAGING}),
        description="Production Interface Delivery Point",
    )
"""

from __future__ import annotations

import argparse
import importlib
import re
from collections.abc import Callable, Iterable
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from attrs import field, frozen

if TYPE_CHECKING:
    from rs_core.client import RsClient

__all__ = [
    "GENERATIONS",
    "Capability",
    "CatalogType",
    "ClientFactory",
    "CommandType",
    "PluginInfo",
    "SearchOption",
    "StationType",
    "add_search_options",
    "load_class",
    "load_object",
    "search_option_values",
]

_KIND = re.compile(r"^[a-z][a-z0-9_]*$")
_COMMAND = re.compile(r"^[a-z][a-z0-9_-]*$")


class Capability(StrEnum):
    """What a station or catalog client can do; the test kit skips what is not declared."""

    SEARCH = "search"  # search_stations(start, stop, limit, sortby)
    SESSIONS = "sessions"  # search_sessions(...)
    SEARCH_BY_SESSION = "search_by_session"  # search_stations(session_id=...)
    STAGING = "staging"  # staging(name) + staging_status(name)
    TRANSACTIONS = "transactions"  # catalogs: create/update/delete collections and items
    ITEM_SEARCH = "item_search"  # catalogs: /search


class ClientFactory(Protocol):
    """What a plugin's client class must offer so that the core can build it."""

    @classmethod
    def from_rs_client(cls, parent: RsClient, **options: Any) -> Any:
        """Build a client that shares ``parent``'s settings and HTTP session."""
        ...


def _check_kind(_instance: object, attribute: Any, value: str) -> None:
    if not isinstance(value, str) or not _KIND.match(value):
        raise ValueError(
            f"{attribute.name} must be lower-case letters, digits and '_' starting with a "
            f"letter, got {value!r}"
        )


def _check_command(value: str) -> None:
    if not isinstance(value, str) or not _COMMAND.match(value):
        raise ValueError(
            "a command name must be lower-case letters, digits, '_' and '-' starting with a "
            f"letter, got {value!r}"
        )


def _str_frozenset(values: Iterable[str]) -> frozenset[str]:
    return frozenset(values)


def _upper_tuple(values: Any) -> tuple[str, ...]:
    return tuple(str(v).upper() for v in values)


def _check_class_ref(_instance: object, attribute: Any, value: Any) -> None:
    if isinstance(value, str):
        if value.count(":") != 1 or not all(value.split(":")):
            raise ValueError(
                f"{attribute.name} as a string must be 'module:ClassName', got {value!r}"
            )
    elif not isinstance(value, type):
        raise ValueError(f"{attribute.name} must be a class or 'module:ClassName', got {value!r}")


def _distribution_of(ref: str) -> str:
    from importlib import metadata

    top = ref.partition(":")[0].partition(".")[0]
    names = metadata.packages_distributions().get(top) or []
    return ", ".join(sorted(set(names))) or "unknown distribution"


def _load_client(record: StationType | CatalogType, category: str) -> type[Any]:
    try:
        return load_class(record.client_class)
    except Exception as err:
        from rs_core.errors import PluginError

        ref = record.client_class if isinstance(record.client_class, str) else "?"
        raise PluginError(
            f"the client class {ref!r} of {category} kind {record.kind!r} (distribution "
            f"{_distribution_of(ref)}) cannot be imported: {type(err).__name__}: {err}. "
            "Reinstall or upgrade that distribution, or disable it with RS_CORE_DISABLE_PLUGINS."
        ) from err


GENERATIONS = ("v1", "v2")
"""The RS-Server generations a station plugin may declare (``StationType.generations``)."""


def _check_generations(_instance: object, attribute: Any, value: frozenset[str]) -> None:
    unknown = sorted(value - set(GENERATIONS))
    if unknown or not value:
        raise ValueError(
            f"{attribute.name} must be a non-empty set of {', '.join(GENERATIONS)}, got "
            f"{sorted(value)!r}"
        )


def _check_fake_ref(_instance: object, attribute: Any, value: Any) -> None:
    if isinstance(value, str) and (value.count(":") != 1 or not all(value.split(":"))):
        raise ValueError(f"{attribute.name} as a string must be 'module:NAME', got {value!r}")


def load_object(ref: str) -> Any:
    """Import ``"module:name"`` (dotted attributes allowed) and return the object.

    >>> load_object("collections:OrderedDict").__name__
    'OrderedDict'
    """
    module_name, _, attr = ref.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def load_class(ref: type[Any] | str) -> type[Any]:
    """Resolve a ``client_class`` given as a class or as ``"module:ClassName"``.

    A plugin that names its class as a string keeps its entry module light: the client's
    module (and pystac, pystac-client...) is imported only when a client is built.

    >>> load_class("collections:OrderedDict").__name__
    'OrderedDict'
    """
    if isinstance(ref, type):
        return ref
    obj = load_object(ref)
    if not isinstance(obj, type):
        raise TypeError(f"{ref!r} is not a class")
    return obj


_OPTION = re.compile(r"^[a-z][a-z0-9_]*$")


def _check_option_name(_instance: object, attribute: Any, value: str) -> None:
    if not isinstance(value, str) or not _OPTION.match(value):
        raise ValueError(
            f"a search option name must be a Python identifier in lower case (it is the "
            f"search_stations keyword), got {value!r}"
        )


def _optional_tuple(values: Iterable[str] | None) -> tuple[str, ...] | None:
    return None if values is None else tuple(values)


@frozen
class SearchOption:
    """An extra search parameter of a station plugin, offered by ``rs search <kind>``.

    ``name`` is the keyword of the client's ``search_stations`` (``product_type``); the CLI
    option is ``--product-type``. ``type`` converts and validates the text given on the
    command line (a ``ValueError``/``TypeError`` is reported as a usage error naming the
    option, exit 2); ``choices`` restricts the values.

    >>> option = SearchOption("product_type", help="only this product type")
    >>> option.flag
    '--product-type'
    """

    name: str = field(validator=_check_option_name)
    type: Callable[[str], Any] = str
    help: str = ""
    choices: tuple[str, ...] | None = field(default=None, converter=_optional_tuple)

    @property
    def flag(self) -> str:
        """The command-line option (``--product-type``)."""
        return "--" + self.name.replace("_", "-")

    def add_to(self, parser: argparse.ArgumentParser) -> None:
        """Add the option to ``parser`` (default None: not sent)."""
        parser.add_argument(
            self.flag,
            dest=self.name,
            type=self.type,
            choices=self.choices,
            default=None,
            help=self.help or f"{self.name} (a search parameter of this station kind)",
        )


def add_search_options(
    parser: argparse.ArgumentParser, records: Iterable[StationType]
) -> list[SearchOption]:
    """Add every station kind's extra search options to ``rs search``'s ``parser`` (the kind
    is known only after parsing); an option name two kinds declare is added once (the first
    kind's type and help). Returns the options added.

    >>> parser = argparse.ArgumentParser()
    >>> record = StationType(kind="x", client_class="a:B", stations=(),
    ...                      search_options=[SearchOption("product_type")])
    >>> [o.flag for o in add_search_options(parser, [record])]
    ['--product-type']
    """
    added: dict[str, SearchOption] = {}
    for record in records:
        for option in record.search_options:
            if option.name not in added:
                option.add_to(parser)
                added[option.name] = option
    return list(added.values())


def search_option_values(
    record: StationType, namespace: argparse.Namespace, offered: Iterable[SearchOption] = ()
) -> dict[str, Any]:
    """The search options given on the command line, as ``search_stations`` keywords of
    ``record``'s client (options not given are left out). An ``offered`` option given on the
    command line that ``record`` does not declare raises ``ValueError`` naming it.

    >>> record = StationType(kind="x", client_class="a:B", stations=(),
    ...                      search_options=[SearchOption("product_type")])
    >>> search_option_values(record, argparse.Namespace(product_type="L1"))
    {'product_type': 'L1'}
    """
    mine = {option.name for option in record.search_options}
    for option in offered:
        if option.name not in mine and getattr(namespace, option.name, None) is not None:
            declared = ", ".join(o.flag for o in record.search_options) or "none"
            raise ValueError(
                f"{option.flag} is not a search option of station kind {record.kind!r} "
                f"(its options: {declared})"
            )
    found: dict[str, Any] = {}
    for option in record.search_options:
        value = getattr(namespace, option.name, None)
        if value is not None:
            found[option.name] = value
    return found


def _options_tuple(values: Iterable[SearchOption]) -> tuple[SearchOption, ...]:
    options = tuple(values)
    for option in options:
        if not isinstance(option, SearchOption):
            raise ValueError(f"search_options must hold SearchOption records, got {option!r}")
    return options


@frozen
class StationType:
    """A kind of station a plugin serves (``"auxip"``, ``"cadip"``, ``"prip"``...).

    ``stations`` lists the station ids the client accepts (upper case); the first is the
    default when the caller names none. ``capabilities`` gates features and kit tests.
    ``generations`` are the RS-Server generations the client speaks (``"v1"``, ``"v2"``;
    default ``{"v1"}``): the kit runs each, ``rs simulate`` serves each. ``fake`` is the
    plugin's fake station for the simulator and the kit, a
    :class:`rs_core.testing.simulator.FakeStation` or ``"module:NAME"`` naming one (imported
    only by the simulator); None when the plugin ships none. ``search_options`` are the extra
    search parameters ``rs search <kind>`` offers (:class:`SearchOption`).
    """

    kind: str = field(validator=_check_kind)
    client_class: type[Any] | str = field(validator=_check_class_ref)
    stations: tuple[str, ...] = field(converter=_upper_tuple)
    capabilities: frozenset[str] = field(converter=_str_frozenset, factory=frozenset)
    description: str = ""
    generations: frozenset[str] = field(
        converter=_str_frozenset, validator=_check_generations, default=frozenset({"v1"})
    )
    fake: Any = field(default=None, validator=_check_fake_ref)
    search_options: tuple[SearchOption, ...] = field(default=(), converter=_options_tuple)

    @property
    def default_station(self) -> str | None:
        """The station used when none is named (the first listed), if any."""
        return self.stations[0] if self.stations else None

    def load_client_class(self) -> type[Any]:
        """The client class, imported now if it was given as ``"module:ClassName"``; one that
        cannot be imported is a :class:`~rs_core.PluginError` naming the distribution."""
        return _load_client(self, "station")

    def load_fake(self) -> Any:
        """The plugin's fake station (``rs_core.testing``), imported now if it was given as
        ``"module:NAME"``; None when the plugin ships none."""
        return load_object(self.fake) if isinstance(self.fake, str) else self.fake


@frozen
class CatalogType:
    """A kind of catalog a plugin serves (``"stac"`` for the RS-Server STAC catalog)."""

    kind: str = field(validator=_check_kind)
    client_class: type[Any] | str = field(validator=_check_class_ref)
    capabilities: frozenset[str] = field(converter=_str_frozenset, factory=frozenset)
    description: str = ""

    def load_client_class(self) -> type[Any]:
        """The client class, imported now if it was given as ``"module:ClassName"``; one that
        cannot be imported is a :class:`~rs_core.PluginError` naming the distribution."""
        return _load_client(self, "catalog")


@frozen
class CommandType:
    """A sub-command a plugin adds to the ``rs`` command line.

    ``configure`` adds the arguments to the sub-parser; ``run`` gets the parsed arguments and a
    function that builds an :class:`~rs_core.client.RsClient` from the global options, and
    returns the exit code.
    """

    name: str = field(validator=lambda _i, _a, v: _check_command(v))
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, Callable[[], RsClient]], int]


@frozen
class PluginInfo:
    """One line of :func:`rs_core.list_plugins`: what is installed and in what state.

    ``state`` is ``"ok"``, ``"broken"`` (failed to load; ``error`` says why), ``"disabled"``
    (by ``RS_CORE_DISABLE_PLUGINS``) or ``"conflict"`` (another plugin claims the same kind).
    """

    name: str
    distribution: str
    version: str
    category: str  # "station", "catalog", "command" or "" when nothing was registered
    kind: str = ""
    stations: tuple[str, ...] = ()
    capabilities: tuple[str, ...] = ()
    state: str = "ok"
    error: str = ""
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict of this record."""
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "category": self.category,
            "kind": self.kind,
            "stations": list(self.stations),
            "capabilities": list(self.capabilities),
            "state": self.state,
            "error": self.error,
            "description": self.description,
        }
