"""RS-Server v2 (0.2 and later) station conventions shared by every station plugin.

v2 turned each station service into a read-only STAC API and staging into an OGC API -
Processes job. This module speaks both once, naming no station; a plugin names its service
(``"auxip"``, ``"cadip"``...), the collection of a station, and how a v2 item becomes the
file-level results of the seed API:

* ``GET <base>/<service>`` (landing page: also the generation probe),
  ``GET <base>/<service>/collections``, ``GET <base>/<service>[/collections/{c}]/queryables``;
* ``GET <base>/<service>/collections/{c}/items?datetime=S/E&limit=N&sortby=±f&filter=...``
  and ``GET <base>/<service>/search?collections=c&ids=a,b``, paged by ``next`` links
  (``token=next:page=N``) that are followed lazily, only while more results are wanted. A
  ``next`` link to another origin is followed without the API key (the core HTTP layer sends
  the key to trusted origins only);
* ``POST <staging>/processes/staging/execution`` with ``{"inputs": {"collection": C, "items":
  {"value": <FeatureCollection>} | {"href": <search URL>}}}`` answers **201 even for a job that
  failed at once**: the body says; ``GET <staging>/jobs[/{id}]``, ``DELETE <staging>/jobs/{id}``.

CQL2 filters are sent as ``cql2-text`` on ``GET`` (what RS-Server 0.2 takes there); a
``cql2-json`` dict is converted client-side by :func:`cql2_text`. RS-Server 0.2 itself accepts
only ``=``, ``and`` and the temporal operators; anything else is its 422.

Example::

    from rs_core.rsserver_v2 import StationProtocolV2, V2Endpoints

    class PripProtocolV2(StationProtocolV2):
        service = "prip"
"""

from __future__ import annotations

import copy
import functools
import heapq
import itertools
import json
import logging
import reprlib
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar, cast

import pystac
import requests
from attrs import define, evolve, field, frozen

from rs_core.cql2 import all_of, json_copy, to_cql2_json
from rs_core.dates import parse_datetime
from rs_core.enums import EDownloadStatus
from rs_core.errors import (
    BadResponseError,
    HttpError,
    InvalidInputError,
    NotFoundError,
    RsConnectionError,
    RsError,
    RsTimeoutError,
    StagingError,
    UnknownCollectionError,
    UnsortableFieldError,
    UnsupportedOperationError,
)
from rs_core.http import RETRY_STATUSES, HttpClient, decode_json, require
from rs_core.items import LazyItemList
from rs_core.items import json_copy as copy_json
from rs_core.roles import staging_role
from rs_core.rsserver_v1 import (
    ItemBuilder,
    StationItemCollection,
    content_problem,
    feature_problem,
    retry_after_of,
    retry_delay,
)
from rs_core.staging import StagingStatus

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "JOBS_PATH",
    "JOB_STATUSES",
    "MAX_REMEMBERED_FILES",
    "STAGING_EXECUTION_PATH",
    "StagingJob",
    "StationProtocolV2",
    "V2Endpoints",
    "V2State",
    "check_filter",
    "cql2_text",
    "is_stac_landing",
    "parse_job",
]

STAGING_EXECUTION_PATH = "/processes/staging/execution"
JOBS_PATH = "/jobs"
DEFAULT_PAGE_SIZE = 1000
"""Page size asked for when the caller gives no ``limit`` (v1's default cap, one page)."""

JOB_STATUSES: dict[str, EDownloadStatus] = {
    "accepted": EDownloadStatus.NOT_STARTED,
    "running": EDownloadStatus.IN_PROGRESS,
    "successful": EDownloadStatus.DONE,
    "failed": EDownloadStatus.FAILED,
    "dismissed": EDownloadStatus.FAILED,
}
"""OGC API - Processes job statuses and the seed API's staging statuses."""

_LOG = logging.getLogger("rs_core.rsserver_v2")
_COMPARISONS = {"=", "<>", "<", "<=", ">", ">="}
_IDENT_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_:.-")


# -- CQL2 -----------------------------------------------------------------------------------


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _identifier(name: Any) -> str:
    text = str(name)
    if text and (text[0].isalpha() or text[0] == "_") and set(text) <= _IDENT_CHARS:
        return text
    return '"' + text.replace('"', '""') + '"'


def _cql2_value(node: Any) -> str:
    if isinstance(node, bool):
        return "TRUE" if node else "FALSE"
    if isinstance(node, (int, float)):
        return repr(node)
    if isinstance(node, str):
        return _quote(node)
    if isinstance(node, list):
        return "(" + ", ".join(_cql2_value(v) for v in node) + ")"
    if isinstance(node, Mapping):
        if "property" in node:
            return _identifier(node["property"])
        if "timestamp" in node:
            return f"TIMESTAMP({_quote(str(node['timestamp']))})"
        if "date" in node:
            return f"DATE({_quote(str(node['date']))})"
        if "interval" in node:
            bounds = node["interval"]
            if not isinstance(bounds, list) or len(bounds) != 2:
                raise InvalidInputError(f"a CQL2 interval needs two bounds, got {bounds!r}")
            return "INTERVAL(" + ", ".join(_quote(str(b)) for b in bounds) + ")"
        if "op" in node:
            return "(" + cql2_text(node) + ")"
    raise InvalidInputError(f"cannot write {node!r} as CQL2 text")


def cql2_text(expression: Mapping[str, Any]) -> str:
    """Write a ``cql2-json`` expression as ``cql2-text``.

    >>> cql2_text({"op": "and", "args": [
    ...     {"op": "=", "args": [{"property": "platform"}, "sentinel-1a"]},
    ...     {"op": "t_after", "args": [{"property": "created"},
    ...                               {"timestamp": "2024-01-01T00:00:00Z"}]}]})
    "platform = 'sentinel-1a' AND T_AFTER(created, TIMESTAMP('2024-01-01T00:00:00Z'))"
    """
    if not isinstance(expression, Mapping) or "op" not in expression:
        raise InvalidInputError(f"a cql2-json filter is an object with 'op', got {expression!r}")
    op = str(expression["op"]).lower()
    args = expression.get("args", [])
    if not isinstance(args, list):
        raise InvalidInputError(f"CQL2 'args' must be a list, got {args!r}")
    if op in ("and", "or"):
        if len(args) < 2:
            raise InvalidInputError(f"CQL2 {op!r} needs at least two arguments")
        parts = []
        for arg in args:
            text = cql2_text(arg)
            inner = str(arg.get("op", "")).lower() if isinstance(arg, Mapping) else ""
            parts.append(f"({text})" if inner in ("and", "or") and inner != op else text)
        return f" {op.upper()} ".join(parts)
    if op == "not":
        if len(args) != 1:
            raise InvalidInputError("CQL2 'not' takes one argument")
        return f"NOT ({cql2_text(args[0])})"
    if op in _COMPARISONS or op == "like":
        if len(args) != 2:
            raise InvalidInputError(f"CQL2 {op!r} takes two arguments")
        return f"{_cql2_value(args[0])} {op.upper()} {_cql2_value(args[1])}"
    if op == "between":
        if len(args) != 3:
            raise InvalidInputError("CQL2 'between' takes three arguments")
        low, high = _cql2_value(args[1]), _cql2_value(args[2])
        return f"{_cql2_value(args[0])} BETWEEN {low} AND {high}"
    if op == "in":
        if len(args) != 2 or not isinstance(args[1], list):
            raise InvalidInputError("CQL2 'in' takes a value and a list")
        return f"{_cql2_value(args[0])} IN {_cql2_value(args[1])}"
    if op == "isnull":
        if len(args) != 1:
            raise InvalidInputError("CQL2 'isNull' takes one argument")
        return f"{_cql2_value(args[0])} IS NULL"
    if op.replace("_", "").isalnum() and op[:1].isalpha():  # t_after, s_intersects, a_contains
        return f"{op.upper()}(" + ", ".join(_cql2_value(a) for a in args) + ")"
    raise InvalidInputError(f"unknown CQL2 operator {expression['op']!r}")


def check_filter(value: Any) -> str | None:
    """``None``, or a filter as ``cql2-text``: a dict (cql2-json) is converted, text kept.

    >>> check_filter("platform='sentinel-1a'")
    "platform='sentinel-1a'"
    >>> check_filter({"op": "=", "args": [{"property": "platform"}, "sentinel-1a"]})
    "platform = 'sentinel-1a'"
    """
    if value is None:
        return None
    if isinstance(value, str):
        if not value.strip():
            raise InvalidInputError("filter is an empty string")
        return value.strip()
    if isinstance(value, Mapping):
        return cql2_text(value)
    raise InvalidInputError(
        f"filter must be a cql2-json dict or a cql2-text string, got {type(value).__name__}"
    )


# -- records -----------------------------------------------------------------------------


def _job_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return parse_datetime(value)
    except InvalidInputError:
        return None


@frozen
class StagingJob:
    """One OGC API - Processes staging job as the server last reported it.

    ``status`` is the server's word (``accepted``, ``running``, ``successful``, ``failed``,
    ``dismissed``); :attr:`download_status` maps it onto :class:`~rs_core.EDownloadStatus`.
    ``files`` are the file names this client staged with it, ``items`` the item ids.

    >>> job = StagingJob("j1", "http://h/jobs/j1", "running", "Staging in progress", 40)
    >>> job.download_status.value, job.final
    ('IN_PROGRESS', False)
    """

    job_id: str
    href: str
    status: str
    message: str = ""
    progress: int | None = None
    created: datetime | None = None
    started: datetime | None = None
    updated: datetime | None = None
    collection: str = ""
    items: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    raw: dict[str, Any] = field(factory=dict, eq=False, repr=False)

    @property
    def download_status(self) -> EDownloadStatus:
        """The seed API's status: accepted NOT_STARTED, running IN_PROGRESS, successful DONE,
        failed and dismissed FAILED."""
        return JOB_STATUSES.get(self.status, EDownloadStatus.IN_PROGRESS)

    @property
    def final(self) -> bool:
        """``successful``, ``failed`` or ``dismissed``."""
        return self.status in ("successful", "failed", "dismissed")

    def as_status(self, name: str) -> StagingStatus:
        """The staging status of file ``name`` that this job holds."""
        return StagingStatus(
            name=name,
            status=self.download_status,
            message=self.message,
            download_start=self.started,
            download_stop=self.updated if self.final else None,
            raw=self.raw,
        )

    def evolve(self, **changes: Any) -> StagingJob:
        """A copy with ``changes``."""
        values = {
            name: getattr(self, name)
            for name in (
                "job_id",
                "href",
                "status",
                "message",
                "progress",
                "created",
                "started",
                "updated",
                "collection",
                "items",
                "files",
                "raw",
            )
        }
        values.update(changes)
        return StagingJob(**values)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict."""
        return {
            "job_id": self.job_id,
            "href": self.href,
            "status": self.status,
            "message": self.message,
            "progress": self.progress,
            "collection": self.collection,
            "items": list(self.items),
            "files": list(self.files),
        }


def parse_job(
    body: Any, response: requests.Response, *, href_of: Callable[[str], str], what: str
) -> StagingJob:
    """Read an OGC job status document (``jobID``, ``status``, ``message``, ``progress``...)."""
    require(body, dict, response, what=what, keys=("jobID", "status"))
    status = str(body["status"]).lower()
    if status not in JOB_STATUSES:
        method = response.request.method if response.request is not None else None
        raise BadResponseError(
            f"{what}: unknown job status {body['status']!r} (expected one of "
            f"{', '.join(JOB_STATUSES)})",
            method=method,
            url=response.url,
            status=response.status_code,
            response=response,
        )
    progress = body.get("progress")
    job_id = str(body["jobID"])
    return StagingJob(
        job_id=job_id,
        href=href_of(job_id),
        status=status,
        message=str(body.get("message") or ""),
        progress=progress if isinstance(progress, int) and not isinstance(progress, bool) else None,
        created=_job_time(body.get("created")),
        started=_job_time(body.get("started")),
        updated=_job_time(body.get("updated")),
        raw=body,
    )


class _FileRef:
    """Where a file found by a search lives: its item (as sent) and collection. A plain
    slotted record (a search keeps one per file); an exploded search's results are these
    too (:class:`_ExplodedFile`)."""

    __slots__ = ("collection", "item")

    def __init__(self, collection: str, item: dict[str, Any]) -> None:
        self.collection = collection
        self.item = item

    @property
    def item_id(self) -> str:
        """The id of the item holding the file."""
        return str(self.item.get("id"))

    def __repr__(self) -> str:
        return f"_FileRef(collection={self.collection!r}, item_id={self.item_id!r})"


MAX_REMEMBERED_FILES = 50_000
"""How many searched files a station client remembers for staging (the most recently seen)."""


@define
class V2State:
    """What one station client remembers between v2 calls (thread-safe).

    ``files``: file name -> the item that holds it (filled by searches: v2 stages items, the
    seed API names files), at most ``max_files`` of them, the most recently seen: a
    long-lived client's memory stays bounded, and a file forgotten is looked up again (by
    the plugin's ``_v2_locate``) when it is staged; ``job_of``: file name -> staging job id;
    ``jobs``: job id -> last known :class:`StagingJob`; ``collections``: target collections
    known to exist.
    """

    lock: threading.RLock = field(factory=threading.RLock)
    files: dict[str, _FileRef] = field(factory=dict)
    job_of: dict[str, str] = field(factory=dict)
    jobs: dict[str, StagingJob] = field(factory=dict)
    collections: set[tuple[str, str]] = field(factory=set)
    listed: dict[str, tuple[str, ...]] = field(factory=dict)
    """Station service root -> the collection ids its ``/collections`` listed (cache)."""
    max_files: int = MAX_REMEMBERED_FILES

    def remember_file(self, name: str, collection: str, item: Mapping[str, Any]) -> None:
        """Note that file ``name`` is held by ``item`` of ``collection``."""
        self.remember_files({name: _FileRef(collection, dict(item))})

    def remember_files(self, refs: Mapping[str, _FileRef]) -> None:
        """Note many files at once (one lock; the items are kept as they are: a search's
        decoded answer, which nothing modifies); the least recently seen beyond
        ``max_files`` are forgotten."""
        with self.lock:
            files, room = self.files, max(0, self.max_files)
            if len(refs) >= room:
                files.clear()
                files.update(itertools.islice(refs.items(), len(refs) - room, None))
                return
            for name in refs.keys() & files.keys():
                del files[name]  # seen again: it moves to the end (the most recent)
            files.update(refs)
            excess = len(files) - room
            if excess > 0:
                for name in list(itertools.islice(files, excess)):
                    del files[name]

    def remember_job(self, job: StagingJob) -> None:
        """Store ``job`` and point each of its files at it."""
        with self.lock:
            self.jobs[job.job_id] = job
            for name in job.files:
                self.job_of[name] = job.job_id


# -- the protocol --------------------------------------------------------------------------


@frozen
class V2Endpoints:
    """Where a v2 station service, its staging service and its catalog live."""

    station: str  # base URL of the station service (no trailing /)
    staging: str  # base URL of the staging service
    catalog: str | None = None  # base URL of the catalog (target collections), if known


Explode = Callable[[Mapping[str, Any], str], list[dict[str, Any]]]
"""``(v2 item, collection) -> file-level features`` (one per file the item holds)."""

E = TypeVar("E", bound=Callable[..., list[dict[str, Any]]])

_PER_ASSET = "__rs_files_per_asset__"


def files_per_asset(explode: E) -> E:
    """Mark ``explode`` as making **one file per asset** of the item, in the assets' order,
    each with the asset key as its ``id`` and the item's own properties (so the item's dates):
    what :func:`asset_files` makes. A search then reads the file names from the assets and
    checks the item once, instead of making every file's feature to read its id (the features
    are made when the pystac items are built). An ``explode`` that does anything else (files
    with properties of their own, files skipped or added) must not be marked.

    Example::

        class PripProtocolV2(StationProtocolV2):
            service = "prip"

            @staticmethod
            @files_per_asset
            def explode(item, collection):
                return asset_files(item, collection)
    """
    setattr(explode, _PER_ASSET, True)
    return explode


def _asset_names(item: Mapping[str, Any]) -> list[str]:
    assets = item.get("assets")
    if type(assets) is dict:  # decoded JSON: string keys
        return list(assets)
    return [str(name) for name in assets] if isinstance(assets, Mapping) else []


def _results_of(
    feature: dict[str, Any],
    collection: str,
    explode: Explode | None,
    what: str,
    room: int | None,
) -> list[Any]:
    """The results a search makes of one ``feature`` (at most ``room``): the feature itself,
    or an :class:`_ExplodedFile` per file ``explode`` makes of it; checked first (a feature no
    pystac item can be made of is a :class:`~rs_core.BadResponseError` naming it)."""
    if explode is None:
        produced: Sequence[Mapping[str, Any]] = [feature]
    elif getattr(explode, _PER_ASSET, False):
        # the files' names are the asset keys, their dates the item's: checked once
        names = _asset_names(feature)
        problem = content_problem(feature) if names else ""
        if problem or "" in names:
            name = next((n for n in names if not n), names[0] if names else "")
            raise BadResponseError(
                f"{what}: feature {name!r} is not a valid STAC item ({problem or 'no id'})"
            )
        return [
            _ExplodedFile(feature, collection, index, name, explode)
            for index, name in enumerate(names[:room] if room is not None else names)
        ]
    else:
        produced = _exploded(explode, feature, collection, what)
    if room is not None:
        produced = produced[:room]
    for made in produced:
        problem = feature_problem(made)
        if problem:
            raise BadResponseError(
                f"{what}: feature {made.get('id')!r} is not a valid STAC item ({problem})"
            )
    if explode is None:
        return list(produced)
    return [
        _ExplodedFile(feature, collection, index, str(made["id"]), explode)
        for index, made in enumerate(produced)
    ]


class StationProtocolV2:
    """Build RS-Server v2 requests for one station service and parse its answers.

    Subclasses set :attr:`service` (the path segment: ``"auxip"``, ``"cadip"``). ``label``
    names the station in messages. ``owner()`` gives the owner of target collections (asked
    only when staging): the staging service stages into the collections of the API key's user
    (cluster mode) or of ``inputs.owner`` (local mode, where ``local_mode`` sends it).
    """

    service: str = ""

    def __init__(
        self,
        http: HttpClient,
        endpoints: V2Endpoints,
        state: V2State,
        *,
        label: str,
        owner: Callable[[], str] | None = None,
        local_mode: bool = False,
    ) -> None:
        if not self.service:
            raise TypeError(f"{type(self).__name__} must set 'service'")
        self.http = http
        self.endpoints = endpoints
        self.state = state
        self.label = label
        self._owner = owner
        self.local_mode = local_mode
        self.known_jobs: Callable[[], set[str]] = set
        """Job ids known elsewhere (the staging ledger): never taken for a lost job."""
        self.lost_sends: Callable[[], list[float]] = list
        """When the other requests whose answer was lost were sent (the staging ledger)."""

    def owner(self) -> str | None:
        """The owner of the target collections (``None`` when unknown)."""
        return self._owner() if self._owner is not None else None

    # -- URLs ---------------------------------------------------------------------------

    @property
    def root(self) -> str:
        """``<station base>/<service>``: the landing page."""
        return f"{self.endpoints.station.rstrip('/')}/{self.service}"

    def items_url(self, collection: str) -> str:
        """The items URL of ``collection``."""
        return f"{self.root}/collections/{collection}/items"

    def job_href(self, job_id: str) -> str:
        """``<staging>/jobs/{id}``."""
        return f"{self.endpoints.staging.rstrip('/')}{JOBS_PATH}/{job_id}"

    # -- discovery ---------------------------------------------------------------------

    def collections(self, *, timeout: float | None = None) -> list[pystac.Collection]:
        """Every collection the service shows this user, as :class:`pystac.Collection`."""
        what = f"{self.label} collection list failed"
        response = self.http.request("GET", f"{self.root}/collections", timeout=timeout, what=what)
        body = require(
            decode_json(response, what=what), dict, response, what=what, keys=("collections",)
        )
        out: list[pystac.Collection] = []
        for entry in body["collections"] or []:
            try:
                out.append(pystac.Collection.from_dict(entry, preserve_dict=True))
            except Exception as err:
                ident = entry.get("id") if isinstance(entry, Mapping) else entry
                raise _bad(
                    response, f"{what}: collection {ident!r} is not valid STAC ({err})"
                ) from err
        return out

    def queryables(self, collection: str | None, *, timeout: float | None = None) -> Any:
        """The JSON schema of the queryables (of one collection, or of the service)."""
        url = (
            f"{self.root}/collections/{collection}/queryables"
            if collection
            else (f"{self.root}/queryables")
        )
        what = f"{self.label} queryables failed"
        response = self.http.request("GET", url, timeout=timeout, what=what)
        return require(decode_json(response, what=what), dict, response, what=what)

    # -- search -------------------------------------------------------------------------

    def iter_features(
        self,
        url: str,
        params: Mapping[str, str] | None,
        *,
        timeout: float | None,
        what: str,
        pages: list[dict[str, Any]] | None = None,
        json_body: Mapping[str, Any] | None = None,
        contents: list[bytes] | None = None,
        ahead: Callable[[list[Any]], bool] | None = None,
    ) -> Generator[dict[str, Any], None, None]:
        """The features of ``url`` page after page, fetching a page only when it is needed.

        ``json_body`` makes the first request a ``POST`` of it. Follows ``rel=next`` links
        (``GET``, or ``POST`` with the link's ``body``, merged into the previous body when the
        link says ``merge``); each page's answer (without features) is appended to ``pages``
        when given, its bytes to ``contents``. Every page is checked: one that is not a
        FeatureCollection (no ``features``, ``features: null``, an error object) is a
        :class:`~rs_core.BadResponseError` naming the page, never the end of the results.

        ``ahead(features)``, called with each page's features before they are yielded, says
        whether the next page will be needed: if so, it is requested in the background while
        this page's features are used (the server makes it meanwhile); a failure of that
        request is raised where the page would have been fetched. Only for a caller that
        sends no request of its own while iterating (the two would share the HTTP session).
        """
        method, next_url, query = "GET", url, dict(params or {})
        body: Any = None
        if json_body is not None:
            method, body = "POST", dict(json_body)
        seen: set[str] = set()
        number = 0
        fetch = functools.partial(
            self.http.request,
            timeout=timeout,
            retry=True,  # a search, even as POST, creates nothing
            what=what,
        )
        coming: _Ahead | None = None
        while True:
            number += 1
            if coming is not None:
                response, coming = coming.result(), None
            else:
                response = fetch(method, next_url, params=query or None, json_body=body)
            page_what = what if number == 1 else f"{what} (page {number})"
            answer = decode_json(response, what=page_what)
            features = answer.get("features") if isinstance(answer, dict) else None
            if (
                not isinstance(answer, dict)
                or answer.get("type") not in (None, "FeatureCollection")
                or not isinstance(features, list)
            ):
                raise _bad(
                    response,
                    f"{what}: page {number} of the results is not a GeoJSON "
                    f"FeatureCollection ({_shape(answer)})",
                )
            if pages is not None:
                pages.append({k: v for k, v in answer.items() if k != "features"})
            if contents is not None:
                contents.append(response.content)
            link = _next_link(answer) if features else None
            if link is not None:
                href = str(link["href"])
                key = f"{link.get('method', 'GET')} {href} {link.get('body')!r}"
                if key in seen:
                    link = None  # a server that links a page to itself: stop rather than loop
                else:
                    seen.add(key)
                    method = str(link.get("method") or "GET").upper()
                    next_url, query = href, {}
                    if method != "POST":
                        body = None
                    elif link.get("merge") and isinstance(body, Mapping):
                        body = {**body, **(link.get("body") or {})}
                    else:
                        body = link.get("body")
                    if ahead is not None and ahead(features):
                        coming = _Ahead(functools.partial(fetch, method, next_url, json_body=body))
            # a search left half-way lets the page coming ahead go: its body is read whole,
            # its connection back in the pool (HttpClient.request), nothing is left to close
            for index, feature in enumerate(features):
                if not isinstance(feature, dict):
                    raise _bad(response, f"{page_what}: feature #{index} is not an object")
                yield feature
            if link is None:
                return
            # this page goes before the next one comes (iterating holds one page at a time)
            del response, answer, features
            feature = None

    def search(
        self,
        url: str,
        params: Mapping[str, str] | None,
        *,
        max_items: int | None,
        timeout: float | None,
        what: str,
        explode: Explode | None = None,
        collection: str = "",
        json_body: Mapping[str, Any] | None = None,
    ) -> StationItemCollection:
        """Collect up to ``max_items`` results of ``url`` (lazily paged; ``json_body``: by
        ``POST``).

        Without ``explode`` the results are the v2 items; with it, the file-level features it
        makes of each item (every file is remembered for staging). The pystac items are built
        when first touched (:mod:`rs_core.items`); ``raw`` (every page's features, as sent) is
        decoded again from the pages' bytes when first read.
        """
        pages: list[dict[str, Any]] = []
        contents: list[bytes] = []
        features: list[Mapping[str, Any]] = []
        consumed = 0
        if max_items is not None and max_items < 1:
            raise InvalidInputError(f"max_items must be >= 1, got {max_items}")
        sources: list[dict[str, Any]] = []  # exploded: the items as sent, for raw
        per_asset = getattr(explode, _PER_ASSET, False)
        room = max_items

        def ahead(page: list[Any]) -> bool:
            """Whether the results will need the page after ``page`` (known before ``page``
            is used: ``room`` is what the pages before left): surely, when ``page`` cannot
            fill ``room``; never asked for when it might (one request too many)."""
            if room is None:
                return True
            if explode is None:
                return len(page) < room
            if per_asset:  # at most one result per asset
                return sum(len(_asset_names(f)) for f in page if type(f) is dict) < room
            return False

        found = self.iter_features(
            url,
            params,
            timeout=timeout,
            what=what,
            pages=pages,
            json_body=json_body,
            contents=contents if explode is None else None,
            ahead=ahead,
        )
        seen: dict[str, _FileRef] = {}
        for feature in found:
            consumed += 1
            coll = str(feature.get("collection") or collection)
            made = _results_of(feature, coll, explode, what, room)
            features.extend(made)
            if room is not None:
                room -= len(made)
            if explode is not None:
                sources.append(feature)
                for entry in cast(list[_ExplodedFile], made):
                    seen[entry.ident] = entry
            else:
                assets = feature.get("assets")
                if isinstance(assets, Mapping) and assets:
                    ref = _FileRef(coll, feature)
                    for name in assets:
                        seen[str(name)] = ref
            if room is not None and room <= 0:
                break  # before the generator fetches another page
        self.state.remember_files(seen)
        found.close()
        extra: dict[str, Any] = {"numberReturned": len(features), "pages": len(pages)}
        if explode is None:
            return StationItemCollection(
                LazyItemList(features, ItemBuilder(what, copy=False)),
                extra_fields=extra,
                clone_items=False,
                raw=functools.partial(_raw_answer, contents, consumed, pages),
            )
        # The items as sent are kept once (staging needs them): a file's feature is made again
        # from its item when built, and raw is a copy of the items. Exploded features share
        # parts with their item and siblings: their pystac items are built from copies (of
        # the values below the levels a per-asset explosion made new).
        return StationItemCollection(
            LazyItemList(features, _ExplodedBuilder(ItemBuilder(what, fresh=per_asset))),
            extra_fields=extra,
            clone_items=False,
            raw=functools.partial(_raw_of_items, sources, pages),
        )

    def iter_search(
        self,
        url: str,
        params: Mapping[str, str] | None,
        *,
        max_items: int | None,
        timeout: float | None,
        what: str,
        explode: Explode | None = None,
        collection: str = "",
        json_body: Mapping[str, Any] | None = None,
    ) -> Iterator[pystac.Item]:
        """The results of ``url`` as :meth:`search` makes them, one pystac item after the
        other: a page is fetched when the previous one is used up, and let go with its items
        (memory stays at about one page, whatever the number of results). Files found this
        way are not remembered for staging by name (that would hold every item); staging
        the items themselves, or names in a later call, works as from a new process.
        """
        if max_items is not None and max_items < 1:
            raise InvalidInputError(f"max_items must be >= 1, got {max_items}")
        build: Callable[[Any], pystac.Item]
        if explode is None:
            build = ItemBuilder(what, copy=False)  # a page's features are this call's own
        else:
            fresh = bool(getattr(explode, _PER_ASSET, False))
            build = _ExplodedBuilder(ItemBuilder(what, fresh=fresh))
        room = max_items
        found = self.iter_features(url, params, timeout=timeout, what=what, json_body=json_body)
        try:
            for feature in found:
                coll = str(feature.get("collection") or collection)
                for entry in _results_of(feature, coll, explode, what, room):
                    yield build(entry)
                    if room is not None:
                        room -= 1
                        if room <= 0:
                            return  # before the generator fetches another page
        finally:
            found.close()

    def iter_find(
        self,
        search: V2Search,
        *,
        max_items: int | None,
        timeout: float | None,
        what: str,
        explode: Explode | None = None,
        by_items: bool = True,
    ) -> Iterator[pystac.Item]:
        """:meth:`find`, one pystac item after the other (see :meth:`iter_search`): several
        collections are merged as their pages come (each sorted by the server, merged by
        ``sortby`` when given, items without the field last), repeats dropped."""
        if max_items is not None and max_items < 1:
            raise InvalidInputError(f"max_items must be >= 1, got {max_items}")
        run = functools.partial(
            self.iter_find,
            max_items=max_items, timeout=timeout, what=what, explode=explode, by_items=by_items,
        )  # fmt: skip
        if search.explicit:
            self.check_collections(search.collections, timeout=timeout, strict=False)
        if len(search.collections) > 1:
            parts = [run(search.over([name])) for name in search.collections]
            yield from itertools.islice(_merged(parts, search.sortby), max_items)
            return
        url, params, body = self._route(search, by_items)
        found = self.iter_search(
            url, params, json_body=body, max_items=max_items, timeout=timeout, what=what,
            explode=explode, collection=search.collections[0] if search.collections else "",
        )  # fmt: skip
        count = 0
        try:
            for item in found:
                count += 1
                yield item
        except HttpError as err:
            raise self._search_error(search, err, timeout) from err
        if not search.explicit and count == 0:
            self.check_collections(search.collections or ("",), timeout=timeout, strict=False)

    def _route(
        self, search: V2Search, by_items: bool
    ) -> tuple[str, dict[str, str] | None, dict[str, Any] | None]:
        """Where ``search`` (of one collection at most) goes: ``(url, query, POST body)``."""
        if search.post:
            return f"{self.root}/search", None, search.body()
        if by_items and search.collections and not search.ids:
            return self.items_url(search.collections[0]), search.query(collections=False), None
        return f"{self.root}/search", search.query(), None

    def _search_error(self, search: V2Search, err: HttpError, timeout: float | None) -> RsError:
        """What a search's HTTP error means: a field the server cannot sort on, a collection
        it does not have, or the error itself."""
        if search.sortby and "sortable" in str(err).lower():
            known = search.sortable or _sortable_in(str(err))
            return unsortable(search.sortby, known, self.label)
        if isinstance(err, NotFoundError) and not search.explicit:
            try:
                self.check_collections(search.collections, timeout=timeout, strict=False)
            except UnknownCollectionError as unknown:
                return unknown
        return err

    def search_items(
        self,
        collection: str,
        params: Mapping[str, str],
        *,
        max_items: int | None,
        timeout: float | None,
        what: str,
        explode: Explode | None = None,
    ) -> StationItemCollection:
        """``GET .../collections/{collection}/items`` with ``params``, paged."""
        return self.search(
            self.items_url(collection),
            params,
            max_items=max_items,
            timeout=timeout,
            what=what,
            explode=explode,
            collection=collection,
        )

    def search_ids(
        self,
        collection: str,
        ids: Sequence[str],
        *,
        max_items: int | None,
        timeout: float | None,
        what: str,
        explode: Explode | None = None,
        extra: Mapping[str, str] | None = None,
    ) -> StationItemCollection:
        """``GET <service>/search?collections=c&ids=a,b`` (items by id), paged.

        RS-Server 1.0a4 answers such a search with the item of the **first** id only; the ids
        a search of several did not return are asked for again, one at a time.
        """
        params = {"collections": collection, "ids": ",".join(ids), **(extra or {})}
        found = self.search(
            f"{self.root}/search",
            params,
            max_items=max_items,
            timeout=timeout,
            what=what,
            explode=explode,
            collection=collection,
        )
        if len(ids) < 2 or (max_items is not None and len(found) >= max_items):
            return found
        with self.state.lock:
            known = {ref.item_id for ref in self.state.files.values()}
        known.update(str(item.id) for item in found)
        missing = [i for i in ids if i not in known]
        if not missing:
            return found
        _LOG.debug(
            "%s: a search by %d ids missed %d; asking one by one", what, len(ids), len(missing)
        )
        items = list(found)
        for one in missing:
            more = self.search_ids(
                collection,
                [one],
                max_items=None,
                timeout=timeout,
                what=what,
                explode=explode,
                extra=extra,
            )
            items.extend(more)
        if max_items is not None:
            items = items[:max_items]
        extra_fields = {**found.extra_fields, "numberReturned": len(items)}
        return StationItemCollection(items, extra_fields=extra_fields, clone_items=False)

    # -- complete station search (1.0) ---------------------------------------------------

    def listed_collections(self, *, timeout: float | None = None) -> tuple[str, ...]:
        """The ids of :meth:`collections`, asked once per service by this client."""
        with self.state.lock:
            cached = self.state.listed.get(self.root)
        if cached is not None:
            return cached
        ids = tuple(str(c.id) for c in self.collections(timeout=timeout))
        with self.state.lock:
            self.state.listed[self.root] = ids
        return ids

    def check_collections(
        self, names: Sequence[str], *, timeout: float | None, strict: bool = True
    ) -> None:
        """Raise :class:`~rs_core.UnknownCollectionError` naming the valid collections when one
        of ``names`` is not listed by ``/collections``. A list that cannot be read (a key
        without the landing-page role, a failing endpoint) is no verdict: unless ``strict``,
        the search goes on.
        """
        try:
            valid = self.listed_collections(timeout=timeout)
        except HttpError as err:
            if strict:
                raise
            _LOG.debug("%s: cannot list the collections to check %s: %s", self.label, names, err)
            return
        if list(names) == [""]:  # a search of every collection: is there one?
            if valid:
                return
            raise UnknownCollectionError(f"{self.label}: the service lists no collection")
        unknown = [n for n in names if n not in valid]
        if not unknown:
            return
        shown = ", ".join(repr(n) for n in unknown)
        listed = ", ".join(valid) if valid else "none: the service lists no collection"
        unknown_error = UnknownCollectionError(
            f"{self.label} has no collection {shown} on this server; valid collections: {listed}"
        )
        unknown_error.valid = valid
        raise unknown_error

    def find(
        self,
        search: V2Search,
        *,
        max_items: int | None,
        timeout: float | None,
        what: str,
        explode: Explode | None = None,
        by_items: bool = True,
    ) -> StationItemCollection:
        """Run ``search``: ``POST <service>/search`` with a cql2-json body when it filters,
        else ``GET .../collections/{c}/items`` (one collection, ``by_items``) or
        ``GET <service>/search[?collections=c]``; paged lazily. A search of no collection
        covers every collection the service shows this user (what RS-Server does without
        ``collections``).

        Several collections are searched one by one and merged (sorted by ``sortby`` when
        given, else in the order of the collections): RS-Server 1.0 merges the queries of
        collections of one station into one, which selects nothing when they differ by
        product type. Collections named by the caller are checked against ``/collections``
        first; a default collection is checked when the server answers 404 or nothing at all
        (RS-Server answers an empty page for a collection it does not have). A ``sortby`` the
        server refuses is :class:`~rs_core.UnsortableFieldError`.
        """
        run = functools.partial(
            self.find,
            max_items=max_items, timeout=timeout, what=what, explode=explode, by_items=by_items,
        )  # fmt: skip
        if search.explicit:
            self.check_collections(search.collections, timeout=timeout, strict=False)
        if len(search.collections) > 1:
            parts = [run(search.over([name])) for name in search.collections]
            return merge_results(parts, sortby=search.sortby, max_items=max_items)
        url, params, body = self._route(search, by_items)
        try:
            found = self.search(
                url, params, json_body=body, max_items=max_items, timeout=timeout, what=what,
                explode=explode, collection=search.collections[0] if search.collections else "",
            )  # fmt: skip
        except HttpError as err:
            meaning = self._search_error(search, err, timeout)
            if meaning is err:
                raise
            raise meaning from err
        if not search.explicit and len(found.items) == 0:
            self.check_collections(search.collections or ("",), timeout=timeout, strict=False)
        return found

    # -- staging ------------------------------------------------------------------------

    def ensure_collection(self, collection: str, *, timeout: float | None) -> None:
        """Create the target ``collection`` in the catalog unless it is known to exist.

        ``POST <catalog>/catalog/collections`` once per (owner, collection): 201 created,
        409 exists. Any other failure is only logged: the staging job then fails with the
        server's own message, which :meth:`stage` reports.
        """
        catalog = self.endpoints.catalog
        if not catalog:
            return
        try:
            owner = self.owner() or ""
        except RsError as err:
            _LOG.debug("owner of the target collection unknown: %s", err)
            owner = ""
        key = (catalog, f"{owner}:{collection}")
        with self.state.lock:
            if key in self.state.collections:
                return
        body: dict[str, Any] = {
            "type": "Collection",
            "stac_version": "1.0.0",
            "id": collection,
            "description": f"Files staged from the {self.label} station by rs-client.",
            "license": "other",
            "extent": {
                "spatial": {"bbox": [[-180.0, -90.0, 180.0, 90.0]]},
                "temporal": {"interval": [[None, None]]},
            },
            "links": [],
        }
        if owner:
            body["owner"] = owner
        try:
            self.http.request(
                "POST",
                f"{catalog.rstrip('/')}/catalog/collections",
                json_body=body,
                timeout=timeout,
                ok=(409,),
                what=f"Creating the staging target collection {collection!r} failed",
            )
        except RsError as err:
            _LOG.debug("could not create the target collection %r: %s", collection, err)
            return
        with self.state.lock:
            self.state.collections.add(key)

    def stage(
        self,
        names: Sequence[str],
        collection: str,
        *,
        timeout: float | None = None,
        asset_names: Sequence[str] | None = None,
    ) -> StagingJob:
        """Stage the items holding ``names`` (files returned by this client's searches) into
        ``collection``, in one job; raise :class:`~rs_core.StagingError` if it failed at once."""
        with self.state.lock:
            unknown = [n for n in names if n not in self.state.files]
            refs = [self.state.files[n] for n in names if n in self.state.files]
        if unknown:
            raise StagingError(
                f"{self.label} staging of {', '.join(repr(n) for n in unknown)} not started: "
                "RS-Server v2 stages the items that hold files, and this client has not seen "
                "these files in a search (search for them first with this client)"
            )
        features: dict[str, dict[str, Any]] = {}
        for ref in refs:
            feature = copy.deepcopy(ref.item)
            feature.setdefault("collection", ref.collection)
            features.setdefault(ref.item_id, feature)
        value = {"type": "FeatureCollection", "features": list(features.values())}
        return self.execute(
            {"value": value},
            collection,
            files=tuple(names),
            items=tuple(features),
            timeout=timeout,
            asset_names=asset_names,
        )

    def execute(
        self,
        items_input: Mapping[str, Any],
        collection: str,
        *,
        files: tuple[str, ...] = (),
        items: tuple[str, ...] = (),
        timeout: float | None = None,
        asset_names: Sequence[str] | None = None,
    ) -> StagingJob:
        """``POST /processes/staging/execution`` with ``items_input`` (``{"href": ...}`` or
        ``{"value": ...}``) and target ``collection`` (and ``asset_names``, which RS-Server
        1.0a14 and later take: only these assets are staged); the job, read from the 201
        body."""
        self.ensure_collection(collection, timeout=timeout)
        inputs: dict[str, Any] = {"collection": collection, "items": dict(items_input)}
        if asset_names:
            inputs["asset_names"] = list(asset_names)
        if self.local_mode:
            owner = self.owner()
            if owner:
                inputs["owner"] = owner
        url = f"{self.endpoints.staging.rstrip('/')}{STAGING_EXECUTION_PATH}"
        shown = ", ".join(files or items) or str(items_input.get("href", "items"))
        what = f"{self.label} staging request for {shown} failed"
        sent_at = time.time()
        try:
            response = self._post_job(url, inputs, timeout=timeout, what=what)
        except (RsConnectionError, RsTimeoutError):
            # The job may exist: look for it rather than send the POST twice.
            try:
                found = self.find_job_since(
                    sent_at,
                    exclude=self.known_jobs(),
                    others=self.lost_sends(),
                    timeout=timeout,
                )
            except RsError as lookup:
                _LOG.debug("cannot look for the job of a lost staging answer: %s", lookup)
                found = None
            if found is None:
                raise
            _LOG.info(
                "%s: the staging request's answer was lost; found its job %s",
                self.label,
                found.job_id,
            )
            job = found.evolve(collection=collection, items=items, files=files)
            self.state.remember_job(job)
            return job
        body = decode_json(response, what=what)
        job = parse_job(body, response, href_of=self.job_href, what=what).evolve(
            collection=collection, items=items, files=files
        )
        self.state.remember_job(job)
        if job.status in ("failed", "dismissed"):
            hint = ""
            if "collection" in job.message.lower():
                hint = (
                    f" (the target collection {collection!r} must exist in your catalog; "
                    "create it with the catalog client, or pass collection=)"
                )
            raise StagingError(
                f"{self.label} staging of {shown} not started: the job {job.job_id} "
                f"{job.status} at once: {job.message}{hint}",
                method="POST",
                url=response.url,
                status=response.status_code,
                detail=body,
                response=response,
            )
        return job

    def _post_job(
        self, url: str, inputs: dict[str, Any], *, timeout: float | None, what: str
    ) -> requests.Response:
        """The execution ``POST``, retried only on 429 and 503 (the server did not take it:
        honouring ``Retry-After``); a connection error or timeout is raised for the caller to
        look for the job rather than send it twice."""
        retries = self.http.settings.retries
        for attempt in range(retries + 1):
            try:
                return self.http.request(
                    "POST",
                    url,
                    json_body={"inputs": inputs},
                    timeout=timeout,
                    retry=False,
                    what=what,
                    role=staging_role("execute"),
                )
            except HttpError as err:
                if err.status not in (429, 503) or attempt == retries:
                    raise
                delay = retry_delay(self.http, attempt, retry_after_of(err))
                _LOG.debug("%s -> %s; retry in %.2f s", what, err.status, delay)
                time.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def job(self, job_id: str, *, timeout: float | None = None) -> StagingJob:
        """``GET /jobs/{id}``; the stored job is updated."""
        return self._job_request(
            "GET", job_id, f"{self.label} staging job {job_id!r} status failed", timeout
        )

    def _job_request(
        self, method: str, job_id: str, what: str, timeout: float | None
    ) -> StagingJob:
        role = staging_role("dismiss" if method == "DELETE" else "read")
        response = self.http.request(
            method, self.job_href(job_id), timeout=timeout, what=what, role=role
        )
        return self._store_job(response, job_id, what)

    def _store_job(self, response: requests.Response, job_id: str, what: str) -> StagingJob:
        fresh = parse_job(
            decode_json(response, what=what), response, href_of=self.job_href, what=what
        )
        with self.state.lock:
            fresh = self._with_known(fresh)
            self.state.jobs[job_id] = fresh
        return fresh

    def _with_known(self, fresh: StagingJob) -> StagingJob:
        """The server's view of a job plus what only this client knows (target collection,
        items, files). Call it with the state lock held."""
        known = self.state.jobs.get(fresh.job_id)
        if known is None:
            return fresh
        return fresh.evolve(collection=known.collection, items=known.items, files=known.files)

    def status(self, name: str, *, timeout: float | None = None) -> StagingStatus:
        """The status of the job that holds file ``name`` (:class:`~rs_core.NotFoundError`
        when this client started none)."""
        with self.state.lock:
            job_id = self.state.job_of.get(name)
        if job_id is None:
            raise NotFoundError(
                f"{self.label} staging status of {name!r}: no staging job of this client holds "
                "it (RS-Server v2 keeps jobs, not per-file statuses)"
            )
        return self.job(job_id, timeout=timeout).as_status(name)

    def processes(self, *, timeout: float | None = None) -> dict[str, Any]:
        """``GET /processes``: the processes the staging service offers (its JSON)."""
        return self._staging_json("/processes", f"{self.label} process list failed", timeout)

    def process(self, process_id: str, *, timeout: float | None = None) -> dict[str, Any]:
        """``GET /processes/{id}``: one process's description (its JSON)."""
        what = f"{self.label} process {process_id!r} description failed"
        return self._staging_json(f"/processes/{process_id}", what, timeout)

    def job_results(self, job_id: str, *, timeout: float | None = None) -> dict[str, Any]:
        """``GET /jobs/{id}/results``: what a job produced (its JSON)."""
        what = f"{self.label} results of staging job {job_id!r} failed"
        return self._staging_json(f"{JOBS_PATH}/{job_id}/results", what, timeout)

    def _staging_json(self, path: str, what: str, timeout: float | None) -> dict[str, Any]:
        url = f"{self.endpoints.staging.rstrip('/')}{path}"
        response = self.http.request("GET", url, timeout=timeout, what=what)
        body: dict[str, Any] = require(decode_json(response, what=what), dict, response, what=what)
        return body

    def list_jobs(self, *, timeout: float | None = None) -> list[StagingJob]:
        """``GET /jobs``: every job the staging service shows."""
        what = f"{self.label} staging job list failed"
        url = f"{self.endpoints.staging.rstrip('/')}{JOBS_PATH}"
        response = self.http.request("GET", url, timeout=timeout, what=what)
        body = require(decode_json(response, what=what), dict, response, what=what, keys=("jobs",))
        jobs = body["jobs"]
        if not isinstance(jobs, list):
            raise _bad(response, f"{what}: 'jobs' is not a list")
        out = []
        with self.state.lock:
            for entry in jobs:
                job = parse_job(entry, response, href_of=self.job_href, what=what)
                out.append(self._with_known(job))
        return out

    def dismiss(self, job_id: str, *, timeout: float | None = None) -> StagingJob:
        """``DELETE /jobs/{id}``: dismiss a job; the job as the server then shows it."""
        what = f"{self.label} dismissing staging job {job_id!r} failed"
        url = self.job_href(job_id)
        retries = self.http.settings.retries
        lost: RsError | None = None
        for attempt in range(retries + 1):
            hint: float | None = None
            try:
                response = self.http.request(
                    "DELETE",
                    url,
                    timeout=timeout,
                    retry=False,
                    what=what,
                    role=staging_role("dismiss"),
                )
            except NotFoundError:
                if lost is None:
                    raise
                # the DELETE whose answer was lost worked: the job is gone, as asked
                _LOG.info(
                    "%s: staging job %s is gone after a DELETE whose answer was lost (%s): "
                    "taken as dismissed",
                    self.label,
                    job_id,
                    lost,
                )
                with self.state.lock:
                    known = self.state.jobs.get(job_id) or StagingJob(job_id, url, "dismissed")
                    gone = known.evolve(status="dismissed", message="Job dismissed (gone)")
                    self.state.jobs[job_id] = gone
                return gone
            except RsConnectionError as err:
                lost = err
                if attempt == retries:
                    raise
            except HttpError as err:
                if err.status not in RETRY_STATUSES or attempt == retries:
                    raise
                hint = retry_after_of(err)
            else:
                return self._store_job(response, job_id, what)
            time.sleep(retry_delay(self.http, attempt, hint))
        raise AssertionError("unreachable")  # pragma: no cover

    def find_job_since(
        self,
        since: float,
        *,
        exclude: Iterable[str] = (),
        others: Iterable[float] = (),
        timeout: float | None = None,
    ) -> StagingJob | None:
        """The staging job a ``POST`` sent at ``since`` (epoch seconds, this machine's clock)
        made, when its answer was lost; ``None`` when the server shows none.

        Candidates are the jobs neither this client nor ``exclude`` knows, created at
        ``since`` or later (in its second, for a server that stamps whole seconds) and before
        the next of ``others`` (the send times of other requests whose answer was lost). The
        earliest wins; when several qualify the choice is logged.
        """
        known = set(exclude)
        with self.state.lock:
            known.update(self.state.jobs)
        later = [t for t in others if t > since]
        until = min(later) if later else None
        candidates = []
        for job in self.list_jobs(timeout=timeout):
            if job.job_id in known or job.created is None:
                continue
            created = job.created.timestamp()
            floor = float(int(since)) if job.created.microsecond == 0 else since
            if created >= floor and (until is None or created < until):
                candidates.append((created, job))
        if not candidates:
            return None
        candidates.sort(key=lambda pair: pair[0])
        if len(candidates) > 1:
            _LOG.warning(
                "%s: %d staging jobs could be the one whose answer was lost (%s); taking %s",
                self.label,
                len(candidates),
                ", ".join(j.job_id for _, j in candidates),
                candidates[0][1].job_id,
            )
        return candidates[0][1]


def _next_link(answer: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for link in answer.get("links") or []:
        if isinstance(link, Mapping) and link.get("rel") == "next" and link.get("href"):
            return link
    return None


class _ExplodedFile(_FileRef, Mapping[str, Any]):
    """The feature of file ``index`` of a v2 ``item``, made again from the item by
    ``explode`` when read. A search holds these, not the features (and remembers them for
    staging): the item is held anyway (staging sends it), so a file costs one small object.
    ``get("id")`` explodes nothing."""

    __slots__ = ("explode", "ident", "index")

    def __init__(
        self, item: dict[str, Any], collection: str, index: int, ident: str, explode: Explode
    ) -> None:
        self.item = item
        self.collection = collection
        self.index = index
        self.ident = ident
        self.explode = explode

    def feature(self) -> dict[str, Any]:
        """The file's feature, made now (a new dict sharing values with the item)."""
        return self.explode(self.item, self.collection)[self.index]

    def get(self, key: str, default: Any = None) -> Any:
        return self.ident if key == "id" else self.feature().get(key, default)

    def __getitem__(self, key: str) -> Any:
        return self.feature()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.feature())

    def __len__(self) -> int:
        return len(self.feature())


def _exploded(
    explode: Explode, item: Mapping[str, Any], collection: str, what: str
) -> list[dict[str, Any]]:
    """``explode(item, collection)``; an item it cannot read is a BadResponseError."""
    try:
        return explode(item, collection)
    except (TypeError, ValueError, KeyError, AttributeError) as err:
        raise BadResponseError(
            f"{what}: item {item.get('id')!r} is not a valid STAC item ({err})"
        ) from err


class _ExplodedBuilder:
    """Builds the pystac item of an :class:`_ExplodedFile` with ``build``, exploding each item
    once for its files built one after the other. Each feature an explosion made is handed to
    ``build`` once (``build`` may take it as its own); a file built again is exploded again."""

    def __init__(self, build: Callable[[dict[str, Any]], pystac.Item]) -> None:
        self.build = build
        self._last: tuple[object, list[dict[str, Any] | None]] = (None, [])
        self._lock = threading.Lock()

    def __call__(self, part: dict[str, Any]) -> pystac.Item:
        file = cast(_ExplodedFile, part)
        with self._lock:
            item, made = self._last
            if item is not file.item or made[file.index] is None:
                made = list(_exploded(file.explode, file.item, file.collection, "a search"))
                self._last = (file.item, made)
            feature = made[file.index]
            made[file.index] = None
        return self.build(cast(dict[str, Any], feature))


class _Ahead:
    """A request sent in a background thread (a daemon: a process that exits, interrupted,
    does not wait for it); :meth:`result` waits for its response or raises its error."""

    def __init__(self, send: Callable[[], requests.Response]) -> None:
        self._send = send
        self._response: requests.Response | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="rs-next-page", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._response = self._send()
        except BaseException as err:  # handed to the thread that waits for the page
            self._error = err

    def result(self) -> requests.Response:
        self._thread.join()
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        assert self._response is not None
        return self._response


def _raw_of_items(items: list[dict[str, Any]], pages: list[dict[str, Any]]) -> dict[str, Any]:
    """The answer of a paged search as sent, from its decoded items (which nothing modifies):
    a copy, so that it shares nothing with what the items are built from."""
    return {"type": "FeatureCollection", "features": copy_json(items), "pages": pages}


def _raw_answer(
    contents: list[bytes], consumed: int, pages: list[dict[str, Any]]
) -> dict[str, Any]:
    """The answer of a paged search as sent: the first ``consumed`` features of the pages."""
    features: list[Any] = []
    for content in contents:
        features.extend(json.loads(content)["features"])
    return {"type": "FeatureCollection", "features": features[:consumed], "pages": pages}


def _shape(answer: Any) -> str:
    """A few words on what a page that is not a FeatureCollection is."""
    if not isinstance(answer, dict):
        return f"a JSON {type(answer).__name__}"
    if "features" not in answer:
        keys = ", ".join(reprlib.repr(k) for k in list(answer)[:5])
        return f"no 'features'; keys: {keys}" if keys else "an empty object"
    if answer["features"] is None:
        return "'features' is null"
    return f"'features' is a {type(answer['features']).__name__}"


def _bad(response: requests.Response, message: str) -> BadResponseError:
    method = response.request.method if response.request is not None else None
    return BadResponseError(
        message, method=method, url=response.url, status=response.status_code, response=response
    )


def is_stac_landing(body: Any) -> bool:
    """True for a STAC/OGC landing page (what a v2 station service answers at its root).

    >>> is_stac_landing({"type": "Catalog", "links": []}), is_stac_landing({"detail": "x"})
    (True, False)
    """
    if not isinstance(body, Mapping):
        return False
    return body.get("type") == "Catalog" or (
        isinstance(body.get("links"), list) and "conformsTo" in body
    )


def probe_generation(
    http: HttpClient, landing_url: str, *, label: str, timeout: float | None = None
) -> str:
    """``"v2"`` when ``landing_url`` answers a STAC landing page, ``"v1"`` on 404/405 or any
    other 2xx/3xx answer. Other failures raise (they say nothing about the generation)."""
    what = f"Probing {label} for its RS-Server generation failed"
    response = http.request("GET", landing_url, ok=(404, 405), timeout=timeout, what=what)
    if response.status_code in (404, 405):
        return "v1"
    try:
        body = response.json()
    except ValueError:
        return "v1"
    return "v2" if is_stac_landing(body) else "v1"


def unique(values: Iterable[str]) -> list[str]:
    """``values`` without repeats, in order."""
    return list(dict.fromkeys(values))


__all__ += ["probe_generation", "unique"]


def check_max_items(max_items: Any) -> int | None:
    """``None`` or an ``int >= 1``.

    >>> check_max_items(None), check_max_items(3)
    (None, 3)
    """
    if max_items is None:
        return None
    if isinstance(max_items, bool) or not isinstance(max_items, int) or max_items < 1:
        raise InvalidInputError(f"max_items must be a positive integer or None, got {max_items!r}")
    return max_items


def page_query(
    base: Mapping[str, str],
    *,
    limit: int | None,
    max_items: int | None,
    filter_text: str | None,
    page_size: int | None = None,
) -> tuple[dict[str, str], int | None]:
    """The v2 query (``limit`` = page size, ``filter`` + ``filter-lang``) and the total cap.

    ``limit`` keeps its v1 meaning, "at most this many results": it is the page size and a
    cap; ``max_items`` caps the total across pages. Without either, pages of
    :data:`DEFAULT_PAGE_SIZE` are followed to the end. ``page_size`` sets the items asked per
    request (default: the cap, at most :data:`DEFAULT_PAGE_SIZE`).

    >>> page_query({"datetime": "a/b"}, limit=5, max_items=None, filter_text=None)
    ({'datetime': 'a/b', 'limit': '5'}, 5)
    """
    caps = [c for c in (limit, max_items) if c is not None]
    cap = min(caps) if caps else None
    params = dict(base)
    if page_size is not None:
        size = check_max_items(page_size)
    elif cap is not None:
        size = min(cap, DEFAULT_PAGE_SIZE)
    else:
        size = DEFAULT_PAGE_SIZE
    params["limit"] = str(size)
    if filter_text is not None:
        params["filter"] = filter_text
        params["filter-lang"] = "cql2-text"
    return params, cap


def v1_lacks(what: str) -> UnsupportedOperationError:
    """The error for an argument or method RS-Server v1 does not have."""
    return UnsupportedOperationError(
        f"{what} needs RS-Server v2 (0.2 or later); this service speaks RS-Server v1 [RS-Server v1]"
    )


def cap_items(found: StationItemCollection, max_items: int | None) -> StationItemCollection:
    """``found`` cut to ``max_items`` items (v1 has no paging: the cap is client-side); builds
    no item and does not decode ``raw``."""
    if max_items is None or len(found.items) <= max_items:
        return found
    return found.head(max_items)


__all__ += ["cap_items", "check_max_items", "page_query", "v1_lacks"]


# -- complete station search: request building and validation ---------------------------------

SPATIAL_OP = "intersects"
"""The operator RS-Server 1.0 reads a geometry filter from (``{"op": "intersects", "args":
[{"property": "geometry"}, <GeoJSON>]}``): its code compares the operator to ``intersects``,
so the standard ``s_intersects`` is sent under that name."""

_GEOMETRY_TYPES = (
    "Point",
    "MultiPoint",
    "LineString",
    "MultiLineString",
    "Polygon",
    "MultiPolygon",
    "GeometryCollection",
)


@frozen
class V2Search:
    """One station search as RS-Server v2 takes it; built by :func:`v2_search`.

    ``collections`` empty: every collection the service shows the user. ``explicit``: the
    caller named the collections (checked before the request).
    ``sortable``: the fields the service sorts on, when known (for the refusal message).

    >>> s = V2Search(("adgs",), explicit=False, limit=5, sortby="-created")
    >>> s.query()
    {'collections': 'adgs', 'limit': '5', 'sortby': '-created'}
    >>> s.body()["sortby"]
    [{'field': 'created', 'direction': 'desc'}]
    """

    collections: tuple[str, ...]
    explicit: bool
    limit: int
    datetime: str | None = None
    sortby: str | None = None
    filter: dict[str, Any] | None = field(default=None, eq=False)
    bbox: tuple[float, ...] | None = None
    ids: tuple[str, ...] = ()
    sortable: tuple[str, ...] | None = None

    def over(self, collections: Sequence[str]) -> V2Search:
        """The same search over ``collections`` (a default the service's list gave)."""
        return evolve(self, collections=tuple(collections))

    def check_sortby(self, sortable: Sequence[str], label: str) -> V2Search:
        """This search, its ``sortby`` checked against the ``sortable`` fields (kept for the
        message should the server refuse it): :class:`~rs_core.UnsortableFieldError` else."""
        if self.sortby and self.sortby.lstrip("+-") not in sortable:
            raise unsortable(self.sortby, tuple(sortable), label)
        return evolve(self, sortable=tuple(sortable))

    def without_sortby(self) -> V2Search:
        """The same search in the server's order."""
        return evolve(self, sortby=None)

    @property
    def post(self) -> bool:
        """Whether the search is sent as ``POST`` (a CQL2 filter is sent as cql2-json)."""
        return self.filter is not None

    def query(self, *, collections: bool = True) -> dict[str, str]:
        """The ``GET`` query (no filter: a filtered search is a ``POST``)."""
        query: dict[str, str] = {}
        if collections and self.collections:
            query["collections"] = ",".join(self.collections)
        if self.ids:
            query["ids"] = ",".join(self.ids)
        if self.datetime:
            query["datetime"] = self.datetime
        if self.bbox is not None:
            query["bbox"] = ",".join(_number(v) for v in self.bbox)
        query["limit"] = str(self.limit)
        if self.sortby:
            query["sortby"] = self.sortby
        return query

    def body(self) -> dict[str, Any]:
        """The ``POST <service>/search`` body (STAC item search, filter in cql2-json)."""
        body: dict[str, Any] = {}
        if self.collections:
            body["collections"] = list(self.collections)
        if self.ids:
            body["ids"] = list(self.ids)
        if self.datetime:
            body["datetime"] = self.datetime
        if self.bbox is not None:
            body["bbox"] = list(self.bbox)
        body["limit"] = self.limit
        if self.sortby:
            direction = "desc" if self.sortby.startswith("-") else "asc"
            body["sortby"] = [{"field": self.sortby.lstrip("+-"), "direction": direction}]
        if self.filter is not None:
            body["filter"] = copy.deepcopy(self.filter)
            body["filter-lang"] = "cql2-json"
        return body


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def check_collections_arg(value: Any) -> tuple[str, ...] | None:
    """``None``, or the collection id(s) given: one string or a list of strings.

    >>> check_collections_arg("adgs"), check_collections_arg(["mti", "mti_sentinel1"])
    (('adgs',), ('mti', 'mti_sentinel1'))
    """
    if value is None:
        return None
    values = [value] if isinstance(value, str) else value
    if isinstance(values, Mapping) or not isinstance(values, Iterable):
        raise InvalidInputError(f"collection must be a string or a list of strings, got {value!r}")
    out: list[str] = []
    for one in values:
        if not isinstance(one, str) or not one.strip() or any(c in one for c in "/,?#&"):
            raise InvalidInputError(f"collection must be a non-empty string, got {one!r}")
        out.append(one.strip())
    if not out:
        raise InvalidInputError("collection is an empty list")
    return tuple(unique(out))


def check_bbox(value: Any) -> tuple[float, ...] | None:
    """``None``, or ``[west, south, east, north]`` in degrees (WGS 84; west > east crosses the
    antimeridian).

    >>> check_bbox([-10, 40, 5.5, 50])
    (-10.0, 40.0, 5.5, 50.0)
    """
    if value is None:
        return None
    if isinstance(value, (str, Mapping)) or not isinstance(value, Iterable):
        raise InvalidInputError(f"bbox must be [west, south, east, north], got {value!r}")
    numbers = list(value)
    if len(numbers) != 4 or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in numbers
    ):
        raise InvalidInputError(
            f"bbox must be four numbers [west, south, east, north], got {value!r}"
        )
    west, south, east, north = (float(v) for v in numbers)
    if not (-180 <= west <= 180 and -180 <= east <= 180):
        raise InvalidInputError(f"bbox longitudes must be within [-180, 180], got {value!r}")
    if not (-90 <= south <= north <= 90):
        raise InvalidInputError(
            f"bbox latitudes must be within [-90, 90] with south <= north, got {value!r}"
        )
    return (west, south, east, north)


