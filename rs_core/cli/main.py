"""The ``rs`` command line: parse, dispatch, one clear line per error, exit codes.

Exit codes: 0 ok, 1 operational failure (server, network, a file that FAILED), 2 usage error
(bad option, bad date, unknown station, missing API key), 130 interrupted.

Global options may stand before or after the sub-command, and have env vars:
``--href`` (``RS_SERVER_HREF``), ``--api-key`` (``RSPY_APIKEY``; prefer the env var: a
command-line argument is visible to other users of the machine), ``--owner``
(``RS_OWNER_ID``), ``--timeout`` (``RS_TIMEOUT``), ``--api-version v1|v2|auto``
(``RS_API_VERSION``), ``--output table|json|ndjson``,
``-q/--quiet``, ``-v`` (info logs), ``-vv`` or ``--debug`` (debug logs and tracebacks).
``--version`` prints the versions of rs-core and the installed plugins.

Shell completion comes from ``argcomplete`` when installed (``pip install rs-core[completion]``,
then ``eval "$(register-python-argcomplete rs)"`` in bash or zsh, or
``register-python-argcomplete --shell fish rs | source`` in fish): it completes from this very
parser, so it never drifts.

Plugin commands are listed from a cache of their names and help when the command line names
none of them (``rs --help``, ``rs``, completing a command name): no plugin discovery then
(:mod:`rs_core.cli.command_cache`; ``RS_NO_CACHE=1`` turns it off).
"""

from __future__ import annotations

import argparse
import functools
import os
import re
import sys
from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING, Any, cast

from rs_core.cli import auth_cmd, command_cache, commands

if TYPE_CHECKING:
    from rs_core.client import RsClient

__all__ = ["build_parser", "main"]

Handler = Callable[[argparse.Namespace, Callable[[], "RsClient"]], int]

USAGE_ERRORS = (
    "InvalidInputError",
    "UnknownStationError",
    "UnknownKindError",
    "ConfigurationError",
)


def _global_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    def default(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    group = parser.add_argument_group("global options")
    group.add_argument(
        "--href",
        default=default(os.environ.get("RS_SERVER_HREF")),
        help="RS-Server URL (env RS_SERVER_HREF); none: local mode",
    )
    group.add_argument(
        "--api-key",
        dest="api_key",
        default=default(None),
        help="API key (prefer env RSPY_APIKEY; never printed)",
    )
    group.add_argument(
        "--owner",
        default=default(os.environ.get("RS_OWNER_ID")),
        help="catalog owner id (env RS_OWNER_ID; default from the API key)",
    )
    group.add_argument(
        "--timeout",
        type=_seconds,
        default=default(None),
        help="read timeout per request, seconds (env RS_TIMEOUT; default 30)",
    )
    group.add_argument(
        "--api-version",
        dest="api_version",
        choices=("v1", "v2", "auto"),
        type=str.lower,
        default=default(None),
        help="RS-Server generation of the stations: v1, v2 or auto (probe once; "
        "env RS_API_VERSION; default auto)",
    )
    group.add_argument(
        "--profile",
        default=default(None),
        help="a profile of config.toml (env RS_PROFILE; see 'Signing in' in the docs)",
    )
    group.add_argument(
        "-o",
        "--output",
        choices=("table", "json", "ndjson"),
        default=default("table"),
        help="output format (default table)",
    )
    group.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=default(False),
        help="no progress display, no summary lines",
    )
    group.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=default(0),
        help="-v: info logs; -vv: debug logs and tracebacks",
    )
    group.add_argument("--debug", action="store_true", default=default(False), help="same as -vv")


def _seconds(text: str) -> float:
    from rs_core.cli.commands import positive_float

    return positive_float(text)


class RsArgumentParser(argparse.ArgumentParser):
    """argparse with no abbreviations and a "did you mean" on unknown choices."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> Any:
        match = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if match:
            choices = re.findall(r"'([^']*)'", match.group(2)) or [
                c.strip() for c in match.group(2).split(",")
            ]
            import difflib

            close = difflib.get_close_matches(match.group(1), choices, n=1)
            if close:
                message += f"; did you mean '{close[0]}'?"
        # One line, naming the option as typed (argparse's own message), not the whole usage.
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class _VersionAction(argparse.Action):
    """``--version``: rs-core and every installed plugin, computed only when asked."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, help="show versions and exit")

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        print(_version())
        parser.exit(0)


def _version() -> str:
    import platform

    from rs_core import __version__

    lines = [f"rs-core {__version__}"]
    try:
        from rs_core.plugins import list_plugins

        for info in list_plugins():
            lines.append(f"{info.distribution or info.name} {info.version or '?'} ({info.name})")
    except Exception:  # the version of the core must always print
        pass
    lines.append(f"Python {platform.python_version()}")
    return "\n".join(dict.fromkeys(lines))


