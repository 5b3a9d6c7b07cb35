"""rs-plugin-prip against the REAL RS-Server 1.0 PRIP service (``scripts/rs-server-1``).

The services run in local mode on our OData station simulator (``scripts/odata_station``,
whose PRIP ``Products`` are :func:`odata_station.prip_products`); the URLs come from the
``RS_TEST_V10_*`` variables ``scripts/rs-server-1 env`` prints. Unset: skipped loudly, unless
``RS_REQUIRE_RS_SERVER_1=1`` (then failed). What the station holds is the reference: every
search must return exactly those products, compared by the station's ``Id`` (``prip:id``).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from rs_prip import PripClient

from rs_core import EDownloadStatus, UnknownCollectionError, UnsortableFieldError
from rs_core.testing.kit.station import StationContract

pytestmark = pytest.mark.rs_server_1

PREFIX = "RS_TEST_V10_"
PRIP_COLLECTIONS = {  # RS-Server 1.0's shipped PRIP collections -> the productType they ask for
    "S1A_L0_IW_RAW": "IW_RAW__0N",
    "IW_SLC__1S": "IW_SLC__1S",
    "S2B_L0_DS": "OPER_MSI",
    "S2B_L0_GR": "OPER_MSI_L0",
    "S2B_L2A_TL": "OPER_MSI_L2A",
}
START, STOP = "2024-01-01", "2025-01-01"


def _env(name: str) -> str:
    return os.environ[PREFIX + name].rstrip("/")


def _require() -> None:
    if os.environ.get(PREFIX + "PRIP_URL"):
        return
    message = f"{PREFIX}PRIP_URL is not set: the real RS-Server 1.0 PRIP tests are skipped"
    if os.environ.get("RS_REQUIRE_RS_SERVER_1") == "1":
        pytest.fail(f"{message}, but RS_REQUIRE_RS_SERVER_1=1 requires them", pytrace=False)
    pytest.skip(f"{message} (run scripts/rs-server-1 start; eval $(scripts/rs-server-1 env))")


def _station_products() -> list[dict[str, Any]]:
    scripts = Path(__file__).resolve().parents[3] / "scripts"
    if str(scripts) not in sys.path:
        sys.path.insert(0, str(scripts))
    from odata_station import prip_products

    return list(prip_products())


def _product_type(record: dict[str, Any]) -> str:
    return next(str(a["Value"]) for a in record["Attributes"] if a["Name"] == "productType")


def _published(record: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(str(record["PublicationDate"]).replace("Z", "+00:00"))


def ids(found: Any) -> set[str]:
    """The station ``Id`` of every product found."""
    return {str(item.properties["prip:id"]) for item in found}


@pytest.fixture
def station() -> list[dict[str, Any]]:
    _require()
    return _station_products()


@pytest.fixture
def prip(monkeypatch: pytest.MonkeyPatch) -> Iterator[PripClient]:
    """A local-mode client of the real PRIP service (staging and catalog of the same run)."""
    _require()
    monkeypatch.setenv("RSPY_HOST_PRIP", _env("PRIP_URL"))
    monkeypatch.setenv("RSPY_HOST_STAGING", _env("STAGING_URL"))
    monkeypatch.setenv("RSPY_HOST_CATALOG", _env("CATALOG_URL"))
    monkeypatch.delenv("RSPY_APIKEY", raising=False)
    with PripClient(None, None, "kitowner") as client:
        yield client


def test_a_time_range_returns_what_the_station_published(
    prip: PripClient, station: list[dict[str, Any]]
) -> None:
    everything = prip.search_stations(START, STOP)
    assert ids(everything) == {str(r["Id"]) for r in station}
    begin = datetime(2024, 6, 13, tzinfo=UTC)
    end = datetime(2024, 6, 16, 12, tzinfo=UTC)
    expected = {str(r["Id"]) for r in station if begin <= _published(r) <= end}
    assert expected and expected != ids(everything)
    assert ids(prip.search_stations(begin, end)) == expected


@pytest.mark.parametrize("collection", sorted(PRIP_COLLECTIONS))
def test_a_collection_returns_its_product_type(
    prip: PripClient, station: list[dict[str, Any]], collection: str
) -> None:
    wanted = PRIP_COLLECTIONS[collection]
    expected = {str(r["Id"]) for r in station if _product_type(r) == wanted}
    assert ids(prip.search_stations(START, STOP, collection=collection)) == expected


def test_several_collections_of_one_station(
    prip: PripClient, station: list[dict[str, Any]]
) -> None:
    both = ["S2B_L0_DS", "S2B_L0_GR"]  # one OData station: RS-Server would AND their queries
    wanted = {PRIP_COLLECTIONS[c] for c in both}
    expected = {str(r["Id"]) for r in station if _product_type(r) in wanted}
    found = prip.search_stations(START, STOP, collection=both, sortby="-published")
    assert ids(found) == expected
    published = [i.properties["published"] for i in found]
    assert published == sorted(published, reverse=True)


def test_product_type_and_a_cql2_filter_with_spaces(
    prip: PripClient, station: list[dict[str, Any]]
) -> None:
    for product_type in ("OPER_MSI", "IW_SLC__1S"):
        expected = {str(r["Id"]) for r in station if _product_type(r) == product_type}
        assert ids(prip.search_stations(START, STOP, product_type=product_type)) == expected
        spaced = prip.search_stations(START, STOP, filter=f"product:type = '{product_type}'")
        assert ids(spaced) == expected


def test_paging_follows_the_servers_next_links(
    prip: PripClient, station: list[dict[str, Any]]
) -> None:
    found = prip.search_stations(START, STOP, page_size=4)
    assert ids(found) == {str(r["Id"]) for r in station}
    assert found.extra_fields["pages"] > 1


def test_unknown_collection_and_unsortable_field_are_typed_errors(prip: PripClient) -> None:
    with pytest.raises(UnknownCollectionError) as info:
        prip.search_stations(START, STOP, collection="S2B_NOPE")
    assert set(PRIP_COLLECTIONS) <= set(info.value.valid)
    with pytest.raises(UnsortableFieldError, match="published"):
        prip.search_stations(START, STOP, sortby="-datetime")


def test_collections_and_queryables(prip: PripClient) -> None:
    assert {c.id for c in prip.list_collections()} == set(PRIP_COLLECTIONS)
    assert "product:type" in prip.queryables()["properties"]


def test_staging_a_product_puts_the_station_bytes_in_s3(
    prip: PripClient, station: list[dict[str, Any]]
) -> None:
    [file] = prip.search_stations(START, STOP, collection="S2B_L0_DS", limit=1)
    collection = f"kit-prip-{secrets.token_hex(3)}"
    report = prip.stage_and_wait([file], collection=collection, poll_interval=0.5, timeout=120)
    assert report.ok, report.summary()
    assert prip.staging_status(file.id) is EDownloadStatus.DONE
    owner = os.environ.get(PREFIX + "OWNER", "")
    catalog = f"{_env('CATALOG_URL')}/catalog/collections/{owner}:{collection}/items"
    try:
        deadline = time.monotonic() + 30
        features: list[dict[str, Any]] = []
        while not features and time.monotonic() < deadline:
            answer = requests.get(catalog, params={"limit": 100}, timeout=30)
            features = answer.json().get("features", []) if answer.ok else []
        [item] = [f for f in features if f["id"] == file.id]
        [asset] = item["assets"].values()
        href = str(asset["href"])
        assert href.startswith("s3://")
        data = requests.get(f"{_env('S3_ENDPOINT')}/{href[5:]}", timeout=30).content
        record = next(r for r in station if str(r["Id"]) == file.properties["prip:id"])
        from odata_station import payload_bytes

        assert data == payload_bytes(str(record["Id"]), int(record["ContentLength"]))
    finally:
        requests.delete(catalog.rsplit("/items", 1)[0], timeout=30)


class TestPripRealRsServer1(StationContract):
    """The station contract, live (tests that need the simulator skip loudly)."""

    kind = "prip"
    station = "PRIP"
    api_version = "v2"
    live_url_env = f"{PREFIX}PRIP_URL"
    sort_field = "published"
    search_start = datetime(2024, 1, 1, tzinfo=UTC)
    search_stop = datetime(2025, 1, 1, tzinfo=UTC)


def test_rs_search_prip_from_a_fresh_process(station: list[dict[str, Any]]) -> None:
    env = {**os.environ, "RSPY_HOST_PRIP": _env("PRIP_URL")}
    env.pop("RSPY_APIKEY", None)
    rs = Path(sys.executable).with_name("rs")
    out = subprocess.run(
        [str(rs), "search", "prip", "--start", START, "--stop", STOP, "-o", "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout)
    assert {f["properties"]["prip:id"] for f in found["features"]} == {
        str(r["Id"]) for r in station
    }
    bad = subprocess.run(
        [str(rs), "search", "prip", "--start", START, "--sortby", "datetime"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert bad.returncode == 2 and "sortable fields" in bad.stderr
