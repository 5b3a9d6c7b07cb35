"""The base class of station clients: the seed API every station plugin offers.

A station plugin subclasses :class:`StationClient`, names its kind, the station ids it
accepts and the env var that overrides its service URL, and implements the protocol methods.
It gets validation of station ids, ``station_name``, ``from_rs_client`` (children sharing the
parent's session) and :meth:`StationClient.stage_and_wait` for free::

    class PripClient(StationClient):
        station_kind = "prip"
        station_ids = ("PRIP",)
        service_env_var = "RSPY_HOST_PRIP"

        def search_stations(self, start_date, stop_date, limit=None, sortby=None,
                            timeout=None):
            ...

        def staging(self, filename, s3_path="", tmp_download_path="", timeout=None):
            ...

        def staging_info(self, filename, timeout=None):
            ...
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from rs_core.client import RsClient
from rs_core.enums import EDownloadStatus
from rs_core.errors import (
    ConfigurationError,
    InvalidInputError,
    NotFoundError,
    RsError,
    UnknownCollectionError,
    UnknownStationError,
    UnsupportedOperationError,
)
from rs_core.generations import AUTO, V1, V2, generation_noted
from rs_core.ledger import LedgerEntry, LedgerScope, StagingLedger, default_ledger_path
from rs_core.staging import (
    ProgressCallback,
    StagingBinding,
    StagingReport,
    StagingStatus,
    run_stage_and_wait,
)

if TYPE_CHECKING:
    import os
    from datetime import date, datetime

    import pystac

    from rs_core.rsserver_v1 import StationProtocolV1
    from rs_core.rsserver_v2 import StagingJob, StationProtocolV2, V2Endpoints, V2State

T = TypeVar("T")

STAGING_ENV = "RSPY_HOST_STAGING"
CATALOG_ENV = "RSPY_HOST_CATALOG"

__all__ = ["CATALOG_ENV", "STAGING_ENV", "StationClient"]


class StationClient(RsClient):
    """Seed API of a station: search, stage, status, and stage-and-wait.

    Subclasses set :attr:`station_kind`, :attr:`station_ids` and :attr:`service_env_var`.
    """

    station_kind: ClassVar[str] = ""
    station_ids: ClassVar[tuple[str, ...]] = ()
    service_env_var: ClassVar[str] = ""
    v2_service: ClassVar[str] = ""
    """The v2 path segment of the service (``"auxip"``, ``"cadip"``); empty: v1 only."""
    sortable_fields: ClassVar[tuple[str, ...] | None] = None
    """The ``sortby`` fields the v2 service sorts on, when known (``None``: not checked
    client-side; the server's refusal is still an :class:`~rs_core.UnsortableFieldError`)."""

    _station: str
    _v2_state: V2State

    def __init__(
        self,
        rs_server_href: str | None = None,
        rs_server_api_key: str | None = None,
        owner_id: str | None = None,
        station: str | None = None,
        logger: logging.Logger | None = None,
        *,
        ledger: StagingLedger | str | os.PathLike[str] | None = None,
        **settings: Any,
    ) -> None:
        self._init_station = station
        self._init_ledger = ledger
        super().__init__(rs_server_href, rs_server_api_key, owner_id, logger, **settings)

    def _setup(self, **options: Any) -> None:
        station = options.pop("station", getattr(self, "_init_station", None))
        self._ledger_setting = options.pop("ledger", getattr(self, "_init_ledger", None))
        self._ledger: StagingLedger | None = None
        if options:
            raise TypeError(f"{type(self).__name__} got unexpected options: {sorted(options)}")
        self._station = self.validate_station(station)
        from rs_core.rsserver_v2 import V2State

        self._v2_state = V2State()

    @classmethod
    def validate_station(cls, station: str | None) -> str:
        """Upper-case ``station`` and check it; ``None`` means the first station listed.

        >>> class C(StationClient):
        ...     station_ids = ("CADIP", "MTI")
        >>> C.validate_station("mti")
        'MTI'
        """
        if station is None or (isinstance(station, str) and not station.strip()):
            if not cls.station_ids:
                raise UnknownStationError(f"{cls.__name__} declares no station ids")
            return cls.station_ids[0]
        if not isinstance(station, str):
            raise UnknownStationError(f"station must be a string, not {type(station).__name__}")
        name = str(getattr(station, "value", station)).strip().upper()
        if name not in cls.station_ids:
            raise UnknownStationError(
                f"Unknown {cls.station_kind or cls.__name__} station {station!r}; valid "
                f"stations: {', '.join(cls.station_ids)}"
            )
        return name

    @property
    def station_name(self) -> str:
        """The station id this client talks to (upper case)."""
        return self._station

    def _repr_fields(self) -> dict[str, Any]:
        return {"station": self._station, **super()._repr_fields()}

    # -- generations --------------------------------------------------------------------

    def service_base(self) -> str:
        """Base URL of this station's service (env :attr:`service_env_var`, else the href)."""
        return self.service_href(self.service_env_var, self.station_kind.upper())

    def server_generation(self, timeout: float | None = None) -> str:
        """``"v1"`` or ``"v2"``: the setting, or (``"auto"``) the service's answer to one
        probe of ``<service>/<v2_service>``, cached per service URL for this client and its
        family. A client that speaks one generation (:meth:`generations`) always uses it,
        whatever the setting says.

        >>> auxip.server_generation()   # doctest: +SKIP
        'v2'
        """
        setting = self.api_version
        spoken = self.generations()
        if setting != AUTO:
            if setting in spoken:
                return setting
            # a family-wide setting never makes a plugin refuse what it can do: a plugin that
            # speaks one generation uses it (its v2-only operations then raise, see _require_v2)
            self.logger.debug(
                "%s speaks RS-Server %s only: api_version=%r does not apply to it",
                type(self).__name__,
                "/".join(spoken),
                setting,
            )
            return spoken[0]
        landing = self._probe_key()
        if landing is None:
            return spoken[0]

        def probe() -> str:
            from rs_core.rsserver_v2 import probe_generation

            found = probe_generation(self.http, landing, label=self._label(), timeout=timeout)
            self.logger.debug("%s speaks RS-Server %s", landing, found)
            return found

        return self._ctx.generations.resolve(landing, probe)

    def _probe_key(self) -> str | None:
        """The landing page an ``auto`` client probes (the generation cache's key), or
        ``None`` when the generation needs no probe (a setting, one generation spoken)."""
        spoken = self.generations()
        if self.api_version != AUTO or len(spoken) == 1 or not self.v2_service:
            return None
        return f"{self.service_base()}/{self.v2_service}"

    def _searched(self, timeout: float | None, run: Callable[[str], T]) -> T:
        """``run(generation)`` for a search: the station's generation, its errors tagged
        with it. An ``auto`` client whose generation is not known yet runs the v2 search
        without probing first: a v2 answer tells the generation (then cached like a probe's).
        Only when that search fails does it probe (not for an unknown collection: the v2
        collection list that says so tells the generation): v2, the failure is the search's;
        v1, the search runs again on v1. ``run`` must have no effect on the server."""
        key = self._probe_key()
        known = self._ctx.generations.get(key) if key is not None else None
        if key is None or known is not None:
            version = known or self.server_generation(timeout=timeout)
            with generation_noted(version):
                return run(version)
        try:
            with generation_noted(V2):
                result = run(V2)
        except UnknownCollectionError:
            self._ctx.generations.remember(key, V2)  # a v2 collection list told it
            raise
        except RsError:
            version = self.server_generation(timeout=timeout)  # the probe decides
            if version == V2:
                raise
            self.logger.debug("%s: a v2 search failed; the probe says %s", key, version)
            with generation_noted(version):
                return run(version)
        self._ctx.generations.remember(key, V2)
        return result

    def _label(self) -> str:
        return (
            self.station_name
            if self.station_kind.upper() == self.station_name
            else (f"{self.station_kind.upper()} {self.station_name}")
        )

    @contextmanager
    def _generation(self, timeout: float | None = None) -> Iterator[str]:
        """Detect the generation, and tag errors raised inside with it."""
        version = self.server_generation(timeout=timeout)
        with generation_noted(version):
            yield version

    @staticmethod
    def _noted(version: str, items: Iterator[pystac.Item]) -> Iterator[pystac.Item]:
        """``items``, their errors tagged with the generation ``version`` (a stream's
        :meth:`_generation`)."""
        with generation_noted(version):
            yield from items

    def v2_endpoints(self) -> V2Endpoints:
        """Where the v2 station, staging and catalog services are.

        Staging: env ``RSPY_HOST_STAGING``, else ``rs_server_href``, else (local mode) the
        station service's URL; the catalog likewise with ``RSPY_HOST_CATALOG``.
        """
        from rs_core.rsserver_v2 import V2Endpoints

        base = self.service_base()

        def other(env: str) -> str:
            try:
                return self.service_href(env, env)
            except ConfigurationError:
                return base

        return V2Endpoints(base, other(STAGING_ENV), other(CATALOG_ENV))

    def staging_owner(self) -> str:
        """Who owns v2 staging target collections: in cluster mode the API key's user
        (``user_login`` sanitised: the staging service stages there whatever ``owner_id``
        says), in local mode :attr:`owner_id`."""
        if self.local_mode:
            return self.owner_id
        from rs_core.auth import sanitize_owner_id

        return sanitize_owner_id(self.apikey_user_login, source="the API key's user_login")

    def _v2_protocol(self) -> StationProtocolV2:
        """The v2 protocol object of this station (plugins that set :attr:`v2_service`)."""
        raise UnsupportedOperationError(f"{type(self).__name__} does not speak RS-Server v2")

    @classmethod
    def generations(cls) -> tuple[str, ...]:
        """The RS-Server generations this client speaks, oldest first: its plugin record's
        ``generations`` (``StationType.generations``), or for a class no plugin registers,
        v1 plus v2 when it sets :attr:`v2_service`.

        >>> StationClient.generations()
        ('v1',)
        """
        from rs_core.plugins import get_registry

        record = get_registry().stations.get(cls.station_kind) if cls.station_kind else None
        if record is not None and record.load_client_class() is cls:
            return tuple(sorted(record.generations))
        return (V1, V2) if cls.v2_service else (V1,)

    def _require_v2(self, what: str, timeout: float | None = None) -> None:
        if V2 not in self.generations():
            raise UnsupportedOperationError(
                f"{what} needs RS-Server v2 (0.2 or later); {type(self).__name__} speaks "
                f"RS-Server {'/'.join(self.generations())} only"
            )
        if self.server_generation(timeout=timeout) != V2:
            raise UnsupportedOperationError(
                f"{what} needs RS-Server v2 (0.2 or later); {self.service_base()} speaks "
                f"RS-Server v1, which has no such operation [RS-Server v1]"
            )

    @property
    def default_collection(self) -> str:
        """The catalog collection v2 staging targets by default: ``<kind>_staged``."""
        return f"{self.station_kind}_staged"

    # -- v2-only operations -----------------------------------------------------------

    def list_collections(self, timeout: float | None = None) -> list[pystac.Collection]:
        """The station service's STAC collections (v2 only; v1 raises
        :class:`~rs_core.UnsupportedOperationError`).

        >>> "adgs_aux_pp2" in {c.id for c in auxip.list_collections()}   # doctest: +SKIP
        True
        """
        timeout = _check_timeout(timeout)
        self._require_v2("list_collections()", timeout)
        with generation_noted(V2):
            return self._v2_protocol().collections(timeout=timeout)

    def queryables(self, collection: str | None = None, timeout: float | None = None) -> Any:
        """The queryables (a JSON schema dict) of the service, or of one ``collection``
        (v2 only).

        >>> sorted(auxip.queryables("adgs")["properties"])[:2]   # doctest: +SKIP
        ['constellation', 'created']
        """
        if collection is not None and (not isinstance(collection, str) or not collection.strip()):
            raise InvalidInputError(f"collection must be a non-empty string, got {collection!r}")
        timeout = _check_timeout(timeout)
        self._require_v2("queryables()", timeout)
        with generation_noted(V2):
            return self._v2_protocol().queryables(collection, timeout=timeout)

    def list_jobs(self, timeout: float | None = None) -> list[StagingJob]:
        """The staging service's jobs (v2 only), as :class:`~rs_core.rsserver_v2.StagingJob`.

        >>> [j.status for j in cadip.list_jobs()]   # doctest: +SKIP
        ['successful', 'running']
        """
        timeout = _check_timeout(timeout)
        self._require_v2("list_jobs()", timeout)
        with generation_noted(V2):
            return self._v2_protocol().list_jobs(timeout=timeout)

    def list_processes(self, timeout: float | None = None) -> dict[str, Any]:
        """``GET /processes`` of the staging service (v2 only): its JSON answer.

        >>> [p["id"] for p in cadip.list_processes()["processes"]]   # doctest: +SKIP
        ['Staging']
        """
        timeout = _check_timeout(timeout)
        self._require_v2("list_processes()", timeout)
        with generation_noted(V2):
            return self._v2_protocol().processes(timeout=timeout)

    def staging_process(self, timeout: float | None = None) -> dict[str, Any]:
        """``GET /processes/staging`` (v2 only): the staging process's description."""
        timeout = _check_timeout(timeout)
        self._require_v2("staging_process()", timeout)
        with generation_noted(V2):
            return self._v2_protocol().process("staging", timeout=timeout)

    def job_results(self, job_id: str, timeout: float | None = None) -> dict[str, Any]:
        """``GET /jobs/{id}/results`` (v2 only): what staging job ``job_id`` produced."""
        job_id = _check_job_id(job_id)
        timeout = _check_timeout(timeout)
        self._require_v2("job_results()", timeout)
        with generation_noted(V2):
            return self._v2_protocol().job_results(job_id, timeout=timeout)

    def stage_items(
        self,
        items: Any,
        *,
        collection: str | None = None,
        asset_names: Sequence[str] | None = None,
        timeout: float | None = None,
    ) -> StagingJob:
        """Stage anything a user holds in one v2 job: file names, :class:`pystac.Item` objects, an
        :class:`pystac.ItemCollection`, a FeatureCollection (or its saved file), or a search
        URL ``{"href": ...}`` (see :func:`~rs_core.staging.staging_inputs`). ``asset_names``
        (RS-Server 1.0a14 and later) stages only these assets. Written to the :attr:`ledger`
        first; returns the job (follow it with :meth:`staging_info` or
        :meth:`stage_and_wait`, which takes the same inputs).

        >>> job = cadip.stage_items({"href": search_url}, collection="mine")  # doctest: +SKIP
        """
        from rs_core.staging import staging_inputs

        names = staging_inputs(items)
        if not names:
            raise InvalidInputError("stage_items needs at least one item")
        if asset_names is not None:
            asset_names = [self.check_filename(a) for a in asset_names]
        target = self._check_collection(collection)
        timeout = _check_timeout(timeout)
        self._require_v2("stage_items()", timeout)
        entries = self._ledger_begin(V2, names, target, self._staging_call(V2))
        try:
            job = self._stage_v2(names, "", "", target, timeout, asset_names=asset_names)
        except RsError as err:
            self._ledger_after(entries, err)
            raise
        self._ledger_after(entries, job)
        return job

    def dismiss_job(self, job_id: str, timeout: float | None = None) -> StagingJob:
        """Dismiss staging job ``job_id`` (v2 only); the job as the server then shows it."""
        job_id = _check_job_id(job_id)
        timeout = _check_timeout(timeout)
        self._require_v2("dismiss_job()", timeout)
        with generation_noted(V2):
            return self._v2_protocol().dismiss(job_id, timeout=timeout)

    def staging_job(self, filename: str) -> StagingJob | None:
        """The last known v2 staging job holding ``filename`` (no request), else ``None``:
        this client's, else the ledger's (without its status)."""
        with self._v2_state.lock:
            job_id = self._v2_state.job_of.get(filename)
            if job_id:
                return self._v2_state.jobs.get(job_id)
        return self._job_from_ledger(filename)

    # -- the staging ledger ----------------------------------------------------------------

    @property
    def ledger(self) -> StagingLedger:
        """The staging ledger this client writes (see :mod:`rs_core.ledger`): the ``ledger=``
        argument (a :class:`~rs_core.ledger.StagingLedger` or a path), else env ``RS_LEDGER``,
        else ``~/.local/state/rs-client/ledger.sqlite3``. Opened on first use, shared by the
        clients of this process that use the same file."""
        if self._ledger is None:
            setting = self._ledger_setting
            if isinstance(setting, StagingLedger):
                self._ledger = setting
            else:
                path = str(setting) if setting is not None else default_ledger_path()
                self._ledger = _open_ledger(path)
        return self._ledger

    def ledger_scope(self, timeout: float | None = None) -> LedgerScope:
        """This station in the ledger: kind, station id, service URL and generation."""
        version = self.server_generation(timeout=timeout)
        return LedgerScope(self.station_kind, self.station_name, self.service_base(), version)

    def ledger_entry(self, filename: str, timeout: float | None = None) -> LedgerEntry | None:
        """The ledger's open (else latest) entry of ``filename`` at this station."""
        return self.ledger.latest(self.ledger_scope(timeout), self.check_filename(filename))

    def staging_binding(self, timeout: float | None = None) -> StagingBinding:
        """How :func:`~rs_core.staging.run_stage_and_wait` stages at this station."""
        return _StationBinding(self, self.ledger, self.ledger_scope(timeout))

    def _job_from_ledger(self, filename: str) -> StagingJob | None:
        try:
            entry = self.ledger.latest(self.ledger_scope(), filename)
        except RsError:
            return None
        if entry is None or not entry.job_id or entry.generation != V2:
            return None
        from rs_core.rsserver_v2 import StagingJob

        files = tuple(e.name for e in self.ledger.job_entries(entry.scope, entry.job_id))
        job = StagingJob(
            entry.job_id,
            self._v2_protocol().job_href(entry.job_id),
            _JOB_WORDS.get(entry.state, "accepted"),
            message=entry.reason,
            collection=entry.target,
            files=files or (filename,),
        )
        self._v2_state.remember_job(job)
        return job

    def _ledger_begin(
        self, version: str, names: Sequence[str], target: str, call: str
    ) -> list[LedgerEntry]:
        scope = LedgerScope(self.station_kind, self.station_name, self.service_base(), version)
        return self.ledger.begin(scope, names, target=target, call=call)

    def _ledger_after(
        self, entries: Sequence[LedgerEntry], outcome: StagingJob | RsError | None
    ) -> None:
        from rs_core.staging import _is_lost_answer

        ids = [e.entry_id for e in entries if e.holder is None and not e.final]
        if not ids:
            return
        if isinstance(outcome, RsError):
            state = "UNKNOWN" if _is_lost_answer(outcome) else "REFUSED"
            self.ledger.record_many(ids, state, str(outcome))
        else:
            job_id = outcome.job_id if outcome is not None else None
            self.ledger.record_many(ids, "NOT_STARTED", job_id=job_id)

    def _ledger_note(self, version: str, name: str, info: StagingStatus) -> None:
        """Record a status the server gave for ``name`` (v2: every file of its job)."""
        scope = LedgerScope(self.station_kind, self.station_name, self.service_base(), version)
        entry = self.ledger.latest(scope, name)
        if entry is None or entry.final:
            return
        entries = [entry]
        if entry.job_id:
            entries = [e for e in self.ledger.job_entries(scope, entry.job_id) if not e.final]
        reason = info.message if info.status.is_final else ""
        todo = [e.entry_id for e in entries if e.state != info.status.value or e.reason != reason]
        if todo:
            self.ledger.record_many(todo, info.status.value, reason)

    # -- shared staging plumbing for plugins -------------------------------------------

    def _check_collection(self, collection: str | None) -> str:
        if collection is None:
            return self.default_collection
        if not isinstance(collection, str) or not collection.strip() or "/" in collection:
            raise InvalidInputError(f"collection must be a non-empty string, got {collection!r}")
        return collection.strip()

    def _v2_locate(self, filenames: Sequence[str], timeout: float | None) -> None:
        """Find the v2 items that hold ``filenames`` (files this client has not seen in a
        search, e.g. in a new process), so that :meth:`_stage_v2` can stage them.

        A plugin overrides it with a search by id (the item id follows from the file name);
        the base class knows no naming and finds nothing.
        """

    def _stage_v2(
        self,
        filenames: Sequence[str],
        s3_path: str,
        tmp_download_path: str,
        collection: str,
        timeout: float | None,
        *,
        asset_names: Sequence[str] | None = None,
    ) -> StagingJob:
        if s3_path or tmp_download_path:
            self.logger.warning(
                "RS-Server v2 stages into the catalog collection %r; s3_path and "
                "tmp_download_path are ignored",
                collection,
            )
        with generation_noted(V2):
            protocol = self._v2_protocol()
            protocol.known_jobs = lambda: self.ledger.known_jobs(self.service_base())
            protocol.lost_sends = lambda: self.ledger.lost_sends(
                self.service_base(), exclude_names=filenames
            )
            urls = [n for n in filenames if _is_url(n)]
            if urls:
                if len(filenames) != 1:
                    raise InvalidInputError(
                        "a search href is staged in a job of its own: give it alone"
                    )
                return protocol.execute(
                    {"href": urls[0]},
                    collection,
                    files=(urls[0],),
                    timeout=timeout,
                    asset_names=asset_names,
                )
            with self._v2_state.lock:
                unseen = [n for n in filenames if n not in self._v2_state.files]
            if unseen:
                try:
                    self._v2_locate(unseen, timeout)
                except RsError as err:
                    self.logger.debug("could not find the items of %s: %s", unseen, err)
            return protocol.stage(
                list(filenames), collection, timeout=timeout, asset_names=asset_names
            )

    def staging_batch(
        self,
        filenames: Sequence[str],
        *,
        s3_path: str = "",
        tmp_download_path: str = "",
        timeout: float | None = None,
        collection: str | None = None,
    ) -> dict[str, str] | None:
        """Stage several files in one request where the server allows it (v2: one job).

        Returns ``{name: error message}`` (empty when all were accepted), or ``None`` when
        this generation stages file by file (v1): the caller then calls :meth:`staging`.
        """
        names = [self.check_filename(n) for n in filenames]
        target = self._check_collection(collection)
        timeout = _check_timeout(timeout)
        try:
            version = self.server_generation(timeout=timeout)
        except RsError as err:
            return {n: str(err) for n in names}
        if version != V2:
            return None
        entries = self._ledger_begin(V2, names, target, self._staging_call(V2))
        try:
            job = self._stage_v2(names, s3_path, tmp_download_path, target, timeout)
        except RsError as err:
            self._ledger_after(entries, err)
            return {n: str(err) for n in names}
        self._ledger_after(entries, job)
        return {}

    def _staging_call(self, version: str, params: dict[str, str] | None = None) -> str:
        """What the ledger records as the staging call (never a secret)."""
        from urllib.parse import urlencode

        if version == V2:
            from rs_core.rsserver_v2 import STAGING_EXECUTION_PATH

            return f"POST {self.v2_endpoints().staging.rstrip('/')}{STAGING_EXECUTION_PATH}"
        stage = self._protocol().endpoints.stage
        return f"GET {stage}?{urlencode(params or {})}"

    def _send_staging(
        self,
        version: str,
        names: Sequence[str],
        *,
        s3_path: str,
        tmp_download_path: str,
        collection: str,
        timeout: float | None,
    ) -> StagingJob | None:
        """Send one staging request (no ledger write: the caller does it)."""
        if version == V2:
            return self._stage_v2(names, s3_path, tmp_download_path, collection, timeout)
        from rs_core.rsserver_v1 import staging_params

        self._protocol().stage(
            staging_params(names[0], s3_path, tmp_download_path), timeout=timeout
        )
        return None

    # -- what a plugin implements ----------------------------------------------------------

    def search_stations(
        self,
        start_date: datetime | date | str,
        stop_date: datetime | date | str,
        limit: int | None = None,
        sortby: str | None = None,
        timeout: float | None = None,
    ) -> Any:
        """Files published at the station in ``[start_date, stop_date]``.

        Dates may be datetimes, ISO 8601 strings or relative (``"yesterday"``, ``"-2h"``).
        ``limit`` caps the number of files returned in total; in a catalog search
        (:meth:`rs_catalog.StacClient.search`) ``limit`` is the page size and ``max_items``
        the total. Returns a :class:`pystac.ItemCollection`.
        """
        raise NotImplementedError(f"{type(self).__name__} does not search files")

    def iter_stations(self, *args: Any, **kwargs: Any) -> Iterator[pystac.Item]:
        """The files of :meth:`search_stations` (same arguments), one pystac item after the
        other, for searches too large to hold.

        A plugin whose service pages its answers (RS-Server v2 and 1.0: AUXIP, CADIP files,
        PRIP) fetches a page when the previous one is used up and lets it go with its items,
        so memory stays at about one page whatever the number of files; bad arguments raise
        at once, before any request. Files found this way are not remembered for staging by
        name (staging the items themselves, or the names later, works as from a new process).
        The default (an RS-Server v1 station answers in one piece) iterates
        :meth:`search_stations`' result.

        >>> for item in auxip.iter_stations("2024-01-01", "2024-02-01"):  # doctest: +SKIP
        ...     print(item.id)
        """
        return iter(self.search_stations(*args, **kwargs))

    def _protocol(self) -> StationProtocolV1:
        """The station's RS-Server v1 protocol object.

        A plugin that returns one here gets :meth:`staging` and :meth:`staging_info` on both
        generations for free; one that speaks another protocol overrides those two instead.
        """
        raise NotImplementedError(f"{type(self).__name__} does not stage files")

    def staging(
        self,
        filename: str,
        s3_path: str = "",
        tmp_download_path: str = "",
        timeout: float | None = None,
    ) -> StagingJob | None:
        """Ask RS-Server to stage ``filename``.

        v1: to ``s3_path`` and/or ``tmp_download_path``; returns ``None``. v2: a staging job
        puts the item that holds the file (for CADIP, its session) into the catalog
        ``collection`` (default :attr:`default_collection`, created when missing) and this
        returns its :class:`~rs_core.rsserver_v2.StagingJob`. Either way the file must have
        been returned by a search first; a refusal (v2: a job that failed at once) raises
        :class:`~rs_core.StagingError`.

        >>> client.staging(files[0].id, tmp_download_path="/tmp/aux")  # doctest: +SKIP
        """
        return self._stage(filename, s3_path, tmp_download_path, timeout)

    def _stage(
        self,
        filename: str,
        s3_path: str = "",
        tmp_download_path: str = "",
        timeout: float | None = None,
        collection: str | None = None,
    ) -> StagingJob | None:
        """:meth:`staging` with the v2 target ``collection`` (plugins expose it as a keyword).

        The request goes into the ledger before it is sent, its answer after.
        """
        from rs_core.rsserver_v1 import staging_params

        params = staging_params(filename, s3_path, tmp_download_path)
        target = self._check_collection(collection)
        timeout = _check_timeout(timeout)
        with self._generation(timeout) as version:
            shown = target if version == V2 else (s3_path or tmp_download_path)
            entries = self._ledger_begin(
                version, [filename], shown, self._staging_call(version, params)
            )
            try:
                job = self._send_staging(
                    version,
                    [filename],
                    s3_path=s3_path,
                    tmp_download_path=tmp_download_path,
                    collection=target,
                    timeout=timeout,
                )
            except RsError as err:
                self._ledger_after(entries, err)
                raise
            self._ledger_after(entries, job)
            return job

    def staging_info(self, filename: str, timeout: float | None = None) -> StagingStatus:
        """The staging status of ``filename`` with the server's message and times.

        v2: the status of the job holding the file, found in this client or in the staging
        ledger (so any process can ask). Unknown name (v2: no job holds it):
        :class:`~rs_core.NotFoundError`. A network failure raises (after the client's
        retries); it never reads as ``FAILED``. The answer is recorded in the ledger.
        """
        name = self.check_filename(filename)
        timeout = _check_timeout(timeout)
        with self._generation(timeout) as version:
            if version == V2:
                info = self._v2_status(name, timeout)
            else:
                info = self._protocol().status(name, timeout=timeout)
        try:
            self._ledger_note(version, name, info)
        except RsError as err:
            self.logger.debug("could not record the status of %s in the ledger: %s", name, err)
        return info

    def _v2_status(self, name: str, timeout: float | None) -> StagingStatus:
        with self._v2_state.lock:
            known = name in self._v2_state.job_of
        entry = None
        if not known and self._job_from_ledger(name) is None:
            entry = self.ledger.latest(self.ledger_scope(timeout), name)
            if entry is not None and entry.state == "REFUSED":
                raise NotFoundError(
                    f"{self._label()} staging of {name!r} was refused: {entry.reason}"
                )
            if entry is not None and not entry.final:
                return StagingStatus(
                    name,
                    EDownloadStatus.NOT_STARTED,
                    "staging request sent; its job is not known yet",
                )
        try:
            return self._v2_protocol().status(name, timeout=timeout)
        except NotFoundError:
            # the server forgot the job (deleted, or its history purged): the ledger remembers
            entry = entry or self.ledger.latest(self.ledger_scope(timeout), name)
            if entry is None or not entry.final or entry.state not in ("DONE", "FAILED"):
                raise
            return StagingStatus(
                name,
                EDownloadStatus(entry.state),
                entry.reason
                or f"per the staging ledger (the server no longer shows job {entry.job_id})",
            )

    # -- what the base class gives ---------------------------------------------------------

    def staging_status(self, filename: str, timeout: float | None = None) -> EDownloadStatus:
        """The staging status of ``filename``.

        A failure to *ask* (network, server error) raises; it never reads as ``FAILED``.
        Unknown file: :class:`~rs_core.NotFoundError`.
        """
        return self.staging_info(filename, timeout=timeout).status

    def stage_and_wait(
        self,
        files: Iterable[Any],
        *,
        s3_path: str = "",
        tmp_download_path: str = "",
        concurrency: int = 4,
        poll_interval: float = 0.1,
        poll_max_interval: float = 2.0,
        timeout: float | None = None,
        request_timeout: float | None = None,
        restage: bool = False,
        progress: bool | ProgressCallback | None = None,
        collection: str | None = None,
        resume: bool = True,
    ) -> StagingReport:
        """Stage ``files`` and wait until each is DONE or FAILED (or ``timeout`` passes).

        See :func:`rs_core.staging.run_stage_and_wait`. Every request goes through the staging
        :attr:`ledger` first: with ``resume`` (default) a request an earlier run left open
        (killed, interrupted) is re-attached to, never sent twice, and the report says which
        (:attr:`~rs_core.staging.StagingReport.resumed`). Files already DONE are not staged
        again (unless ``restage``); Ctrl-C raises :class:`~rs_core.staging.StagingInterrupted`
        carrying the report. On RS-Server v2 the files to stage go in one staging job, whose
        items land in the catalog ``collection`` (default :attr:`default_collection`).

        >>> report = cadip.stage_and_wait(names, tmp_download_path="/tmp/x")  # doctest: +SKIP
        >>> [o.name for o in report.failed]                                   # doctest: +SKIP
        []
        """
        request_timeout = _check_timeout(request_timeout)
        if collection is not None:
            self._check_collection(collection)
        try:
            binding = self.staging_binding(request_timeout)
        except RsError as err:
            binding = _unreachable_binding(self, err)
        return run_stage_and_wait(
            self,
            files,
            s3_path=s3_path,
            tmp_download_path=tmp_download_path,
            concurrency=concurrency,
            poll_interval=poll_interval,
            poll_max_interval=poll_max_interval,
            timeout=timeout,
            request_timeout=request_timeout,
            restage=restage,
            progress=progress,
            stage_options={"collection": collection} if collection is not None else None,
            resume=resume,
            binding=binding,
        )

    @staticmethod
    def check_filename(filename: Any) -> str:
        """Reject empty or non-string file names before any request."""
        if not isinstance(filename, str) or not filename.strip():
            raise InvalidInputError(f"filename must be a non-empty string, got {filename!r}")
        return filename


def _check_timeout(timeout: Any) -> float | None:
    from rs_core.rsserver_v1 import check_timeout

    return check_timeout(timeout)


_JOB_WORDS = {
    "PENDING": "accepted",
    "UNKNOWN": "accepted",
    "NOT_STARTED": "accepted",
    "IN_PROGRESS": "running",
    "DONE": "successful",
    "FAILED": "failed",
    "REFUSED": "failed",
}

_LEDGERS: dict[str, StagingLedger] = {}
_LEDGERS_LOCK = threading.Lock()


def _open_ledger(path: str) -> StagingLedger:
    """One open ledger per file in this process (``:memory:``: a new one each time)."""
    if path == ":memory:":
        return StagingLedger(path)
    with _LEDGERS_LOCK:
        found = _LEDGERS.get(path)
        if found is None:
            found = _LEDGERS[path] = StagingLedger(path)
        return found


class _StationBinding(StagingBinding):
    """:class:`~rs_core.staging.StagingBinding` over a :class:`StationClient` and its ledger."""

    client: StationClient

    def target(self, s3_path: str, tmp_download_path: str, options: Mapping[str, Any]) -> str:
        if self.scope.generation == V2:
            return self.client._check_collection(options.get("collection"))
        return s3_path or tmp_download_path

    def precheck(self, name: str, timeout: float | None) -> StagingStatus | None:
        if self.scope.generation == V2:
            return None  # v2 keeps jobs, not files: the ledger already said what it knows
        try:
            return self.client._protocol().status(name, timeout=timeout)
        except RsError:
            return None

    def send(
        self,
        names: list[str],
        *,
        s3_path: str,
        tmp_download_path: str,
        timeout: float | None,
        options: Mapping[str, Any],
        pool: ThreadPoolExecutor,
    ) -> dict[str, Any]:
        client = self.client
        collection = client._check_collection(options.get("collection"))
        version = self.scope.generation
        if version == V2:
            # one job for the files, one per search URL (a job takes one href)
            groups = [[n] for n in names if _is_url(n)]
            files = [n for n in names if not _is_url(n)]
            out: dict[str, Any] = {}
            for group in [files, *groups] if files else groups:
                try:
                    job = client._send_staging(
                        version,
                        group,
                        s3_path=s3_path,
                        tmp_download_path=tmp_download_path,
                        collection=collection,
                        timeout=timeout,
                    )
                except RsError as err:
                    out.update(dict.fromkeys(group, err))
                else:
                    out.update(dict.fromkeys(group, job.job_id if job is not None else None))
            return out

        def one(name: str) -> Any:
            try:
                client._send_staging(
                    version,
                    [name],
                    s3_path=s3_path,
                    tmp_download_path=tmp_download_path,
                    collection="",
                    timeout=timeout,
                )
            except RsError as err:
                return err
            return None

        return dict(zip(names, pool.map(one, names), strict=True))

    def find_job(self, entries: list[LedgerEntry], timeout: float | None) -> str | None:
        sent = [e.sent_at for e in entries if e.sent_at is not None]
        if not sent:
            return None
        protocol = self.client._v2_protocol()
        since = min(sent)
        known = self.ledger.known_jobs(self.scope.service)
        mine = [e.name for e in entries]
        others = self.ledger.lost_sends(self.scope.service, exclude_names=mine)
        job = protocol.find_job_since(since, exclude=known, others=others, timeout=timeout)
        return job.job_id if job is not None else None

    def file_status(self, name: str, timeout: float | None) -> StagingStatus:
        if self.scope.generation == V2:
            return self.client._v2_status(name, timeout)
        return self.client._protocol().status(name, timeout=timeout)

    def job_status(self, job_id: str, name: str, timeout: float | None) -> StagingStatus:
        return self.client._v2_protocol().job(job_id, timeout=timeout).as_status(name)


def _is_url(name: str) -> bool:
    return name.lower().startswith(("http://", "https://"))


def _check_job_id(job_id: Any) -> str:
    if not isinstance(job_id, str) or not job_id.strip() or "/" in job_id:
        raise InvalidInputError(f"job_id must be a non-empty string, got {job_id!r}")
    return job_id.strip()


def _unreachable_binding(client: StationClient, err: RsError) -> StagingBinding:
    """A binding for a station whose generation cannot be told (the server cannot be
    reached): every file is refused with ``err``, nothing is written to disk."""

    class _Refusing(StagingBinding):
        def precheck(self, name: str, timeout: float | None) -> StagingStatus | None:
            return None

        def send(self, names: list[str], **_kwargs: Any) -> dict[str, Any]:
            return dict.fromkeys(names, err)

    scope = LedgerScope(client.station_kind, client.station_name, "unreachable", "v1")
    return _Refusing(client, StagingLedger(":memory:"), scope)
