"""RS-Server 0.2 staging as an OGC API - Processes service: ``/processes`` and ``/jobs``.

``POST /processes/staging/execution`` with ``{"inputs": {"collection": C, "items": {"href":
<v2 search or items URL>} | {"value": <FeatureCollection>}}}`` answers **201 with the job even
when it failed at once** (the status is in the body), as the real server does:

- the target collection must exist in the simulator's catalog under the caller's owner id
  (the API key's ``user_login``, non-alphanumerics removed; in local mode ``inputs.owner`` or
  the OS user), else the job is ``failed`` with the recorded message
  ``Failed to start the staging process. Checking the collection 'C' failed !``;
- ``href`` must be one of this simulator's STAC station searches (answered as a
  GET with the caller's key); ``value`` features must be items of a station service (by id,
  services in the order served). ``asset_names`` (RS-Server 1.0a14) keeps only the named
  assets. Otherwise the job is ``failed`` at once (the simulator's message: the
  real one was not recorded).

A started job is ``accepted`` in the POST answer, ``running`` (``progress`` growing) until
``staging_duration`` seconds passed, then ``successful`` (``progress`` 100) or ``failed``
(``staging_failure_rate``, or ``fail_staging(name)`` with an item id or asset name of the job).
On success each item lands in the catalog collection (replacing an item of the same id), its
asset hrefs rewritten to ``s3://rs-cluster-catalog/stations/<owner>/<collection>/<asset key>``.
``GET /jobs/{id}/results`` of a successful job lists the staged item ids and asset names (the
simulator's shape; 404 before). ``DELETE /jobs/{id}`` dismisses a job (``dismissed``; a
running job then stages nothing).
Jobs advance lazily: on every request the simulator serves and on every ``snapshot``.

Example:
    >>> job = Job("j1", "staging", 0.0)
    >>> job.to_json()["status"]
    'accepted'
"""

from __future__ import annotations

import copy
import getpass
import json
import random
import re
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from .auth import ApiKey
from .catalog import Catalog
from .messages import Headers, RecordedRequest, Response, json_response
from .v2_stations import V2Stations

__all__ = ["S3_BUCKET", "Job", "StagingProcesses"]

S3_BUCKET = "rs-cluster-catalog"
_JOBS_LINK = {
    "href": "string",
    "rel": "service",
    "type": "application/json",
    "hreflang": "en",
    "title": "List of jobs",
}