def check_intersects(value: Any) -> dict[str, Any] | None:
    """``None``, or a GeoJSON geometry (a dict, or any object with ``__geo_interface__``).

    >>> check_intersects({"type": "Point", "coordinates": [1, 2]})
    {'type': 'Point', 'coordinates': [1, 2]}
    """
    if value is None:
        return None
    geometry = getattr(value, "__geo_interface__", value)
    if isinstance(geometry, Mapping) and geometry.get("type") == "Feature":
        geometry = geometry.get("geometry")
    if not isinstance(geometry, Mapping) or geometry.get("type") not in _GEOMETRY_TYPES:
        raise InvalidInputError(
            f"intersects must be a GeoJSON geometry ({', '.join(_GEOMETRY_TYPES)}), got {value!r}"
        )
    key = "geometries" if geometry["type"] == "GeometryCollection" else "coordinates"
    if not isinstance(geometry.get(key), (list, tuple)):
        raise InvalidInputError(f"intersects: a {geometry['type']} needs {key!r}, got {value!r}")
    return dict(json_copy(geometry))


def _rs_server_ops(node: Any) -> Any:
    """``s_intersects`` renamed :data:`SPATIAL_OP` (what RS-Server 1.0 reads), recursively."""
    if isinstance(node, dict):
        out = {k: _rs_server_ops(v) for k, v in node.items()}
        if str(out.get("op", "")).lower() == "s_intersects":
            out["op"] = SPATIAL_OP
        return out
    if isinstance(node, list):
        return [_rs_server_ops(v) for v in node]
    return node


