"""CADIP station search, complete (RS-Server 1.0 semantics) on the simulator's v2 face:
per-mission collections, stations without a collection, cql2-json filters, sort fields."""

from __future__ import annotations

from typing import Any

import pytest
from rs_cadip import CadipClient

from rs_core import UnknownCollectionError, UnsortableFieldError
from rs_core.http import HttpSettings
from rs_core.testing.pytest_plugin import KIT_API_KEY

FAST = HttpSettings(timeout=10.0, connect_timeout=5.0, retries=2, backoff_factor=0.01)
START, STOP = "2000-01-01", "2100-01-01"


def cadip(sim: Any, station: str) -> CadipClient:
    return CadipClient(sim.url, KIT_API_KEY, "tester", station, http_settings=FAST)


@pytest.mark.parametrize("station", ["INS", "MPS", "NSG"])
def test_a_station_without_collection_is_an_error_not_an_empty_result(
    rs_simulator_v2: Any, station: str
) -> None:
    with cadip(rs_simulator_v2, station) as client:
        with pytest.raises(UnknownCollectionError) as info:
            client.search_sessions(start_date=START, stop_date=STOP)
        assert station.lower() in str(info.value)
        assert {"cadip", "mti", "sgs"} <= set(info.value.valid)
        with pytest.raises(UnknownCollectionError):
            client.search_stations(START, STOP, filter="platform = 'sentinel-1a'")


def test_mission_collections(rs_simulator_v2: Any) -> None:
    with cadip(rs_simulator_v2, "MTI") as client:
        every = client.search_sessions(start_date=START, stop_date=STOP)
        s1 = client.search_sessions(start_date=START, stop_date=STOP, collection="mti_sentinel1")
        assert s1 and len(s1) < len(every)
        assert {s.properties["platform"] for s in s1} <= {
            "sentinel-1a",
            "sentinel-1b",
            "sentinel-1c",
        }
        files = client.search_stations(START, STOP, collection="mti_sentinel1", max_items=5)
        assert files and {f.properties["cadip:session_id"] for f in files} <= {s.id for s in s1}
        with pytest.raises(UnknownCollectionError, match="mti_sentinel9"):
            client.search_sessions(start_date=START, stop_date=STOP, collection="mti_sentinel9")


def test_filter_with_spaces_selects_sessions(rs_simulator_v2: Any) -> None:
    with cadip(rs_simulator_v2, "MTI") as client:
        spaced = client.search_sessions(
            start_date=START, stop_date=STOP, filter="platform = 'sentinel-1a'"
        )
        by_platform = client.search_sessions(platforms="S1A")
        assert spaced and sorted(s.id for s in spaced) == sorted(s.id for s in by_platform)


def test_session_sort_fields(rs_simulator_v2: Any) -> None:
    with cadip(rs_simulator_v2, "MTI") as client:
        client.server_generation()
        rs_simulator_v2.clear_requests()
        with pytest.raises(UnsortableFieldError) as info:
            client.search_stations(START, STOP, sortby="+cadip:channel")
        assert "published" in info.value.sortable and rs_simulator_v2.requests == []
