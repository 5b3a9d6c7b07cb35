"""ADGS and CADIP v1 routes, and the staging state machine behind them.

The checks run in RS-Server's order: API key (403, done by the server before any route), then
FastAPI's parameter validation (422 with a pydantic list), then the station name (400) and the
role (401), then the endpoint's own rules.

Staging follows RS-Server v1: a search (file search or session search) registers each returned
name in the service's status table (``adgs_download_status``; one ``cadip_download_status``
shared by every CADIP station) as ``NOT_STARTED``. Staging a registered name resets it and
starts a job that is ``IN_PROGRESS`` at once (RS-Server answers only after its worker marked it
so) and ends ``DONE`` or ``FAILED`` ``staging_duration`` seconds later. A timer thread ends jobs
on time (no polling) and every status read also finishes due jobs, so a read after the
duration never sees a stale state. With ``local=/dir`` a ``DONE`` job leaves a sparse file of
the product's size at ``/dir/<name>``, written under a temporary name then renamed. Times are
UTC, ``%Y-%m-%dT%H:%M:%S.%f``.

Example:
    >>> jobs = StagingJobs(Dataset.synthetic(n_products=1, n_files=0, n_sessions=0), duration=0)
    >>> name = jobs.dataset.adgs_products[0]["Name"]
    >>> jobs.stage("adgs", name, None, None)   # never returned by a search: refused
    False
"""

from __future__ import annotations

import heapq
import os
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from attrs import define

from .auth import CADIP_STATIONS, ApiKey, station_role
from .dataset import Dataset, Record
from .messages import (
    RecordedRequest,
    Response,
    detail_response,
    json_response,
    missing_query,
    validation_error,
)

__all__ = ["StagingJobs", "StationRoutes"]

WIRE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
STATUS_FORMAT = "%Y-%m-%dT%H:%M:%S.%f"
_TABLES = {
    "adgs": ("AdgsDownloadStatus", "adgs_download_status"),
    "cadip": ("CadipDownloadStatus", "cadip_download_status"),
}


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _fmt(moment: datetime | None) -> str | None:
    return moment.strftime(STATUS_FORMAT) if moment is not None else None


@define
class _Status:
    db_id: int
    product_id: str
    name: str
    available_at_station: str | None
    size: int
    status: str = "NOT_STARTED"
    download_start: datetime | None = None
    download_stop: datetime | None = None
    status_fail_message: str | None = None
    local: str | None = None
    obs: str | None = None
    generation: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "product_id": self.product_id,
            "name": self.name,
            "available_at_station": self.available_at_station or None,
            "db_id": self.db_id,
            "download_start": _fmt(self.download_start),
            "download_stop": _fmt(self.download_stop),
            "status": self.status,
            "status_fail_message": self.status_fail_message,
        }


