"""CADIP search, complete, against the REAL RS-Server 1.0 CADIP service (``scripts/rs-server-1``;
``RS_TEST_V10_CADIP_URL``, skipped loudly when unset, failed with RS_REQUIRE_RS_SERVER_1=1)."""

from __future__ import annotations

import os
from typing import Any

import pytest
from rs_cadip import CadipClient

from rs_core import UnknownCollectionError

pytestmark = pytest.mark.rs_server_1
START, STOP = "2000-01-01", "2100-01-01"


@pytest.fixture
def live(monkeypatch: pytest.MonkeyPatch) -> Any:
    url = os.environ.get("RS_TEST_V10_CADIP_URL", "").rstrip("/")
    if not url:
        message = "RS_TEST_V10_CADIP_URL is not set: the real RS-Server 1.0 CADIP search is skipped"
        if os.environ.get("RS_REQUIRE_RS_SERVER_1") == "1":
            pytest.fail(f"{message}, but RS_REQUIRE_RS_SERVER_1=1 requires it", pytrace=False)
        pytest.skip(message)
    monkeypatch.setenv("RSPY_HOST_CADIP", url)
    monkeypatch.delenv("RSPY_APIKEY", raising=False)
    return url


@pytest.mark.parametrize("station", ["INS", "MPS", "NSG"])
def test_a_station_without_collection_is_an_error(live: Any, station: str) -> None:
    with CadipClient(None, None, "kitowner", station) as client:
        with pytest.raises(UnknownCollectionError, match=station.lower()):
            client.search_sessions(start_date=START, stop_date=STOP)
        with pytest.raises(UnknownCollectionError):
            client.search_stations(START, STOP, filter="platform = 'sentinel-1a'")


def test_mission_collections_and_a_spaced_filter(live: Any) -> None:
    with CadipClient(None, None, "kitowner", "MTI") as mti:
        every = mti.search_sessions(start_date=START, stop_date=STOP)
        s1 = mti.search_sessions(start_date=START, stop_date=STOP, collection="mti_sentinel1")
        spaced = mti.search_sessions(
            start_date=START, stop_date=STOP, filter="platform = 'sentinel-1a'"
        )
        expected = {s.id for s in every if s.properties.get("platform") == "sentinel-1a"}
        assert s1 and len(s1) < len(every)
        assert expected and {s.id for s in spaced} == expected
