"""The Prefect tasks of the flows: small, idempotent, keyed so a file is never staged twice.

* :func:`stage_files` asks the server to stage one file (v1), or one item's files in one job
  (v2, which stages items: a CADIP session). Its Prefect cache key is the station kind,
  station id, service URL, target and file names: once it has completed, no rerun of any
  flow (a retry, a crash and rerun, the next scheduled run) sends that request again - the
  cached result is used (``restage=True`` refreshes it). Before sending, it asks the server
  where the file stands (through rs-core's staging ledger where installed, which knows the v2
  jobs of any process; on v2 the target collection too): a file already DONE or in progress
  is followed, not staged again. So a worker killed between the request and the task's
  completion is covered too.
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
import inspect
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
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
from rs_workflows.connect import StationRef, catalog_client, station_client

__all__ = [
    "CHUNK",
    "concurrency_limit_name",
    "ensure_collection",
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


def _where(client: Any, name: str, in_catalog: bool) -> EDownloadStatus | None:
    """Where ``name`` stands: the server's answer (rs-core's staging ledger, where installed,
    lets any process ask about a v2 job another one started), or the v2 target collection."""
    if in_catalog:
        return EDownloadStatus.DONE  # RS-Server v2 put it there: staged
    try:
        return client.staging_info(name).status  # type: ignore[no-any-return]
    except NotFoundError:
        return None  # never staged (v2: no job known to this process)


def _accepts_collection(client: Any) -> bool:
    try:
        return "collection" in inspect.signature(client.staging).parameters
    except (TypeError, ValueError):
        return False


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
    """Stage one unit: a file (v1), or the files of one item (v2: one job), unless they are
    DONE or in progress already; returns ``{name: what was done}``.

    ``target`` is the catalog collection (RS-Server v2 stages into it; ``in_catalog``: files
    the flow found there already); ``s3_path`` the v1 destination. A refusal raises its typed
    error (:class:`~rs_core.StagingError`...).
    """
    client = station_client(ref)
    done: dict[str, str] = {}
    todo: list[str] = []
    with _station_slot(ref):
        for name in names:
            status = None if restage else _where(client, name, name in in_catalog)
            if status is EDownloadStatus.DONE:
                done[name] = "already staged"
            elif status is EDownloadStatus.IN_PROGRESS:
                done[name] = "followed"
            else:
                todo.append(name)
        if not todo:
            return done
        options = {"collection": target} if _accepts_collection(client) else {}
        batch = getattr(client, "staging_batch", None)
        refused = batch(todo, s3_path=s3_path, collection=target) if callable(batch) else None
        if refused is None:  # this generation (or plugin) stages file by file
            for name in todo:
                client.staging(name, s3_path=s3_path, **options)
        elif refused:
            first = next(iter(refused.values()))
            raise StagingError(f"{ref.label}: staging of {len(refused)} file(s) refused: {first}")
    return {**done, **dict.fromkeys(todo, "staged")}


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

    Returns ``{name: {"state", "error", "reason"}}``. A status the server cannot give (v2: no
    job of this process holds the file) is read from the catalog when
    ``catalog_collection`` is given (RS-Server v2 stages into it: there means DONE), else it
    is ``UNKNOWN`` with the reason. A poll that fails on the network is retried at the next
    poll, never read as FAILED.
    """
    client = station_client(ref)
    deadline = time.monotonic() + timeout
    out: dict[str, dict[str, str]] = {}
    last_error: dict[str, tuple[str, str]] = {}
    last_status: dict[str, str] = {}
    pending = list(names)
    interval = poll_interval
    while pending:
        in_catalog: set[str] | None = None
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
            if info.status.is_final:
                reason = info.message if info.status is EDownloadStatus.FAILED else ""
                out[name] = {
                    "state": info.status.value,
                    "error": "StagingError" if reason else "",
                    "reason": reason,
                }
                pending.remove(name)
        if progress is not None:
            progress.advance(len(names) - len(pending))
        if not pending or time.monotonic() >= deadline:
            break
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))
        interval = min(5.0, interval * 1.5)
    for name in pending:
        error, reason = last_error.get(name, ("", ""))
        out[name] = {
            "state": "UNFINISHED",
            "error": error or "RsTimeoutError",
            "reason": reason or f"{last_status.get(name, 'no status')} after {timeout:.0f} s",
        }
    return out


# -- publishing ----------------------------------------------------------------------------


@task(
    name="ensure-collection",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=2,
    retry_condition_fn=_transient,
)
def ensure_collection(ref: StationRef, collection: str, description: str) -> str:
    """Create the catalog collection unless it exists; ``"created"`` or ``"exists"``."""
    import pystac

    catalog = catalog_client(ref)
    if catalog.collection_exists(collection):
        return "exists"
    extent = pystac.Extent(
        pystac.SpatialExtent([[-180.0, -90.0, 180.0, 90.0]]),
        pystac.TemporalExtent([None, None]),
    )
    try:
        catalog.add_collection(pystac.Collection(collection, description, extent))
    except ConflictError:
        return "exists"  # created meanwhile by another run
    return "created"


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


def catalog_item(file: dict[str, Any], collection: str, s3_path: str) -> Any:
    """The catalog item of a staged station file: its properties, one ``s3://`` asset."""
    import pystac

    from rs_core.dates import parse_datetime

    props = dict(file.get("properties") or {})
    when_text = props.pop("datetime", None) or props.get("created")
    when = parse_datetime(when_text) if when_text else datetime.now(UTC)
    props.pop("start_datetime", None)
    props.pop("end_datetime", None)
    size = next(
        (a.get("file:size") for a in (file.get("assets") or {}).values() if "file:size" in a),
        None,
    )
    item = pystac.Item(
        id=file["id"],
        geometry=None,
        bbox=None,
        datetime=when,
        properties=props,
        collection=collection,
        stac_extensions=["https://stac-extensions.github.io/file/v2.1.0/schema.json"],
    )
    item.add_asset(
        file["id"],
        pystac.Asset(
            href=f"{s3_path.rstrip('/')}/{file['id']}",
            roles=["data"],
            media_type="application/octet-stream",
            extra_fields={"file:size": size} if size is not None else {},
        ),
    )
    return item


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
    they are there. On v1, each file becomes an item with an ``s3://`` asset under
    ``s3_path``; one already in the collection is left as it is (``already``).
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
    catalog = catalog_client(ref)
    for file in files:
        name = file["id"]
        if name in present:
            out[name] = {"published": "already", "error": "", "reason": ""}
            continue
        try:
            catalog.add_item(collection, catalog_item(file, collection, s3_path))
        except ConflictError:
            out[name] = {"published": "already", "error": "", "reason": ""}
        except TRANSIENT:
            raise
        except RsError as err:
            out[name] = {"published": "no", "error": type(err).__name__, "reason": str(err)}
        else:
            out[name] = {"published": "yes", "error": "", "reason": ""}
    return out
