"""The PRIP station client: production products of the RS-Server 1.0 PRIP service.

>>> prip = PripClient("http://127.0.0.1:8000", "my-key", owner_id="alice")
>>> prip.station_name, prip.href_prip
('PRIP', 'http://127.0.0.1:8000')
>>> found = prip.search_stations("2024-01-01", "2024-01-02",
...                              product_type="S2B_L0_DS")           # doctest: +SKIP
>>> prip.stage_and_wait(found).ok                                    # doctest: +SKIP
True
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, ClassVar, cast

from rs_core.enums import EPlatform
from rs_core.errors import InvalidInputError, UnsupportedOperationError
from rs_core.generations import V2
from rs_core.rsserver_v1 import (
    StationItemCollection,
    StationProtocolV1,
    check_timeout,
    search_params,
)
from rs_core.rsserver_v2 import (
    StagingJob,
    check_collections_arg,
    check_max_items,
    unique,
    v2_search,
)
from rs_core.station import StationClient
from rs_prip.protocol_v2 import SORTABLE, PripProtocolV2

if TYPE_CHECKING:
    import pystac

__all__ = ["PRIP_ENV", "PripClient"]

PRIP_ENV = "RSPY_HOST_PRIP"

_PLATFORM_CODES = (*(p.value for p in EPlatform), "S1D", "S5P")


def _platform(value: Any) -> str:
    """``S2B`` or ``sentinel-2b`` as RS-Server writes it (``sentinel-2b``)."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(f"platform must be a non-empty string, got {value!r}")
    text = value.strip()
    code = text.upper()
    if code in _PLATFORM_CODES:
        return f"sentinel-{code[1:-1]}{code[-1].lower()}"
    if text.lower().startswith("sentinel-") and len(text) > len("sentinel-"):
        return text
    raise InvalidInputError(
        f"Unknown platform {value!r}; give a code ({', '.join(_PLATFORM_CODES)}) or a name "
        "such as 'sentinel-2b'"
    )


