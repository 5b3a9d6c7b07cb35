"""The built-in ``rs`` sub-commands. Each builds what it needs lazily.

Station arguments accept a kind (``auxip``), a station id (``MTI``) or both (``cadip:MTI``);
the plugins installed say which is which - the CLI names no station itself.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rs_core.client import RsClient
    from rs_core.records import StationType

__all__ = ["BUILTIN", "configure", "resolve_station"]

BUILTIN = frozenset(
    {
        "plugins",
        "search",
        "sessions",
        "stage",
        "status",
        "staging",
        "whoami",
        "catalog",
        "simulate",
        "demo",
    }
)

Add = Callable[[str, str, Callable[..., int]], argparse.ArgumentParser]
MakeClient = Callable[[], "RsClient"]

FILE_COLUMNS = [("ID", "id"), ("PUBLISHED", "created"), ("SIZE", "size")]
SESSION_COLUMNS = [
    ("SESSION", "id"),
    ("PLATFORM", "platform"),
    ("START", "start_datetime"),
    ("STOP", "end_datetime"),
    ("FILES", "assets"),
    ("READY", "ready"),
]


def configure(add: Add) -> None:
    """Add the built-in sub-commands through ``add(name, help, handler)``."""
    p = add(
        "plugins", "list installed plugins: kinds, stations, capabilities, versions", cmd_plugins
    )
    p.add_argument(
        "--check",
        metavar="DIST",
        help="validate one plugin distribution (entry points, hooks, records)",
    )

    p = add("search", "search a station's files in a time range", cmd_search)
    p.add_argument("kind", help="station kind, station id or kind:station (auxip, cadip:MTI)")
    p.add_argument("--station", help="station id (default: the kind's first station)")
    p.add_argument("--start", help="start: ISO 8601 or now/today/yesterday/-2h/-1d")
    p.add_argument("--stop", help="stop (default: now)")
    p.add_argument(
        "--session-id",
        action="append",
        dest="session_ids",
        help="search by session id instead of time (repeatable)",
    )
    p.add_argument("--limit", type=int, help="at most this many files")
    p.add_argument("--sortby", help="sort key, e.g. -created or +datetime")
    _add_plugin_search_options(p)

    p = add("sessions", "search downlink sessions at a station", cmd_sessions)
    p.add_argument("--station", help="station id or kind:station (e.g. MTI, cadip:CADIP)")
    p.add_argument("--id", action="append", dest="ids", help="session id (repeatable)")
    p.add_argument(
        "--platform", action="append", dest="platforms", help="platform, e.g. S1A (repeatable)"
    )
    p.add_argument("--start", help="downlink interval start")
    p.add_argument("--stop", help="downlink interval stop")

    p = add("stage", "stage files into object storage or a local folder", cmd_stage)
    p.add_argument("station", help="station kind, id or kind:station (auxip, MTI...)")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--s3", default="", help="target s3://bucket/prefix")
    p.add_argument("--local", default="", help="target folder on the server side")
    p.add_argument("--wait", action="store_true", help="wait until every file is final")
    p.add_argument("--deadline", type=float, help="with --wait: give up after N seconds")
    p.add_argument("--concurrency", type=int, default=4, help="parallel requests (default 4)")
    p.add_argument("--restage", action="store_true", help="stage again files already DONE")

    p = add("status", "staging status of files", cmd_status)
    p.add_argument("station", help="station kind, id or kind:station")
    p.add_argument("files", nargs="+", metavar="FILE")

    from rs_core.cli import catalog_cmd

    catalog_cmd.configure(add)

    from rs_core.cli import staging_cmd

    staging_cmd.configure(add)

    p = add("simulate", "run the RS-Server simulator until Ctrl-C", cmd_simulate)
    p.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument(
        "--with-api-key",
        dest="sim_api_key",
        metavar="KEY",
        help="cluster mode: accept this API key (all roles)",
    )
    p.add_argument(
        "--staging-duration",
        type=float,
        default=1.0,
        help="seconds a staging job takes (default 1)",
    )
    p.add_argument(
        "--api",
        choices=("v1", "v2", "both"),
        default="both",
        dest="sim_api",
        help="server generation(s) to speak (default both: each installed station plugin's "
        "fake on every generation it speaks)",
    )

    from rs_core.cli import demo

    p = add("demo", "end-to-end tour against the embedded simulator", demo.cmd_demo)
    p.add_argument("--station", default=None, help="station with sessions (default: first)")
    p.add_argument("--files", type=int, default=5, help="how many files to stage (default 5)")
    p.add_argument("--workdir", help="folder for staged files (default: a temp folder)")


# -- helpers -----------------------------------------------------------------------------


def resolve_station(spec: str, station: str | None = None) -> tuple[StationType, str | None]:
    """``auxip`` / ``MTI`` / ``cadip:MTI`` -> (station type, station id)."""
    from rs_core.errors import UnknownStationError
    from rs_core.plugins import get_registry

    registry = get_registry()
    kind, _, named = spec.partition(":")
    if named:
        return registry.station_type(kind), (station or named).upper()
    if kind.lower() in registry.stations:
        return registry.station_type(kind), station.upper() if station else None
    matches = [t for t in registry.stations.values() if spec.upper() in t.stations]
    if len(matches) == 1:
        return matches[0], spec.upper()
    if len(matches) > 1:
        names = ", ".join(f"{t.kind}:{spec.upper()}" for t in matches)
        raise UnknownStationError(f"Station {spec!r} is served by several kinds; say {names}")
    known = sorted(registry.stations) + sorted(
        {s for t in registry.stations.values() for s in t.stations}
    )
    raise UnknownStationError(
        f"{spec!r} is neither an installed station kind nor a station id; known: "
        f"{', '.join(known) or 'none (no station plugin installed)'}"
    )


def _station_client(
    args: argparse.Namespace, make_client: MakeClient, spec: str, station: str | None = None
) -> Any:
    record, station_id = resolve_station(spec, station)
    return make_client().get_station_client(record.kind, station_id)


def _when(text: str | None, name: str, default: str | None = None) -> Any:
    from rs_core.dates import parse_when
    from rs_core.errors import InvalidInputError

    if text is None:
        if default is None:
            raise InvalidInputError(f"--{name} is required")
        text = default
    return parse_when(text, name=f"--{name}")


def _progress(args: argparse.Namespace) -> bool:
    return not args.quiet and args.output == "table" and sys.stderr.isatty()


# -- commands ------------------------------------------------------------------------------


def cmd_plugins(args: argparse.Namespace, make_client: MakeClient) -> int:
    """``rs plugins``: what is installed, and in what state."""
    from rs_core.cli.output import emit_records
    from rs_core.plugins import list_plugins

    if args.check:
        from rs_core.plugin_check import check_distribution

        problems, notes = check_distribution(args.check)
        for line in notes:
            print(f"ok: {line}")
        for line in problems:
            print(f"problem: {line}", file=sys.stderr)
        return 1 if problems else 0
    rows = [p.to_dict() for p in list_plugins()]
    emit_records(
        rows,
        [
            "name",
            "category",
            "kind",
            "distribution",
            "version",
            "stations",
            "capabilities",
            "state",
            "error",
        ],
        args.output,
    )
    return 0


def _add_plugin_search_options(parser: argparse.ArgumentParser) -> None:
    """The station plugins' extra search options (``StationType.search_options``)."""
    from rs_core.plugins import get_registry
    from rs_core.records import add_search_options

    parser.set_defaults(
        plugin_search_options=add_search_options(parser, get_registry().stations.values())
    )


