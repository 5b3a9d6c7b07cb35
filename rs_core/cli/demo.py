"""``rs demo``: a real day's work against the embedded simulator, end to end.

1. start the RS-Server simulator (cluster mode: an API key with roles, owner from the key);
2. find the latest downlink day and list that day's sessions at a station serving sessions;
3. search the files of those sessions, and the files of every other station kind (auxiliary
   data) for the same period;
4. stage a handful with progress until DONE;
5. publish them as STAC items into the user's catalog collection (``StacClient.publish``:
   each item's asset is the file's staged ``s3://`` href);
6. search them back, and print a summary.

It names no station: it walks the installed plugins by capability.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rs_core.client import RsClient

__all__ = ["cmd_demo", "run_demo"]

DEMO_KEY = "demo-api-key"


class _Narrator:
    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.step = 0
        self.started = time.perf_counter()

    def title(self, text: str) -> None:
        self.step += 1
        self.say(f"\n[{self.step}] {text}")

    def say(self, text: str) -> None:
        if not self.quiet:
            print(text, flush=True)


def cmd_demo(args: argparse.Namespace, make_client: Callable[[], RsClient]) -> int:
    """Run the demo; exit 0 when every step worked."""
    return run_demo(
        station=args.station,
        n_files=args.files,
        workdir=args.workdir,
        quiet=args.quiet,
        progress=not args.quiet and sys.stderr.isatty(),
        api_version="v2" if getattr(args, "api_version", "auto") == "v2" else "v1",
    )


def run_demo(
    *,
    station: str | None = None,
    n_files: int = 5,
    workdir: str | None = None,
    quiet: bool = False,
    progress: bool = False,
    api_version: str = "v1",
) -> int:
    """The demo as a function (the CLI and the tests call it).

    ``api_version`` is the simulator's face (``rs --api-version v2 demo``); the client detects
    it, as it would a real server's.
    """
    from rs_core.client import RsClient
    from rs_core.errors import InvalidInputError, RsError, UnknownKindError
    from rs_core.plugins import get_registry
    from rs_core.records import Capability
    from rs_core.testing.simulator import ApiKey, RsServerSimulator

    if n_files < 1:
        raise InvalidInputError(f"--files must be >= 1, got {n_files}")
    say = _Narrator(quiet)
    registry = get_registry()
    session_kinds = [t for t in registry.stations.values() if Capability.SESSIONS in t.capabilities]
    file_kinds = [t for t in registry.stations.values() if Capability.SEARCH in t.capabilities]
    file_kinds = [t for t in file_kinds if api_version in t.generations]  # what the sim speaks
    if not session_kinds or not registry.catalogs:
        raise UnknownKindError(
            "rs demo needs a station plugin with sessions and a catalog plugin; installed: "
            + (", ".join(sorted(registry.stations) + sorted(registry.catalogs)) or "none")
        )
    folder = workdir or tempfile.mkdtemp(prefix="rs-demo-")
    with RsServerSimulator(
        api_keys={DEMO_KEY: ApiKey.full_access("demo_user")},
        staging_duration=0.4,
        api_version=api_version,
    ) as sim:
        say.title(f"RS-Server {api_version} simulator listening on {sim.url}")
        client = RsClient(sim.url, DEMO_KEY)
        login = client.apikey_user_login
        say.say(
            f"    API key of {login!r}: {len(client.apikey_iam_roles)} role(s); "
            f"catalog owner {client.owner_id!r}"
        )

        kind = session_kinds[0]
        stations = kind.load_client_class()
        sessions_client = client.get_station_client(kind.kind, station or stations.station_ids[0])
        say.title(f"Latest downlink day at {kind.kind}:{sessions_client.station_name}")
        everything = sessions_client.search_sessions(
            start_date=datetime(2000, 1, 1, tzinfo=UTC), stop_date=datetime.now(UTC)
        )
        if not len(everything):
            say.say("    no sessions at all: nothing to show")
            return 1
        latest = max(i.datetime or i.common_metadata.start_datetime for i in everything)
        day = latest.replace(hour=0, minute=0, second=0, microsecond=0)
        day_end = day + timedelta(days=1) - timedelta(seconds=1)
        sessions = sessions_client.search_sessions(start_date=day, stop_date=day_end)
        say.say(f"    {len(everything)} sessions known; {len(sessions)} on {day:%Y-%m-%d}:")
        for s in sessions:
            say.say(f"      {s.id}  {s.properties.get('platform', '')}  {len(s.assets)} file(s)")

        say.title("Files of those sessions, and other stations' files of the same period")
        picked: list[tuple[Any, Any]] = []  # (client, item)
        session_ids = [s.id for s in sessions]
        cadu = sessions_client.search_stations(None, None, session_id=session_ids)
        say.say(f"    {kind.kind}: {len(cadu)} file(s) in {len(session_ids)} session(s)")
        others: list[tuple[Any, Any]] = []  # one file of each other kind served
        picked += [(sessions_client, item) for item in list(cadu)[: max(1, n_files - 1)]]
        for other in file_kinds:
            if other.kind == kind.kind:
                continue
            other_client = client.get_station_client(other.kind)
            try:
                found, window = _widening_search(other_client, day)
            except RsError as err:  # a third-party kind the simulator does not serve
                why = err.status or type(err).__name__
                say.say(f"    {other.kind}: skipped, not served by the simulator ({why})")
                continue
            except NotImplementedError as err:  # a plugin that cannot search (yet)
                say.say(f"    {other.kind}: skipped ({err})")
                continue
            say.say(f"    {other.kind}: {len(found)} file(s) within {window} of {day:%Y-%m-%d}")
            others += [(other_client, item) for item in list(found)[:1]]
        picked = (picked[: max(1, n_files - len(others))] + others)[:n_files]

        collection_id = f"demo_{day:%Y%m%d}"
        bucket = f"s3://rs-demo-bucket/{client.owner_id}/{collection_id}"
        if api_version == "v2":  # OGC staging jobs put the files into catalog collections
            say.title(
                f"Staging {len(picked)} file(s) into the catalog collections <kind>_staged "
                f"(RS-Server v2 staging jobs; the simulator keeps {folder})"
            )
            target: dict[str, Any] = {}
        else:
            say.title(f"Staging {len(picked)} file(s) into {bucket} (the simulator keeps {folder})")
            target = {"s3_path": bucket, "tmp_download_path": folder}
        reports = []
        for station_client in {id(c): c for c, _ in picked}.values():
            names = [item.id for c, item in picked if c is station_client]
            report = station_client.stage_and_wait(
                names, poll_interval=0.2, timeout=120, progress=progress, **target
            )
            reports.append(report)
            for outcome in report.outcomes.values():
                say.say(f"    {outcome.state:<10} {station_client.station_name:<6} {outcome.name}")
        staged_ok = all(r.ok for r in reports)

        say.title(f"Publishing into the catalog collection {client.owner_id}:{collection_id}")
        catalog = client.get_catalog_client()
        published = 0
        for station_client, report in zip(
            {id(c): c for c, _ in picked}.values(), reports, strict=True
        ):
            items = [item for c, item in picked if c is station_client]
            results = catalog.publish(collection_id, items, s3_path=bucket, report=report)
            published += sum(1 for r in results if r.ok)
            for result in results:
                if not result.ok:
                    say.say(f"    not published: {result.item_id}: {result.error}")
        say.say(f"    {published} item(s) published")

        say.title("Searching them back")
        found_back = list(catalog.search(collections=[collection_id]).items())
        for item in found_back:
            say.say(f"    {item.id}")
        elapsed = time.perf_counter() - say.started
        ok = staged_ok and published > 0 and len(found_back) == published
        say.title("Summary")
        say.say(
            f"    sessions on {day:%Y-%m-%d}: {len(sessions)}; files staged: "
            f"{sum(len(r.done) for r in reports)}/{len(picked)}; published: {published}; "
            f"found back: {len(found_back)}; {len(sim.requests)} requests in "
            f"{elapsed:.1f} s"
        )
        say.say("    result: " + ("OK" if ok else "PROBLEMS (see above)"))
        return 0 if ok else 1


def _widening_search(station_client: Any, day: datetime) -> tuple[Any, str]:
    found: Any = []
    window = ""
    for days, window in (
        (1, "1 day"),
        (7, "7 days"),
        (31, "31 days"),
        (366, "a year"),
        (3660, "10 years"),
    ):
        found = station_client.search_stations(
            day - timedelta(days=days - 1), day + timedelta(days=days), limit=10
        )
        if len(found):
            return found, window
    return found, window
