"""The PRIP station client: production products of the RS-Server 1.0 PRIP service.

>>> prip = PripClient("http://127.0.0.1:8000", "my-key", owner_id="alice")
>>> prip.station_name
'PRIP'
>>> found = prip.search_stations("2024-01-01", "2024-01-02")   # doctest: +SKIP
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any, ClassVar

from rs_core.errors import UnsupportedOperationError
from rs_core.rsserver_v1 import StationItemCollection, StationProtocolV1
from rs_core.rsserver_v2 import StagingJob, StationProtocolV2
from rs_core.station import StationClient

__all__ = ["PRIP_ENV", "PripClient"]

PRIP_ENV = "RSPY_HOST_PRIP"


class PripProtocolV2(StationProtocolV2):
    """RS-Server 1.0 PRIP: ``/prip/collections``, ``/prip/search``, OGC staging."""

    service = "prip"


class PripClient(StationClient):
    """Search, stage and follow products of the PRIP station (RS-Server 1.0 PRIP service).

    :param rs_server_href: RS-Server URL (cluster mode), or ``None`` for local mode where the
        service URL comes from env ``RSPY_HOST_PRIP``.
    :param rs_server_api_key: API key (cluster mode; else env ``RSPY_APIKEY``).
    :param owner_id: catalog owner (default: OS user in local mode, the key's login otherwise).
    :param settings: :class:`~rs_core.RsClient` settings.
    """

    station_kind: ClassVar[str] = "prip"
    station_ids: ClassVar[tuple[str, ...]] = ("PRIP",)
    service_env_var: ClassVar[str] = PRIP_ENV
    v2_service: ClassVar[str] = "prip"

    def __init__(
        self,
        rs_server_href: str | None = None,
        rs_server_api_key: str | None = None,
        owner_id: str | None = None,
        logger: logging.Logger | None = None,
        **settings: Any,
    ) -> None:
        super().__init__(rs_server_href, rs_server_api_key, owner_id, None, logger, **settings)

    @property
    def href_prip(self) -> str:
        """Base URL of the PRIP service: env ``RSPY_HOST_PRIP``, else ``rs_server_href``."""
        return self.service_href(PRIP_ENV, "PRIP")

    def _protocol(self) -> StationProtocolV1:
        raise UnsupportedOperationError(
            "PRIP is served by RS-Server 1.0 (v2 API) only; RS-Server v1 has no PRIP service"
        )

    def _v2_protocol(self) -> PripProtocolV2:
        return PripProtocolV2(
            self.http,
            self.v2_endpoints(),
            self._v2_state,
            label="PRIP",
            owner=self.staging_owner,
            local_mode=self.local_mode,
        )

    def search_stations(
        self,
        start_date: datetime | date | str,
        stop_date: datetime | date | str,
        limit: int | None = None,
        sortby: str | None = None,
        timeout: float | None = None,
    ) -> StationItemCollection:
        """PRIP products published in ``[start_date, stop_date]`` (being written)."""
        raise NotImplementedError("PripClient.search_stations is being written")

    def staging(
        self,
        filename: str,
        s3_path: str = "",
        tmp_download_path: str = "",
        timeout: float | None = None,
        *,
        collection: str | None = None,
    ) -> StagingJob | None:
        """Ask RS-Server to stage ``filename`` (see :meth:`rs_core.StationClient.staging`)."""
        return self._stage(filename, s3_path, tmp_download_path, timeout, collection)