def _plugin_search_options(args: argparse.Namespace, client: Any) -> dict[str, Any]:
    """The plugin search options given, for ``client``'s kind; another kind's: exit 2."""
    from rs_core.errors import InvalidInputError
    from rs_core.plugins import get_registry
    from rs_core.records import search_option_values

    record = get_registry().station_type(client.station_kind)
    try:
        return search_option_values(record, args, getattr(args, "plugin_search_options", ()))
    except ValueError as err:
        raise InvalidInputError(str(err)) from err


def cmd_search(args: argparse.Namespace, make_client: MakeClient) -> int:
    """``rs search KIND``: files in a time range or of sessions."""
    from rs_core.cli.output import emit_items

    client = _station_client(args, make_client, args.kind, args.station)
    options: dict[str, Any] = {"limit": args.limit, "sortby": args.sortby}
    if args.session_ids:
        options["session_id"] = args.session_ids
        start = _when(args.start, "start") if args.start else None
        stop = _when(args.stop, "stop", "now") if args.start else None
    else:
        start, stop = _when(args.start, "start"), _when(args.stop, "stop", "now")
    options.update(_plugin_search_options(args, client))
    result = client.search_stations(start, stop, **options)
    count = emit_items(result, args.output, FILE_COLUMNS)
    if args.output == "table" and not args.quiet:
        print(f"{count} file(s) at {client.station_name}", file=sys.stderr)
    return 0


