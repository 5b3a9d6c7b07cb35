"""The ``rs`` command line: parse, dispatch, one clear line per error, exit codes.

Exit codes: 0 ok, 1 operational failure (server, network, a file that FAILED), 2 usage error
(bad option, bad date, unknown station, missing API key), 130 interrupted.

Global options may stand before or after the sub-command, and have env vars:
``--href`` (``RS_SERVER_HREF``), ``--api-key`` (``RSPY_APIKEY``; prefer the env var: a
command-line argument is visible to other users of the machine), ``--owner``
(``RS_OWNER_ID``), ``--timeout`` (``RS_TIMEOUT``), ``--api-version v1|v2|auto``
(``RS_API_VERSION``), ``--output table|json|ndjson``,
``--quiet``, ``--debug``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from rs_core.cli import auth_cmd, commands

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
        type=float,
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
        "-q", "--quiet", action="store_true", default=default(False), help="no progress display"
    )
    group.add_argument(
        "--debug", action="store_true", default=default(False), help="debug logs and tracebacks"
    )


def build_parser(plugin_commands: Sequence[Any] = ()) -> argparse.ArgumentParser:
    """The whole parser; ``plugin_commands`` are :class:`~rs_core.records.CommandType`."""
    parser = argparse.ArgumentParser(
        prog="rs",
        description="Search the Copernicus ground stations, stage files, manage your STAC "
        "catalog - through RS-Server.",
        epilog="Run 'rs demo' for a tour against the embedded simulator.",
    )
    _global_options(parser, suppress=False)
    common = argparse.ArgumentParser(add_help=False)
    _global_options(common, suppress=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, help_text: str, handler: Handler) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text, parents=[common])
        p.set_defaults(handler=handler)
        return p

    commands.configure(add)
    auth_cmd.configure(add)
    for command in plugin_commands:
        p = add(command.name, command.help, command.run)
        command.configure(p)
    return parser


def _plugin_commands(argv: Sequence[str]) -> list[Any]:
    builtin = commands.BUILTIN | auth_cmd.COMMANDS
    first = next((a for a in argv if not a.startswith("-")), None)
    if first in builtin:  # a built-in command needs no discovery
        return []
    try:
        from rs_core.plugins import get_registry

        return list(get_registry().commands.values())
    except Exception:  # discovery problems are reported by the commands that need plugins
        return []


_DATE_OPTIONS = ("--start", "--stop")


def _glue_relative_dates(argv: list[str]) -> list[str]:
    """``--start -2h`` -> ``--start=-2h``: argparse would read ``-2h`` as an option."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if (
            arg in _DATE_OPTIONS
            and i + 1 < len(argv)
            and argv[i + 1][:1] in "-+"
            and argv[i + 1][1:2].isdigit()
        ):
            out.append(f"{arg}={argv[i + 1]}")
            i += 2
            continue
        out.append(arg)
        i += 1
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rs`` console script."""
    args_list = _glue_relative_dates(list(sys.argv[1:] if argv is None else argv))
    parser = build_parser(_plugin_commands(args_list))
    args = parser.parse_args(args_list)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
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
            traceback.print_exc()
        if isinstance(err, RsError):
            print(f"rs: error: {err}", file=sys.stderr)
            usage = any(cls.__name__ in USAGE_ERRORS for cls in type(err).__mro__)
            return 2 if usage else 1
        print(
            f"rs: unexpected error: {type(err).__name__}: {err}"
            + ("" if args.debug else " (run with --debug for the traceback)"),
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