class StagingJobs:
    """The two status tables (``adgs``, ``cadip``) and the jobs that move them.

    Thread-safe. ``fail(name)`` makes the current or next job of ``name`` end FAILED (once).
    """

    def __init__(
        self,
        dataset: Dataset,
        duration: float = 0.2,
        failure_rate: float = 0.0,
        seed: int = 0,
        require_search_before_staging: bool = True,
    ) -> None:
        self.dataset = dataset
        self.duration = max(0.0, float(duration))
        self.failure_rate = float(failure_rate)
        self.require_search_before_staging = require_search_before_staging
        self._rng = random.Random(seed)
        self._cond = threading.Condition()
        self._seen: dict[str, dict[str, Record]] = {"adgs": {}, "cadip": {}}
        self._db_ids: dict[str, dict[str, int]] = {"adgs": {}, "cadip": {}}
        self._tables: dict[str, dict[str, _Status]] = {"adgs": {}, "cadip": {}}
        self._forced: dict[str, str] = {}
        self._heap: list[tuple[float, int, str, str, int]] = []
        self._seq = 0
        self._thread: threading.Thread | None = None
        self._stopping = False

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Start the timer thread (idempotent)."""
        with self._cond:
            if self._thread is not None:
                return
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="rs-sim-staging", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the timer thread; unfinished jobs stay IN_PROGRESS."""
        with self._cond:
            self._stopping = True
            thread, self._thread = self._thread, None
            self._cond.notify_all()
        if thread is not None:
            thread.join(timeout=5)

    def _run(self) -> None:
        with self._cond:
            while not self._stopping:
                self._finish_due()
                timeout = max(0.0, self._heap[0][0] - time.monotonic()) if self._heap else None
                self._cond.wait(timeout)

    # -- table operations -----------------------------------------------------------------

    def _lookup(self, service: str) -> Callable[[str], Record | None]:
        return self.dataset.find_product if service == "adgs" else self.dataset.find_file

    def _entry(self, service: str, name: str, relaxed: bool) -> _Status | None:
        """The status entry of ``name``, materialised from the "seen" names on first use."""
        table = self._tables[service]
        entry = table.get(name)
        if entry is not None:
            return entry
        seen = self._seen[service].get(name)
        if seen is None and relaxed:
            record = self._lookup(service)(name)
            if record is not None:
                self.register(service, [record])
                seen = self._seen[service][name]
        if seen is None:
            return None
        entry = table[name] = _Status(
            db_id=self._db_ids[service][name],
            product_id=seen.product_id,
            name=seen.name,
            available_at_station=seen.available_at_station,
            size=seen.size,
        )
        return entry

    def register(self, service: str, records: Iterable[Record]) -> None:
        """Record names a search returned (``NOT_STARTED``; existing entries are kept)."""
        with self._cond:
            seen = self._seen[service]
            db_ids = self._db_ids[service]
            for record in records:
                if record.name not in seen:
                    seen[record.name] = record
                    db_ids[record.name] = len(db_ids) + 1

    def stage(self, service: str, name: str, local: str | None, obs: str | None) -> bool:
        """Start staging ``name``; False when the name is unknown to the status table."""
        with self._cond:
            entry = self._entry(service, name, not self.require_search_before_staging)
            if entry is None:
                return False
            entry.generation += 1
            entry.status = "IN_PROGRESS"
            entry.download_start = _now()
            entry.download_stop = None
            entry.status_fail_message = None
            entry.local = local
            entry.obs = obs
            self._seq += 1
            deadline = time.monotonic() + self.duration
            heapq.heappush(self._heap, (deadline, self._seq, service, name, entry.generation))
            self._cond.notify_all()
        self.start()
        return True

    def status(self, service: str, name: str) -> dict[str, Any] | None:
        """The status object of ``name`` in ``service``'s table, or None."""
        with self._cond:
            self._finish_due()
            entry = self._entry(service, name, relaxed=False)
            return entry.to_json() if entry is not None else None

    def state(self, name: str) -> dict[str, Any] | None:
        """The status object of ``name`` in any table (plus ``service``, ``local``, ``obs``)."""
        with self._cond:
            self._finish_due()
            for service in self._tables:
                entry = self._entry(service, name, relaxed=False)
                if entry is not None:
                    result = entry.to_json()
                    result.update(service=service, local=entry.local, obs=entry.obs)
                    return result
        return None

    def fail(self, name: str, message: str) -> None:
        """Make the current (or next) staging job of ``name`` end FAILED with ``message``."""
        with self._cond:
            self._forced[name] = message
            self._cond.notify_all()

    def _finish_due(self) -> None:
        now = time.monotonic()
        while self._heap and self._heap[0][0] <= now:
            _deadline, _seq, service, name, generation = heapq.heappop(self._heap)
            entry = self._tables[service].get(name)
            if entry is None or entry.generation != generation or entry.status != "IN_PROGRESS":
                continue
            self._finish(entry)

    def _finish(self, entry: _Status) -> None:
        forced = self._forced.pop(entry.name, None)
        if forced is not None:
            entry.status, entry.status_fail_message = "FAILED", forced
        elif self.failure_rate > 0 and self._rng.random() < self.failure_rate:
            entry.status = "FAILED"
            entry.status_fail_message = (
                "RuntimeError('Simulated station download failure (staging_failure_rate)')"
            )
        else:
            try:
                if entry.local:
                    _write_sparse(entry.local, entry.name, entry.size)
            except OSError as exc:
                entry.status, entry.status_fail_message = "FAILED", repr(exc)
            else:
                entry.status, entry.status_fail_message = "DONE", None
        entry.download_stop = _now()