def cmd_sessions(args: argparse.Namespace, make_client: MakeClient) -> int:
    """``rs sessions``: downlink sessions."""
    from rs_core.cli.output import emit_items
    from rs_core.errors import UnknownKindError
    from rs_core.plugins import get_registry
    from rs_core.records import Capability

    spec = args.station
    if spec is None or ":" not in spec:
        with_sessions = [
            t for t in get_registry().stations.values() if Capability.SESSIONS in t.capabilities
        ]
        if not with_sessions:
            raise UnknownKindError("No installed station plugin serves sessions")
        if spec is None:
            spec = with_sessions[0].kind
        elif spec.lower() not in get_registry().stations:
            spec = f"{with_sessions[0].kind}:{spec}"
    client = _station_client(args, make_client, spec)
    start = _when(args.start, "start") if args.start else None
    stop = _when(args.stop, "stop", "now") if args.start or args.stop else None
    result = client.search_sessions(
        session_ids=args.ids, start_date=start, stop_date=stop, platforms=args.platforms
    )
    count = emit_items(result, args.output, SESSION_COLUMNS)
    if args.output == "table" and not args.quiet:
        print(f"{count} session(s) at {client.station_name}", file=sys.stderr)
    return 0


def cmd_stage(args: argparse.Namespace, make_client: MakeClient) -> int:
    """``rs stage``: send staging requests; with ``--wait``, follow them to the end."""
    from rs_core.cli.output import emit_records

    client = _station_client(args, make_client, args.station)
    if not args.wait:
        rows = []
        for name in args.files:
            client.staging(name, s3_path=args.s3, tmp_download_path=args.local)
            rows.append({"name": name, "state": "STARTED"})
        emit_records(rows, ["name", "state"], args.output)
        return 0
    from rs_core.staging import StagingInterrupted

    try:
        report = client.stage_and_wait(
            args.files,
            s3_path=args.s3,
            tmp_download_path=args.local,
            concurrency=args.concurrency,
            timeout=args.deadline,
            restage=args.restage,
            progress=_progress(args),
        )
    except StagingInterrupted as stopped:
        _emit_report(stopped.report, args)
        raise
    _emit_report(report, args)
    return 0 if report.ok else 1


def _emit_report(report: Any, args: argparse.Namespace) -> None:
    from rs_core.cli.output import emit_records

    if args.output == "json":
        json.dump(report.to_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    rows = [o.to_dict() for o in report.outcomes.values()]
    for row in rows:
        row["note"] = (
            row["message"] or row["error"] or ("already done" if row["already_done"] else "")
        )
    emit_records(rows, ["name", "state", "note"], args.output)
    if not args.quiet:
        print(report.summary(), file=sys.stderr)


def cmd_status(args: argparse.Namespace, make_client: MakeClient) -> int:
    """``rs status``: one line per file."""
    from rs_core.cli.output import emit_records
    from rs_core.errors import NotFoundError

    client = _station_client(args, make_client, args.station)
    rows = []
    failed = False
    for name in args.files:
        try:
            info = client.staging_info(name)
        except NotFoundError:
            rows.append({"name": name, "status": "UNKNOWN", "message": "never staged"})
            failed = True
            continue
        rows.append({"name": name, "status": info.status.value, "message": info.message})
        failed = failed or info.status.value == "FAILED"
    emit_records(rows, ["name", "status", "message"], args.output)
    return 1 if failed else 0


def cmd_simulate(args: argparse.Namespace, make_client: MakeClient) -> int:
    """``rs simulate``: the RS-Server simulator in the foreground."""
    from rs_core.testing.simulator import serve

    options: dict[str, Any] = {
        "staging_duration": args.staging_duration,
        "api_version": args.sim_api,
    }
    if args.sim_api_key:
        from rs_core.testing.simulator import ApiKey

        options["api_keys"] = {args.sim_api_key: ApiKey.full_access("simuser")}
    import contextlib

    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how this command ends
        serve(args.host, args.port, **options)
    return 0
