"""The built-in ``rs`` sub-commands. Each builds what it needs lazily.

Station arguments accept a kind (``auxip``), a station id (``MTI``) or both (``cadip:MTI``);
the plugins installed say which is which - the CLI names no station itself.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping
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
        "publish",
    }
)

Add = Callable[..., argparse.ArgumentParser]  # add(name, help, handler, epilog=None)
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


def configure(add: Add, *, station_options: bool = True) -> None:
    """Add the built-in sub-commands through ``add(name, help, handler)``; with
    ``station_options``, ``rs search`` gets the station plugins' own options (a discovery)."""
    p = add(
        "plugins", "list installed plugins: kinds, stations, capabilities, versions", cmd_plugins
    )
    p.add_argument(
        "--check",
        metavar="DIST",
        help="validate one plugin distribution (entry points, hooks, records)",
    )

    p = add(
        "search",
        "search a station's files in a time range",
        cmd_search,
        "KIND is a station kind of `rs plugins`, or KIND:STATION.\n"
        "examples:\n  rs search KIND --start yesterday --stop today\n"
        "  rs search KIND:STATION --start -2h --sortby -created -o ndjson > files.ndjson",
    )
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
    p.add_argument("--limit", type=positive_int, help="at most this many files")
    p.add_argument("--sortby", help="sort key, e.g. -created or +datetime")
    stac = p.add_argument_group("STAC station search (RS-Server v2 / 1.0)")
    stac.add_argument(
        "--collection",
        action="append",
        dest="collections",
        metavar="ID",
        help="search this collection of the station's service (repeatable; default: the "
        "station's own)",
    )
    stac.add_argument(
        "--filter",
        dest="cql2",
        metavar="CQL2",
        help="CQL2 filter, text (\"product:type = 'X'\") or JSON; sent as cql2-json",
    )
    stac.add_argument("--bbox", type=_bbox, help="minx,miny,maxx,maxy (WGS84)")
    stac.add_argument(
        "--intersects", metavar="GEOJSON", help="a GeoJSON geometry, or a file holding one"
    )
    stac.add_argument(
        "--max-items", type=positive_int, help="at most this many files in all (pages are lazy)"
    )
    if station_options:
        _add_plugin_search_options(p)

    p = add("sessions", "search downlink sessions at a station", cmd_sessions)
    p.add_argument("--station", help="station id or kind:station (e.g. MTI, cadip:CADIP)")
    p.add_argument("--id", action="append", dest="ids", help="session id (repeatable)")
    p.add_argument(
        "--platform", action="append", dest="platforms", help="platform, e.g. S1A (repeatable)"
    )
    p.add_argument("--start", help="downlink interval start")
    p.add_argument("--stop", help="downlink interval stop")

    p = add(
        "stage",
        "stage files into object storage or a local folder",
        cmd_stage,
        "FILE is a file name, a .json/.ndjson file of items or names, or - (stdin).\n"
        "examples:\n  rs stage MTI DCS_01_S1A_..._DSDB_00001.raw --s3 s3://bucket/dir --wait\n"
        "  rs search KIND --start -1d -o ndjson | rs stage KIND - --s3 s3://b/dir --wait "
        "-o ndjson",
    )
    p.add_argument("station", help="station kind, id or kind:station (auxip, MTI...)")
    p.add_argument("files", nargs="+", metavar="FILE", help="file name, items file or -")
    p.add_argument("--s3", default="", help="target s3://bucket/prefix")
    p.add_argument("--local", default="", help="target folder on the server side")
    p.add_argument("--wait", action="store_true", help="wait until every file is final")
    p.add_argument("--deadline", type=positive_float, help="with --wait: give up after N seconds")
    p.add_argument(
        "--concurrency", type=positive_int, default=4, help="parallel requests (default 4)"
    )
    p.add_argument("--restage", action="store_true", help="stage again files already DONE")

    p = add("status", "staging status of files", cmd_status)
    p.add_argument("station", help="station kind, id or kind:station")
    p.add_argument("files", nargs="+", metavar="FILE", help="file name, items file or -")

    p = add(
        "publish",
        "publish staged files as items of a catalog collection (created when missing)",
        cmd_publish,
        "ITEMS are the STAC items of the files (rs search or rs stage -o json/ndjson), in a\n"
        "file or - (stdin). Each asset is the file's staged s3:// href: the destination\n"
        "rs stage recorded, else --s3 PREFIX/NAME. Files whose staging did not end DONE\n"
        "are not published.\n"
        "example:\n  rs search KIND --start -1d -o ndjson \\\n"
        "    | rs stage KIND - --s3 s3://bucket/dir --wait -o ndjson \\\n"
        "    | rs publish my_files -",
    )
    p.add_argument("collection", metavar="COLLECTION", help="collection id (short or owner:id)")
    p.add_argument("items", nargs="*", default=["-"], metavar="ITEMS", help="file or - (default)")
    p.add_argument("--s3", default=None, help="s3://bucket/prefix the files were staged to")
    p.add_argument(
        "--no-create", action="store_true", help="fail instead of creating a missing collection"
    )
    p.add_argument("--kind", default=None, help="catalog kind (default: the installed one)")

    from rs_core.cli import catalog_cmd

    catalog_cmd.configure(add)

    from rs_core.cli import staging_cmd

    staging_cmd.configure(add)

    p = add(
        "simulate",
        "run the RS-Server simulator until Ctrl-C",
        cmd_simulate,
        "examples:\n  rs simulate --port 8000 --with-api-key secret\n"
        '  eval "$(rs simulate --port 8000 --env &)"   # in another shell: the exports\n'
        "  rs simulate --recent --with-api-key secret   # data of the last hours",
    )
    p.add_argument("--port", type=port_number, default=0, help="port (default: a free one)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument(
        "--with-api-key",
        dest="sim_api_key",
        metavar="KEY",
        help="cluster mode: accept this API key (all roles)",
    )
    p.add_argument(
        "--staging-duration",
        type=non_negative_float,
        default=1.0,
        help="seconds a staging job takes (default 1)",
    )
    p.add_argument(
        "--generation",
        "--api",
        choices=("v1", "v2", "both"),
        type=str.lower,
        default="both",
        dest="sim_api",
        help="server generation(s) to speak (default both: each installed station plugin's "
        "fake on every generation it speaks; --api is an alias)",
    )
    p.add_argument(
        "--recent",
        action="store_true",
        help="serve generated records whose times end a few minutes before now (for windows "
        "like --since 2d), instead of the packaged fixtures",
    )
    p.add_argument("--env", action="store_true", help="print only the export lines for your shell")

    p = add("demo", "end-to-end tour against the embedded simulator", cmd_demo)
    p.add_argument("--station", default=None, help="station with sessions (default: first)")
    p.add_argument(
        "--files", type=positive_int, default=5, help="how many files to stage (default 5)"
    )
    p.add_argument("--workdir", help="folder for staged files (default: a temp folder)")