def _stamp(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sanitise_owner(login: str) -> str:
    """Remove every non-alphanumeric character (``test_user`` -> ``testuser``)."""
    return re.sub(r"[^a-zA-Z0-9]+", "", login)


class Job:
    """One staging job."""

    def __init__(self, job_id: str, process: str, created: float) -> None:
        self.job_id = job_id
        self.process = process
        self.created = created
        self.started = created
        self.updated = created
        self.status = "accepted"
        self.message = "Job accepted"
        self.progress = 0
        self.deadline = 0.0
        self.start_monotonic = 0.0
        self.duration = 0.0
        self.owner = ""
        self.collection = ""
        self.items: list[dict[str, Any]] = []

    def to_json(self) -> dict[str, Any]:
        """The job as ``GET /jobs/{id}`` shows it."""
        return {
            "status": self.status,
            "type": "process",
            "message": self.message,
            "progress": self.progress,
            "processID": self.process,
            "created": _stamp(self.created),
            "started": _stamp(self.started),
            "updated": _stamp(self.updated),
            "jobID": self.job_id,
        }

    @property
    def names(self) -> set[str]:
        """Item ids and asset names of this job (what ``fail_staging`` matches)."""
        found = {str(item.get("id")) for item in self.items}
        for item in self.items:
            found.update(str(name) for name in (item.get("assets") or {}))
        return found


def _keep_assets(job: Job, names: Any) -> str | None:
    """RS-Server 1.0a14's ``asset_names``: stage only these assets (items left without one
    are dropped); an error message when the input is bad or nothing is left."""
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        return "Failed to start the staging process. 'asset_names' must be a list of names"
    wanted = set(names)
    kept: list[dict[str, Any]] = []
    for item in job.items:
        assets = {k: v for k, v in (item.get("assets") or {}).items() if k in wanted}
        if assets:
            kept.append({**item, "assets": assets})
    if not kept:
        return "Failed to start the staging process. No asset named in 'asset_names'"
    job.items = kept
    return None


class StagingProcesses:
    """The staging process, its jobs and their state machine (thread-safe)."""

    def __init__(
        self,
        stations: V2Stations,
        catalog: Catalog,
        base_url: Callable[[], str],
        fetch: Callable[[RecordedRequest], Response],
        *,
        duration: float = 0.2,
        failure_rate: float = 0.0,
        seed: int = 0,
    ) -> None:
        self.stations = stations
        self.catalog = catalog
        self.base_url = base_url
        self.fetch = fetch
        self.duration = max(0.0, float(duration))
        self.failure_rate = float(failure_rate)
        self._rng = random.Random(seed)
        self._lock = threading.RLock()
        self._jobs: dict[str, Job] = {}
        self._forced: dict[str, str] = {}

    # -- public ---------------------------------------------------------------------------

    def fail(self, name: str, message: str) -> None:
        """Make the current or next job holding ``name`` (item id or asset) end ``failed``."""
        with self._lock:
            self._forced[name] = message

    def snapshot(self) -> list[dict[str, Any]]:
        """Every job (oldest first), after advancing due jobs; plus ``owner``/``collection``/
        ``items`` (ids)."""
        with self._lock:
            self.advance()
            result = []
            for job in self._jobs.values():
                shown = job.to_json()
                shown.update(
                    owner=job.owner,
                    collection=job.collection,
                    items=[str(item.get("id")) for item in job.items],
                )
                result.append(shown)
            return result

    def advance(self) -> None:
        """Move running jobs on (progress, end at their deadline)."""
        now = time.monotonic()
        with self._lock:
            for job in self._jobs.values():
                if job.status not in ("accepted", "running"):
                    continue
                if now >= job.deadline:
                    self._finish(job)
                else:
                    elapsed = now - job.start_monotonic
                    job.status = "running"
                    job.message = "Staging in progress"
                    job.progress = min(99, int(100 * elapsed / job.duration)) if job.duration else 0
                    job.updated = time.time()

    # -- routes ---------------------------------------------------------------------------

    @staticmethod
    def owns(segments: list[str]) -> bool:
        """Whether ``segments`` is a staging path."""
        return bool(segments) and segments[0] in ("processes", "jobs")

    def handle(
        self, request: RecordedRequest, segments: list[str], principal: ApiKey | None
    ) -> Response:
        """Answer ``/processes...`` and ``/jobs...``."""
        while len(segments) > 1 and segments[-1] == "":
            segments = segments[:-1]
        method = request.method
        with self._lock:
            self.advance()
            if segments == ["processes"] and method == "GET":
                return json_response(
                    200,
                    {
                        "processes": [{"id": "Staging", "version": "1.0.0"}],
                        "links": [
                            {
                                "href": f"{self.base_url()}/processes",
                                "rel": "self",
                                "type": "application/json",
                                "title": "List of processes",
                            }
                        ],
                    },
                )
            if segments == ["processes", "staging"] and method == "GET":
                return json_response(200, {"id": "Staging", "version": "1.0.0"})
            if segments == ["processes", "staging", "execution"] and method == "POST":
                return self._execute(request, principal)
            if segments == ["jobs"] and method == "GET":
                jobs = [job.to_json() for job in self._jobs.values()]
                return json_response(
                    200, {"jobs": jobs, "numberMatched": len(jobs), "links": [dict(_JOBS_LINK)]}
                )
            if len(segments) == 2 and segments[0] == "jobs" and method in ("GET", "DELETE"):
                job = self._jobs.get(segments[1])
                if job is None:
                    return json_response(404, {"message": f"Job with ID {segments[1]} not found"})
                if method == "DELETE":
                    if job.status in ("accepted", "running"):
                        job.status, job.message = "dismissed", "Job dismissed"
                        job.updated = time.time()
                    elif job.status != "dismissed":
                        job.status, job.message = "dismissed", "Job dismissed"
                return json_response(200, job.to_json())
            if len(segments) == 3 and segments[::2] == ["jobs", "results"] and method == "GET":
                return self._results(segments[1])
            if segments[:1] == ["processes"] and method == "GET":
                return json_response(404, {"message": f"Process {segments[-1]!r} not found"})
        return json_response(404, {"message": "Not Found"})

    def _results(self, job_id: str) -> Response:
        job = self._jobs.get(job_id)
        if job is None:
            return json_response(404, {"message": f"Job with ID {job_id} not found"})
        if job.status != "successful":
            return json_response(
                404, {"message": f"Job with ID {job_id} has no results (status {job.status})"}
            )
        staged = [
            {"id": str(item.get("id")), "assets": sorted(item.get("assets") or {})}
            for item in job.items
        ]
        return json_response(200, {"collection": job.collection, "items": staged})

    # -- execution ------------------------------------------------------------------------

    def _owner(self, inputs: dict[str, Any], principal: ApiKey | None) -> str:
        if principal is not None:
            return sanitise_owner(principal.user_login)
        given = inputs.get("owner")
        return sanitise_owner(str(given) if given else getpass.getuser())

    def _execute(self, request: RecordedRequest, principal: ApiKey | None) -> Response:
        try:
            body = request.json()
        except ValueError:
            body = None
        inputs = body.get("inputs") if isinstance(body, dict) else None
        if not isinstance(inputs, dict) or not isinstance(inputs.get("collection"), str):
            return json_response(
                422,
                {
                    "detail": [
                        {
                            "type": "missing",
                            "loc": ["body", "inputs", "collection"],
                            "msg": "Field required",
                            "input": inputs,
                        }
                    ]
                },
            )
        now = time.time()
        job = Job(str(uuid.uuid4()), "staging", now)
        job.owner = self._owner(inputs, principal)
        job.collection = str(inputs["collection"])
        failure = self._prepare(job, inputs.get("items"), request.headers)
        if failure is None and inputs.get("asset_names") is not None:
            failure = _keep_assets(job, inputs["asset_names"])
        if failure is not None:
            job.status, job.message = "failed", failure
            self._jobs[job.job_id] = job
            return json_response(201, job.to_json())
        job.start_monotonic = time.monotonic()
        job.duration = self.duration
        job.deadline = job.start_monotonic + self.duration
        job.message = "Job accepted"
        self._jobs[job.job_id] = job  # only now: resolving an href re-enters advance()
        return json_response(201, job.to_json())

    def _prepare(self, job: Job, items: Any, headers: Headers) -> str | None:
        """Resolve the job's items; an error message when it must fail at once."""
        with self.catalog._lock:  # same package: the catalog has no public existence check
            exists = (job.owner, job.collection) in self.catalog._collections
        if not exists:
            return (
                "Failed to start the staging process. "
                f"Checking the collection {job.collection!r} failed !"
            )
        if isinstance(items, dict) and isinstance(items.get("href"), str):
            resolved = self._from_href(items["href"], headers)
        elif isinstance(items, dict) and isinstance(items.get("value"), dict):
            resolved = self._from_value(items["value"])
        else:
            return "Failed to start the staging process. No 'href' or 'value' in the items input"
        if isinstance(resolved, str):
            return resolved
        if not resolved:
            return "Failed to start the staging process. No item to stage"
        job.items = resolved
        return None

    def _from_href(self, href: str, headers: Headers) -> list[dict[str, Any]] | str:
        parts = urlsplit(href)
        ours = urlsplit(self.base_url())
        path = parts.path
        prefixes = tuple(f"/{service}/" for service in self.stations.services)
        if (parts.netloc and parts.netloc != ours.netloc) or not path.startswith(prefixes):
            return f"Failed to start the staging process. Unable to get the items from {href!r}"
        key = headers.get("x-api-key")
        forwarded = Headers([("x-api-key", key)] if key else [])
        answer = self.fetch(RecordedRequest("GET", path, parts.query, forwarded, b""))
        if answer.status != 200:
            return (
                "Failed to start the staging process. Unable to get the items from "
                f"{href!r}: HTTP {answer.status}"
            )
        found = json.loads(answer.body)
        features = found.get("features") if found.get("type") == "FeatureCollection" else [found]
        return [f for f in features or [] if isinstance(f, dict)]

    def _from_value(self, value: dict[str, Any]) -> list[dict[str, Any]] | str:
        features = value.get("features") if value.get("type") == "FeatureCollection" else [value]
        resolved: list[dict[str, Any]] = []
        for feature in features or []:
            item_id = str(feature.get("id")) if isinstance(feature, dict) else ""
            for service in self.stations.services:
                item = self.stations.find(service, item_id)
                if item is not None:
                    coll = str(feature.get("collection") or service)
                    resolved.append(item.render(self.base_url(), coll))
                    break
            else:
                return f"Failed to start the staging process. Unknown item {item_id!r}"
        return resolved

    def _finish(self, job: Job) -> None:
        forced = next((self._forced.pop(n) for n in sorted(job.names) if n in self._forced), None)
        job.updated = time.time()
        if forced is not None:
            job.status, job.message = "failed", forced
            return
        if self.failure_rate > 0 and self._rng.random() < self.failure_rate:
            job.status = "failed"
            job.message = "Simulated staging failure (staging_failure_rate)"
            return
        try:
            self._publish(job)
        except Exception as exc:  # the catalog refused an item: report it like the server
            job.status, job.message = "failed", f"Failed to publish the staged items: {exc}"
            return
        job.status, job.message, job.progress = "successful", "Finished", 100

    def _publish(self, job: Job) -> None:
        key = (job.owner, job.collection)
        with self.catalog._lock:
            if key not in self.catalog._collections:
                raise RuntimeError(f"collection {job.collection!r} disappeared")
            try:
                self._store(job, key)
            finally:
                self.catalog.selections.changed()

    def _store(self, job: Job, key: tuple[str, str]) -> None:
        """Write the job's items into the catalog (the caller holds the catalog's lock)."""
        for feature in job.items:
            body = copy.deepcopy(feature)
            body["assets"] = {
                name: {
                    **{k: v for k, v in asset.items() if k != "href"},
                    "href": f"s3://{S3_BUCKET}/stations/{job.owner}/{job.collection}/{name}",
                }
                for name, asset in (body.get("assets") or {}).items()
            }
            body["collection"] = job.collection
            body.pop("links", None)
            previous = self.catalog._items[key].get(str(body["id"]))
            item = self.catalog._prepare_item(body, job.owner, job.collection, previous)
            self.catalog._items[key][str(body["id"])] = item
