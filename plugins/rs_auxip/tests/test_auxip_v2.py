"""AuxipClient on RS-Server v2 (the simulator's v2 face): exact wire requests, staging jobs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from rs_auxip import AuxipClient

from rs_core import EDownloadStatus, StagingError
from rs_core.http import HttpSettings
from rs_core.rsserver_v2 import StagingJob
from rs_core.testing.pytest_plugin import KIT_API_KEY

FAST = HttpSettings(timeout=10.0, connect_timeout=5.0, retries=2, backoff_factor=0.01)
START, STOP = "2000-01-01", "2100-01-01"
ITEMS = "/auxip/collections/adgs/items"
DT = "2000-01-01T00:00:00Z/2100-01-01T00:00:00Z"


@pytest.fixture
def v2(rs_simulator_v2: Any) -> Any:
    return rs_simulator_v2


@pytest.fixture
def client(v2: Any) -> Iterator[AuxipClient]:
    with AuxipClient(v2.url, KIT_API_KEY, "tester", http_settings=FAST) as auxip:
        yield auxip


def sent(sim: Any, path: str) -> list[Any]:
    return [r for r in sim.requests if r.path == path]


def wait(client: AuxipClient, name: str) -> EDownloadStatus:
    deadline = time.monotonic() + 10
    status = client.staging_status(name)
    while not status.is_final and time.monotonic() < deadline:
        time.sleep(0.03)
        status = client.staging_status(name)
    return status


def test_search_wire_and_file_level_results(client: AuxipClient, v2: Any) -> None:
    found = client.search_stations(START, STOP, limit=4, sortby="+created")
    [request] = sent(v2, ITEMS)
    assert request.method == "GET"
    assert request.query == {"datetime": [DT], "limit": ["4"], "sortby": ["+created"]}
    assert request.headers.get("x-api-key") == KIT_API_KEY
    assert len(found) == 4
    item = found[0]
    held_by = found.raw["features"][0]
    assert item.id in held_by["assets"], "v2 items become files: id = file name, as v1"
    assert held_by["id"] == item.id.rsplit(".", 1)[0]
    assert set(item.assets) == {"file"}
    assert isinstance(item.assets["file"].extra_fields["file:size"], int)
    assert "file:checksum" not in item.assets["file"].extra_fields  # the server's template
    assert item.properties["adgs:id"] == item.properties["auxip:id"]


def test_token_paging_is_lazy_and_capped(client: AuxipClient, v2: Any) -> None:
    found = client.search_stations(START, STOP, max_items=25, page_size=10)
    assert len(found) == 25 and len({i.id for i in found}) == 25
    queries = [r.query for r in sent(v2, ITEMS)]
    assert [q.get("token") for q in queries] == [None, ["next:page=2"], ["next:page=3"]]
    assert all(q["limit"] == ["10"] and q["datetime"] == [DT] for q in queries)
    everything = client.search_stations(START, STOP, page_size=40)
    assert len(everything) > 40 and len(sent(v2, ITEMS)) == 3 + (len(everything) // 40 + 1)


def test_filter_dict_and_text_on_the_wire(client: AuxipClient, v2: Any) -> None:
    as_json = {"op": "=", "args": [{"property": "platform"}, "sentinel-1a"]}
    by_dict = client.search_stations(START, STOP, filter=as_json)
    by_text = client.search_stations(START, STOP, filter="platform = 'sentinel-1a'")
    assert [i.id for i in by_dict] == [i.id for i in by_text] and len(by_dict) > 0
    assert {i.properties["platform"] for i in by_dict} == {"sentinel-1a"}
    assert not sent(v2, ITEMS), "a filtered search is a POST /auxip/search"
    posts = sent(v2, "/auxip/search")
    assert len(posts) == 2 and {r.method for r in posts} == {"POST"}
    for request in posts:
        body = request.json()
        assert body["filter"] == as_json and body["filter-lang"] == "cql2-json"
        assert body["collections"] == ["adgs"] and body["datetime"] == DT


def test_collection_argument(client: AuxipClient, v2: Any) -> None:
    found = client.search_stations(START, STOP, collection="adgs_aux_pp2", limit=3)
    assert {i.properties["product:type"] for i in found} == {"AUX_PP2"}
    assert sent(v2, "/auxip/collections/adgs_aux_pp2/items")


def test_collections_and_queryables(client: AuxipClient) -> None:
    ids = [c.id for c in client.list_collections()]
    assert "adgs" in ids and "adgs_aux_pp2" in ids
    assert "platform" in client.queryables()["properties"]
    assert client.queryables("adgs")["type"] == "object"


def test_staging_post_body_and_status(client: AuxipClient, v2: Any) -> None:
    file = client.search_stations(START, STOP, limit=1)[0]
    v2.clear_requests()
    job = client.staging(file.id)
    assert isinstance(job, StagingJob) and job.status == "accepted"
    assert job.files == (file.id,) and job.collection == "auxip_staged"
    assert job.href == f"{v2.url}/jobs/{job.job_id}"
    create, execute = [r for r in v2.requests if r.method == "POST"]
    assert create.path == "/catalog/collections" and create.json()["id"] == "auxip_staged"
    assert create.json()["owner"] == "kituser", "cluster mode: the key's user owns it"
    assert execute.path == "/processes/staging/execution"
    body = execute.json()
    assert set(body) == {"inputs"} and set(body["inputs"]) == {"collection", "items"}
    assert body["inputs"]["collection"] == "auxip_staged"
    value = body["inputs"]["items"]["value"]
    assert value["type"] == "FeatureCollection"
    assert [f["id"] for f in value["features"]] == [file.id.rsplit(".", 1)[0]]
    assert execute.headers.get("x-api-key") == KIT_API_KEY
    assert wait(client, file.id) is EDownloadStatus.DONE
    info = client.staging_info(file.id)
    assert info.message == "Finished" and info.download_stop is not None
    gets = {r.path for r in v2.requests if r.method == "GET"}
    assert gets == {f"/jobs/{job.job_id}", "/apikeymanager/check/api_key"}  # owner: key's user
    staged = next(j for j in v2.jobs if j["jobID"] == job.job_id)
    assert staged["collection"] == "auxip_staged" and staged["owner"] == "kituser"


def test_failure_dismissal_and_jobs(client: AuxipClient, v2: Any) -> None:
    one, two = client.search_stations(START, STOP, limit=2)
    v2.fail_staging(one.id, "disk full")
    client.staging(one.id, collection="my_aux")
    assert wait(client, one.id) is EDownloadStatus.FAILED
    assert client.staging_info(one.id).message == "disk full"
    job = client.staging(two.id, collection="my_aux")
    dismissed = client.dismiss_job(job.job_id)
    assert dismissed.status == "dismissed" and dismissed.files == (two.id,)
    assert client.staging_status(two.id) is EDownloadStatus.FAILED
    listed = {j.job_id: j for j in client.list_jobs()}
    assert listed[job.job_id].status == "dismissed"
    methods = [r.method for r in v2.requests if r.path == f"/jobs/{job.job_id}"]
    assert methods[0] == "DELETE"


def test_job_failed_at_once_is_read_from_the_201(client: AuxipClient, v2: Any) -> None:
    protocol = client._v2_protocol()
    with pytest.raises(StagingError) as info:
        protocol.execute({"href": "http://elsewhere.invalid/x"}, "my_aux")
    assert info.value.status == 201
    assert "failed at once" in str(info.value) and "Unable to get the items" in str(info.value)
    assert len([r for r in v2.requests if r.path.startswith("/processes")]) == 1, "not retried"


def test_stage_and_wait_batches_one_job(client: AuxipClient, v2: Any) -> None:
    files = client.search_stations(START, STOP, limit=3)
    report = client.stage_and_wait(files, poll_interval=0.03, timeout=20, collection="batch")
    assert report.ok, report.summary()
    assert len(sent(v2, "/processes/staging/execution")) == 1, "one job for the three files"
    again = client.stage_and_wait(files, poll_interval=0.03, timeout=20)
    assert all(o.already_done for o in again.outcomes.values())


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_every_seed_method_on_both_generations(
    rs_simulator: Any, rs_simulator_v2: Any, version: str
) -> None:
    sim = rs_simulator if version == "v1" else rs_simulator_v2
    with AuxipClient(sim.url, KIT_API_KEY, "tester", http_settings=FAST) as auxip:
        files = auxip.search_stations(START, STOP, limit=2, sortby="-created")
        assert len(files) == 2 and auxip.server_generation() == version
        assert len(auxip.search_stations(START, STOP, max_items=3)) == 3
        name = files[0].id
        auxip.staging(name)
        assert wait(auxip, name) is EDownloadStatus.DONE
        assert auxip.staging_info(name).status is EDownloadStatus.DONE
        assert auxip.stage_and_wait([files[1]], poll_interval=0.03, timeout=20).ok