def _sortable_in(message: str) -> tuple[str, ...] | None:
    """The field list of RS-Server 1.0's refusal ("... list of sortable parameter(s) with
    adgs: id, auxip:id, ...")."""
    _head, sep, tail = message.partition("sortable parameter(s) with ")
    if not sep or ":" not in tail:
        return None
    listed = tail.split(":", 1)[1].split(")")[0]
    fields = tuple(f.strip(" .'\"") for f in listed.split(",") if f.strip(" .'\""))
    return fields or None


def unsortable(sortby: str, sortable: Sequence[str] | None, label: str) -> UnsortableFieldError:
    """The error for a ``sortby`` field ``label`` cannot sort on, naming the sortable ones."""
    field_name = sortby.lstrip("+-")
    known = f"; sortable fields: {', '.join(sortable)}" if sortable else ""
    err = UnsortableFieldError(f"{label} cannot sort on {field_name!r}{known}")
    err.sortable = tuple(sortable or ())
    return err


def v2_search(
    base: Mapping[str, str],
    *,
    collections: Sequence[str],
    explicit: bool,
    limit: int | None,
    max_items: int | None,
    page_size: int | None = None,
    filter: str | Mapping[str, Any] | None = None,
    clauses: Iterable[Mapping[str, Any] | None] = (),
    bbox: Any = None,
    intersects: Any = None,
    ids: Sequence[str] = (),
    sortable: Sequence[str] | None = None,
    label: str = "the station",
) -> tuple[V2Search, int | None]:
    """Validate the v2 search arguments and build the request; also returns the total cap.

    ``base`` holds the v1-style ``datetime`` and ``sortby`` (from
    :func:`~rs_core.rsserver_v1.search_params`); ``limit``/``max_items``/``page_size`` as in
    :func:`page_query`. ``filter`` (cql2-text, parsed, or cql2-json), the plugin's ``clauses``
    (cql2-json) and ``intersects`` (a GeoJSON geometry) are ANDed into one cql2-json filter.
    A ``sortby`` field outside ``sortable`` (when given) is
    :class:`~rs_core.UnsortableFieldError` before any request.

    >>> search, cap = v2_search({"datetime": "a/b"}, collections=["adgs"], explicit=False,
    ...                         limit=None, max_items=10, filter="platform = 'sentinel-1a'")
    >>> cap, search.post, search.body()["filter"]["args"][1]
    (10, True, 'sentinel-1a')
    """
    query, total = page_query(
        {}, limit=limit, max_items=max_items, filter_text=None, page_size=page_size
    )
    parts: list[Mapping[str, Any] | None] = [to_cql2_json(filter) if filter is not None else None]
    parts.extend(clauses)
    geometry = check_intersects(intersects)
    if geometry is not None:
        parts.append({"op": SPATIAL_OP, "args": [{"property": "geometry"}, geometry]})
    combined = all_of(parts)
    search = V2Search(
        collections=tuple(collections),
        explicit=explicit,
        limit=int(query["limit"]),
        datetime=base.get("datetime") or None,
        sortby=base.get("sortby") or None,
        filter=_rs_server_ops(combined) if combined is not None else None,
        bbox=check_bbox(bbox),
        ids=tuple(ids),
    )
    return (search if sortable is None else search.check_sortby(sortable, label)), total


