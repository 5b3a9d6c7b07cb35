"""The EDRS station client: relayed products by time range and product type.

>>> import rs_core
>>> edrs = rs_core.get_station("edrs", rs_server_href="http://127.0.0.1:8000",
...                            rs_server_api_key="my-key")
>>> edrs.station_name
'EDRS'
>>> files = edrs.search_stations("2024-01-01", "2024-02-01",
...                              product_type="S2B_MSIL1C")         # doctest: +SKIP
>>> edrs.stage_and_wait(files, s3_path="s3://bucket/edrs").ok       # doctest: +SKIP
True
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar

from rs_core import InvalidInputError, StagingStatus, StationClient
from rs_core.rsserver_v1 import (
    StationEndpoints,
    StationItemCollection,
    StationProtocolV1,
    check_timeout,
    search_params,
    staging_params,
)


class EdrsClient(StationClient):
    """Search, stage and follow EDRS products; EDRS speaks RS-Server v1's station conventions.

    The service URL is ``rs_server_href`` (cluster mode) or env ``RSPY_HOST_EDRS`` (local mode,
    or an override); the paths are ``/edrs/search``, ``/edrs`` (staging), ``/edrs/status``.
    """

    station_kind: ClassVar[str] = "edrs"
    station_ids: ClassVar[tuple[str, ...]] = ("EDRS",)
    service_env_var: ClassVar[str] = "RSPY_HOST_EDRS"

    def _protocol(self) -> StationProtocolV1:
        paths = StationEndpoints.under(self.service_base(), "/edrs/search", "/edrs", "/edrs/status")
        return StationProtocolV1(self.http, paths, label="EDRS")

    def search_stations(
        self,
        start_date: datetime | date | str,
        stop_date: datetime | date | str,
        limit: int | None = None,
        sortby: str | None = None,
        timeout: float | None = None,
        *,
        product_type: str | None = None,
    ) -> StationItemCollection:
        """Products published in ``[start_date, stop_date]``, of ``product_type`` if given."""
        params = search_params(start_date, stop_date, limit, sortby)
        if product_type is not None:
            if not isinstance(product_type, str) or not product_type.strip():
                raise InvalidInputError(
                    f"product_type must be a non-empty string: {product_type!r}"
                )
            params["product_type"] = product_type.strip()
        return self._protocol().search_files(params, timeout=check_timeout(timeout))

    def staging(
        self,
        filename: str,
        s3_path: str = "",
        tmp_download_path: str = "",
        timeout: float | None = None,
    ) -> None:
        """Ask RS-Server to stage ``filename`` (returned by a search) to S3 and/or a folder."""
        params = staging_params(filename, s3_path, tmp_download_path)
        self._protocol().stage(params, timeout=check_timeout(timeout))

    def staging_info(self, filename: str, timeout: float | None = None) -> StagingStatus:
        """The staging status of ``filename``; unknown: :class:`~rs_core.NotFoundError`."""
        name = self.check_filename(filename)
        return self._protocol().status(name, timeout=check_timeout(timeout))

    def product_types(self, timeout: float | None = None) -> list[str]:
        """The product types the station serves (``GET /edrs/types``)."""
        url = f"{self.service_base()}/edrs/types"
        types: Any = self.http.get_json(
            url, timeout=check_timeout(timeout), what="EDRS product types request failed"
        )
        return [str(t) for t in types]