def _write_sparse(folder: str, name: str, size: int) -> None:
    if not name or os.sep in name or (os.altsep and os.altsep in name) or name in (".", ".."):
        raise OSError(f"refusing to write a file named {name!r}")
    os.makedirs(folder, exist_ok=True)
    target = os.path.join(folder, name)
    temporary = os.path.join(folder, f".{name}.{uuid.uuid4().hex}.part")
    try:
        with open(temporary, "wb") as handle:
            handle.truncate(size)
        os.replace(temporary, target)
    except OSError:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def _feature_collection(records: Sequence[Record]) -> bytes:
    count = len(records)
    head = b'{"type":"FeatureCollection","numberMatched":%d,"numberReturned":%d,"features":[' % (
        count,
        count,
    )
    return head + b",".join(rec.feature_json for rec in records) + b"]}"


def _parse_interval(text: str) -> tuple[float, float] | Response:
    parts = text.split("/")
    if len(parts) != 2:
        return detail_response(422, "Missing start/stop")
    bounds: list[float] = []
    for part in parts:
        try:
            moment = datetime.strptime(part, WIRE_FORMAT).replace(tzinfo=UTC)
        except ValueError:
            return detail_response(400, "Missing start/stop")
        bounds.append(moment.timestamp())
    return bounds[0], bounds[1]


def _inverted(start: float, stop: float) -> Response:
    def show(value: float) -> str:
        return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S")

    return detail_response(
        503, f"General failure: Search timerange is inverted : ({show(start)} ; {show(stop)})"
    )


def _int_param(
    request: RecordedRequest, name: str, default: int, errors: list[dict[str, Any]]
) -> int:
    raw = request.param(name)
    if raw is None:
        return default
    try:
        return int(raw.strip())
    except ValueError:
        errors.append(
            {
                "type": "int_parsing",
                "loc": ["query", name],
                "msg": "Input should be a valid integer, unable to parse string as an integer",
                "input": raw,
            }
        )
        return default


def _split(value: str | None) -> list[str]:
    if not value:
        return []
    return [item.strip() for item in value.split(",") if item.strip()]


