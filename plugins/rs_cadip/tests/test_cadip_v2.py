"""CadipClient on RS-Server v2 (the simulator's v2 face): sessions, files as session assets."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from rs_cadip import CadipClient

from rs_core import EDownloadStatus, InvalidInputError
from rs_core.http import HttpSettings
from rs_core.testing.pytest_plugin import KIT_API_KEY

FAST = HttpSettings(timeout=10.0, connect_timeout=5.0, retries=2, backoff_factor=0.01)
START, STOP = "2000-01-01", "2100-01-01"
DT = "2000-01-01T00:00:00Z/2100-01-01T00:00:00Z"
ITEMS = "/cadip/collections/mti/items"


@pytest.fixture
def v2(rs_simulator_v2: Any) -> Any:
    return rs_simulator_v2


@pytest.fixture
def mti(v2: Any) -> Iterator[CadipClient]:
    with CadipClient(v2.url, KIT_API_KEY, "tester", "mti", http_settings=FAST) as client:
        yield client


def sent(sim: Any, path: str) -> list[Any]:
    return [r for r in sim.requests if r.path == path]


def test_sessions_wire_and_shape(mti: CadipClient, v2: Any) -> None:
    found = mti.search_sessions(start_date=START, stop_date=STOP)
    [request] = sent(v2, ITEMS)
    assert request.query == {"datetime": [DT], "limit": ["1000"]}
    assert len(found) >= 2
    session = found[0]
    assert isinstance(session.assets, dict) and len(session.assets) > 1
    assert all("cadu" in (a.roles or []) for a in session.assets.values())


def test_platforms_become_one_filter_per_platform(mti: CadipClient, v2: Any) -> None:
    found = mti.search_sessions(platforms=["S1A", "s2b"])
    bodies = [r.json() for r in sent(v2, "/cadip/search")]
    assert [b["filter"]["args"][1] for b in bodies] == ["sentinel-1a", "sentinel-2b"]
    assert all(b["collections"] == ["mti"] and b["filter-lang"] == "cql2-json" for b in bodies)
    assert {s.properties["platform"] for s in found} == {"sentinel-1a", "sentinel-2b"}


def test_session_ids_use_the_search_by_ids(mti: CadipClient, v2: Any) -> None:
    some = mti.search_sessions(start_date=START, stop_date=STOP)
    v2.clear_requests()
    ids = [some[0].id, some[1].id]
    found = mti.search_sessions(session_ids=ids)
    [request] = sent(v2, "/cadip/search")
    assert request.query == {"collections": ["mti"], "ids": [",".join(ids)], "limit": ["1000"]}
    assert sorted(s.id for s in found) == sorted(ids)


def test_files_are_session_assets(mti: CadipClient, v2: Any) -> None:
    session = mti.search_sessions(start_date=START, stop_date=STOP, max_items=1)[0]
    files = mti.search_stations(session_id=session.id)
    assert [f.id for f in files] == list(session.assets)
    file = files[0]
    assert file.properties["cadip:session_id"] == session.id
    for key in (
        "cadip:id",
        "cadip:channel",
        "cadip:block_number",
        "created",
        "datetime",
        "eviction_datetime",
    ):
        assert key in file.properties, key
    assert set(file.assets) == {"file"}
    assert isinstance(file.assets["file"].extra_fields["file:size"], int)
    limited = mti.search_stations(START, STOP, limit=5, sortby="-created")
    assert len(limited) == 5
    created = [f.properties["created"] for f in limited]
    assert created == sorted(created, reverse=True)
    request = sent(v2, ITEMS)[-1]
    assert request.query["sortby"] == ["-published"], "sessions sort on 'published'"
    assert request.query["limit"] == ["5"]


def test_cql2_json_filter_on_files(mti: CadipClient, v2: Any) -> None:
    flt = {"op": "=", "args": [{"property": "platform"}, "sentinel-1a"]}
    files = mti.search_stations(START, STOP, filter=flt, max_items=10)
    assert len(files) == 10
    assert {f.properties["platform"] for f in files} == {"sentinel-1a"}
    assert sent(v2, "/cadip/search")[-1].json()["filter"] == flt


def test_staging_a_file_stages_its_session_once(mti: CadipClient, v2: Any) -> None:
    session = mti.search_sessions(start_date=START, stop_date=STOP, max_items=1)[0]
    files = list(mti.search_stations(session_id=session.id, max_items=3))
    v2.clear_requests()
    report = mti.stage_and_wait(files, poll_interval=0.03, timeout=20)
    assert report.ok, report.summary()
    [execute] = sent(v2, "/processes/staging/execution")
    features = execute.json()["inputs"]["items"]["value"]["features"]
    assert [f["id"] for f in features] == [session.id], "the session, once"
    assert execute.json()["inputs"]["collection"] == "cadip_staged"
    job = mti.staging_job(files[0].id)
    assert job is not None and set(job.files) == {f.id for f in files}


def test_bad_input_sends_nothing(mti: CadipClient, v2: Any) -> None:
    for call in (
        lambda: mti.search_sessions(platforms=["S9Z"]),
        lambda: mti.search_sessions(start_date=START, stop_date=STOP, max_items=0),
        lambda: mti.search_stations(session_id="a", filter=[1]),
        lambda: mti.staging("a.raw", collection=""),
    ):
        with pytest.raises(InvalidInputError):
            call()
    assert v2.requests == []


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_every_seed_method_on_both_generations(
    rs_simulator: Any, rs_simulator_v2: Any, version: str
) -> None:
    sim = rs_simulator if version == "v1" else rs_simulator_v2
    with CadipClient(sim.url, KIT_API_KEY, "tester", "CADIP", http_settings=FAST) as cadip:
        sessions = cadip.search_sessions(start_date=START, stop_date=STOP)
        assert len(sessions) >= 1 and cadip.server_generation() == version
        session = next(s for s in sessions if s.assets)
        files = cadip.search_stations(session_id=session.id)
        assert {f.id for f in files} <= set(session.assets)
        assert len(cadip.search_files(START, STOP, limit=2)) == 2
        name = files[0].id
        cadip.staging(name)
        deadline = time.monotonic() + 10
        while not cadip.staging_status(name).is_final and time.monotonic() < deadline:
            time.sleep(0.03)
        assert cadip.staging_info(name).status is EDownloadStatus.DONE
        assert cadip.stage_and_wait([files[-1]], poll_interval=0.03, timeout=20).ok
