"""The 1.0 time semantics, against the REAL RS-Server 1.0 services (``scripts/rs-server-1``):
what each service puts in a result's time fields and what the time range of a search selects
on, compared with the records of the OData stations behind them (docs/stations.md, "Time
fields per service and generation"). ``RS_TEST_V10_*`` unset: skipped loudly (failed with
``RS_REQUIRE_RS_SERVER_1=1``)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import requests

from rs_core import get_station
from rs_core.dates import parse_datetime

pytestmark = pytest.mark.rs_server_1
WIDE = ("2000-01-01", "2100-01-01")
SECOND = timedelta(seconds=1)


def _env(name: str) -> str:
    value = os.environ.get(f"RS_TEST_V10_{name}", "").rstrip("/")
    if not value:
        message = f"RS_TEST_V10_{name} is not set: the real RS-Server 1.0 tests are skipped"
        if os.environ.get("RS_REQUIRE_RS_SERVER_1") == "1":
            pytest.fail(f"{message}, but RS_REQUIRE_RS_SERVER_1=1 requires them", pytrace=False)
        pytest.skip(message)
    return value


def station_records(kind: str, entity_set: str, expand: bool = True) -> list[dict[str, Any]]:
    """Every record of an OData station simulator (password-grant token, as RS-Server gets)."""
    base = _env(f"{kind}_STATION_URL")
    form = {"grant_type": "password", "username": "test", "password": "test"}
    token = requests.post(f"{base}/oauth2/token", data=form, timeout=30).json()["access_token"]
    answer = requests.get(
        f"{base}/{entity_set}",
        params={"$top": "1000", **({"$expand": "Attributes"} if expand else {})},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    answer.raise_for_status()
    return list(answer.json()["value"])


def when(value: Any) -> datetime:
    return parse_datetime(str(value))


@pytest.fixture
def local(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("RSPY_APIKEY", raising=False)
    monkeypatch.setenv("RSPY_HOST_ADGS", _env("AUXIP_URL"))
    monkeypatch.setenv("RSPY_HOST_CADIP", _env("CADIP_URL"))
    monkeypatch.setenv("RSPY_HOST_PRIP", _env("PRIP_URL"))
    yield


def test_auxip(local: None) -> None:
    products = {r["Name"]: r for r in station_records("ADGS", "Products")}
    auxip = get_station("auxip", owner_id="kitowner")
    files = auxip.search_stations(*WIDE)
    assert {f.id for f in files} == set(products)
    for file in files:
        record, props = products[file.id], file.properties
        assert when(props["created"]) == when(record["PublicationDate"])
        assert when(props["published"]) == when(record["PublicationDate"])
        assert when(props["datetime"]) == when(record["ContentDate"]["Start"])
        assert when(props["end_datetime"]) == when(record["ContentDate"]["End"])
    # the time range selects on PublicationDate, not OriginDate
    record = next(r for r in products.values() if r["OriginDate"] != r["PublicationDate"])
    published, origin = when(record["PublicationDate"]), when(record["OriginDate"])
    assert record["Name"] in {
        f.id for f in auxip.search_stations(published - SECOND, published + SECOND)
    }
    assert record["Name"] not in {
        f.id for f in auxip.search_stations(origin - SECOND, origin + SECOND)
    }
    # a temporal filter on `created` compares OriginDate (while the item shows PublicationDate)
    middle = origin + (published - origin) / 2
    stamp = middle.strftime("%Y-%m-%dT%H:%M:%SZ")
    before = auxip.search_stations(
        published - timedelta(days=1),
        published + SECOND,
        filter=f"T_BEFORE(created, TIMESTAMP('{stamp}'))",
    )
    assert record["Name"] in {f.id for f in before}
    assert when(next(f for f in before if f.id == record["Name"]).properties["created"]) > middle


def test_cadip_sessions(local: None) -> None:
    sessions = {r["SessionId"]: r for r in station_records("CADIP", "Sessions", expand=False)}
    mti = get_station("cadip", station="MTI", owner_id="kitowner")
    found = mti.search_sessions(start_date=WIDE[0], stop_date=WIDE[1])
    assert found
    for session in found:
        record, props = sessions[session.id], session.properties
        assert when(props["datetime"]) == when(record["PublicationDate"])
        assert when(props["published"]) == when(record["PublicationDate"])
        assert when(props["start_datetime"]) == when(record["DownlinkStart"])
    # the time range selects on PublicationDate, not DownlinkStart
    record = sessions[found[0].id]
    published, downlink = when(record["PublicationDate"]), when(record["DownlinkStart"])
    assert abs(published - downlink) > timedelta(minutes=1)
    hit = mti.search_sessions(start_date=published - SECOND, stop_date=published + SECOND)
    miss = mti.search_sessions(start_date=downlink - SECOND, stop_date=downlink + SECOND)
    assert record["SessionId"] in {s.id for s in hit}
    assert record["SessionId"] not in {s.id for s in miss}


def test_prip(local: None) -> None:
    products = {r["Id"]: r for r in station_records("PRIP", "Products")}
    prip = get_station("prip", owner_id="kitowner")
    files = prip.search_stations(*WIDE)
    assert {f.properties["prip:id"] for f in files} == set(products)
    for file in files:
        record, props = products[file.properties["prip:id"]], file.properties
        attributes = {a["Name"]: a["Value"] for a in record["Attributes"]}
        assert when(props["published"]) == when(record["PublicationDate"])
        assert when(props["datetime"]) == when(record["ContentDate"]["Start"])
        assert when(props["start_datetime"]) == when(record["ContentDate"]["Start"])
        assert when(props["end_datetime"]) == when(record["ContentDate"]["End"])
        assert when(props["created"]) == when(attributes["processingDate"])
        assert when(props["eopf:origin_datetime"]) == when(record["OriginDate"])
