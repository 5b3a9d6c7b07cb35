"""CadipClient against the simulator: stations, sessions, wire requests, inputs, errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pystac
import pytest
from rs_cadip import CadipClient
from rs_cadip.protocol_v1 import CadipProtocolV1

import rs_core
from rs_core import (
    AuthenticationError,
    ECadipStation,
    EDownloadStatus,
    EPlatform,
    InvalidInputError,
    NotFoundError,
    RequestRejectedError,
    ServerError,
    StagingError,
    UnknownStationError,
)
from rs_core.http import HttpSettings
from rs_core.testing.pytest_plugin import KIT_API_KEY
from rs_core.testing.simulator import ApiKey, Fault

FAST = HttpSettings(timeout=10.0, connect_timeout=5.0, retries=2, backoff_factor=0.01)
START = datetime(2000, 1, 1)
STOP = datetime(2100, 1, 1)
SESSION_FIELDS = {"href", "roles", "file:size", "cadip:channel", "cadip:session_id", "created"}


def mti(sim: Any) -> CadipClient:
    return CadipClient(sim.url, KIT_API_KEY, "tester", "mti", http_settings=FAST)


def a_session(client: CadipClient) -> pystac.Item:
    sessions = client.search_sessions(start_date=START, stop_date=STOP)
    return next(s for s in sessions if len(s.assets) >= 2)


@pytest.fixture(autouse=True)
def _pin_v1(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests pin RS-Server v1's exact wire: no generation probe in the request log
    (detection has its own tests: tests/core/test_generations.py)."""
    monkeypatch.setenv("RS_API_VERSION", "v1")


# -- stations ---------------------------------------------------------------------------------


@pytest.mark.parametrize("given", ["mti", "MTI", " Mti ", ECadipStation.MTI])
def test_station_is_case_insensitive(sim: Any, given: Any) -> None:
    client = CadipClient(sim.url, KIT_API_KEY, "tester", given)
    assert client.station_name == "MTI"
    assert client.href_search == f"{sim.url}/cadip/MTI/cadu/search"


def test_unknown_station_lists_the_valid_ones(sim: Any) -> None:
    with pytest.raises(UnknownStationError) as info:
        CadipClient(sim.url, KIT_API_KEY, "tester", "matera")
    for station in ECadipStation:
        assert station.value in str(info.value)
    assert sim.requests == []
    with pytest.raises(UnknownStationError):
        rs_core.get_station(
            "cadip",
            station="XYZ",
            rs_server_href=sim.url,
            rs_server_api_key=KIT_API_KEY,
            owner_id="tester",
        )


def test_hrefs(sim: Any) -> None:
    client = mti(sim)
    assert client.href_cadip == sim.url
    assert client.href_search == f"{sim.url}/cadip/MTI/cadu/search"
    assert client.href_session == f"{sim.url}/cadip/MTI/session"
    assert client.href_staging == f"{sim.url}/cadip/MTI/cadu"
    assert client.href_status == f"{sim.url}/cadip/MTI/cadu/status"


def test_discovery_gives_the_same_client(sim: Any) -> None:
    parent = rs_core.RsClient(sim.url, KIT_API_KEY, "tester", http_settings=FAST)
    by_kind = rs_core.get_station("cadip", station="MTI", client=parent)
    by_attr = parent.get_cadip_client("mti")
    assert type(by_kind) is type(by_attr) is CadipClient
    assert by_kind.station_name == by_attr.station_name == "MTI"
    assert by_kind.href_session == by_attr.href_session
    assert by_kind.http is by_attr.http is parent.http
    assert parent.get_cadip_client().station_name == "CADIP"  # the kind's first station


# -- wire -------------------------------------------------------------------------------------


def test_file_search_wire(sim: Any) -> None:
    client = mti(sim)
    aware = datetime(2024, 3, 1, 1, 0, tzinfo=timezone(timedelta(hours=1)))
    client.search_stations(aware, datetime(2024, 3, 2), limit=3, sortby="-created")
    (req,) = sim.requests
    assert req.path == "/cadip/MTI/cadu/search"
    assert req.query == {
        "datetime": ["2024-03-01T00:00:00Z/2024-03-02T00:00:00Z"],
        "limit": ["3"],
        "sortby": ["-created"],
    }
    assert req.headers.get("x-api-key") == KIT_API_KEY


def test_file_search_by_sessions_wire(sim: Any) -> None:
    client = mti(sim)
    client.search_stations(session_id=["S1A_1", "S2B_2"])
    client.search_files(START, STOP, session_id="S1A_1", limit=2)
    first, second = sim.requests
    assert first.query == {"session_id": ["S1A_1,S2B_2"]}
    assert second.query == {
        "datetime": ["2000-01-01T00:00:00Z/2100-01-01T00:00:00Z"],
        "limit": ["2"],
        "session_id": ["S1A_1"],
    }