def build_parser(
    plugin_commands: Sequence[Any] = (), *, station_options: bool = True, listing: bool = False
) -> argparse.ArgumentParser:
    """The whole parser; ``plugin_commands`` are :class:`~rs_core.records.CommandType`.

    ``station_options=False`` leaves out the station plugins' own ``rs search`` options (they
    need plugin discovery): for a command line that does not run ``rs search``.
    ``listing=True`` gives the sub-commands their name and help only, not their options: for a
    command line that names no sub-command (``rs --help``, ``rs``), where only those show.
    """
    # argparse translates its own words ("options", "show this help message and exit"...)
    # through gettext for every parser it makes, and gettext looks for a catalog on disk at
    # each call: half the time of building rs's ~25 parsers. Each word is translated once here.
    translate = getattr(argparse, "_", None)
    if not callable(translate):  # pragma: no cover - an argparse without gettext
        return _build_parser(plugin_commands, station_options, listing)
    setattr(argparse, "_", functools.lru_cache(maxsize=None)(translate))  # noqa: B010
    try:
        return _build_parser(plugin_commands, station_options, listing)
    finally:
        setattr(argparse, "_", translate)  # noqa: B010


class _Unlisted:
    """What ``add`` gives a sub-command's ``configure`` when only names and help are listed:
    everything added to it is dropped (the command line names no sub-command, so no
    sub-command's options are parsed or shown)."""

    def __getattr__(self, name: str) -> Callable[..., _Unlisted]:
        return self._drop

    def _drop(self, *args: Any, **kwargs: Any) -> _Unlisted:
        return self