def cmd_demo(args: argparse.Namespace, make_client: MakeClient) -> int:
    """``rs demo`` (:func:`rs_core.cli.demo.cmd_demo`, imported when it runs)."""
    from rs_core.cli import demo

    return demo.cmd_demo(args, make_client)


# -- helpers -----------------------------------------------------------------------------


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1 (argparse names the option in its error)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


def positive_float(text: str) -> float:
    """An argparse type: a number of seconds > 0."""
    value = _number(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {text}")
    return value


def non_negative_float(text: str) -> float:
    """An argparse type: a number of seconds >= 0."""
    value = _number(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def port_number(text: str) -> int:
    """An argparse type: a TCP port, 0 (any free one) to 65535."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be 0 (any free port) to 65535, got {value}")
    return value


def _did_you_mean(word: str, known: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(word, known, n=1, cutoff=0.5)
    if not close:
        close = [k for k in known if k.lower() == word.lower()]
    return f"; did you mean {close[0]!r}?" if close else ""


def require(record: StationType, capability: str, what: str) -> None:
    """Refuse (usage error) a command the station kind cannot do, naming the kinds that can."""
    from rs_core.errors import InvalidInputError
    from rs_core.plugins import get_registry

    if capability in record.capabilities:
        return
    able = sorted(t.kind for t in get_registry().stations.values() if capability in t.capabilities)
    raise InvalidInputError(
        f"{record.kind} cannot {what}; kinds that can: {', '.join(able) or 'none installed'}"
    )


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
        f"{', '.join(known) or 'none (no station plugin installed)'}" + _did_you_mean(spec, known)
    )


def _station_client(
    args: argparse.Namespace,
    make_client: MakeClient,
    spec: str,
    station: str | None = None,
    needs: tuple[tuple[str, str], ...] = (),
) -> Any:
    record, station_id = resolve_station(spec, station)
    for capability, what in needs:
        require(record, capability, what)
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


def _bbox(text: str) -> list[float]:
    from rs_core.cli.catalog_cmd import bbox_value

    return bbox_value(text)


_STAC_OPTIONS = (
    ("collections", "collection", "--collection"),
    ("cql2", "filter", "--filter"),
    ("bbox", "bbox", "--bbox"),
    ("intersects", "intersects", "--intersects"),
    ("max_items", "max_items", "--max-items"),
)


def _stac_search_options(args: argparse.Namespace, client: Any) -> dict[str, Any]:
    """``--collection/--filter/--bbox/--intersects/--max-items`` as ``search_stations``
    keywords; one the station's client does not take is a usage error naming the option."""
    import inspect
    import json
    from pathlib import Path

    from rs_core.errors import InvalidInputError

    try:
        parameters: Mapping[str, inspect.Parameter] = inspect.signature(
            client.search_stations
        ).parameters
    except (TypeError, ValueError):  # pragma: no cover - a C callable
        parameters = {}
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    options: dict[str, Any] = {}
    for dest, keyword, flag in _STAC_OPTIONS:
        value = getattr(args, dest, None)
        if value is None:
            continue
        if keyword not in parameters and not takes_any:
            raise InvalidInputError(
                f"{flag} is not supported by station kind {client.station_kind!r} "
                "(its search_stations has no such parameter)"
            )
        if dest == "collections":
            value = value[0] if len(value) == 1 else list(value)
        elif dest == "intersects":
            text = value
            if not text.lstrip().startswith("{"):
                try:
                    text = Path(value).read_text(encoding="utf-8")
                except OSError as err:
                    raise InvalidInputError(
                        f"--intersects: neither GeoJSON nor a readable file: {value!r} "
                        f"({err.strerror or err})"
                    ) from err
            try:
                value = json.loads(text)
            except ValueError as err:
                raise InvalidInputError(f"--intersects: not valid GeoJSON ({err})") from err
        options[keyword] = value
    return options


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
    from rs_core.records import Capability

    needs = [(Capability.SEARCH.value, "search files")]
    if args.session_ids:
        needs.append((Capability.SEARCH_BY_SESSION.value, "search files by --session-id"))
    client = _station_client(args, make_client, args.kind, args.station, tuple(needs))
    options: dict[str, Any] = {"limit": args.limit, "sortby": args.sortby}
    if args.session_ids:
        options["session_id"] = args.session_ids
        start = _when(args.start, "start") if args.start else None
        stop = _when(args.stop, "stop", "now") if args.start else None
    else:
        start, stop = _when(args.start, "start"), _when(args.stop, "stop", "now")
    options.update(_stac_search_options(args, client))
    options.update(_plugin_search_options(args, client))
    if args.output == "ndjson":  # one line per file as pages come: memory stays at a page
        result = client.iter_stations(start, stop, **options)
    else:
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
    registry = get_registry()
    if spec is None or ":" not in spec:
        with_sessions = [
            t for t in registry.stations.values() if Capability.SESSIONS in t.capabilities
        ]
        if not with_sessions:
            raise UnknownKindError("No installed station plugin serves sessions")
        if spec is None:
            spec = with_sessions[0].kind
        elif spec.lower() not in registry.stations and not any(
            spec.upper() in t.stations for t in registry.stations.values()
        ):
            spec = f"{with_sessions[0].kind}:{spec}"
    needs = ((Capability.SESSIONS.value, "search sessions (rs sessions --station)"),)
    client = _station_client(args, make_client, spec, needs=needs)
    start = _when(args.start, "start") if args.start else None
    stop = _when(args.stop, "stop", "now") if args.start or args.stop else None
    result = client.search_sessions(
        session_ids=args.ids, start_date=start, stop_date=stop, platforms=args.platforms
    )
    count = emit_items(result, args.output, SESSION_COLUMNS)
    if args.output == "table" and not args.quiet:
        print(f"{count} session(s) at {client.station_name}", file=sys.stderr)
    return 0


def _destination(args: argparse.Namespace, name: str) -> str:
    base = args.s3 or args.local
    return f"{base.rstrip('/')}/{name}" if base else "(the server's default)"


def cmd_stage(args: argparse.Namespace, make_client: MakeClient) -> int:
    """``rs stage``: send staging requests; with ``--wait``, follow them to the end.

    Without ``--wait`` every file is sent, and each one reported: ``STARTED`` or ``REFUSED``
    with the server's reason (exit 1 if any was refused).
    """
    from rs_core.cli.inputs import read_entries
    from rs_core.errors import (
        AuthenticationError,
        ConfigurationError,
        InvalidInputError,
        RsConnectionError,
        RsError,
    )
    from rs_core.records import Capability

    entries = read_entries(args.files)
    if not entries:
        raise InvalidInputError("FILE: no file names or items given (empty input)")
    names = list(dict.fromkeys(e.name for e in entries))
    needs = ((Capability.STAGING.value, "stage files"),)
    client = _station_client(args, make_client, args.station, needs=needs)
    if not args.wait:
        rows = []
        for name in names:
            try:
                client.staging(name, s3_path=args.s3, tmp_download_path=args.local)
            except (InvalidInputError, RsConnectionError, AuthenticationError, ConfigurationError):
                raise  # not a refusal of this file: the same for every file
            except RsError as err:  # refused: say why, and go on with the others
                rows.append({"name": name, "state": "REFUSED", "note": str(err)})
                continue
            rows.append({"name": name, "state": "STARTED", "note": ""})
        _emit_rows(rows, entries, args)
        refused = sum(1 for r in rows if r["state"] == "REFUSED")
        if not args.quiet:
            print(
                f"{len(rows) - refused} staging request(s) sent, {refused} refused; "
                f"destination {_destination(args, '')}",
                file=sys.stderr,
            )
        return 1 if refused else 0
    from rs_core.staging import StagingInterrupted

    try:
        report = client.stage_and_wait(
            names,
            s3_path=args.s3,
            tmp_download_path=args.local,
            concurrency=args.concurrency,
            timeout=args.deadline,
            restage=args.restage,
            progress=_progress(args),
        )
    except StagingInterrupted as stopped:
        _emit_report(stopped.report, entries, args)
        raise
    _emit_report(report, entries, args)
    return 0 if report.ok else 1


def _emit_rows(rows: list[dict[str, Any]], entries: list[Any], args: argparse.Namespace) -> None:
    """Per-file rows as a table or JSON; in NDJSON, each input item annotated with its staging
    result (``properties["rs:staging"]``), so ``rs publish COLL -`` can read it."""
    from rs_core.cli.output import emit_records

    for row in rows:
        row["destination"] = _destination(args, row["name"]) if row["state"] != "REFUSED" else ""
    if args.output == "ndjson":
        features = {e.name: e.feature for e in entries if e.feature is not None}
        for row in rows:
            feature = features.get(row["name"])
            if feature is None:
                sys.stdout.write(json.dumps(row) + "\n")
                continue
            annotated = dict(feature, properties=dict(feature.get("properties") or {}))
            annotated["properties"]["rs:staging"] = {
                k: row[k] for k in ("state", "destination", "note")
            }
            sys.stdout.write(json.dumps(annotated) + "\n")
        return
    columns = ["name", "state", "destination", "note"]
    if args.output == "table":  # people: no column that says nothing
        columns = [c for c in columns if any(row.get(c) for row in rows)]
    emit_records(rows, columns, args.output)


def _emit_report(report: Any, entries: list[Any], args: argparse.Namespace) -> None:
    if args.output == "json":
        body = report.to_dict()
        for outcome in body.get("files", body.get("outcomes", [])) or []:
            if isinstance(outcome, dict) and "name" in outcome:
                refused = outcome.get("state") == "REFUSED"
                outcome["destination"] = "" if refused else _destination(args, outcome["name"])
        json.dump(body, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        rows = []
        for outcome in report.outcomes.values():
            row = outcome.to_dict()
            note = row["message"] or row["error"] or ("already done" if row["already_done"] else "")
            rows.append({"name": row["name"], "state": row["state"], "note": note})
        _emit_rows(rows, entries, args)
    if not args.quiet:
        print(report.summary(), file=sys.stderr)


def cmd_status(args: argparse.Namespace, make_client: MakeClient) -> int:
    """``rs status``: one line per file."""
    from rs_core.cli.inputs import read_entries
    from rs_core.cli.output import emit_records
    from rs_core.errors import NotFoundError
    from rs_core.records import Capability

    names = list(dict.fromkeys(e.name for e in read_entries(args.files)))
    needs = ((Capability.STAGING.value, "report staging status"),)
    client = _station_client(args, make_client, args.station, needs=needs)
    rows = []
    failed = False
    for name in names:
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


def cmd_publish(args: argparse.Namespace, make_client: MakeClient) -> int:
    """``rs publish COLL [ITEMS|-]``: staged files as catalog items."""
    from datetime import UTC, datetime

    from rs_core.cli.inputs import read_entries
    from rs_core.cli.output import emit_records
    from rs_core.errors import InvalidInputError

    entries = read_entries(args.items, option="ITEMS")
    if not entries:
        raise InvalidInputError("ITEMS: nothing to publish (empty input)")
    if args.s3 is not None and not args.s3.startswith("s3://"):
        raise InvalidInputError(f"--s3 must be s3://bucket/prefix, got {args.s3!r}")
    items: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    for entry in entries:
        feature = entry.feature
        if feature is None:  # a staging record or a bare name: a minimal item
            record = entry.record or {}
            feature = {
                "type": "Feature",
                "stac_version": "1.0.0",
                "id": entry.name,
                "geometry": None,
                "properties": {"datetime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")},
                "assets": {},
                "links": [],
            }
            if record.get("state"):
                feature["properties"]["rs:staging"] = record
        staging = (feature.get("properties") or {}).get("rs:staging") or {}
        if staging.get("state") not in (None, "DONE"):
            rows.append({"id": entry.name, "result": f"skipped: staging {staging['state']}"})
            continue
        items.append(feature)
    catalog = make_client().get_catalog_client(args.kind)
    results = (
        catalog.publish(
            args.collection, items, s3_path=args.s3, create_collection=not args.no_create
        )
        if items
        else []
    )
    rows += [
        {"id": r.item_id, "result": "published" if r.ok else f"failed: {r.error}"} for r in results
    ]
    emit_records(rows, ["id", "result"], args.output)
    bad = [r for r in rows if r["result"] != "published"]
    if not args.quiet:
        print(
            f"{len(rows) - len(bad)} of {len(rows)} item(s) published in {args.collection}",
            file=sys.stderr,
        )
    return 1 if bad else 0


def cmd_simulate(args: argparse.Namespace, make_client: MakeClient) -> int:
    """``rs simulate``: the RS-Server simulator in the foreground; prints what to paste."""
    import contextlib
    import signal
    import socket
    import threading

    from rs_core.errors import InvalidInputError
    from rs_core.testing.simulator import ApiKey, RsServerSimulator

    if args.port:
        with socket.socket() as probe:
            try:
                probe.bind((args.host, args.port))
            except OSError as err:
                raise InvalidInputError(
                    f"--port {args.port}: cannot listen on {args.host}:{args.port} "
                    f"({err.strerror}); choose another port or --port 0"
                ) from None
    options: dict[str, Any] = {
        "staging_duration": args.staging_duration,
        "api_version": args.sim_api,
    }
    key = ApiKey.full_access("simuser") if args.sim_api_key else None
    if args.sim_api_key and key is not None:
        options["api_keys"] = {args.sim_api_key: key}
    if args.recent:
        from rs_core.testing.simulator import Dataset

        options["dataset"] = Dataset.synthetic().recent()
    simulator = RsServerSimulator(host=args.host, port=args.port, **options)
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)  # before anything is printed
    try:
        simulator.start()
    except OSError as err:
        signal.signal(signal.SIGTERM, previous)
        raise InvalidInputError(f"--port {args.port}: {err.strerror or err}") from None
    finished = threading.Event()
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C (or SIGTERM) is how this ends
        try:
            _print_simulator(simulator.url, args, key)
            finished.wait()
        finally:
            signal.signal(signal.SIGTERM, previous)
            simulator.stop()
    return 0


def _print_simulator(url: str, args: argparse.Namespace, key: Any) -> None:
    """What a user needs to use the simulator: mode, URL, key, roles, generation, exports."""
    import textwrap

    if key is not None:
        exports = [f"export RS_SERVER_HREF={url}", f"export RSPY_APIKEY={args.sim_api_key}"]
    else:  # local mode: every service's URL from its RSPY_HOST_* variable, no credential
        exports = ["unset RS_SERVER_HREF RSPY_APIKEY RSPY_OAUTH2_COOKIE"]
        exports += [f"export {var}={url}" for var in _local_mode_variables()]
    # "both" serves each fake on every generation it speaks: clients probe (auto)
    exports.append(f"export RS_API_VERSION={'auto' if args.sim_api == 'both' else args.sim_api}")
    if args.env:
        print("\n".join(exports), flush=True)
    else:
        mode = "cluster (API key required)" if key is not None else "local (no API key)"
        lines = [
            f"RS-Server simulator listening on {url} (Ctrl-C to stop)",
            f"  mode:       {mode}",
            f"  generation: {'v1 and v2' if args.sim_api == 'both' else args.sim_api}",
        ]
        if getattr(args, "recent", False):
            lines.append("  data:       generated, the newest published a few minutes ago")
        if key is not None:
            # The simulator's own throwaway key, chosen by the user: printed so it can be pasted.
            lines.append(f"  API key:    {args.sim_api_key} (user {key.user_login!r})")
            roles = textwrap.wrap(", ".join(key.iam_roles), 80)
            lines.append("  roles:      " + "\n              ".join(roles))
        else:
            lines.append("  API key:    none (local mode: no key is checked)")
        lines += ["", "Paste into another shell:", *(f"  {line}" for line in exports)]
        print("\n".join(lines), flush=True)


def _local_mode_variables() -> list[str]:
    """The ``RSPY_HOST_*`` variables of local mode: each installed station plugin's service,
    staging and the catalog."""
    from rs_core.plugins import get_registry
    from rs_core.station import CATALOG_ENV, STAGING_ENV

    names = {STAGING_ENV, CATALOG_ENV}
    for record in get_registry().stations.values():
        try:
            variable = record.load_client_class().service_env_var
        except Exception:  # a broken plugin: rs plugins says why; the others are served
            continue
        if variable:
            names.add(variable)
    return sorted(names)


def _raise_interrupt(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt
