"""AuxipClient against the simulator: wire requests, inputs, errors, modes, staging."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pystac
import pytest
from rs_auxip import AuxipClient
from rs_auxip.protocol_v1 import AdgsProtocolV1

import rs_core
from rs_core import (
    AuthenticationError,
    ConfigurationError,
    EDownloadStatus,
    InvalidInputError,
    NotFoundError,
    RequestRejectedError,
    RsConnectionError,
    ServerError,
    StagingError,
    StagingInterrupted,
    StagingStatus,
)
from rs_core.http import HttpClient, HttpSettings
from rs_core.rsserver_v1 import StationItemCollection
from rs_core.testing.pytest_plugin import KIT_API_KEY
from rs_core.testing.simulator import ApiKey, Fault, RsServerSimulator

FAST = HttpSettings(timeout=10.0, connect_timeout=5.0, retries=2, backoff_factor=0.01)
START = datetime(2000, 1, 1)
STOP = datetime(2100, 1, 1)


def paths(sim: Any) -> list[str]:
    return [r.path for r in sim.requests]


def first_name(client: AuxipClient) -> str:
    return client.search_stations(START, STOP, limit=1)[0].id


@pytest.fixture(autouse=True)
def _pin_v1(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests pin RS-Server v1's exact wire: no generation probe in the request log
    (detection has its own tests: tests/core/test_generations.py)."""
    monkeypatch.setenv("RS_API_VERSION", "v1")


# -- wire -----------------------------------------------------------------------------------


def test_search_wire(client: AuxipClient, sim: Any) -> None:
    start = datetime(2024, 5, 1, 10, 0, 0, 999999)
    stop = datetime(2024, 5, 2, 12, 0, 0, tzinfo=timezone(timedelta(hours=2)))
    client.search_stations(start, stop, limit=7, sortby="+created")
    (req,) = sim.requests
    assert req.method == "GET" and req.path == "/adgs/aux/search"
    assert req.query == {
        "datetime": ["2024-05-01T10:00:00Z/2024-05-02T10:00:00Z"],
        "limit": ["7"],
        "sortby": ["+created"],
    }
    assert "sortby=%2Bcreated" in req.raw_query  # a bare '+' would arrive as a space
    assert req.headers.get("x-api-key") == KIT_API_KEY


def test_search_defaults_send_datetime_only(client: AuxipClient, sim: Any) -> None:
    client.search_stations("2024-05-01", "2024-05-02T00:00:00Z")
    (req,) = sim.requests
    assert req.query == {"datetime": ["2024-05-01T00:00:00Z/2024-05-02T00:00:00Z"]}


def test_sortby_without_sign_means_ascending(client: AuxipClient, sim: Any) -> None:
    client.search_stations(START, STOP, sortby="created")
    assert sim.requests[0].query["sortby"] == ["+created"]


def test_staging_wire(client: AuxipClient, sim: Any) -> None:
    name = first_name(client)
    sim.clear_requests()
    client.staging(name, s3_path="s3://bucket/aux", tmp_download_path="/tmp/aux")
    (req,) = sim.requests
    assert req.path == "/adgs/aux"
    assert req.query == {"name": [name], "obs": ["s3://bucket/aux"], "local": ["/tmp/aux"]}
    assert req.headers.get("x-api-key") == KIT_API_KEY


def test_staging_without_targets_sends_name_only(client: AuxipClient, sim: Any) -> None:
    name = first_name(client)
    sim.clear_requests()
    client.staging(name)
    assert sim.requests[0].query == {"name": [name]}


def test_status_wire_and_record(client: AuxipClient, sim: Any) -> None:
    name = first_name(client)
    client.staging(name)
    sim.clear_requests()
    info = client.staging_info(name)
    (req,) = sim.requests
    assert req.path == "/adgs/aux/status" and req.query == {"name": [name]}
    assert isinstance(info, StagingStatus) and info.name == name
    assert info.status in (EDownloadStatus.IN_PROGRESS, EDownloadStatus.DONE)
    assert info.raw["name"] == name and "status_fail_message" in info.raw
    assert info.download_start is not None and info.download_start.tzinfo is UTC


def test_hrefs(client: AuxipClient, sim: Any) -> None:
    assert client.station_name == "AUXIP"
    assert client.href_adgs == sim.url
    assert client.href_search == f"{sim.url}/adgs/aux/search"
    assert client.href_staging == f"{sim.url}/adgs/aux"
    assert client.href_status == f"{sim.url}/adgs/aux/status"


# -- results --------------------------------------------------------------------------------