__all__ += [
    "SPATIAL_OP",
    "V2Search",
    "check_bbox",
    "check_collections_arg",
    "check_intersects",
    "unsortable",
    "v2_search",
]


def _file_asset(asset: Mapping[str, Any]) -> dict[str, Any]:
    # RS-Server 0.2 and 1.0a4 send "file:checksum": "$.Checksum[0].Value" (a template the
    # server did not evaluate): it is no checksum, so it goes.
    copied = dict(asset)
    checksum = copied.get("file:checksum")
    if isinstance(checksum, str) and checksum.startswith("$."):
        del copied["file:checksum"]  # the other keys keep their order
    return copied


def asset_files(
    item: Mapping[str, Any],
    collection: str,
    *,
    clean: Callable[[Mapping[str, Any]], dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """One file-level feature per asset of a v2 ``item`` (a product holding its files), shaped
    like a v1 file: ``id`` = the asset key (the file name), the item's properties, geometry and
    extensions, one ``file`` asset (the asset, through ``clean`` when given; by default without
    the unevaluated ``file:checksum`` template RS-Server sends).

    >>> item = {"id": "P", "properties": {"datetime": None}, "assets": {"P.zip": {"href": "h"}}}
    >>> [(f["id"], f["assets"]["file"]["href"]) for f in asset_files(item, "c")]
    [('P.zip', 'h')]
    """
    properties = item.get("properties") or {}
    assets = item.get("assets") or {}
    files = []
    for name, value in assets.items() if isinstance(assets, Mapping) else ():
        asset: Mapping[str, Any] = value if isinstance(value, Mapping) else {}
        files.append(
            {
                "type": "Feature",
                "stac_version": item.get("stac_version", "1.0.0"),
                "stac_extensions": list(item.get("stac_extensions") or []),
                "id": str(name),
                "geometry": item.get("geometry"),
                "bbox": item.get("bbox"),
                "properties": dict(properties),
                "links": [],
                "assets": {"file": clean(asset) if clean is not None else _file_asset(asset)},
                "collection": collection,
            }
        )
    return files


__all__ += ["asset_files", "files_per_asset"]


def _sort_key(value: Any) -> tuple[int, float, str]:
    if value is None:
        return (2, 0.0, "")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, float(value), "")
    return (1, 0.0, str(value))


def _merged(parts: Sequence[Iterator[pystac.Item]], sortby: str | None) -> Iterator[pystac.Item]:
    """The items of several sorted streams as one (see :func:`merge_results`): merged by
    ``sortby`` (``±field``; items without the field last), else one stream after the other;
    repeats (same id) dropped."""
    merged: Iterator[pystac.Item]
    if sortby:
        name, descending = sortby.lstrip("+-"), sortby.startswith("-")

        def key(item: pystac.Item) -> tuple[int, tuple[int, float, str]]:
            value = item.properties.get(name)
            present = value is not None
            # descending merges from the largest key: items without the field rank lowest
            return ((1 if present else 0) if descending else (0 if present else 1)), (
                _sort_key(value) if present else (0, 0.0, "")
            )

        merged = heapq.merge(*parts, key=key, reverse=descending)
    else:
        merged = itertools.chain.from_iterable(parts)
    seen: set[str] = set()
    for item in merged:
        if item.id not in seen:
            seen.add(item.id)
            yield item


def merge_results(
    parts: Sequence[StationItemCollection],
    *,
    sortby: str | None = None,
    max_items: int | None = None,
) -> StationItemCollection:
    """The items of several searches as one result: repeats (same id) dropped, sorted by
    ``sortby`` (``±field``; items without the field last) when given, cut to ``max_items``.

    The server's answers stay in ``raw["parts"]``.
    """
    seen: set[str] = set()
    items: list[pystac.Item] = []
    for part in parts:
        for item in part.items:
            if item.id not in seen:
                seen.add(item.id)
                items.append(item)
    if sortby:
        name, descending = sortby.lstrip("+-"), sortby.startswith("-")
        present = [i for i in items if i.properties.get(name) is not None]
        missing = [i for i in items if i.properties.get(name) is None]
        present.sort(key=lambda i: _sort_key(i.properties.get(name)), reverse=descending)
        items = present + missing
    if max_items is not None:
        items = items[:max_items]
    raw = {"type": "FeatureCollection", "parts": [p.raw for p in parts]}
    extra = {"numberReturned": len(items)}
    return StationItemCollection(items, extra_fields=extra, clone_items=False, raw=raw)


__all__ += ["merge_results"]