def test_session_search_wire(client: CadipClient, sim: Any) -> None:
    client.search_sessions(
        session_ids=["S1A_20200105072204051312", "S2B_X"],
        start_date=datetime(2020, 1, 1, tzinfo=UTC),
        stop_date="2020-01-31T00:00:00+01:00",
        platforms=["s1a", EPlatform.S2B],
    )
    (req,) = sim.requests
    assert req.path == "/cadip/CADIP/session"
    assert req.query == {
        "id": ["S1A_20200105072204051312,S2B_X"],
        "platform": ["S1A,S2B"],
        "start_date": ["2020-01-01T00:00:00Z"],
        "stop_date": ["2020-01-30T23:00:00Z"],
    }
    assert req.headers.get("x-api-key") == KIT_API_KEY


def test_staging_and_status_wire(sim: Any) -> None:
    client = mti(sim)
    name = client.search_stations(START, STOP, limit=1)[0].id
    sim.clear_requests()
    client.staging(name, s3_path="s3://rs-bucket/cadu", tmp_download_path="/data")
    client.staging_status(name)
    stage, status = sim.requests
    assert stage.path == "/cadip/MTI/cadu"
    assert stage.query == {"name": [name], "obs": ["s3://rs-bucket/cadu"], "local": ["/data"]}
    assert status.path == "/cadip/MTI/cadu/status" and status.query == {"name": [name]}


# -- results ----------------------------------------------------------------------------------


def test_sessions_assets_are_a_mapping_keyed_by_file_name(client: CadipClient) -> None:
    sessions = client.search_sessions(platforms="S1A")
    assert isinstance(sessions, pystac.ItemCollection) and len(sessions) >= 1
    session = sessions[0]
    raw = next(f for f in sessions.raw["features"] if f["id"] == session.id)
    assert isinstance(raw["assets"], list)  # the v1 quirk, kept in .raw
    assert list(session.assets) == [next(iter(entry)) for entry in raw["assets"]]
    for name, asset in session.assets.items():
        fields = asset.to_dict()
        assert set(fields) >= SESSION_FIELDS
        assert asset.href.endswith(f"name={name}")
        assert fields["cadip:session_id"] == session.id
        assert fields["created"].endswith("Z")
    assert session.properties["platform"] == "S1A"
    for key in ("published", "cadip:planned_data_start", "start_datetime", "end_datetime"):
        assert pystac.utils.str_to_datetime(session.properties[key]).tzinfo is not None
    assert pystac.utils.str_to_datetime(session.properties["published"]) == (
        pystac.utils.str_to_datetime(raw["properties"]["published"])
    )


def test_session_files_are_found_by_session_id(client: CadipClient) -> None:
    session = a_session(client)
    files = client.search_stations(session_id=session.id)
    assert {f.id for f in files} == set(session.assets)
    assert all(f.properties["cadip:session_id"] == session.id for f in files)


def test_v1_constant_dates_do_not_crash(client: CadipClient) -> None:
    files = client.search_stations(START, STOP, limit=5)
    assert len(files) == 5
    for item in files:
        assert item.datetime == datetime(1970, 1, 1, 12, tzinfo=UTC)  # v1's constant
        assert pystac.utils.str_to_datetime(item.properties["created"]).year > 2000
        assert item.properties["eviction_datetime"].endswith("Z")
        assert isinstance(item.assets["file"].extra_fields["file:size"], int)
    assert len(pystac.ItemCollection.from_dict(files.to_dict())) == 5
    assert files.raw["features"][0]["properties"]["datetime"] == "1970-01-01T12:00:00.000Z"


# -- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "kwargs"),
    [
        ("search_stations", {}),
        ("search_stations", {"start_date": START}),
        ("search_stations", {"stop_date": STOP, "session_id": "S1A_1"}),
        ("search_stations", {"session_id": ""}),
        ("search_stations", {"session_id": ["a,b"]}),
        ("search_stations", {"session_id": []}),
        ("search_stations", {"session_id": "S1A_1", "limit": 0}),
        ("search_stations", {"session_id": "S1A_1", "sortby": "-"}),
        ("search_stations", {"start_date": STOP, "stop_date": START}),
        ("search_sessions", {}),
        ("search_sessions", {"start_date": START}),
        ("search_sessions", {"stop_date": STOP, "platforms": ["S1A"]}),
        ("search_sessions", {"platforms": ["S9Z"]}),
        ("search_sessions", {"platforms": []}),
        ("search_sessions", {"session_ids": [""]}),
        ("search_sessions", {"start_date": STOP, "stop_date": START}),
        ("search_sessions", {"platforms": "S1A", "timeout": 0}),
        ("staging", {"filename": ""}),
        ("staging", {"filename": "x.raw", "s3_path": "/not/s3"}),
        ("staging_status", {"filename": ""}),
    ],
)
def test_bad_input_sends_nothing(
    client: CadipClient, sim: Any, call: str, kwargs: dict[str, Any]
) -> None:
    with pytest.raises(InvalidInputError):
        getattr(client, call)(**kwargs)
    assert sim.requests == []