def test_results_are_item_collections_with_raw(client: AuxipClient) -> None:
    found = client.search_stations(START, STOP, limit=3, sortby="-created")
    assert isinstance(found, pystac.ItemCollection) and isinstance(found, StationItemCollection)
    assert len(found) == 3 and found.number_matched == 3
    raw_feature = found.raw["features"][0]
    item = found[0]
    assert item.id == raw_feature["id"]
    assert item.properties["adgs:id"] == raw_feature["properties"]["adgs:id"]
    assert (
        item.assets["file"].extra_fields["file:size"] == raw_feature["assets"]["file"]["file:size"]
    )
    assert "href" not in raw_feature["assets"]["file"]  # the raw answer is untouched
    assert item.assets["file"].href == f"{client.href_staging}?name={item.id}"
    created = item.properties["created"]
    assert created.endswith("Z") and pystac.utils.str_to_datetime(created)
    assert found.to_dict()["numberReturned"] == 3


# -- bad input: typed error, nothing sent -------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "kwargs"),
    [
        (
            "search_stations",
            {"start_date": datetime(2024, 2, 1), "stop_date": datetime(2024, 1, 1)},
        ),
        ("search_stations", {"start_date": START, "stop_date": STOP, "limit": 0}),
        ("search_stations", {"start_date": START, "stop_date": STOP, "limit": 2.5}),
        ("search_stations", {"start_date": START, "stop_date": STOP, "sortby": "created asc"}),
        ("search_stations", {"start_date": START, "stop_date": STOP, "sortby": "--created"}),
        ("search_stations", {"start_date": START, "stop_date": STOP, "timeout": -1}),
        ("search_stations", {"start_date": "31/12/2024", "stop_date": STOP}),
        ("staging", {"filename": ""}),
        ("staging", {"filename": "x.EOF", "s3_path": "bucket/dir"}),
        ("staging_status", {"filename": " "}),
        ("staging_info", {"filename": None}),
    ],
)
def test_bad_input_sends_nothing(
    client: AuxipClient, sim: Any, call: str, kwargs: dict[str, Any]
) -> None:
    with pytest.raises(InvalidInputError):
        getattr(client, call)(**kwargs)
    assert sim.requests == []


def test_no_url_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RSPY_HOST_ADGS", raising=False)
    client = AuxipClient()
    with pytest.raises(ConfigurationError, match="RSPY_HOST_ADGS"):
        client.search_stations(START, STOP)


# -- server errors of PROTOCOL.md --------------------------------------------------------------


def raw_protocol(client: AuxipClient, sim: Any) -> AdgsProtocolV1:
    """The wire layer without the client's validation, to meet the server's own checks."""
    return AdgsProtocolV1(client.http, sim.url)


def test_422_missing_start_stop(client: AuxipClient, sim: Any) -> None:
    with pytest.raises(RequestRejectedError) as info:
        raw_protocol(client, sim).search_files({"datetime": "2024-01-01T00:00:00Z"})
    assert info.value.status == 422 and "Missing start/stop" in str(info.value)


def test_422_limit_below_one(client: AuxipClient, sim: Any) -> None:
    with pytest.raises(RequestRejectedError) as info:
        raw_protocol(client, sim).search_files(
            {"datetime": "2024-01-01T00:00:00Z/2024-01-02T00:00:00Z", "limit": "0"}
        )
    assert info.value.status == 422 and "Pagination" in str(info.value)


def test_400_bad_datetime_format(client: AuxipClient, sim: Any) -> None:
    with pytest.raises(RequestRejectedError) as info:
        raw_protocol(client, sim).search_files({"datetime": "yesterday/today"})
    assert info.value.status == 400 and "Missing start/stop" in str(info.value)


def test_503_inverted_range_after_retries(client: AuxipClient, sim: Any) -> None:
    with pytest.raises(ServerError) as info:
        raw_protocol(client, sim).search_files(
            {"datetime": "2024-01-02T00:00:00Z/2024-01-01T00:00:00Z"}
        )
    assert info.value.status == 503 and "inverted" in str(info.value)
    assert len(sim.requests) == 1 + FAST.retries


def test_403_no_key(sim: Any) -> None:
    keyless = AdgsProtocolV1(HttpClient(FAST, None), sim.url)
    with pytest.raises(AuthenticationError) as info:
        keyless.search_files({"datetime": "2024-01-01T00:00:00Z/2024-01-02T00:00:00Z"})
    assert info.value.status == 403 and "Not authenticated" in str(info.value)


def test_403_wrong_key(sim: Any) -> None:
    client = AuxipClient(sim.url, "wrong-SECRET-key", "tester", http_settings=FAST)
    with pytest.raises(AuthenticationError) as info:
        client.search_stations(START, STOP)
    assert info.value.status == 403
    assert "wrong-SECRET-key" not in str(info.value) + repr(info.value) + repr(client)


def test_401_key_without_the_role(sim: Any) -> None:
    sim.add_api_key("read-only", ApiKey(user_login="bob", iam_roles=["rs_adgs_read"]))
    client = AuxipClient(sim.url, "read-only", "bob", http_settings=FAST)
    name = first_name(client)
    with pytest.raises(AuthenticationError) as info:
        client.staging(name)
    assert info.value.status == 401 and "right role" in str(info.value)


def test_404_unknown_status(client: AuxipClient) -> None:
    with pytest.raises(NotFoundError) as info:
        client.staging_status("NEVER_SEEN.EOF")
    assert info.value.status == 404 and "NEVER_SEEN.EOF" in str(info.value)


def test_503_staging_refusal_is_staging_error_not_retried(client: AuxipClient, sim: Any) -> None:
    with pytest.raises(StagingError) as info:
        client.staging("NEVER_SEARCHED.EOF")
    err = info.value
    assert "NEVER_SEARCHED.EOF" in str(err) and "refused" in str(err)
    assert "search" in str(err)
    assert err.status == 503 and isinstance(err.__cause__, ServerError)
    assert not isinstance(err, ServerError)
    assert len(sim.requests) == 1


def test_408_staging_is_staging_error(client: AuxipClient, sim: Any) -> None:
    name = first_name(client)
    sim.add_fault(
        Fault(path="/adgs/aux", kind="status", status=408, body={"started": "false"}, times=1)
    )
    with pytest.raises(StagingError, match="408"):
        client.staging(name)


def test_staging_503_without_started_is_retried(client: AuxipClient, sim: Any) -> None:
    name = first_name(client)
    sim.clear_requests()
    sim.add_fault(Fault(path="/adgs/aux", kind="status", status=503, times=1))
    client.staging(name)  # a busy gateway's 503 is transient: retried
    assert paths(sim) == ["/adgs/aux", "/adgs/aux"]


def test_staging_503_started_false_is_final(client: AuxipClient, sim: Any) -> None:
    name = first_name(client)
    sim.clear_requests()
    sim.add_fault(
        Fault(path="/adgs/aux", kind="status", status=503, body={"started": "false"}, times=1)
    )
    with pytest.raises(StagingError, match="refused"):
        client.staging(name)
    assert paths(sim) == ["/adgs/aux"]  # v1's refusal is never retried


def test_staging_503_busy_every_time_is_server_error(client: AuxipClient, sim: Any) -> None:
    name = first_name(client)
    sim.clear_requests()
    sim.add_fault(Fault(path="/adgs/aux", kind="status", status=503, times=10))
    with pytest.raises(ServerError):
        client.staging(name)
    assert paths(sim).count("/adgs/aux") == 1 + client.http.settings.retries


def test_staging_502_is_retried(client: AuxipClient, sim: Any) -> None:
    name = first_name(client)
    sim.clear_requests()
    sim.add_fault(Fault(path="/adgs/aux", kind="status", status=502, times=1))
    client.staging(name)
    assert paths(sim) == ["/adgs/aux", "/adgs/aux"]


def test_staging_started_false_with_200(client: AuxipClient, sim: Any) -> None:
    name = first_name(client)
    sim.add_fault(Fault(path="/adgs/aux", kind="wrong_shape", body={"started": "false"}, times=1))
    with pytest.raises(StagingError, match="started=false"):
        client.staging(name)


def test_status_network_blip_is_retried_not_failed(client: AuxipClient, sim: Any) -> None:
    name = first_name(client)
    client.staging(name)
    sim.add_fault(Fault(path="/adgs/aux/status", kind="reset", times=1))
    assert client.staging_status(name) in (EDownloadStatus.IN_PROGRESS, EDownloadStatus.DONE)
    sim.add_fault(Fault(path="/adgs/aux/status", kind="reset", times=1 + FAST.retries))
    with pytest.raises(RsConnectionError):
        client.staging_status(name)


# -- modes and discovery ------------------------------------------------------------------------


