"""The flows: stage sessions, stage products, publish staged files, check a collection.

Each works with any installed station plugin (by kind, through the plugin registry), takes
only names and values as parameters (never a secret: see :mod:`rs_workflows.connect`), writes
a per-file report as a markdown artifact (plus a progress artifact while it waits), returns
the report as a dict, and ends *Failed* with :class:`~rs_workflows.report.WorkflowFailedError`
when a file is not staged and published, every file's reason in the report.

>>> from rs_workflows.flows import stage_sessions
>>> report = stage_sessions(station="MTI", since="2d", collection="s1_cadu")  # doctest: +SKIP
>>> report["summary"]                                                        # doctest: +SKIP
'12 files: 12 done; 12 published'
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    update_progress_artifact,
)
from prefect.task_runners import ThreadPoolTaskRunner

from rs_core.dates import as_utc, parse_datetime, to_wire
from rs_core.errors import RsError
from rs_core.generations import V2
from rs_workflows import tasks
from rs_workflows.connect import StationRef, resolve_station, station_client
from rs_workflows.report import FileRow, failure, markdown_table, summary
from rs_workflows.window import resolve_window, watermark_name

__all__ = ["check_collection", "publish_staged", "stage_products", "stage_sessions"]

DEFAULT_S3 = "s3://rs-workflows"
_RUNNER: Any = ThreadPoolTaskRunner(max_workers=16)


# -- helpers -------------------------------------------------------------------------------


def _store_watermark(name: str, when: datetime) -> None:
    from prefect.variables import Variable

    Variable.set(name, to_wire(when), overwrite=True)


class _Progress:
    """A Prefect progress artifact fed by the waiting tasks (at most one update a second)."""

    def __init__(self, key: str, total: int) -> None:
        self.total = max(1, total)
        self.lock = threading.Lock()
        self.parts: dict[int, int] = {}
        self.sent = 0.0
        self.id: Any = create_progress_artifact(0.0, key=key, description="files final")

    def part(self, index: int) -> _Part:
        return _Part(self, index)

    def set(self, index: int, done: int, force: bool = False) -> None:
        with self.lock:
            self.parts[index] = done
            now = time.monotonic()
            if not force and now - self.sent < 1.0:
                return
            self.sent = now
            value = 100.0 * sum(self.parts.values()) / self.total
        update_progress_artifact(self.id, min(100.0, value))


class _Part:
    def __init__(self, parent: _Progress, index: int) -> None:
        self.parent, self.index = parent, index

    def advance(self, done: int) -> None:
        self.parent.set(self.index, done)


def _artifact_key(flow_name: str, ref: StationRef) -> str:
    return re.sub(r"[^a-z0-9-]", "-", f"{flow_name}-{ref.kind}-{ref.station}".lower())


def _chunks(values: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


def _error_of(exc: BaseException) -> tuple[str, str]:
    if isinstance(exc, RsError):
        return type(exc).__name__, str(exc)
    return type(exc).__name__, str(exc) or repr(exc)


def stage_and_publish(
    ref: StationRef,
    files: Sequence[dict[str, Any]],
    *,
    collection: str,
    s3_path: str | None,
    concurrency: int,
    timeout: float,
    poll_interval: float,
    restage: bool,
    publish: bool,
    progress_key: str,
) -> list[FileRow]:
    """Stage every file (one cached task each), wait in chunks, publish the DONE ones."""
    logger = get_run_logger()
    client = station_client(ref)
    unique = list({f["id"]: f for f in files}.values())
    by_name = {f["id"]: f for f in unique}
    rows = {name: FileRow(name, ref.label) for name in by_name}
    if not unique:
        return []
    v2 = client.server_generation() == V2
    target = s3_path or f"{DEFAULT_S3}/{collection}"
    tasks.set_station_bound(ref, concurrency, global_limit=tasks.global_limit_exists(ref))
    stage = tasks.stage_files.with_options(refresh_cache=True) if restage else tasks.stage_files
    # RS-Server v2 stages items (a CADIP session) into the catalog: one task per item, and a
    # file found in the collection is staged, whatever this process remembers.
    present = tasks.catalog_file_names(ref, collection) if v2 and not restage else set()
    units: dict[str, list[str]] = {}
    for name, file in by_name.items():
        units.setdefault(tasks.staging_unit(file) if v2 else name, []).append(name)
    units_of = units.values()
    to_wait = _stage_units(
        stage,
        ref,
        units_of,
        rows,
        collection=collection,
        v2=v2,
        target=target,
        restage=restage,
        present=present,
    )
    logger.info("%s: %d staging request(s) sent or followed", ref.label, len(to_wait))
    progress = _Progress(progress_key + "-progress", len(to_wait))
    waiting = {"timeout": timeout, "poll_interval": poll_interval}
    _wait(ref, to_wait, rows, **waiting, progress=progress, catalog=collection if v2 else None)
    # RS-Server v2: a file whose job ended without it in the collection (a job found after a
    # lost answer that another request of the same moment made) is staged once more
    again = [n for n in to_wait if rows[n].state == tasks.NOT_STAGED]
    if again:
        logger.warning("%s: staging %d file(s) again: %s", ref.label, len(again), again[:3])
        retry_units: dict[str, list[str]] = {}
        for name in again:
            retry_units.setdefault(tasks.staging_unit(by_name[name]), []).append(name)
        retried = _stage_units(
            tasks.stage_files.with_options(refresh_cache=True),
            ref,
            retry_units.values(),
            rows,
            collection=collection,
            v2=v2,
            target=target,
            restage=False,
        )
        for name in retried:
            rows[name].action = "staged again"
        _wait(ref, retried, rows, **waiting, progress=None, catalog=collection)
    progress.set(-1, 0, force=True)
    done = [by_name[n] for n in to_wait if rows[n].state == "DONE"]
    if publish and done:
        publishes = [
            tasks.publish_files.submit(ref, collection, list(chunk), target, v2)
            for chunk in _chunks(done, tasks.CHUNK)
        ]
        for publishing in publishes:
            for name, outcome in publishing.result().items():
                row = rows[name]
                row.published = outcome["published"]
                if outcome["error"]:
                    row.error, row.reason = outcome["error"], outcome["reason"]
    return list(rows.values())


def _stage_units(
    stage: Any,
    ref: StationRef,
    units: Iterable[list[str]],
    rows: dict[str, FileRow],
    *,
    collection: str,
    v2: bool,
    target: str,
    restage: bool,
    present: set[str] | None = None,
) -> list[str]:
    """One staging task per unit (its file names); the names to wait for. A unit whose task
    fails has its rows REFUSED with the reason."""
    futures = [
        (
            names,
            stage.submit(
                ref,
                names,
                collection,
                "" if v2 else target,
                restage=restage,
                in_catalog=[n for n in names if n in (present or ())],
            ),
        )
        for names in units
    ]
    to_wait: list[str] = []
    for names, staging in futures:
        try:
            actions = staging.result()
        except BaseException as exc:
            error, reason = _error_of(exc)
            for name in names:
                rows[name].state, rows[name].action = "REFUSED", "refused"
                rows[name].error, rows[name].reason = error, reason
            continue
        cached = getattr(staging.state, "name", "") == "Cached"  # an earlier run's request
        for name in names:
            action = actions.get(name, "staged")
            rows[name].action = "already staged" if cached and action == "staged" else action
            to_wait.append(name)
    return to_wait


def _wait(
    ref: StationRef,
    names: list[str],
    rows: dict[str, FileRow],
    *,
    timeout: float,
    poll_interval: float,
    progress: _Progress | None,
    catalog: str | None,
) -> None:
    """Wait for ``names`` in chunks (one task each); their rows get the final state."""
    waits = [
        tasks.wait_staged.submit(
            ref,
            list(chunk),
            timeout,
            poll_interval,
            progress=progress.part(i) if progress is not None else None,
            catalog_collection=catalog,
        )
        for i, chunk in enumerate(_chunks(names, tasks.CHUNK))
    ]
    for waiting in waits:
        for name, outcome in waiting.result().items():
            row = rows[name]
            row.state, row.error, row.reason = outcome["state"], outcome["error"], outcome["reason"]


def _finish(
    flow_name: str,
    ref: StationRef,
    rows: list[FileRow],
    window: tuple[datetime, datetime] | None,
    extra: dict[str, Any] | None = None,
    *,
    require_ok: bool = True,
) -> dict[str, Any]:
    text = summary(rows)
    heading = f"# {flow_name} at {ref.label}\n\n"
    if window:
        heading += f"Window {to_wire(window[0])} .. {to_wire(window[1])}. "
    create_markdown_artifact(
        heading + f"{text}\n\n" + markdown_table(rows),
        key=_artifact_key(flow_name, ref),
        description=text,
    )
    get_run_logger().info("%s %s: %s", flow_name, ref.label, text)
    report: dict[str, Any] = {
        "flow": flow_name,
        "station": ref.label,
        "window": [to_wire(w) for w in window] if window else None,
        "summary": text,
        "files": [r.to_dict() for r in rows],
        **(extra or {}),
    }
    error = failure(rows, flow_name) if require_ok else None
    if error is not None:
        raise error
    return report


# -- flows ---------------------------------------------------------------------------------


@flow(name="stage-sessions", task_runner=_RUNNER, persist_result=True)
def stage_sessions(  # noqa: PLR0917 - Prefect flow parameters, passed by name
    station: str,
    collection: str,
    kind: str | None = None,
    since: str | None = None,
    start: str | None = None,
    stop: str | None = None,
    platforms: list[str] | None = None,
    ready_timeout: float = 600.0,
    require_complete: bool = True,
    s3_path: str | None = None,
    concurrency: int = 4,
    timeout: float = 3600.0,
    poll_interval: float = 1.0,
    restage: bool = False,
    publish: bool = True,
    profile: str | None = None,
    api_key_block: str | None = None,
) -> dict[str, Any]:
    """Stage every file of the sessions of a window at ``station``, publish to ``collection``.

    The window is ``since`` (``"2d"``, ``"12h"``, or ``"last"``: from where the last run of
    this flow for this station and collection stopped) or ``start``/``stop``. Sessions are
    staged once complete (every channel's final block, downlink and delivery OK), waiting at
    most ``ready_timeout`` s; a session still incomplete is reported ``NOT_READY`` (unless
    ``require_complete=False``: then it is staged as it is) and the next ``since="last"`` run
    starts before it.
    """
    ref = resolve_station(
        kind, station, capability="sessions", profile=profile, api_key_block=api_key_block
    )
    mark = watermark_name("stage-sessions", ref, collection)
    begin, end = resolve_window(since, start, stop, mark)
    sessions = tasks.search_sessions(ref, begin, end, platforms)
    ready, not_ready = tasks.sessions_ready(ref, sessions, ready_timeout, poll_interval)
    if not require_complete:  # stage what there is; the report still says which were not
        for sid, (why, so_far) in not_ready.items():
            get_run_logger().warning("session %s staged incomplete: %s", sid, why)
            ready[sid] = so_far
        not_ready = {}
    files = [f for sid in ready for f in ready[sid]]
    rows = stage_and_publish(
        ref,
        files,
        collection=collection,
        s3_path=s3_path,
        concurrency=concurrency,
        timeout=timeout,
        poll_interval=poll_interval,
        restage=restage,
        publish=publish,
        progress_key=_artifact_key("stage-sessions", ref),
    )
    for sid, (why, so_far) in not_ready.items():
        for file in so_far or [{"id": f"session {sid}"}]:
            rows.append(FileRow(file["id"], ref.label, "NOT_READY", "waited", "", "NotReady", why))
    # Where the next "since last" run starts: before the first session with a problem.
    bad_sessions = {sid for sid in not_ready}
    bad_names = {r.name for r in rows if not r.ok}
    for sid, files_of in ready.items():
        if any(f["id"] in bad_names for f in files_of):
            bad_sessions.add(sid)
    starts = [_session_start(s) for s in sessions if s["id"] in bad_sessions and _session_start(s)]
    _store_watermark(mark, min([end, *[s for s in starts if s is not None]]))
    return _finish(
        "stage-sessions",
        ref,
        rows,
        (begin, end),
        {"sessions": len(sessions), "sessions_not_ready": sorted(not_ready)},
    )


def _named_file(name: str) -> dict[str, Any]:
    """A station file known by its name only (``publish-staged --file``), as a STAC item."""
    return {
        "type": "Feature",
        "stac_version": "1.0.0",
        "id": name,
        "geometry": None,
        "properties": {"datetime": to_wire(datetime.now(UTC))},
        "assets": {},
        "links": [],
    }


def _session_start(session: dict[str, Any]) -> datetime | None:
    props = session.get("properties") or {}
    for key in ("start_datetime", "datetime"):
        if props.get(key):
            return as_utc(parse_datetime(props[key]))
    return None


@flow(name="stage-products", task_runner=_RUNNER, persist_result=True)
def stage_products(  # noqa: PLR0917 - Prefect flow parameters, passed by name
    kind: str,
    collection: str,
    station: str | None = None,
    since: str | None = None,
    start: str | None = None,
    stop: str | None = None,
    source_collection: str | None = None,
    filter: str | None = None,
    max_items: int | None = None,
    s3_path: str | None = None,
    concurrency: int = 4,
    timeout: float = 3600.0,
    poll_interval: float = 1.0,
    restage: bool = False,
    publish: bool = True,
    profile: str | None = None,
    api_key_block: str | None = None,
) -> dict[str, Any]:
    """Stage the files of a ``kind`` of station (AUX, PRIP...) matching a search; publish them.

    The search: the window (``since`` or ``start``/``stop``), and on RS-Server v2 the
    station's ``source_collection`` and a CQL2 ``filter``; ``max_items`` caps it.
    """
    ref = resolve_station(
        kind, station, capability="staging", profile=profile, api_key_block=api_key_block
    )
    mark = watermark_name("stage-products", ref, collection)
    begin, end = resolve_window(since, start, stop, mark)
    files = tasks.search_files(
        ref,
        begin,
        end,
        source_collection=source_collection,
        filter=filter,
        max_items=max_items,
    )
    rows = stage_and_publish(
        ref,
        files,
        collection=collection,
        s3_path=s3_path,
        concurrency=concurrency,
        timeout=timeout,
        poll_interval=poll_interval,
        restage=restage,
        publish=publish,
        progress_key=_artifact_key("stage-products", ref),
    )
    if all(r.ok for r in rows):
        _store_watermark(mark, end)
    return _finish("stage-products", ref, rows, (begin, end))


@flow(name="publish-staged", task_runner=_RUNNER, persist_result=True)
def publish_staged(  # noqa: PLR0917 - Prefect flow parameters, passed by name
    collection: str,
    kind: str | None = None,
    station: str | None = None,
    since: str | None = None,
    start: str | None = None,
    stop: str | None = None,
    files: list[str] | None = None,
    s3_path: str | None = None,
    profile: str | None = None,
    api_key_block: str | None = None,
) -> dict[str, Any]:
    """Publish into ``collection`` the station files of a window (or the named ``files``)
    that are staged (DONE); files not staged are reported with their state."""
    ref = resolve_station(kind, station, profile=profile, api_key_block=api_key_block)
    window: tuple[datetime, datetime] | None = None
    found: list[dict[str, Any]]
    if files:
        found = [_named_file(name) for name in files]
    else:
        window = resolve_window(since, start, stop, None)
        found = tasks.search_files(ref, *window)
    names: list[str] = [str(f["id"]) for f in found]
    outcomes: dict[str, dict[str, str]] = {}
    for chunk in _chunks(names, tasks.CHUNK):
        outcomes.update(tasks.wait_staged(ref, list(chunk), 0.0, 0.1))
    rows = [FileRow(n, ref.label, outcomes[n]["state"], "checked") for n in names]
    for row in rows:
        row.error, row.reason = outcomes[row.name]["error"], outcomes[row.name]["reason"]
        if row.state == "UNFINISHED" and row.reason.startswith("NOT_STARTED"):
            row.state, row.error, row.reason = "NOT_STAGED", "", "not staged (yet)"
    done = [f for f in found if outcomes[f["id"]]["state"] == "DONE"]
    v2 = station_client(ref).server_generation() == V2
    target = s3_path or f"{DEFAULT_S3}/{collection}"
    by_name = {r.name: r for r in rows}
    for chunk in _chunks(done, tasks.CHUNK):
        for name, outcome in tasks.publish_files(ref, collection, list(chunk), target, v2).items():
            by_name[name].published = outcome["published"]
            if outcome["error"]:
                by_name[name].error, by_name[name].reason = outcome["error"], outcome["reason"]
    return _finish("publish-staged", ref, rows, window)


@flow(name="check-collection", task_runner=_RUNNER, persist_result=True)
def check_collection(  # noqa: PLR0917 - Prefect flow parameters, passed by name
    collection: str,
    kind: str | None = None,
    station: str | None = None,
    since: str | None = None,
    start: str | None = None,
    stop: str | None = None,
    profile: str | None = None,
    api_key_block: str | None = None,
) -> dict[str, Any]:
    """What the catalog ``collection`` lacks (``missing``: at the station in the window, not
    published) and holds beyond it (``extra``: published, not at the station in the window).

    Read-only; the run fails when something is missing.
    """
    ref = resolve_station(kind, station, profile=profile, api_key_block=api_key_block)
    window = resolve_window(since, start, stop, None)
    at_station = {f["id"] for f in tasks.search_files(ref, *window)}
    published = tasks.catalog_file_names(ref, collection)
    catalog_items = _catalog_item_ids(ref, collection)
    missing = sorted(at_station - published)
    extra = sorted(catalog_items - at_station)
    rows = [
        FileRow(
            n,
            ref.label,
            "MISSING",
            "checked",
            "no",
            "NotFoundError",
            f"not in the collection {collection}",
        )
        for n in missing
    ]
    rows += [
        FileRow(n, ref.label, "DONE", "checked", "yes") for n in sorted(at_station - set(missing))
    ]
    rows += [
        FileRow(n, ref.label, "EXTRA", "checked", "yes", "", "not at the station in the window")
        for n in extra
    ]
    report = _finish(
        "check-collection",
        ref,
        rows,
        window,
        {"missing": missing, "extra": extra, "at_station": len(at_station)},
        require_ok=False,
    )
    if missing:
        from rs_workflows.report import WorkflowFailedError

        raise WorkflowFailedError(
            f"check-collection: {len(missing)} file(s) of {ref.label} missing from "
            f"{collection}: {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}",
            rows,
        )
    return report


def _catalog_item_ids(ref: StationRef, collection: str) -> set[str]:
    """The ids of the items of the collection whose assets are files (v1 publishing: one
    item per file; v2 staging: one item per session, its assets the files)."""
    from rs_core.errors import NotFoundError
    from rs_workflows.connect import catalog_client

    try:
        items = list(catalog_client(ref).get_items(collection_id=collection))
    except NotFoundError:
        return set()
    names: set[str] = set()
    for item in items:
        if len(item.assets) == 1 and item.id in item.assets:
            names.add(item.id)
        else:
            names.update(a.title or k for k, a in item.assets.items())
    return names
