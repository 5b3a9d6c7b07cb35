"""``rs staging list|show|forget``: browse the staging ledger (see :mod:`rs_core.ledger`).

The ledger is local: these commands send no request. ``--ledger`` (else env ``RS_LEDGER``)
names the file.

Examples::

    rs staging list                      # the last 50 requests, newest first
    rs staging list --open               # requests still in flight
    rs staging list --station MTI --state FAILED -o json
    rs staging show 12                   # one request and its history
    rs staging show DCS_01_..._ch1_DSDB_00001.raw
    rs staging forget --state DONE       # drop finished requests
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rs_core.client import RsClient
    from rs_core.ledger import LedgerEntry, StagingLedger

__all__ = ["configure"]

ACTIONS = ("list", "show", "forget")
LIST_COLUMNS = ["id", "station", "name", "state", "job_id", "updated", "reason"]


def configure(add: Callable[..., argparse.ArgumentParser]) -> None:
    """Add ``rs staging``."""
    p = add(
        "staging",
        "the staging ledger: what was staged, where, and how it ended (list, show, forget)",
        cmd_staging,
    )
    p.add_argument("action", choices=ACTIONS)
    p.add_argument(
        "targets",
        nargs="*",
        metavar="ID|NAME",
        help="show/forget: entry ids or file names (list: a file name pattern, * and ?)",
    )
    p.add_argument("--ledger", help="ledger file (default: env RS_LEDGER, else the state dir)")
    p.add_argument("--station", help="only this station id (as `rs stations` lists them)")
    p.add_argument("--kind", help="only this station kind (as `rs plugins` lists them)")
    p.add_argument("--state", help="only this state (PENDING, IN_PROGRESS, DONE, FAILED...)")
    p.add_argument("--open", action="store_true", help="only requests still in flight")
    p.add_argument("--limit", type=int, default=50, help="list: at most N entries (default 50)")
    p.add_argument(
        "--all", action="store_true", help="forget: open requests too (default: final only)"
    )


def _usage(message: str) -> int:
    print(f"rs staging: error: {message}", file=sys.stderr)
    return 2


def _open(args: argparse.Namespace) -> StagingLedger:
    from rs_core.ledger import StagingLedger

    return StagingLedger(args.ledger)


def _find(ledger: StagingLedger, target: str) -> list[LedgerEntry]:
    if target.isdigit():
        found = ledger.get(int(target))
        return [found] if found is not None else []
    return ledger.entries(name=target)


def cmd_staging(args: argparse.Namespace, make_client: Callable[[], RsClient]) -> int:
    """``rs staging ACTION``."""
    from rs_core.cli.output import emit_records
    from rs_core.ledger import LEDGER_STATES

    if args.state is not None and args.state.upper() not in LEDGER_STATES:
        return _usage(
            f"--state {args.state!r} is not a ledger state; use one of {', '.join(LEDGER_STATES)}"
        )
    if args.limit is not None and args.limit < 1:
        return _usage(f"--limit must be >= 1, got {args.limit}")
    if args.action != "list" and not args.targets and args.action == "show":
        return _usage("show needs an entry id or a file name")
    ledger = _open(args)
    try:
        if args.action == "list":
            if len(args.targets) > 1:
                return _usage("list takes at most one file name pattern")
            entries = ledger.entries(
                station_kind=args.kind,
                station=args.station,
                name=args.targets[0] if args.targets else None,
                state=args.state,
                open_only=args.open,
                limit=args.limit,
            )
            rows = [e.to_dict() for e in entries]
            emit_records(rows, LIST_COLUMNS, args.output)
            if args.output == "table" and not args.quiet:
                print(f"{len(rows)} request(s) in {ledger.path}", file=sys.stderr)
            return 0
        if args.action == "show":
            shown: list[dict[str, Any]] = []
            for target in args.targets:
                for entry in _find(ledger, target):
                    full = ledger.get(entry.entry_id)
                    if full is not None:
                        shown.append(full.to_dict())
            if not shown:
                print(
                    f"rs staging: nothing in the ledger for {' '.join(args.targets)}",
                    file=sys.stderr,
                )
                return 1
            if args.output == "table":
                for record in shown:
                    _print_entry(record)
            else:
                emit_records(shown, LIST_COLUMNS, args.output)
            return 0
        # forget
        if not args.targets and not (args.station or args.kind or args.state or args.all):
            return _usage("forget needs ids, file names, --station, --state or --all")
        return _forget(ledger, args)
    finally:
        ledger.close()


def _forget(ledger: StagingLedger, args: argparse.Namespace) -> int:
    ids: set[int] = set()
    if args.targets:
        for target in args.targets:
            ids.update(e.entry_id for e in _find(ledger, target))
    else:
        ids.update(
            e.entry_id
            for e in ledger.entries(station_kind=args.kind, station=args.station, state=args.state)
        )
    count = ledger.forget(entry_ids=sorted(ids), final_only=not args.all)
    if not args.quiet:
        kept = len(ids) - count
        note = f" ({kept} still open, kept: add --all to forget them)" if kept else ""
        print(f"forgot {count} request(s){note}", file=sys.stderr)
    if args.output == "json":
        json.dump({"forgotten": count}, sys.stdout)
        sys.stdout.write("\n")
    return 0


def _print_entry(record: dict[str, Any]) -> None:
    keys = (
        "id",
        "station_kind",
        "station",
        "service",
        "generation",
        "name",
        "target",
        "job_id",
        "call",
        "state",
        "reason",
        "created",
        "updated",
        "sent_at",
    )
    for key in keys:
        value = record.get(key)
        if value not in (None, ""):
            print(f"{key:>12}  {value}")
    for event in record.get("history", []):
        detail = f"  {event['detail']}" if event["detail"] else ""
        print(f"{'':>12}  {event['at']}  {event['state']}{detail}")
    print()