def test_unknown_platform_message_lists_platforms(client: CadipClient) -> None:
    with pytest.raises(InvalidInputError) as info:
        client.search_sessions(platforms=["S1A", "S7X"])
    assert "S7X" in str(info.value) and "S3B" in str(info.value)


# -- server errors -----------------------------------------------------------------------------


def test_500_sessions_at_a_non_cadip_station(sim: Any) -> None:
    with pytest.raises(ServerError) as info:
        mti(sim).search_sessions(platforms=["S1A"])
    assert info.value.status == 500
    assert "only at the CADIP station" in str(info.value)


def test_400_missing_search_parameters(client: CadipClient, sim: Any) -> None:
    raw = CadipProtocolV1(client.http, sim.url, "CADIP")
    with pytest.raises(RequestRejectedError) as info:
        raw.search_files({})
    assert info.value.status == 400 and "Missing search parameters" in str(info.value)
    with pytest.raises(RequestRejectedError, match="Missing search parameters"):
        raw.search_sessions({})


def test_400_unknown_station_at_the_server(client: CadipClient, sim: Any) -> None:
    raw = CadipProtocolV1(client.http, sim.url, "XXX")
    with pytest.raises(RequestRejectedError) as info:
        raw.search_files({"datetime": "2024-01-01T00:00:00Z/2024-01-02T00:00:00Z"})
    assert info.value.status == 400 and "Unknown CADIP station" in str(info.value)


def test_503_inverted_range(client: CadipClient, sim: Any) -> None:
    raw = CadipProtocolV1(client.http, sim.url, "MTI")
    with pytest.raises(ServerError, match="inverted"):
        raw.search_files({"datetime": "2024-01-02T00:00:00Z/2024-01-01T00:00:00Z"})


def test_401_key_without_the_station_role(sim: Any) -> None:
    sim.add_api_key("mti-only", ApiKey(user_login="bob", iam_roles=["rs_cadip_mti_read"]))
    client = CadipClient(sim.url, "mti-only", "bob", "NSG", http_settings=FAST)
    with pytest.raises(AuthenticationError) as info:
        client.search_stations(START, STOP)
    assert info.value.status == 401 and "cadip_nsg" in str(info.value)
    assert len(CadipClient(sim.url, "mti-only", "bob", "MTI").search_stations(START, STOP)) > 0


def test_403_wrong_key(sim: Any) -> None:
    client = CadipClient(sim.url, "nope-SECRET", "bob", "MTI", http_settings=FAST)
    with pytest.raises(AuthenticationError) as info:
        client.search_sessions(platforms="S1A")
    assert info.value.status == 403 and "nope-SECRET" not in str(info.value)


def test_404_and_503_staging(sim: Any) -> None:
    client = mti(sim)
    with pytest.raises(NotFoundError, match="cadip_download_status"):
        client.staging_status("DCS_UNKNOWN.raw")
    with pytest.raises(StagingError, match=r"DCS_UNKNOWN\.raw"):
        client.staging("DCS_UNKNOWN.raw")
    assert [r.path for r in sim.requests] == ["/cadip/MTI/cadu/status", "/cadip/MTI/cadu"]


def test_files_returned_by_a_session_search_can_be_staged(client: CadipClient) -> None:
    session = a_session(client)
    name = next(iter(session.assets))
    client.staging(name)
    report = client.stage_and_wait([name], poll_interval=0.05, timeout=20)
    assert report.ok and client.staging_status(name) is EDownloadStatus.DONE


def test_truncated_answer_is_typed(client: CadipClient, sim: Any) -> None:
    sim.add_fault(Fault(path="/cadip/CADIP/session", kind="truncate", times=1 + FAST.retries))
    with pytest.raises(rs_core.RsError) as info:
        client.search_sessions(platforms="S1A")
    assert isinstance(info.value, rs_core.RsConnectionError | rs_core.BadResponseError)


# -- local mode ---------------------------------------------------------------------------------


def test_local_mode_via_env(rs_local_simulator: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RSPY_HOST_CADIP", rs_local_simulator.url)
    client = CadipClient(None, None, None, "CADIP", http_settings=FAST)
    assert (
        client.local_mode and client.href_session == f"{rs_local_simulator.url}/cadip/CADIP/session"
    )
    assert len(client.search_sessions(platforms="S1A")) >= 1
    (req,) = rs_local_simulator.requests
    assert "x-api-key" not in req.headers
