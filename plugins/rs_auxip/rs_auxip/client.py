"""The AUXIP (ADGS) station client.

>>> from datetime import datetime
>>> auxip = AuxipClient("http://127.0.0.1:8000", "my-key", owner_id="alice")
>>> auxip.station_name
'AUXIP'
>>> auxip.href_search
'http://127.0.0.1:8000/adgs/aux/search'
>>> found = auxip.search_stations(datetime(2024, 1, 1), datetime(2024, 1, 2))  # doctest: +SKIP
>>> [item.id for item in found]                                                # doctest: +SKIP
['S2__OPER_AUX_ECMWFD_...TGZ', ...]
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any, ClassVar

from rs_auxip.protocol_v1 import AdgsProtocolV1
from rs_core.rsserver_v1 import (
    StationItemCollection,
    check_timeout,
    search_params,
    staging_params,
)
from rs_core.staging import StagingStatus
from rs_core.station import StationClient

__all__ = ["ADGS_ENV", "AuxipClient"]

ADGS_ENV = "RSPY_HOST_ADGS"


class AuxipClient(StationClient):
    """Search, stage and follow auxiliary files of the AUXIP station (RS-Server ADGS service).

    :param rs_server_href: RS-Server URL (cluster mode), or ``None`` for local mode where the
        service URL comes from env ``RSPY_HOST_ADGS``.
    :param rs_server_api_key: API key (cluster mode; else env ``RSPY_APIKEY``).
    :param owner_id: catalog owner (default: OS user in local mode, the key's login otherwise).
    :param settings: :class:`~rs_core.RsClient` settings (``timeout``, ``retries``,
        ``http_settings``...).

    Search results are :class:`~rs_core.rsserver_v1.StationItemCollection` objects (a
    :class:`pystac.ItemCollection`; the server's untouched answer is in ``.raw``).
    """

    station_kind: ClassVar[str] = "auxip"
    station_ids: ClassVar[tuple[str, ...]] = ("AUXIP",)
    service_env_var: ClassVar[str] = ADGS_ENV

    def __init__(
        self,
        rs_server_href: str | None = None,
        rs_server_api_key: str | None = None,
        owner_id: str | None = None,
        logger: logging.Logger | None = None,
        **settings: Any,
    ) -> None:
        super().__init__(rs_server_href, rs_server_api_key, owner_id, None, logger, **settings)

    # -- where --------------------------------------------------------------------------

    @property
    def href_adgs(self) -> str:
        """Base URL of the ADGS service: env ``RSPY_HOST_ADGS``, else ``rs_server_href``."""
        return self.service_href(ADGS_ENV, "ADGS")

    def _protocol(self) -> AdgsProtocolV1:
        return AdgsProtocolV1(self.http, self.href_adgs)

    @property
    def href_search(self) -> str:
        """URL of the file search."""
        return AdgsProtocolV1.paths(self.href_adgs).search

    @property
    def href_staging(self) -> str:
        """URL of the staging request."""
        return AdgsProtocolV1.paths(self.href_adgs).stage

    @property
    def href_status(self) -> str:
        """URL of the staging status."""
        return AdgsProtocolV1.paths(self.href_adgs).status

    # -- what -----------------------------------------------------------------------------

    def search_stations(
        self,
        start_date: datetime | date | str,
        stop_date: datetime | date | str,
        limit: int | None = None,
        sortby: str | None = None,
        timeout: float | None = None,
    ) -> StationItemCollection:
        """Auxiliary files published in ``[start_date, stop_date]`` (both inclusive).

        Naive datetimes are taken as UTC. ``limit`` caps the single answer (no pagination;
        server default 1000); ``sortby`` is ``field``/``+field``/``-field`` (server default
        ``-created``; ``+doNotSort`` keeps the station's order).

        >>> files = auxip.search_stations("2024-01-01", "2024-01-02")  # doctest: +SKIP
        >>> files[0].assets["file"].extra_fields["file:size"]          # doctest: +SKIP
        8326253

        Raises :class:`~rs_core.InvalidInputError` before any request for bad input, and a
        typed :class:`~rs_core.RsError` for any failure (never an empty result).
        """
        params = search_params(start_date, stop_date, limit, sortby)
        return self._protocol().search_files(params, timeout=check_timeout(timeout))

    def staging(
        self,
        filename: str,
        s3_path: str = "",
        tmp_download_path: str = "",
        timeout: float | None = None,
    ) -> None:
        """Ask RS-Server to stage ``filename`` (to ``s3_path`` and/or ``tmp_download_path``).

        The file must have been returned by a search first. A refusal raises
        :class:`~rs_core.StagingError`.

        >>> auxip.staging(files[0].id, tmp_download_path="/tmp/aux")  # doctest: +SKIP
        """
        params = staging_params(filename, s3_path, tmp_download_path)
        self._protocol().stage(params, timeout=check_timeout(timeout))

    def staging_info(self, filename: str, timeout: float | None = None) -> StagingStatus:
        """The staging status of ``filename`` with the server's message and times.

        Unknown name: :class:`~rs_core.NotFoundError`. A network failure raises (after the
        client's retries); it never reads as ``FAILED``.
        """
        name = self.check_filename(filename)
        return self._protocol().status(name, timeout=check_timeout(timeout))
