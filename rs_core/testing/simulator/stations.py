"""RS-Server v1 station conventions: the staging state machine, helpers, and the
:class:`V1Station` building block a plugin's fake is made of.

The checks run in RS-Server's order: API key (403, done by the server before any route), then
FastAPI's parameter validation (422 with a pydantic list), then the station name (400) and the
role (401), then the endpoint's own rules.

Staging follows RS-Server v1: a search registers each returned name in the service's status
table as ``NOT_STARTED``. Staging a registered name resets it and starts a job that is
``IN_PROGRESS`` at once (RS-Server answers only after its worker marked it so) and ends
``DONE`` or ``FAILED`` ``staging_duration`` seconds later; a name no search returned is
refused with 503 ``{"started": "false"}``. A timer thread ends jobs on time (no polling) and
every status read also finishes due jobs, so a read after the duration never sees a stale
state. With ``local=/dir`` a ``DONE`` job leaves a sparse file of the record's size at
``/dir/<name>``, written under a temporary name then renamed. Times are UTC,
``%Y-%m-%dT%H:%M:%S.%f``; an unknown name's status is 404.

Example:
    >>> jobs = StagingJobs(duration=0)
    >>> jobs.add_service("things", lambda name: None)
    >>> jobs.stage("things", "never-searched", None, None)   # never returned by a search
    False
"""

from __future__ import annotations

import heapq
import os
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from attrs import define

from .auth import ApiKey
from .dataset import Record, RecordIndex, sorted_capped
from .fakes import FakeContext, check_dataset
from .messages import (
    RecordedRequest,
    Response,
    detail_response,
    json_response,
    missing_query,
    validation_error,
)

__all__ = [
    "STATUS_FORMAT",
    "WIRE_FORMAT",
    "StagingJobs",
    "V1Station",
    "feature_collection",
    "int_param",
    "inverted_range",
    "parse_interval",
    "split_list",
    "stage_answer",
    "status_answer",
]

WIRE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
STATUS_FORMAT = "%Y-%m-%dT%H:%M:%S.%f"


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
    """The v1 status tables (one per service, e.g. one per fake) and the jobs that move them.

    A fake registers its service with :meth:`add_service` (how to find a record by name).
    Thread-safe. ``fail(name)`` makes the current or next job of ``name`` end FAILED (once).
    """

    def __init__(
        self,
        duration: float = 0.2,
        failure_rate: float = 0.0,
        seed: int = 0,
        require_search_before_staging: bool = True,
    ) -> None:
        self.duration = max(0.0, float(duration))
        self.failure_rate = float(failure_rate)
        self.require_search_before_staging = require_search_before_staging
        self._rng = random.Random(seed)
        self._cond = threading.Condition()
        self._lookups: dict[str, Callable[[str], Record | None]] = {}
        self._seen: dict[str, dict[str, Record]] = {}
        self._db_ids: dict[str, dict[str, int]] = {}
        self._tables: dict[str, dict[str, _Status]] = {}
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

    def add_service(self, service: str, lookup: Callable[[str], Record | None]) -> None:
        """Give ``service`` a status table; ``lookup(name)`` finds a record (relaxed mode)."""
        with self._cond:
            self._lookups[service] = lookup
            self._seen.setdefault(service, {})
            self._db_ids.setdefault(service, {})
            self._tables.setdefault(service, {})

    def _lookup(self, service: str) -> Callable[[str], Record | None]:
        return self._lookups[service]

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


def feature_collection(records: Sequence[Record]) -> bytes:
    count = len(records)
    head = b'{"type":"FeatureCollection","numberMatched":%d,"numberReturned":%d,"features":[' % (
        count,
        count,
    )
    return head + b",".join(rec.feature_json for rec in records) + b"]}"


def parse_interval(text: str) -> tuple[float, float] | Response:
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


def inverted_range(start: float, stop: float) -> Response:
    def show(value: float) -> str:
        return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S")

    return detail_response(
        503, f"General failure: Search timerange is inverted : ({show(start)} ; {show(stop)})"
    )


