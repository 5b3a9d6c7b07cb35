"""The plugin commands ``rs --help`` lists, remembered between runs so that listing them needs
no plugin discovery.

Plugins add sub-commands (``rs workflow``, ``rs edrs-types``...) through the
``rs_register_commands()`` hook; finding them means importing ``importlib.metadata``, pluggy,
attrs and every plugin module, most of the start-up time of ``rs --help``. So after a discovery
``rs`` writes the name and one-line help of each plugin command (never code) to
``plugin-commands-<id>.json`` in the user's cache directory (``$XDG_CACHE_HOME/rs-client``,
else ``~/.cache/rs-client``; ``%LOCALAPPDATA%\\rs-client`` on Windows). The next ``rs --help``,
``rs`` with no command, an unknown command's "choose from" and shell completion read that file
instead, while it still describes this environment: the same ``sys.path`` entries with the
same modification times (installing or removing a distribution adds or removes a
``*.dist-info`` folder, which changes its directory's time; re-installing an editable one
rewrites it), the same files of the plugin modules that registered commands, the same
rs-core, Python and plugin environment variables (``RS_CORE_DISABLE_PLUGINS``,
``RS_CORE_NO_ENTRY_POINTS``). Anything else (no file, another key, a corrupt, foreign or
unreadable file) means a full discovery and a new file, written atomically. A run that names
a plugin command (``rs workflow ...``) always loads its plugin.

The cache is not written when discovery reported a problem (a broken plugin or two plugins
claiming one command: every run reports it again), when a plugin was registered by code
(:func:`rs_core.plugins.register_plugin`), or when one of the keyed paths changed in the last
:data:`SETTLE_SECONDS` seconds (a file system's clock may be too coarse to tell two changes
apart). A cache that cannot be written is not an error (a debug log line).

``RS_NO_CACHE=1`` neither reads nor writes it.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import argparse

    from rs_core.client import RsClient

__all__ = [
    "NO_CACHE_ENV",
    "CachedCommand",
    "cache_dir",
    "cache_path",
    "cached_commands",
    "enabled",
    "environment_key",
    "save",
]

NO_CACHE_ENV = "RS_NO_CACHE"
FORMAT = 1
SETTLE_SECONDS = 2.0
MAX_BYTES = 1 << 20
# The plugin environment variables of rs_core.plugins (not imported here: it is the cost).
PLUGIN_ENV = ("RS_CORE_DISABLE_PLUGINS", "RS_CORE_NO_ENTRY_POINTS")
_TRUE = ("1", "true", "yes")


class CachedCommand:
    """A plugin command as ``rs --help`` lists it: name and help, no behaviour.

    It stands in the parser only when the command line does not name it, so its ``run`` is
    never called.
    """

    __slots__ = ("help", "name")

    def __init__(self, name: str, help: str) -> None:
        self.name = name
        self.help = help

    def configure(self, parser: argparse.ArgumentParser) -> None:
        """Nothing: the options of a command matter only when it runs."""

    def run(self, args: argparse.Namespace, make_client: Callable[[], RsClient]) -> int:
        raise RuntimeError(f"rs {self.name}: the command was listed from the cache, not loaded")

    def __repr__(self) -> str:
        return f"CachedCommand({self.name!r}, {self.help!r})"


def enabled(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the cache may be used: not disabled by ``RS_NO_CACHE``."""
    env = os.environ if environ is None else environ
    return (env.get(NO_CACHE_ENV) or "").strip().lower() not in _TRUE


def cache_dir(environ: Mapping[str, str] | None = None) -> str:
    """The user's rs-client cache directory (not created here)."""
    env = os.environ if environ is None else environ
    if sys.platform == "win32" and env.get("LOCALAPPDATA"):  # pragma: no cover - not on CI
        return os.path.join(env["LOCALAPPDATA"], "rs-client")
    base = (env.get("XDG_CACHE_HOME") or "").strip()
    return os.path.join(base or os.path.join(os.path.expanduser("~"), ".cache"), "rs-client")


def cache_path(environ: Mapping[str, str] | None = None) -> str:
    """The cache file of this interpreter and ``sys.path`` (``rs``, ``python -m rs_core`` and
    two virtual environments do not overwrite each other's)."""
    import zlib

    tag = zlib.crc32("\0".join([sys.executable, *sys.path]).encode("utf-8", "surrogateescape"))
    return os.path.join(cache_dir(environ), f"plugin-commands-{tag:08x}.json")