class StationRoutes:
    """The ADGS and CADIP v1 endpoints over one :class:`Dataset` and :class:`StagingJobs`."""

    def __init__(self, dataset: Dataset, jobs: StagingJobs, base_url: Callable[[], str]) -> None:
        self.dataset = dataset
        self.jobs = jobs
        self.base_url = base_url

    def handle(
        self, request: RecordedRequest, segments: list[str], principal: ApiKey | None
    ) -> Response | None:
        """Answer a station route, or None when ``segments`` is not one."""
        route = self._match(segments)
        if route is None:
            return None
        if request.method != "GET":
            return detail_response(405, "Method Not Allowed")
        kind, station, action = route
        return getattr(self, f"_{action}")(request, kind, station, principal)  # type: ignore[no-any-return]

    @staticmethod
    def _match(segments: list[str]) -> tuple[str, str, str] | None:
        if segments[:2] == ["adgs", "aux"]:
            adgs_actions = {(): "stage", ("search",): "search", ("status",): "status"}
            action = adgs_actions.get(tuple(segments[2:]))
            return ("adgs", "adgs", action) if action else None
        if len(segments) >= 3 and segments[0] == "cadip":
            cadip_actions = {
                ("cadu", "search"): "search",
                ("session",): "sessions",
                ("cadu",): "stage",
                ("cadu", "status"): "status",
            }
            action = cadip_actions.get(tuple(segments[2:]))
            return ("cadip", segments[1], action) if action else None
        return None

    @staticmethod
    def _authorise(
        kind: str, station: str, access: str, principal: ApiKey | None
    ) -> Response | None:
        if kind == "cadip" and station.lower() not in CADIP_STATIONS:
            return detail_response(400, f"Unknown CADIP station: {station!r}")
        if principal is None:
            return None
        if principal.has_role(station_role(kind, station, access)):
            return None
        full = "adgs" if kind == "adgs" else f"cadip_{station.lower()}"
        return detail_response(
            401,
            f"Authorization key does not include the right role to {access} "
            f"from the {full!r} station",
        )

    # -- endpoints ------------------------------------------------------------------------

    def _search(
        self, request: RecordedRequest, kind: str, station: str, principal: ApiKey | None
    ) -> Response:
        errors: list[dict[str, Any]] = []
        interval = request.param("datetime")
        if kind == "adgs" and interval is None:
            errors.append(missing_query("datetime"))
        limit = _int_param(request, "limit", 1000, errors)
        if errors:
            return validation_error(errors)
        denied = self._authorise(kind, station, "read", principal)
        if denied is not None:
            return denied
        session_ids = _split(request.param("session_id")) if kind == "cadip" else []
        if kind == "cadip" and not (interval or session_ids):
            return detail_response(400, "Missing search parameters")
        start: float | None = None
        stop: float | None = None
        if interval or kind == "adgs":
            parsed = _parse_interval(interval or "")
            if isinstance(parsed, Response):
                return parsed
            start, stop = parsed
        if limit < 1:
            return detail_response(422, "Pagination cannot be less 0")
        if start is not None and stop is not None and start > stop:
            return _inverted(start, stop)
        sortby = request.param("sortby") or "-created"
        if kind == "adgs":
            assert start is not None and stop is not None
            records = self.dataset.search_products(start, stop, limit, sortby)
        else:
            records = self.dataset.search_files(start, stop, session_ids or None, limit, sortby)
        self.jobs.register(kind, records)
        return Response(200, _feature_collection(records))

    def _sessions(
        self, request: RecordedRequest, kind: str, station: str, principal: ApiKey | None
    ) -> Response:
        denied = self._authorise(kind, station, "read", principal)
        if denied is not None:
            return denied
        ids = _split(request.param("id"))
        platforms = _split(request.param("platform"))
        start_date, stop_date = request.param("start_date"), request.param("stop_date")
        start: float | None = None
        stop: float | None = None
        if start_date and stop_date:
            parsed = _parse_interval(f"{start_date}/{stop_date}")
            if isinstance(parsed, Response):
                return parsed
            start, stop = parsed
        if not (ids or platforms or start is not None):
            return detail_response(400, "Missing search parameters")
        if station.lower() != "cadip":
            return Response(500, b"Internal Server Error", "text/plain; charset=utf-8")
        sessions = self.dataset.search_sessions(ids or None, platforms or None, start, stop)
        base = self.base_url()
        features = [self.dataset.session_feature(session, base) for session in sessions]
        for session in sessions:
            self.jobs.register("cadip", self.dataset.session_files(session.session_id))
        return json_response(
            200,
            {
                "type": "FeatureCollection",
                "numberMatched": len(features),
                "numberReturned": len(features),
                "features": features,
            },
        )

    def _stage(
        self, request: RecordedRequest, kind: str, station: str, principal: ApiKey | None
    ) -> Response:
        name = request.param("name")
        if name is None:
            return validation_error([missing_query("name")])
        denied = self._authorise(kind, station, "download", principal)
        if denied is not None:
            return denied
        if self.jobs.stage(kind, name, request.param("local"), request.param("obs")):
            return json_response(200, {"started": "true"})
        return json_response(503, {"started": "false"})

    def _status(
        self, request: RecordedRequest, kind: str, station: str, principal: ApiKey | None
    ) -> Response:
        name = request.param("name")
        if name is None:
            return validation_error([missing_query("name")])
        denied = self._authorise(kind, station, "download", principal)
        if denied is not None:
            return denied
        status = self.jobs.status(kind, name)
        if status is None:
            cls, table = _TABLES[kind]
            return detail_response(
                404, f"No {cls} entry found in table {table!r} for name={name!r}"
            )
        return json_response(200, status)