def _build_parser(
    plugin_commands: Sequence[Any], station_options: bool, listing: bool
) -> argparse.ArgumentParser:
    parser = RsArgumentParser(
        prog="rs",
        description="Search the Copernicus ground stations, stage files, manage your STAC "
        "catalog - through RS-Server.",
        epilog="Run 'rs demo' for a tour against the embedded simulator.",
    )
    _global_options(parser, suppress=False)
    parser.add_argument("--version", action=_VersionAction)
    common = None if listing else common_options()
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=RsArgumentParser)

    def add(
        name: str, help_text: str, handler: Handler, epilog: str | None = None
    ) -> argparse.ArgumentParser:
        if common is None:
            sub.add_parser(name, help=help_text)
            return cast(argparse.ArgumentParser, _Unlisted())
        p = sub.add_parser(
            name,
            help=help_text,
            description=help_text,
            parents=[common],
            epilog=epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        p.set_defaults(handler=handler)
        return p

    commands.configure(add, station_options=station_options and not listing)
    auth_cmd.configure(add)
    for command in plugin_commands:
        p = add(command.name, command.help, command.run)
        if not listing:
            command.configure(p)
    return parser


def common_options() -> RsArgumentParser:
    """The global options as a parent parser for sub-commands (defaults suppressed)."""
    common = RsArgumentParser(add_help=False)
    _global_options(common, suppress=True)
    return common


def _builtin_first(argv: Sequence[str]) -> bool:
    first = next((a for a in argv if not a.startswith("-")), None)
    return first in commands.BUILTIN | auth_cmd.COMMANDS


def _plugin_commands(argv: Sequence[str]) -> list[Any]:
    if _builtin_first(argv):  # a built-in command needs no discovery
        return []
    try:
        from rs_core.plugins import get_registry

        return list(get_registry().commands.values())
    except Exception:  # discovery problems are reported by the commands that need plugins
        return []


def _words(argv: Sequence[str]) -> set[str]:
    """The words of the command line; when completing, those typed so far."""
    words = set(argv)
    if "_ARGCOMPLETE" in os.environ:
        words.update(os.environ.get("COMP_LINE", "").split())
    return words


def _listed_commands(argv: Sequence[str], words: Collection[str]) -> list[Any]:
    """The plugin commands of the parser: the cached names and help when the command line
    names none of them (``rs --help``, ``rs``, completing a command name), else the plugins'
    own (:mod:`rs_core.cli.command_cache`)."""
    if _builtin_first(argv):
        return []
    if "rs_core.plugins" in sys.modules or not command_cache.enabled():
        return _plugin_commands(argv)  # registered by code in this process, or asked so
    key = command_cache.environment_key()
    cached = command_cache.cached_commands(key, commands.BUILTIN | auth_cmd.COMMANDS)
    if cached is not None and not {c.name for c in cached} & set(words):
        return cached
    found = _plugin_commands(argv)
    if cached is None:
        command_cache.save(key, found)
    return found


def _parser_for(argv: Sequence[str]) -> argparse.ArgumentParser:
    """The parser of this command line: plugin commands as :func:`_listed_commands` says, the
    station plugins' search options only when it may run ``rs search``, the sub-commands'
    options only when it names one."""
    words = _words(argv)
    listed = _listed_commands(argv, words)
    names = commands.BUILTIN | auth_cmd.COMMANDS | {c.name for c in listed}
    return build_parser(listed, station_options="search" in words, listing=not names & words)


_DASH_VALUES = {
    "--start": re.compile(r"^[-+]\d"),
    "--stop": re.compile(r"^[-+]\d"),
    "--sortby": re.compile(r"^[-+][A-Za-z_]"),
    "--bbox": re.compile(r"^-\d"),
}


def _glue_relative_dates(argv: list[str]) -> list[str]:
    """``--start -2h`` -> ``--start=-2h``, ``--sortby -created`` -> ``--sortby=-created``:
    argparse would read a value starting with ``-`` as an option."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        pattern = _DASH_VALUES.get(arg)
        if pattern is not None and i + 1 < len(argv) and pattern.match(argv[i + 1]):
            out.append(f"{arg}={argv[i + 1]}")
            i += 2
            continue
        out.append(arg)
        i += 1
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rs`` console script."""
    args_list = _glue_relative_dates(list(sys.argv[1:] if argv is None else argv))
    parser = _parser_for(args_list)
    _autocomplete(parser)
    args = parser.parse_args(args_list)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    if args.verbose >= 2:
        args.debug = True
    import logging

    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not args.debug:
        import warnings

        warnings.simplefilter("ignore")  # plugin warnings are also logged; keep stderr clean

    def make_client() -> RsClient:
        from rs_core.client import RsClient

        return RsClient(
            args.href,
            args.api_key,
            args.owner,
            timeout=args.timeout,
            api_version=args.api_version,
            profile=args.profile,
        )

    try:
        code: int = args.handler(args, make_client)
        return code
    except KeyboardInterrupt as interrupt:
        report = getattr(interrupt, "report", None)
        print("rs: interrupted" + (f": {report.summary()}" if report else ""), file=sys.stderr)
        return 130
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except Exception as err:
        from rs_core.errors import RsError

        if args.debug:
            import traceback

            traceback.print_exc()
        if isinstance(err, RsError):
            usage = any(cls.__name__ in USAGE_ERRORS for cls in type(err).__mro__)
            text = as_typed(str(err)) if usage else str(err)
            print(f"rs: error: {text}", file=sys.stderr)
            return 2 if usage else 1
        print(
            f"rs: unexpected error: {type(err).__name__}: {err}"
            + ("" if args.debug else " (run with --debug for the traceback)"),
            file=sys.stderr,
        )
        return 1


# Python parameter names in the core's messages -> the options a CLI user typed.
_AS_TYPED = {
    "start_date": "--start",
    "stop_date": "--stop",
    "session_id": "--session-id",
    "platforms": "--platform",
    "s3_path": "--s3",
    "tmp_download_path": "--local",
    "rs_server_api_key": "--api-key",
    "rs_server_href": "--href",
    "owner_id": "--owner",
    "max_items": "--limit",
    "api_version": "--api-version",
}
_PARAMETER = re.compile(r"\b(" + "|".join(map(re.escape, _AS_TYPED)) + r")\b(=?)")


def as_typed(message: str) -> str:
    """Name CLI options instead of Python parameters in a usage error.

    >>> as_typed("start_date 2024-01-02T00:00:00Z is after stop_date 2024-01-01T00:00:00Z")
    '--start 2024-01-02T00:00:00Z is after --stop 2024-01-01T00:00:00Z'
    >>> as_typed("cluster mode (rs_server_href=http://h): pass rs_server_api_key=")
    'cluster mode (--href http://h): pass --api-key'
    """

    def option(match: re.Match[str]) -> str:
        after = match.string[match.end() : match.end() + 1]
        glue = " " if match.group(2) and after and not after.isspace() else ""
        return _AS_TYPED[match.group(1)] + glue

    return _PARAMETER.sub(option, message)


def _autocomplete(parser: argparse.ArgumentParser) -> None:
    """Shell completion through argcomplete when installed (it exits when completing)."""
    if "_ARGCOMPLETE" not in os.environ:
        return
    try:
        import argcomplete  # type: ignore[import-not-found, unused-ignore]
    except ImportError:  # pragma: no cover - the completion extra is not installed
        return
    argcomplete.autocomplete(parser)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
