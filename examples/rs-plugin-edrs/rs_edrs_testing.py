"""A tiny in-memory EDRS service, served by the rs-core simulator through ``add_route``.

It speaks the RS-Server v1 station conventions under ``/edrs``: a file search answering a
STAC FeatureCollection, staging answering string booleans (``{"started": "true"}``), a status
object per staged file, plus ``GET /edrs/types``. The simulator adds authentication (cluster
mode), fault injection and the request log. Use it in tests of code that talks to EDRS::

    from rs_core.testing.simulator import RsServerSimulator
    from rs_edrs_testing import FakeEdrs

    with RsServerSimulator() as sim:
        FakeEdrs().install(sim)
        edrs = rs_core.get_station("edrs", rs_server_href=sim.url)   # doctest: +SKIP

>>> from rs_core.testing.simulator import RsServerSimulator
>>> import json, urllib.request
>>> with RsServerSimulator() as sim:
...     service = FakeEdrs().install(sim)
...     json.load(urllib.request.urlopen(sim.url + "/edrs/types"))[:2]
['S1A_IW_SLC__1S', 'S2B_MSIL1C']
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from rs_core.testing.simulator import (
    RecordedRequest,
    Response,
    RsServerSimulator,
    detail_response,
    json_response,
)

__all__ = ["PRODUCT_TYPES", "FakeEdrs", "product"]

PRODUCT_TYPES = ("S1A_IW_SLC__1S", "S2B_MSIL1C", "S3A_OL_1_EFR___")
FILE_EXTENSION = "https://stac-extensions.github.io/file/v2.1.0/schema.json"
_STATUS_TIME = "%Y-%m-%dT%H:%M:%S.%f"
_INTERVAL = re.compile(r"^([^/]+)/([^/]+)$")


def _iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def product(index: int, product_type: str, published: datetime) -> dict[str, Any]:
    """One EDRS product as a STAC feature (RS-Server v1 shape: no hrefs, ``file:size``)."""
    sensing = published - timedelta(hours=3)
    name = f"{product_type}_{sensing:%Y%m%dT%H%M%S}_{index:04d}.SAFE.zip"
    return {
        "type": "Feature",
        "stac_version": "1.0.0",
        "stac_extensions": [FILE_EXTENSION],
        "id": name,
        "geometry": None,
        "links": [],
        "properties": {
            "edrs:id": str(uuid.uuid5(uuid.NAMESPACE_URL, name)),
            "edrs:product_type": product_type,
            "datetime": _iso(sensing),
            "start_datetime": _iso(sensing),
            "end_datetime": _iso(sensing + timedelta(minutes=10)),
            "created": _iso(published),
        },
        "assets": {"file": {"file:size": 1_000_000 + 7919 * index}},
    }


def _default_products() -> list[dict[str, Any]]:
    start = datetime(2024, 1, 1, 6, tzinfo=UTC)
    return [
        product(i, PRODUCT_TYPES[i % len(PRODUCT_TYPES)], start + timedelta(days=3 * i, hours=i))
        for i in range(9)
    ]


def _parse(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


class FakeEdrs:
    """The EDRS service's state: its products, and the staging jobs asked so far.

    ``staging_duration`` is how long a job stays ``IN_PROGRESS`` before ``DONE``;
    :meth:`fail` makes the next job of a file end ``FAILED``.
    """

    def __init__(
        self, products: list[dict[str, Any]] | None = None, staging_duration: float = 0.1
    ) -> None:
        self.products = products if products is not None else _default_products()
        self.staging_duration = staging_duration
        self._by_name = {p["id"]: p for p in self.products}
        self._seen: set[str] = set()
        self._jobs: dict[str, dict[str, Any]] = {}
        self._failing: dict[str, str] = {}
        self._lock = threading.Lock()

    def install(self, sim: RsServerSimulator) -> FakeEdrs:
        """Serve the EDRS routes on ``sim`` (replacing any earlier :class:`FakeEdrs`)."""
        sim.add_route("GET", r"/edrs/search", self.search)
        sim.add_route("GET", r"/edrs", self.stage)
        sim.add_route("GET", r"/edrs/status", self.status)
        sim.add_route("GET", r"/edrs/types", self.types)
        return self

    def fail(self, name: str, message: str = "Simulated EDRS failure") -> None:
        """Make the next staging job of ``name`` end ``FAILED`` with ``message``."""
        with self._lock:
            self._failing[name] = message

    # -- routes ---------------------------------------------------------------------------

    def types(self, request: RecordedRequest, match: re.Match[str]) -> tuple[int, Any]:
        """``GET /edrs/types``: the product types served."""
        return 200, list(PRODUCT_TYPES)

    def search(self, request: RecordedRequest, match: re.Match[str]) -> Response:
        """``GET /edrs/search?datetime=S/E[&product_type][&limit][&sortby]``."""
        interval = request.param("datetime")
        if interval is None:
            loc = ["query", "datetime"]
            return detail_response(422, [{"type": "missing", "loc": loc, "msg": "Field required"}])
        found = _INTERVAL.match(interval)
        try:
            if found is None:
                raise ValueError(interval)
            start, stop = _parse(found[1]), _parse(found[2])
        except ValueError:
            return detail_response(400, "Missing start/stop")
        try:
            limit = int(request.param("limit") or 1000)
        except ValueError:
            limit = 0
        if limit < 1:
            return detail_response(422, "Pagination cannot be less 0")
        sortby = request.param("sortby") or "-created"
        key, reverse = sortby.lstrip("+-"), sortby.startswith("-")
        wanted = request.param("product_type")
        hits = [
            p
            for p in self.products
            if start <= _parse_iso(p["properties"]["created"]) <= stop
            and wanted in (None, p["properties"]["edrs:product_type"])
        ]
        hits.sort(key=lambda p: str(p["properties"].get(key, "")), reverse=reverse)
        hits = hits[:limit]
        with self._lock:
            self._seen.update(p["id"] for p in hits)
        body = {
            "type": "FeatureCollection",
            "numberMatched": len(hits),
            "numberReturned": len(hits),
            "features": hits,
        }
        return json_response(200, body)

    def stage(self, request: RecordedRequest, match: re.Match[str]) -> Response:
        """``GET /edrs?name=NAME``: 200 ``{"started": "true"}``; never searched: 503."""
        name = request.param("name") or ""
        with self._lock:
            if name not in self._seen or name not in self._by_name:
                return json_response(503, {"started": "false"})
            self._jobs[name] = {
                "started": time.monotonic(),
                "start": datetime.now(UTC),
                "failure": self._failing.pop(name, None),
            }
        return json_response(200, {"started": "true"})

    def status(self, request: RecordedRequest, match: re.Match[str]) -> Response:
        """``GET /edrs/status?name=NAME``: the status object; unknown name: 404."""
        name = request.param("name") or ""
        with self._lock:
            job = self._jobs.get(name)
        if job is None:
            return detail_response(404, f"No EdrsDownloadStatus entry found for name={name!r}")
        finished = time.monotonic() - job["started"] >= self.staging_duration
        failure = job["failure"] if finished else None
        state = "IN_PROGRESS" if not finished else ("FAILED" if failure else "DONE")
        stop = job["start"] + timedelta(seconds=self.staging_duration)
        body = {
            "product_id": self._by_name[name]["properties"]["edrs:id"],
            "name": name,
            "available_at_station": self._by_name[name]["properties"]["created"],
            "db_id": list(self._by_name).index(name) + 1,
            "download_start": job["start"].strftime(_STATUS_TIME),
            "download_stop": stop.strftime(_STATUS_TIME) if finished else None,
            "status": state,
            "status_fail_message": failure,
        }
        return json_response(200, body)


def _parse_iso(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
