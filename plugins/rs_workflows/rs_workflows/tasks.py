"""The Prefect tasks of the flows: small, idempotent, keyed so a file is never staged twice.

* :func:`stage_files` asks the server to stage one file (v1), or one item's files in one job
  (v2, which stages items: a CADIP session). Its Prefect cache key is the station kind,
  station id, service URL, target and file names: once it has completed, no rerun of any
  flow (a retry, a crash and rerun, the next scheduled run) sends that request again - the
  cached result is used (``restage=True`` refreshes it). The request itself goes through
  rs-core's staging ledger (:mod:`rs_core.ledger`, file ``RS_LEDGER``): written before it
  is sent, so a worker killed between the request and the task's completion leaves an open
  entry that the rerun re-attaches to (a v1 file's status, a v2 job found at the server)
  instead of sending again; a file the ledger or the server knows DONE or in progress (on
  v2: found in the target collection) is followed, not staged again.
* :func:`wait_staged` polls a chunk of files until each is final or the deadline passes.
* :func:`publish_files` publishes a chunk of DONE files into a catalog collection
  (idempotent: an item already there is left as it is).
* Searches and the readiness of sessions are tasks too, so the Prefect UI shows each step.

Concurrency is bounded per station: in a process by the flow's ``concurrency`` (a semaphore
per station), across workers by a Prefect global concurrency limit named
``rs-<kind>-<station>`` when one exists (``prefect gcl create rs-cadip-mti --limit 4``).
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from rs_core.enums import EDownloadStatus
from rs_core.errors import (
    ConflictError,
    NotFoundError,
    RateLimitedError,
    RsConnectionError,
    RsError,
    ServerError,
    StagingError,
)
from rs_core.generations import V2
from rs_workflows.connect import StationRef, catalog_client, station_client

__all__ = [
    "CHUNK",
    "NOT_STAGED",
    "concurrency_limit_name",
    "publish_files",
    "search_files",
    "search_sessions",
    "sessions_ready",
    "stage_files",
    "staging_unit",
    "wait_staged",
]

CHUNK = 50
"""Files per :func:`wait_staged` and :func:`publish_files` task."""

TRANSIENT = (RsConnectionError, ServerError, RateLimitedError)
"""Errors worth a retry of a task; anything else is final and reported with its reason."""

_slots_lock = threading.Lock()
_slots: dict[str, threading.BoundedSemaphore] = {}
_limits: dict[str, bool] = {}


def concurrency_limit_name(ref: StationRef) -> str:
    """The Prefect global concurrency limit that bounds a station across workers.

    >>> concurrency_limit_name(StationRef("cadip", "MTI"))
    'rs-cadip-mti'
    """
    return f"rs-{ref.kind}-{ref.station}".lower().replace("_", "-")


def set_station_bound(ref: StationRef, concurrency: int, *, global_limit: bool) -> None:
    """Bound the staging requests at once to ``ref`` (this process; and the global limit)."""
    with _slots_lock:
        _slots[ref.label] = threading.BoundedSemaphore(max(1, concurrency))
        _limits[ref.label] = global_limit


@contextlib.contextmanager
def _station_slot(ref: StationRef) -> Iterator[None]:
    with _slots_lock:
        slot = _slots.setdefault(ref.label, threading.BoundedSemaphore(4))
        use_limit = _limits.get(ref.label, False)
    with slot:
        if use_limit:
            from prefect.concurrency.sync import concurrency

            with concurrency(concurrency_limit_name(ref), occupy=1):
                yield
        else:
            yield


def global_limit_exists(ref: StationRef) -> bool:
    """True when the server has the global concurrency limit of ``ref``."""
    from prefect.client.orchestration import get_client

    try:
        with get_client(sync_client=True) as client:
            client.read_global_concurrency_limit_by_name(concurrency_limit_name(ref))
    except Exception:  # ObjectNotFound, or a server without the endpoint
        return False
    return True


def _transient(_task: Any, _task_run: Any, state: Any) -> bool:
    try:
        state.result()
    except TRANSIENT:
        return True
    except BaseException:
        return False
    return False


# -- searches ------------------------------------------------------------------------------


def _as_dicts(items: Any) -> list[dict[str, Any]]:
    return [item.to_dict(include_self_link=False, transform_hrefs=False) for item in items]


@task(
    name="search-sessions",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=2,
    retry_condition_fn=_transient,
)
def search_sessions(
    ref: StationRef, start: datetime, stop: datetime, platforms: Sequence[str] | None
) -> list[dict[str, Any]]:
    """The sessions of ``ref`` in ``[start, stop]`` (STAC item dicts)."""
    client = station_client(ref)
    found = client.search_sessions(
        start_date=start, stop_date=stop, platforms=list(platforms) if platforms else None
    )
    get_run_logger().info("%s: %d session(s) in %s..%s", ref.label, len(found), start, stop)
    return _as_dicts(found)


@task(
    name="search-files",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=2,
    retry_condition_fn=_transient,
)
def search_files(
    ref: StationRef,
    start: datetime | None,
    stop: datetime | None,
    *,
    session_ids: Sequence[str] | None = None,
    source_collection: str | None = None,
    filter: str | None = None,
    max_items: int | None = None,
) -> list[dict[str, Any]]:
    """The files of ``ref`` in a window / of sessions / matching a CQL2 ``filter``."""
    client = station_client(ref)
    options: dict[str, Any] = {}
    if session_ids:
        options["session_id"] = list(session_ids)
    if filter:
        options["filter"] = filter
    if max_items is not None:
        options["max_items"] = max_items
    if source_collection:
        options["collection"] = source_collection
    found = client.search_stations(start, stop, **options)
    return _as_dicts(found)


# -- sessions ------------------------------------------------------------------------------


def _prop(props: dict[str, Any], suffix: str) -> Any:
    """A property by its name without the extension prefix (``cadip:final_block``...)."""
    for key, value in props.items():
        if key == suffix or key.endswith(":" + suffix):
            return value
    return None


def session_problem(session: dict[str, Any], files: Sequence[dict[str, Any]]) -> str:
    """Why a session is not complete yet ('' when it is).

    Complete: the downlink and delivery flags (where the station gives them) are OK and every
    channel has its final block and every block before it.

    >>> s = {"properties": {"x:num_channels": 1, "x:downlink_status_ok": True}}
    >>> f = [{"properties": {"x:channel": 1, "x:block_number": 1, "x:final_block": True}}]
    >>> session_problem(s, f)
    ''
    >>> session_problem(s, [])
    'channel 1: no final block yet'
    """
    props = session.get("properties") or {}
    for flag in ("downlink_status_ok", "delivery_push_ok"):
        if _prop(props, flag) is False:
            return f"{flag} is false"
    channels_value = _prop(props, "num_channels")
    blocks: dict[int, set[int]] = {}
    finals: dict[int, int] = {}
    for file in files:
        fp = file.get("properties") or {}
        channel, block = _prop(fp, "channel"), _prop(fp, "block_number")
        if not isinstance(channel, int) or not isinstance(block, int):
            continue
        blocks.setdefault(channel, set()).add(block)
        if _prop(fp, "final_block") is True:
            finals[channel] = block
    channels = range(1, channels_value + 1) if isinstance(channels_value, int) else sorted(blocks)
    for channel in channels:
        if channel not in finals:
            return f"channel {channel}: no final block yet"
        missing = set(range(1, finals[channel] + 1)) - blocks.get(channel, set())
        if missing:
            return f"channel {channel}: block(s) {sorted(missing)[:5]} missing"
    return ""


@task(
    name="sessions-ready",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=2,
    retry_condition_fn=_transient,
)
def sessions_ready(
    ref: StationRef,
    sessions: Sequence[dict[str, Any]],
    ready_timeout: float,
    poll_interval: float,
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, tuple[str, list[dict[str, Any]]]]]:
    """Wait (at most ``ready_timeout`` s) until each session is complete.

    Returns ``(ready, not_ready)``: ``{session id: its files}`` and
    ``{session id: (why, files so far)}``. Uses the plugin's own readiness check
    (``session_readiness(session_id)``) where it offers one.
    """
    client = station_client(ref)
    logger = get_run_logger()
    deadline = time.monotonic() + max(0.0, ready_timeout)
    ready: dict[str, list[dict[str, Any]]] = {}
    waiting: dict[str, tuple[str, list[dict[str, Any]]]] = {}
    todo = {s["id"]: s for s in sessions}
    interval = poll_interval
    while True:
        for sid, session in list(todo.items()):
            files = _as_dicts(client.search_stations(None, None, session_id=[sid]))
            problem = session_problem(session, files)
            own = getattr(client, "session_readiness", None)
            if callable(own):  # the plugin's own check (rs-plugin-cadip with readiness)
                answer = own(sid)
                complete = getattr(answer, "ready", answer) is True
                problem = "" if complete else (getattr(answer, "reason", "") or "not complete")
            if problem:
                waiting[sid] = (problem, files)
            else:
                ready[sid] = files
                waiting.pop(sid, None)
                del todo[sid]
        if not todo or time.monotonic() >= deadline:
            break
        logger.info("%d session(s) not complete yet; next look in %.0f s", len(todo), interval)
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))
        interval = min(60.0, interval * 1.5)
    return ready, waiting


# -- staging -------------------------------------------------------------------------------


def _service(ref: StationRef) -> str:
    client = station_client(ref)
    try:
        return str(client.service_base())
    except RsError:
        return ""


def stage_cache_key(_context: Any, parameters: dict[str, Any]) -> str:
    """``rs-stage-<sha256>`` of station kind, id, service URL, target and file names."""
    ref: StationRef = parameters["ref"]
    names = "\n".join(sorted(parameters["names"]))
    text = "|".join((ref.kind, ref.station, _service(ref), parameters["target"], names))
    return "rs-stage-" + hashlib.sha256(text.encode()).hexdigest()[:40]


def staging_unit(file: dict[str, Any]) -> str:
    """What RS-Server v2 stages a file with: its item (a CADIP file: its session).

    >>> staging_unit({"id": "a.raw", "properties": {"cadip:session_id": "S1A_1"}})
    'S1A_1'
    >>> staging_unit({"id": "x.EOF", "properties": {}})
    'x.EOF'
    """
    session = _prop(file.get("properties") or {}, "session_id")
    return str(session) if session else str(file["id"])


@task(
    name="stage-files",
    cache_key_fn=stage_cache_key,
    persist_result=True,
    result_serializer="json",
    retries=3,
    retry_delay_seconds=[1, 5, 15],
    retry_condition_fn=_transient,
)
def stage_files(
    ref: StationRef,
    names: Sequence[str],
    target: str,
    s3_path: str,
    *,
    restage: bool = False,
    in_catalog: Sequence[str] = (),
) -> dict[str, str]:
    """Stage one unit: a file (v1), or the files of one item (v2: one job), unless the
    staging ledger or the server knows them DONE or in flight; ``{name: what was done}``.

    ``target`` is the catalog collection (RS-Server v2 stages into it; ``in_catalog``: files
    the flow found there already); ``s3_path`` the v1 destination. The request goes through
    :meth:`~rs_core.StationClient.stage_and_wait` without waiting (``timeout=0``): written to
    the ledger before it is sent, a request an earlier run left open re-attached to (a v2 job
    whose answer was lost is looked for at the server), never sent twice. A refusal raises its
    typed error (:class:`~rs_core.StagingError`...); a request whose answer was lost raises
    :class:`~rs_core.RsConnectionError`, so that Prefect's retry looks for it again.
    """
    client = station_client(ref)
    done = {n: "already staged" for n in names if n in in_catalog and not restage}
    close_in_ledger(client, list(done), target)
    todo = [n for n in names if n not in done]
    if not todo:
        return done
    v2 = client.server_generation() == V2
    with _station_slot(ref):
        report = client.stage_and_wait(
            todo,
            s3_path="" if v2 else s3_path,
            collection=target if v2 else None,
            timeout=0,
            restage=restage,
        )
    refused = [o for o in report.outcomes.values() if o.state == "REFUSED" and not o.lost]
    lost = [o for o in report.outcomes.values() if o.lost]
    if refused:
        first = refused[0]
        if isinstance(first.cause, RsError):
            raise first.cause  # the server's own typed refusal (a 5xx one is retried)
        raise StagingError(
            f"{ref.label}: staging of {len(refused)} file(s) refused: {first.name}: {first.error}"
        )
    if lost:
        raise RsConnectionError(
            f"{ref.label}: the answer to the staging request of {len(lost)} file(s) was lost "
            f"({lost[0].name}: {lost[0].error}); the retry looks for it in the ledger and at "
            "the server before sending anything"
        )
    for outcome in report.outcomes.values():
        if outcome.already_done:
            done[outcome.name] = "already staged"
        elif outcome.resumed:
            done[outcome.name] = "followed"
        else:
            done[outcome.name] = "staged"
    return {name: done[name] for name in names}


def close_in_ledger(client: Any, names: Sequence[str], collection: str) -> None:
    """Record as DONE the open ledger entries of ``names``, found in the catalog
    ``collection`` that RS-Server v2 stages into (a request whose answer a killed worker never
    read: its job ended, its items are there)."""
    for name in names:
        try:
            entry = client.ledger_entry(name)
        except RsError:
            return  # the station cannot be reached: the next look decides
        if entry is not None and not entry.final:
            client.ledger.record(
                entry.entry_id, "DONE", detail=f"found in the catalog collection {collection}"
            )


@task(name="wait-staged", cache_policy=NO_CACHE)
def wait_staged(
    ref: StationRef,
    names: Sequence[str],
    timeout: float,
    poll_interval: float,
    *,
    progress: Any = None,
    catalog_collection: str | None = None,
) -> dict[str, dict[str, str]]:
    """Poll ``names`` until each is DONE/FAILED or ``timeout`` s pass.

    Returns ``{name: {"state", "error", "reason"}}``. With ``catalog_collection`` (RS-Server
    v2 stages into it), a file found there is DONE whatever its status says (a job whose
    answer a killed worker never read: the ledger entry is closed) and a status the server
    cannot give is read from there; else such a file is ``UNKNOWN`` with the reason. A poll
    that fails on the network is retried at the next poll, never read as FAILED.
    """
    client = station_client(ref)
    deadline = time.monotonic() + timeout
    out: dict[str, dict[str, str]] = {}
    last_error: dict[str, tuple[str, str]] = {}
    last_status: dict[str, str] = {}
    pending = list(names)
    interval = poll_interval
    rounds = 0
    while pending:
        in_catalog: set[str] | None = None
        if catalog_collection is not None and rounds % 4 == 0:  # a listing: not every poll
            in_catalog = catalog_file_names(ref, catalog_collection)
            found = [n for n in pending if n in in_catalog]
            close_in_ledger(client, found, catalog_collection)
            for name in found:
                out[name] = {"state": "DONE", "error": "", "reason": ""}
                pending.remove(name)
        unconfirmed: list[str] = []
        for name in list(pending):
            try:
                info = client.staging_info(name)
            except NotFoundError as err:
                if catalog_collection is not None and in_catalog is None:
                    in_catalog = catalog_file_names(ref, catalog_collection)
                if in_catalog is not None and name in in_catalog:
                    out[name] = {"state": "DONE", "error": "", "reason": ""}
                else:
                    out[name] = {
                        "state": "UNKNOWN",
                        "error": type(err).__name__,
                        "reason": str(err),
                    }
                pending.remove(name)
                continue
            except RsError as err:
                last_error[name] = (type(err).__name__, str(err))
                continue
            last_status[name] = info.status.value
            if (
                info.status is EDownloadStatus.DONE
                and catalog_collection is not None
                and (in_catalog is None or name not in in_catalog)
            ):
                unconfirmed.append(name)  # v2 stages into the collection: look there
                continue
            if info.status.is_final:
                reason = info.message if info.status is EDownloadStatus.FAILED else ""
                out[name] = {
                    "state": info.status.value,
                    "error": "StagingError" if reason else "",
                    "reason": reason,
                }
                pending.remove(name)
        if unconfirmed and catalog_collection is not None:
            in_catalog = catalog_file_names(ref, catalog_collection)  # after the statuses
            for name in unconfirmed:
                pending.remove(name)
                if name in in_catalog:
                    out[name] = {"state": "DONE", "error": "", "reason": ""}
                else:
                    out[name] = _not_staged_by_its_job(client, ref, name, catalog_collection)
        if progress is not None:
            progress.advance(len(names) - len(pending))
        if not pending or time.monotonic() >= deadline:
            break
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))
        interval = min(5.0, interval * 1.5)
        rounds += 1
    for name in pending:
        error, reason = last_error.get(name, ("", ""))
        out[name] = {
            "state": "UNFINISHED",
            "error": error or "RsTimeoutError",
            "reason": reason or f"{last_status.get(name, 'no status')} after {timeout:.0f} s",
        }
    return out


NOT_STAGED = "NOT_STAGED"
"""The :func:`wait_staged` state of an RS-Server v2 file whose staging job ended successful
without the file in the target collection: the job was not the file's (a job found at the
server after a lost answer, which another request of the same moment made), or the server
skipped it. The flow stages such a file once more."""


def _not_staged_by_its_job(
    client: Any, ref: StationRef, name: str, collection: str
) -> dict[str, str]:
    """Close the ledger entry of ``name`` as FAILED (its job ended without it in
    ``collection``), so that the next staging of it sends a new request; the outcome."""
    entry = None
    with contextlib.suppress(RsError):
        entry = client.ledger_entry(name)
    job = entry.job_id if entry is not None else None
    reason = (
        f"its staging job {job or '(unknown)'} ended successful, but {name} is not in the "
        f"catalog collection {collection}"
    )
    if entry is not None and entry.state != "FAILED":
        client.ledger.record(entry.entry_id, "FAILED", reason)
    get_run_logger().warning("%s: %s", ref.label, reason)
    return {"state": NOT_STAGED, "error": "StagingError", "reason": reason}


# -- publishing ----------------------------------------------------------------------------


def catalog_file_names(ref: StationRef, collection: str) -> set[str]:
    """Every file name the collection holds: item ids and asset keys/titles."""
    catalog = catalog_client(ref)
    try:
        items = list(catalog.get_items(collection_id=collection))
    except NotFoundError:
        return set()
    names: set[str] = set()
    for item in items:
        names.add(item.id)
        for key, asset in item.assets.items():
            names.add(key)
            if asset.title:
                names.add(asset.title)
    return names


@task(
    name="publish-files",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=2,
    retry_condition_fn=_transient,
)
def publish_files(
    ref: StationRef,
    collection: str,
    files: Sequence[dict[str, Any]],
    s3_path: str,
    staged_into_catalog: bool,
) -> dict[str, dict[str, str]]:
    """Publish DONE ``files`` into ``collection``; ``{name: {published, error, reason}}``.

    RS-Server v2 staging puts the items into the collection itself: this then only checks
    they are there. On v1, :meth:`rs_catalog.StacClient.publish` posts each file as an item
    with its ``s3://`` asset under ``s3_path`` (creating the collection when missing); one
    already in the collection is left as it is (``already``).
    """
    present = catalog_file_names(ref, collection)
    out: dict[str, dict[str, str]] = {}
    if staged_into_catalog:
        for file in files:
            name = file["id"]
            out[name] = (
                {"published": "by staging", "error": "", "reason": ""}
                if name in present
                else {
                    "published": "no",
                    "error": "NotFoundError",
                    "reason": f"staged but not in the catalog collection {collection}",
                }
            )
        return out
    for file in files:
        if file["id"] in present:
            out[file["id"]] = {"published": "already", "error": "", "reason": ""}
    todo = [file for file in files if file["id"] not in out]
    results = catalog_client(ref).publish(collection, todo, s3_path=s3_path) if todo else []
    for result in results:
        error = result.error
        if result.ok:
            out[result.item_id] = {"published": "yes", "error": "", "reason": ""}
        elif isinstance(error, ConflictError):
            out[result.item_id] = {"published": "already", "error": "", "reason": ""}
        elif isinstance(error, TRANSIENT):
            raise error  # Prefect retries the chunk; what is stored is "already" then
        else:
            out[result.item_id] = {
                "published": "no",
                "error": type(error).__name__ if error else "RsError",
                "reason": str(error) if error else "not stored",
            }
    return out
