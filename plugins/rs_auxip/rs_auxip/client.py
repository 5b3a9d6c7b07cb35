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
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, ClassVar, cast

from rs_auxip.protocol_v1 import AdgsProtocolV1
from rs_auxip.protocol_v2 import SORTABLE, STATION_COLLECTION, AdgsProtocolV2
from rs_core.generations import V2
from rs_core.rsserver_v1 import (
    StationItemCollection,
    check_timeout,
    search_params,
)
from rs_core.rsserver_v2 import (
    StagingJob,
    cap_items,
    check_collections_arg,
    check_max_items,
    unique,
    v1_lacks,
    v2_search,
)
from rs_core.station import StationClient

if TYPE_CHECKING:
    import pystac

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
    v2_service: ClassVar[str] = "auxip"
    sortable_fields: ClassVar[tuple[str, ...]] = SORTABLE
    """The fields RS-Server 1.0 sorts AUXIP files on (``published`` is not one)."""

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

    def _v2_protocol(self) -> AdgsProtocolV2:
        return AdgsProtocolV2(
            self.http,
            self.v2_endpoints(),
            self._v2_state,
            label="AUXIP",
            owner=self.staging_owner,
            local_mode=self.local_mode,
        )

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
        *,
        max_items: int | None = None,
        filter: str | dict[str, Any] | None = None,
        collection: str | list[str] | tuple[str, ...] | None = None,
        page_size: int | None = None,
        bbox: Any = None,
        intersects: Any = None,
    ) -> StationItemCollection:
        """Auxiliary files of ``[start_date, stop_date]`` (both inclusive).

        Naive datetimes are taken as UTC. ``limit`` caps the answer (v1: one answer, server
        default 1000; v2: also the page size); ``max_items`` caps the total (v2 follows
        ``next`` links lazily until it is reached). ``sortby`` is ``field``/``+field``/
        ``-field`` (server default ``-created``; v2: one of :attr:`sortable_fields`).
        The time range selects on the publication date on v1; on v2 it is the ``datetime``
        search parameter, which RS-Server 1.0 applies to ``created`` (see docs/stations.md).

        v2 only: ``collection`` (one id or a list; default ``adgs``, every product; e.g.
        ``adgs_aux_pp2``, ``adgs2``), ``filter`` (CQL2, a cql2-json dict or cql2-text, sent as
        cql2-json by ``POST /auxip/search``), ``bbox``/``intersects`` (a GeoJSON geometry) and
        ``page_size`` (items per request; default the cap, at most 1000).

        >>> files = auxip.search_stations("2024-01-01", "2024-01-02")  # doctest: +SKIP
        >>> files[0].assets["file"].extra_fields["file:size"]          # doctest: +SKIP
        8326253
        >>> auxip.search_stations("2024-01-01", "2024-02-01",
        ...                       filter="product:type = 'AUX_PP2'")   # doctest: +SKIP

        Raises :class:`~rs_core.InvalidInputError` before any request for bad input, and a
        typed :class:`~rs_core.RsError` for any failure (never an empty result):
        :class:`~rs_core.UnknownCollectionError` for a collection the service does not have,
        :class:`~rs_core.UnsortableFieldError` for a field it cannot sort on;
        :class:`~rs_core.UnsupportedOperationError` for v2-only arguments on v1.
        """
        return cast(
            StationItemCollection,
            self._search(
                start_date, stop_date, limit, sortby, timeout, stream=False,
                max_items=max_items, filter=filter, collection=collection,
                page_size=page_size, bbox=bbox, intersects=intersects,
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
        max_items: int | None = None,
        filter: str | dict[str, Any] | None = None,
        collection: str | list[str] | tuple[str, ...] | None = None,
        page_size: int | None = None,
        bbox: Any = None,
        intersects: Any = None,
    ) -> Iterator[pystac.Item]:
        """:meth:`search_stations`, one pystac item after the other (see
        :meth:`rs_core.StationClient.iter_stations`): on v2 a page is fetched when the
        previous one is used up and let go with its items. Bad arguments raise here, before
        any request.

        >>> for item in auxip.iter_stations("2024-01-01", "2024-02-01"):  # doctest: +SKIP
        ...     print(item.id, item.assets["file"].extra_fields["file:size"])
        """
        return cast(
            "Iterator[pystac.Item]",
            self._search(
                start_date, stop_date, limit, sortby, timeout, stream=True,
                max_items=max_items, filter=filter, collection=collection,
                page_size=page_size, bbox=bbox, intersects=intersects,
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
        max_items: int | None,
        filter: str | dict[str, Any] | None,
        collection: str | list[str] | tuple[str, ...] | None,
        page_size: int | None,
        bbox: Any,
        intersects: Any,
    ) -> StationItemCollection | Iterator[pystac.Item]:
        params = search_params(start_date, stop_date, limit, sortby)
        cap = check_max_items(max_items)
        size = check_max_items(page_size)
        names = check_collections_arg(collection)
        v2_only = {
            "filter": filter,
            "collection": collection,
            "bbox": bbox,
            "intersects": intersects,
        }
        search, total = v2_search(
            params,
            collections=names or (STATION_COLLECTION,),
            explicit=names is not None,
            limit=limit,
            max_items=cap,
            page_size=size,
            filter=filter,
            bbox=bbox,
            intersects=intersects,
        )
        timeout = check_timeout(timeout)

        def run(version: str) -> StationItemCollection | Iterator[pystac.Item]:
            if version == V2:
                protocol = self._v2_protocol()
                checked = search.check_sortby(self.sortable_fields, "AUXIP")
                what = "AUXIP file search failed"
                if stream:
                    found = protocol.iter_find(
                        checked, max_items=total, timeout=timeout, what=what,
                        explode=protocol.explode,
                    )  # fmt: skip
                    return self._noted(version, found)
                return protocol.find(
                    checked, max_items=total, timeout=timeout, what=what, explode=protocol.explode
                )
            for name, value in v2_only.items():
                if value is not None:
                    raise v1_lacks(f"search_stations({name}=...)")
            found_v1 = cap_items(self._protocol().search_files(params, timeout=timeout), cap)
            return iter(found_v1) if stream else found_v1

        if stream:  # a stream's first page comes later: the generation is asked first
            with self._generation(timeout) as version:
                return run(version)
        return self._searched(timeout, run)

    def staging(
        self,
        filename: str,
        s3_path: str = "",
        tmp_download_path: str = "",
        timeout: float | None = None,
        *,
        collection: str | None = None,
    ) -> StagingJob | None:
        """Ask RS-Server to stage ``filename`` (see :meth:`rs_core.StationClient.staging`).

        v2: a staging job puts the product that holds the file into the catalog ``collection``
        (default ``auxip_staged``, created when missing) and this returns its
        :class:`~rs_core.rsserver_v2.StagingJob`; v1 ignores ``collection``.
        """
        return self._stage(filename, s3_path, tmp_download_path, timeout, collection)

    def _v2_locate(self, filenames: Sequence[str], timeout: float | None) -> None:
        """Find the products holding ``filenames`` by id (a product's id is its file name
        without the extension), so that a new process can stage files it never searched."""
        ids = unique(n.rsplit(".", 1)[0] if "." in n else n for n in filenames)
        protocol = self._v2_protocol()
        for chunk in range(0, len(ids), _IDS_PER_SEARCH):
            protocol.search_ids(
                STATION_COLLECTION,
                ids[chunk : chunk + _IDS_PER_SEARCH],
                max_items=None,
                timeout=timeout,
                what="AUXIP search of the products to stage failed",
                explode=protocol.explode,
            )


_IDS_PER_SEARCH = 50
