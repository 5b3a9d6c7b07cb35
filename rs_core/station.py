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
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from rs_core.client import RsClient
from rs_core.enums import EDownloadStatus
from rs_core.errors import InvalidInputError, UnknownStationError
from rs_core.staging import ProgressCallback, StagingReport, StagingStatus, run_stage_and_wait

if TYPE_CHECKING:
    from datetime import date, datetime

__all__ = ["StationClient"]


class StationClient(RsClient):
    """Seed API of a station: search, stage, status, and stage-and-wait.

    Subclasses set :attr:`station_kind`, :attr:`station_ids` and :attr:`service_env_var`.
    """

    station_kind: ClassVar[str] = ""
    station_ids: ClassVar[tuple[str, ...]] = ()
    service_env_var: ClassVar[str] = ""

    _station: str

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

        Returns a :class:`pystac.ItemCollection`.
        """
        raise NotImplementedError(f"{type(self).__name__} does not search files")

    def staging(
        self,
        filename: str,
        s3_path: str = "",
        tmp_download_path: str = "",
        timeout: float | None = None,
    ) -> Any:
        """Ask RS-Server to stage ``filename`` (to ``s3_path`` and/or ``tmp_download_path``)."""
        raise NotImplementedError(f"{type(self).__name__} does not stage files")

    def staging_info(self, filename: str, timeout: float | None = None) -> StagingStatus:
        """The staging status of ``filename`` with the server's message and times."""
        raise NotImplementedError(f"{type(self).__name__} does not stage files")

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
    ) -> StagingReport:
        """Stage ``files`` and wait until each is DONE or FAILED (or ``timeout`` passes).

        See :func:`rs_core.staging.run_stage_and_wait`. Files already DONE are not staged
        again (unless ``restage``); Ctrl-C raises :class:`~rs_core.staging.StagingInterrupted`
        carrying the report.

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
        )

    @staticmethod
    def check_filename(filename: Any) -> str:
        """Reject empty or non-string file names before any request."""
        if not isinstance(filename, str) or not filename.strip():
            raise InvalidInputError(f"filename must be a non-empty string, got {filename!r}")
        return filename