def _mtime(path: str) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except (OSError, ValueError):
        return None


def environment_key() -> dict[str, Any]:
    """What the plugin commands depend on, besides the plugin modules' own files."""
    from rs_core import __version__

    paths = []
    for entry in sys.path:
        where = entry or os.getcwd()  # "" is the current directory (python -c, -m)
        paths.append([where, _mtime(where)])
    return {
        "rs_core": __version__,
        "python": sys.version,
        "executable": sys.executable,
        "env": {name: os.environ.get(name, "") for name in PLUGIN_ENV},
        "path": paths,
    }


def _read(path: str) -> Any:
    with open(path, "rb") as handle:
        if hasattr(os, "getuid") and os.fstat(handle.fileno()).st_uid != os.getuid():
            return None  # another user's file: not ours to trust
        raw = handle.read(MAX_BYTES + 1)
    return None if len(raw) > MAX_BYTES else json.loads(raw)


def _valid_commands(value: Any, reserved: Collection[str]) -> list[CachedCommand] | None:
    if not isinstance(value, list):
        return None
    out: list[CachedCommand] = []
    for row in value:
        if not (isinstance(row, list) and len(row) == 2 and all(isinstance(v, str) for v in row)):
            return None
        name, help_text = row
        if not name or name in reserved or name.startswith("-") or any(c.name == name for c in out):
            return None
        out.append(CachedCommand(name, help_text))
    return out


def _files_unchanged(value: Any) -> bool:
    if not isinstance(value, list):
        return False
    for row in value:
        if not (isinstance(row, list) and len(row) == 2 and isinstance(row[0], str)):
            return False
        if _mtime(row[0]) != row[1]:
            return False
    return True


def cached_commands(
    key: dict[str, Any], reserved: Collection[str], path: str | None = None
) -> list[CachedCommand] | None:
    """The plugin commands of the cache file if it still describes ``key``, else ``None``.

    ``reserved`` are the built-in command names: a file naming one is not ours.
    """
    try:
        data = _read(path or cache_path())
    except (OSError, ValueError):  # missing, unreadable, not JSON
        return None
    if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("key") != key:
        return None
    if not _files_unchanged(data.get("files")):
        return None
    return _valid_commands(data.get("commands"), reserved)


def _module_files(objects: Iterable[Any]) -> list[str]:
    """The source files of modules, and of the modules functions were defined in."""
    files: list[str] = []
    for obj in objects:
        file = getattr(obj, "__file__", None)  # a plugin module
        if file is None:  # a function: its module's file
            module = sys.modules.get(getattr(obj, "__module__", None) or "")
            file = getattr(module, "__file__", None)
        if isinstance(file, str) and file not in files:
            files.append(file)
    return sorted(files)


def _settled(mtimes: Iterable[int | None]) -> bool:
    import time

    now = time.time_ns()
    return all(m is None or now - m > SETTLE_SECONDS * 1e9 for m in mtimes)


def save(key: dict[str, Any], commands: Sequence[Any], path: str | None = None) -> bool:
    """Remember ``commands`` (the :class:`~rs_core.records.CommandType` records of a discovery
    made under ``key``) when that discovery was clean; ``True`` when the file was written."""
    try:
        from rs_core.plugins import get_registry

        registry = get_registry()
    except Exception:  # no registry, nothing to remember
        return False
    if registry.conflicts or any(
        i.state == "broken" or i.distribution.startswith("<") for i in registry.infos
    ):
        return False  # every run reports the problem again; code-registered plugins vary
    functions = [f for c in commands for f in (c.configure, c.run)]
    files = _module_files([*registry.manager.get_plugins(), *functions])
    rows = [[f, _mtime(f)] for f in files]
    mtimes = [m for _p, m in key["path"]] + [m for _f, m in rows]
    if environment_key() != key or not _settled(mtimes):
        return False  # something changed while discovering, or too recently to trust its time
    data = {
        "format": FORMAT,
        "key": key,
        "files": rows,
        "commands": [[c.name, c.help] for c in commands],
    }
    return _write(path or cache_path(), data)


def _write(path: str, data: dict[str, Any]) -> bool:
    import tempfile

    folder = os.path.dirname(path)
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".plugin-commands-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, ensure_ascii=False)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError as err:
        import logging

        logging.getLogger("rs_core.cli").debug("plugin command cache not written: %s", err)
        return False
    return True