def _equals(prop: str, value: Any, what: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(f"{what} must be a non-empty string, got {value!r}")
    return {"op": "=", "args": [{"property": prop}, value.strip()]}


class PripClient(StationClient):
    """Search, stage and follow products of the PRIP station (RS-Server 1.0 PRIP service).

    :param rs_server_href: RS-Server URL (cluster mode), or ``None`` for local mode where the
        service URL comes from env ``RSPY_HOST_PRIP``.
    :param rs_server_api_key: API key (cluster mode; else env ``RSPY_APIKEY``).
    :param owner_id: catalog owner (default: OS user in local mode, the key's login otherwise).
    :param settings: :class:`~rs_core.RsClient` settings (``timeout``, ``retries``,
        ``http_settings``...).

    PRIP exists from RS-Server 1.0 on (the v2 API): a service that answers as RS-Server v1 has
    no PRIP, and every operation raises :class:`~rs_core.UnsupportedOperationError`. Search
    results are :class:`~rs_core.rsserver_v1.StationItemCollection` objects of file-level
    items (one per product file; the server's answer is in ``.raw``).
    """

    station_kind: ClassVar[str] = "prip"
    station_ids: ClassVar[tuple[str, ...]] = ("PRIP",)
    service_env_var: ClassVar[str] = PRIP_ENV
    v2_service: ClassVar[str] = "prip"
    sortable_fields: ClassVar[tuple[str, ...]] = SORTABLE
    """The fields RS-Server 1.0 sorts PRIP products on (its ``sort_param_mapping``)."""

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
    def href_prip(self) -> str:
        """Base URL of the PRIP service: env ``RSPY_HOST_PRIP``, else ``rs_server_href``."""
        return self.service_href(PRIP_ENV, "PRIP")

    def _protocol(self) -> StationProtocolV1:
        raise UnsupportedOperationError(
            f"PRIP is served by RS-Server 1.0 (the v2 API) only; {self.href_prip} answers as "
            "RS-Server v1, which has no PRIP service [RS-Server v1]"
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

    # -- what -----------------------------------------------------------------------------

    def search_stations(
        self,
        start_date: datetime | date | str,
        stop_date: datetime | date | str,
        limit: int | None = None,
        sortby: str | None = None,
        timeout: float | None = None,
        *,
        collection: str | list[str] | tuple[str, ...] | None = None,
        product_type: str | None = None,
        platform: str | None = None,
        filter: str | dict[str, Any] | None = None,
        bbox: Any = None,
        intersects: Any = None,
        max_items: int | None = None,
        page_size: int | None = None,
    ) -> StationItemCollection:
        """PRIP products published in ``[start_date, stop_date]`` (both inclusive).

        RS-Server 1.0 maps the time range onto the products' ``published`` (PublicationDate).
        Naive datetimes are UTC. ``limit`` caps the answer and is the page size; ``max_items``
        caps the total (``next`` links are followed lazily); ``page_size`` sets the products
        asked per request. ``sortby`` is ``field``/``+field``/``-field`` over
        :attr:`sortable_fields` (server default ``-published``).

        Narrowing: ``collection`` (one id or a list; default every collection the service
        shows this user, searched at once: RS-Server does that without ``collections``; PRIP
        has no all-products collection; several collections are searched one by one and
        merged), ``product_type`` (``product:type``),
        ``platform`` (``S2B`` or ``sentinel-2b``), ``filter`` (CQL2: a cql2-json dict or
        cql2-text, sent as cql2-json), ``bbox`` (``[west, south, east, north]``) and
        ``intersects`` (a GeoJSON geometry). Criteria combine with AND.

        >>> prip.search_stations("2024-06-01", "2024-07-01", collection="S2B_L0_DS",
        ...                      filter="eopf:datatake_id = 'GS2B_20240612'")  # doctest: +SKIP

        Raises :class:`~rs_core.InvalidInputError` before any request for bad input,
        :class:`~rs_core.UnknownCollectionError` (naming the valid ones) for a collection the
        service does not have, :class:`~rs_core.UnsortableFieldError` for a field it cannot
        sort on, and a typed :class:`~rs_core.RsError` for any other failure.
        """
        return cast(
            StationItemCollection,
            self._search(
                start_date, stop_date, limit, sortby, timeout, stream=False,
                collection=collection, product_type=product_type, platform=platform,
                filter=filter, bbox=bbox, intersects=intersects, max_items=max_items,
                page_size=page_size,
            ),
        )  # fmt: skip

    def iter_stations(
        self,
        start_date: datetime | date | str,
        stop_date: datetime | date | str,
        limit: int | None = None,
        sortby: str | None = None,
        timeout: float | None = None,
        *,
        collection: str | list[str] | tuple[str, ...] | None = None,
        product_type: str | None = None,
        platform: str | None = None,
        filter: str | dict[str, Any] | None = None,
        bbox: Any = None,
        intersects: Any = None,
        max_items: int | None = None,
        page_size: int | None = None,
    ) -> Iterator[pystac.Item]:
        """:meth:`search_stations`, one pystac item after the other (see
        :meth:`rs_core.StationClient.iter_stations`): a page is fetched when the previous one
        is used up and let go with its items. Bad arguments raise here, before any request.

        >>> for item in prip.iter_stations("2024-06-01", "2024-07-01"):  # doctest: +SKIP
        ...     print(item.id)
        """
        return cast(
            "Iterator[pystac.Item]",
            self._search(
                start_date, stop_date, limit, sortby, timeout, stream=True,
                collection=collection, product_type=product_type, platform=platform,
                filter=filter, bbox=bbox, intersects=intersects, max_items=max_items,
                page_size=page_size,
            ),
        )  # fmt: skip

    def _search(
        self,
        start_date: datetime | date | str,
        stop_date: datetime | date | str,
        limit: int | None,
        sortby: str | None,
        timeout: float | None,
        *,
        stream: bool,
        collection: str | list[str] | tuple[str, ...] | None,
        product_type: str | None,
        platform: str | None,
        filter: str | dict[str, Any] | None,
        bbox: Any,
        intersects: Any,
        max_items: int | None,
        page_size: int | None,
    ) -> StationItemCollection | Iterator[pystac.Item]:
        params = search_params(start_date, stop_date, limit, sortby)
        names = check_collections_arg(collection)
        clauses = [
            _equals("product:type", product_type, "product_type"),
            _equals("platform", _platform(platform) if platform is not None else None, "platform"),
        ]
        search, total = v2_search(
            params,
            collections=names or (),
            explicit=names is not None,
            limit=limit,
            max_items=check_max_items(max_items),
            page_size=check_max_items(page_size),
            filter=filter,
            clauses=clauses,
            bbox=bbox,
            intersects=intersects,
            sortable=self.sortable_fields,
            label="PRIP",
        )
        timeout = check_timeout(timeout)
        with self._generation(timeout) as version:
            if version != V2:
                self._protocol()  # raises: no PRIP on RS-Server v1
            protocol = self._v2_protocol()
            what = "PRIP product search failed"
            if stream:
                found = protocol.iter_find(
                    search, max_items=total, timeout=timeout, what=what,
                    explode=protocol.explode, by_items=False,
                )  # fmt: skip
                return self._noted(version, found)
            return protocol.find(
                search,
                max_items=total,
                timeout=timeout,
                what=what,
                explode=protocol.explode,
                by_items=False,
            )

    def staging(
        self,
        filename: str,
        s3_path: str = "",
        tmp_download_path: str = "",
        timeout: float | None = None,
        *,
        collection: str | None = None,
    ) -> StagingJob | None:
        """Ask RS-Server to stage product file ``filename`` (see
        :meth:`rs_core.StationClient.staging`): a staging job puts the product into the
        catalog ``collection`` (default ``prip_staged``) and this returns its
        :class:`~rs_core.rsserver_v2.StagingJob`."""
        return self._stage(filename, s3_path, tmp_download_path, timeout, collection)

    def _v2_locate(self, filenames: Sequence[str], timeout: float | None) -> None:
        """Find the products holding ``filenames`` (a PRIP file is named like its product) so
        that a new process can stage files it never searched: one ``GET /prip/search?ids=``
        per name, over every collection (RS-Server 1.0a4 reads only the first of several
        ids)."""
        protocol = self._v2_protocol()
        for name in unique(filenames):
            search, total = v2_search(
                {}, collections=(), explicit=False, limit=10, max_items=10, ids=[name]
            )
            protocol.find(
                search,
                max_items=total,
                timeout=timeout,
                what=f"PRIP search of the product {name!r} to stage failed",
                explode=protocol.explode,
                by_items=False,
            )