def test_local_mode_via_env(rs_local_simulator: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RSPY_HOST_ADGS", rs_local_simulator.url + "/")
    client = AuxipClient(http_settings=FAST)
    assert client.local_mode and client.href_adgs == rs_local_simulator.url
    assert len(client.search_stations(START, STOP, limit=2)) == 2
    (req,) = rs_local_simulator.requests
    assert "x-api-key" not in req.headers


def test_env_overrides_href_in_cluster_mode(sim: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RSPY_HOST_ADGS", sim.url)
    client = AuxipClient("http://adgs.invalid", KIT_API_KEY, "tester", http_settings=FAST)
    assert client.href_search == f"{sim.url}/adgs/aux/search"
    client.search_stations(START, STOP, limit=1)
    assert sim.requests[0].headers.get("x-api-key") == KIT_API_KEY


def test_discovery_gives_the_same_client(sim: Any) -> None:
    parent = rs_core.RsClient(sim.url, KIT_API_KEY, "tester", http_settings=FAST)
    by_kind = rs_core.get_station("auxip", client=parent)
    by_attr = parent.get_auxip_client()
    assert type(by_kind) is type(by_attr) is AuxipClient
    assert by_kind.station_name == by_attr.station_name == "AUXIP"
    assert by_kind.href_search == by_attr.href_search
    assert by_kind.http is by_attr.http is parent.http
    assert [i.id for i in by_kind.search_stations(START, STOP, limit=2)] == [
        i.id for i in by_attr.search_stations(START, STOP, limit=2)
    ]
    assert any(p.kind == "auxip" and p.state == "ok" for p in rs_core.list_plugins())


# -- stage_and_wait -------------------------------------------------------------------------------


def test_stage_and_wait_done_failed_refused(client: AuxipClient, sim: Any) -> None:
    a, b = (i.id for i in client.search_stations(START, STOP, limit=2, sortby="+created"))
    sim.fail_staging(b, "disk full at the station")
    seen: list[tuple[str, str]] = []
    report = client.stage_and_wait(
        [a, b, "NEVER_SEARCHED.EOF"],
        poll_interval=0.05,
        timeout=20,
        progress=lambda outcome, _report: seen.append((outcome.name, outcome.state)),
    )
    assert [o.name for o in report.done] == [a]
    assert [(o.name, o.message) for o in report.failed] == [(b, "disk full at the station")]
    assert [o.name for o in report.refused] == ["NEVER_SEARCHED.EOF"]
    assert "refused" in report.refused[0].error
    assert (a, "DONE") in seen and (b, "FAILED") in seen
    assert report.summary().startswith("3 files: 1 done, 1 failed, 1 refused")


def test_stage_and_wait_resumes_without_restaging(client: AuxipClient, sim: Any) -> None:
    names = [i.id for i in client.search_stations(START, STOP, limit=2)]
    assert client.stage_and_wait(names, poll_interval=0.05, timeout=20).ok
    sim.clear_requests()
    again = client.stage_and_wait(names, poll_interval=0.05, timeout=20)
    assert again.ok and all(o.already_done for o in again.outcomes.values())
    assert "/adgs/aux" not in paths(sim)
    sim.clear_requests()
    forced = client.stage_and_wait(names, poll_interval=0.05, timeout=20, restage=True)
    assert forced.ok and paths(sim).count("/adgs/aux") == 2


def test_stage_and_wait_deadline() -> None:
    with RsServerSimulator(staging_duration=30) as slow:
        client = AuxipClient(slow.url, "k", "tester", http_settings=FAST)
        slow.add_api_key("k", ApiKey.full_access("tester"))
        name = first_name(client)
        started = time.monotonic()
        report = client.stage_and_wait([name], poll_interval=0.05, timeout=0.4)
        assert time.monotonic() - started < 3
        assert report.timed_out and [o.name for o in report.unfinished] == [name]
        assert report.outcomes[name].status is EDownloadStatus.IN_PROGRESS


def test_stage_and_wait_interrupted(client: AuxipClient) -> None:
    name = first_name(client)

    def interrupt(outcome: Any, _report: Any) -> None:
        raise KeyboardInterrupt

    with pytest.raises(StagingInterrupted) as info:
        client.stage_and_wait([name], poll_interval=0.05, timeout=20, progress=interrupt)
    assert info.value.report.interrupted
    assert name in info.value.report.outcomes


def test_the_api_key_never_leaks(
    sim: Any, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    client = AuxipClient(sim.url, KIT_API_KEY, "tester", http_settings=FAST)
    client.search_stations(START, STOP, limit=1)
    sim.add_fault(Fault(path="/adgs/aux/status", kind="status", status=500, times=1))
    with pytest.raises(ServerError) as info:
        client.staging_status("x.EOF")
    texts = [caplog.text, repr(client), str(client), str(info.value), repr(info.value)]
    assert all(KIT_API_KEY not in text for text in texts)
    assert "/adgs/aux/search" in caplog.text  # requests are logged, without headers
