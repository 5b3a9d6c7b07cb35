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
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar

from rs_core.client import RsClient
from rs_core.enums import EDownloadStatus
from rs_core.errors import (
    ConfigurationError,
    InvalidInputError,
    RsError,
    UnknownStationError,
    UnsupportedOperationError,
)
from rs_core.generations import AUTO, V1, V2, generation_noted
from rs_core.staging import ProgressCallback, StagingReport, StagingStatus, run_stage_and_wait

if TYPE_CHECKING:
    from datetime import date, datetime

    import pystac

    from rs_core.rsserver_v1 import StationProtocolV1
    from rs_core.rsserver_v2 import StagingJob, StationProtocolV2, V2Endpoints, V2State

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

    _station: str
    _v2_state: V2State

    def __init__(
        self,
        rs_server_href: str | None = None,
        rs_server_api_key: str | None = None,
        owner_id: str | None = None,
        station: str | None = None,
        logger: logging.Logger | None = None,
        **settings: Any,
    ) -> None:
        self._init_station = station
        super().__init__(rs_server_href, rs_server_api_key, owner_id, logger, **settings)

    def _setup(self, **options: Any) -> None:
        station = options.pop("station", getattr(self, "_init_station", None))
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
        family. A kind without :attr:`v2_service` is v1.

        >>> auxip.server_generation()   # doctest: +SKIP
        'v2'
        """
        setting = self.api_version
        if setting != AUTO:
            if setting == V2 and not self.v2_service:
                raise UnsupportedOperationError(
                    f"{type(self).__name__} does not speak RS-Server v2 (api_version='v2')"
                )
            return setting
        if not self.v2_service:
            return V1
        landing = f"{self.service_base()}/{self.v2_service}"

        def probe() -> str:
            from rs_core.rsserver_v2 import probe_generation

            found = probe_generation(self.http, landing, label=self._label(), timeout=timeout)
            self.logger.debug("%s speaks RS-Server %s", landing, found)
            return found

        return self._ctx.generations.resolve(landing, probe)

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

    def _require_v2(self, what: str, timeout: float | None = None) -> None:
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

    def dismiss_job(self, job_id: str, timeout: float | None = None) -> StagingJob:
        """Dismiss staging job ``job_id`` (v2 only); the job as the server then shows it."""
        if not isinstance(job_id, str) or not job_id.strip() or "/" in job_id:
            raise InvalidInputError(f"job_id must be a non-empty string, got {job_id!r}")
        timeout = _check_timeout(timeout)
        self._require_v2("dismiss_job()", timeout)
        with generation_noted(V2):
            return self._v2_protocol().dismiss(job_id.strip(), timeout=timeout)

    def staging_job(self, filename: str) -> StagingJob | None:
        """The last known v2 staging job holding ``filename`` (no request), else ``None``."""
        with self._v2_state.lock:
            job_id = self._v2_state.job_of.get(filename)
            return self._v2_state.jobs.get(job_id) if job_id else None

    # -- shared staging plumbing for plugins -------------------------------------------

    def _check_collection(self, collection: str | None) -> str:
        if collection is None:
            return self.default_collection
        if not isinstance(collection, str) or not collection.strip() or "/" in collection:
            raise InvalidInputError(f"collection must be a non-empty string, got {collection!r}")
        return collection.strip()

    def _stage_v2(
        self,
        filenames: Sequence[str],
        s3_path: str,
        tmp_download_path: str,
        collection: str,
        timeout: float | None,
    ) -> StagingJob:
        if s3_path or tmp_download_path:
            self.logger.warning(
                "RS-Server v2 stages into the catalog collection %r; s3_path and "
                "tmp_download_path are ignored",
                collection,
            )
        with generation_noted(V2):
            return self._v2_protocol().stage(list(filenames), collection, timeout=timeout)

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
        try:
            self._stage_v2(names, s3_path, tmp_download_path, target, timeout)
        except RsError as err:
            return {n: str(err) for n in names}
        return {}

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
        """:meth:`staging` with the v2 target ``collection`` (plugins expose it as a keyword)."""
        from rs_core.rsserver_v1 import staging_params

        params = staging_params(filename, s3_path, tmp_download_path)
        target = self._check_collection(collection)
        timeout = _check_timeout(timeout)
        with self._generation(timeout) as version:
            if version == V2:
                return self._stage_v2([filename], s3_path, tmp_download_path, target, timeout)
            self._protocol().stage(params, timeout=timeout)
            return None

    def staging_info(self, filename: str, timeout: float | None = None) -> StagingStatus:
        """The staging status of ``filename`` with the server's message and times.

        v2: the status of this client's job holding the file. Unknown name (v2: no job of
        this client holds it): :class:`~rs_core.NotFoundError`. A network failure raises
        (after the client's retries); it never reads as ``FAILED``.
        """
        name = self.check_filename(filename)
        timeout = _check_timeout(timeout)
        with self._generation(timeout) as version:
            if version == V2:
                return self._v2_protocol().status(name, timeout=timeout)
            return self._protocol().status(name, timeout=timeout)

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
        poll_interval: float = 0.5,
        poll_max_interval: float = 5.0,
        timeout: float | None = None,
        request_timeout: float | None = None,
        restage: bool = False,
        progress: bool | ProgressCallback | None = None,
        collection: str | None = None,
    ) -> StagingReport:
        """Stage ``files`` and wait until each is DONE or FAILED (or ``timeout`` passes).

        See :func:`rs_core.staging.run_stage_and_wait`. Files already DONE are not staged
        again (unless ``restage``); Ctrl-C raises :class:`~rs_core.staging.StagingInterrupted`
        carrying the report. On RS-Server v2 the files to stage go in one staging job, whose
        items land in the catalog ``collection`` (default :attr:`default_collection`).

        >>> report = cadip.stage_and_wait(names, tmp_download_path="/tmp/x")  # doctest: +SKIP
        >>> [o.name for o in report.failed]                                   # doctest: +SKIP
        []
        """
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