def int_param(
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


def split_list(value: str | None) -> list[str]:
    if not value:
        return []
    return [item.strip() for item in value.split(",") if item.strip()]


def stage_answer(
    jobs: StagingJobs, service: str, request: RecordedRequest, denied: Response | None = None
) -> Response:
    """v1 staging (``?name=N[&local=][&obs=]``): 200 ``{"started": "true"}``, or 503
    ``{"started": "false"}`` for a name the status table does not know; ``denied`` (a 400/401
    of the caller's checks) is answered after the parameter validation, as RS-Server does."""
    name = request.param("name")
    if name is None:
        return validation_error([missing_query("name")])
    if denied is not None:
        return denied
    if jobs.stage(service, name, request.param("local"), request.param("obs")):
        return json_response(200, {"started": "true"})
    return json_response(503, {"started": "false"})


def status_answer(
    jobs: StagingJobs,
    service: str,
    request: RecordedRequest,
    denied: Response | None = None,
    not_found: Callable[[str], str] | None = None,
) -> Response:
    """v1 status (``?name=N``): the status object, or 404 ``{"detail": not_found(name)}``."""
    name = request.param("name")
    if name is None:
        return validation_error([missing_query("name")])
    if denied is not None:
        return denied
    status = jobs.status(service, name)
    if status is None:
        detail = not_found(name) if not_found else f"No status entry found for name={name!r}"
        return detail_response(404, detail)
    return json_response(200, status)


def _v1_record(feature: Mapping[str, Any], order: int) -> Record:
    properties = feature.get("properties") or {}
    assets = feature.get("assets") or {}
    size = next((a.get("file:size") for a in assets.values() if isinstance(a, dict)), 0)
    item_id = str(feature.get("id"))
    source = {
        "Name": item_id,
        "Id": str(uuid.uuid5(uuid.NAMESPACE_URL, item_id)),
        "Size": size or 0,
        "PublicationDate": properties.get("created"),
    }
    return Record(source, dict(feature), order, properties.get("created"))


class V1Station:
    """A fake v1 station over a list of STAC features: the building block of a plugin's fake.

    Serves ``GET <search_path>?datetime=S/E[&limit][&sortby][&<filter params>]`` (features
    ``created`` in ``[S, E]``; ``datetime`` required; default sort ``-created``), staging
    ``GET <staging_path>?name=N`` and ``GET <status_path>?name=N`` with the kit's rules (see
    :mod:`.fakes`). ``filters`` maps extra query parameters to the property they must equal
    (``{"product_type": "edrs:product_type"}``); ``routes`` adds GET routes by path
    (``handler(request)`` answers a :class:`Response` or ``(status, value)``). A fake with its
    own mapping passes ready :class:`~.dataset.Record` objects as ``records`` (``features``
    is then ignored); ``not_found(name)`` words the status 404; ``check=False`` skips the
    kit's dataset rules (for records a user supplies through the simulator's dataset). In
    cluster mode a key needs the role
    ``rs_<service>_read`` to search and ``rs_<service>_download`` to stage (a
    :meth:`~.auth.ApiKey.full_access` key holds every station role). The dataset is checked
    at construction (:func:`~.fakes.check_dataset`).

    Example:
        >>> from .fakes import FakeContext
        >>> features = [{"id": f"f{i}", "properties": {"created": f"202{i}-01-01T00:00:00Z"},
        ...              "assets": {"file": {"file:size": 10}}} for i in range(3)]
        >>> context = FakeContext(None, lambda: "http://x", StagingJobs())  # type: ignore[arg-type]
        >>> V1Station(context, "things", features).search_path
        '/things/search'
    """

    def __init__(
        self,
        context: FakeContext,
        service: str,
        features: Sequence[Mapping[str, Any]],
        *,
        search_path: str | None = None,
        staging_path: str | None = None,
        status_path: str | None = None,
        filters: Mapping[str, str] | None = None,
        routes: Mapping[str, Callable[[RecordedRequest], Response | tuple[int, Any]]] | None = None,
        records: Sequence[Record] | None = None,
        not_found: Callable[[str], str] | None = None,
        check: bool = True,
    ) -> None:
        if check:
            check_dataset((r.feature for r in records) if records else features, service)
        self.service = service
        self.not_found = not_found
        self.jobs = context.jobs
        self.search_path = search_path or f"/{service}/search"
        self.staging_path = staging_path or f"/{service}"
        self.status_path = status_path or f"/{service}/status"
        self.filters = dict(filters or {})
        self.routes = dict(routes or {})
        if records is None:
            records = [_v1_record(f, i) for i, f in enumerate(features)]
        self.index = RecordIndex(list(records))
        self.jobs.add_service(service, self.index.by_name.get)

    def stac_services(self) -> Sequence[Any]:
        """None: a v1 station."""
        return ()

    def _denied(self, principal: ApiKey | None, access: str) -> Response | None:
        role = f"rs_{self.service}_{access}"
        if principal is None or principal.has_station_role(role):
            return None
        return detail_response(
            401,
            f"Authorization key does not include the right role to {access} "
            f"from the {self.service!r} station",
        )

    def owns_v1(self, segments: list[str]) -> bool:
        """Whether ``segments`` is one of the station's paths."""
        path = "/" + "/".join(segments)
        return path in (self.search_path, self.staging_path, self.status_path) or (
            path in self.routes
        )

    def route_v1(
        self, request: RecordedRequest, segments: list[str], principal: ApiKey | None
    ) -> Response | None:
        """Answer the station's paths (GET only), or None."""
        path = "/" + "/".join(segments)
        handlers: dict[str, Callable[[RecordedRequest, ApiKey | None], Response]] = {
            self.search_path: self._search,
            self.staging_path: lambda r, p: stage_answer(
                self.jobs, self.service, r, self._denied(p, "download")
            ),
            self.status_path: lambda r, p: status_answer(
                self.jobs, self.service, r, self._denied(p, "download"), self.not_found
            ),
        }
        handler = handlers.get(path)
        extra = self.routes.get(path)
        if handler is None and extra is None:
            return None
        if request.method != "GET":
            return detail_response(405, "Method Not Allowed")
        if extra is not None:
            denied = self._denied(principal, "read")
            if denied is not None:
                return denied
            answer = extra(request)
            return answer if isinstance(answer, Response) else json_response(*answer)
        assert handler is not None
        return handler(request, principal)

    def _search(self, request: RecordedRequest, principal: ApiKey | None) -> Response:
        errors: list[dict[str, Any]] = []
        interval = request.param("datetime")
        if interval is None:
            errors.append(missing_query("datetime"))
        limit = int_param(request, "limit", 1000, errors)
        if errors:
            return validation_error(errors)
        denied = self._denied(principal, "read")
        if denied is not None:
            return denied
        parsed = parse_interval(interval or "")
        if isinstance(parsed, Response):
            return parsed
        start, stop = parsed
        if limit < 1:
            return detail_response(422, "Pagination cannot be less 0")
        if start > stop:
            return inverted_range(start, stop)
        wanted = {p: request.param(p) for p in self.filters if request.param(p) is not None}
        records = [
            rec
            for rec in ([] if start == stop else self.index.between(start, stop))
            if all(rec.feature["properties"].get(self.filters[p]) == v for p, v in wanted.items())
        ]
        records = sorted_capped(records, request.param("sortby") or "-created", limit)
        self.jobs.register(self.service, records)
        return Response(200, feature_collection(records))
