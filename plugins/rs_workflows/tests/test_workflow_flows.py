"""The flows against the simulator (v1 and v2), on Prefect's test harness."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from workflow_helpers import KEY, staging_requests

from rs_core.errors import InvalidInputError, UnknownStationError
from rs_core.testing.simulator import Dataset, Fault

pytestmark = [pytest.mark.usefixtures("harness"), pytest.mark.timeout(600)]

FAST = {"poll_interval": 0.1, "timeout": 60.0}


def _station(sim: Any) -> str:
    # RS-Server v1 serves sessions only at the generic CADIP station; v2 at every station.
    return "CADIP" if sim.api_version == "v1" else "MTI"


def _catalog(sim: Any) -> Any:
    from rs_workflows.connect import StationRef, catalog_client

    return catalog_client(StationRef("cadip", "CADIP"))


def _published_names(sim: Any, collection: str) -> set[str]:
    from rs_workflows.connect import StationRef
    from rs_workflows.tasks import catalog_file_names

    return catalog_file_names(StationRef("cadip", "CADIP"), collection) - {
        item.id
        for item in _catalog(sim).get_items(collection_id=collection)
        if len(item.assets) > 1
    }


def test_stage_sessions_stages_and_publishes_every_file_once(sim: Any) -> None:
    from rs_workflows.flows import stage_sessions

    report = stage_sessions(
        station=_station(sim), since="2d", collection="s1_cadu", ready_timeout=0, **FAST
    )
    names = {row["name"] for row in report["files"]}
    assert len(names) == 24, report["summary"]
    assert {row["state"] for row in report["files"]} == {"DONE"}
    expected = "yes" if sim.api_version == "v1" else "by staging"
    assert {row["published"] for row in report["files"]} == {expected}
    assert names <= _published_names(sim, "s1_cadu")
    counts = staging_requests(sim)
    assert set(counts) >= names
    assert max(counts.values()) == 1, "a file was staged twice"
    if sim.api_version == "v1":
        item = _catalog(sim).get_item(sorted(names)[0], collection_id="s1_cadu")
        asset = next(iter(item.assets.values()))
        s3 = asset.extra_fields.get("alternate", {}).get("s3", {}).get("href", asset.href)
        assert s3 == f"s3://rs-workflows/s1_cadu/{item.id}"

    # The same run again: every file is in Prefect's cache or found staged; nothing is sent.
    before = len(sim.requests)
    again = stage_sessions(
        station=_station(sim), since="2d", collection="s1_cadu", ready_timeout=0, **FAST
    )
    assert {row["state"] for row in again["files"]} == {"DONE"}
    assert staging_requests(sim) == counts
    assert len(sim.requests) > before  # it did look


def test_restage_sends_again(make_sim: Any) -> None:
    from rs_workflows.flows import stage_products

    sim = make_sim("v1")
    first = stage_products(kind="auxip", since="2d", max_items=3, collection="aux", **FAST)
    assert len(first["files"]) == 3
    stage_products(kind="auxip", since="2d", max_items=3, collection="aux", restage=True, **FAST)
    counts = staging_requests(sim)
    assert sorted(counts.values()) == [2, 2, 2]


@pytest.mark.parametrize("api_version", ["v1", "v2"])
def test_a_request_another_process_sent_is_followed_through_the_ledger_not_sent_again(
    make_sim: Any, api_version: str
) -> None:
    """The staging ledger (``RS_LEDGER``, one file for the test) is the source of truth: a
    request another client sent (another process, a killed worker) and that the Prefect cache
    knows nothing of is re-attached to, its file reported ``followed``, not staged twice."""
    from rs_workflows.flows import stage_products

    from rs_core.client import RsClient

    # v2: a job long enough to be running when the flow looks (not yet in the collection)
    sim = make_sim(api_version, staging_duration=1.5 if api_version == "v1" else 10.0)
    with RsClient(sim.url, KEY, profile="") as other:
        auxip = other.get_station_client("auxip", "AUXIP")
        name = auxip.search_stations("-2d", "now", max_items=3)[0].id
        auxip.staging(name, s3_path="s3://rs-workflows/aux_ledger", collection="aux_ledger")
        assert not auxip.ledger_entry(name).final
    report = stage_products(kind="auxip", since="2d", max_items=3, collection="aux_ledger", **FAST)
    rows = {row["name"]: row for row in report["files"]}
    assert rows[name]["action"] == "followed"
    assert {row["state"] for row in rows.values()} == {"DONE"}
    assert staging_requests(sim)[name] == 1
    assert set(staging_requests(sim).values()) == {1}


def test_v2_a_file_whose_followed_job_ended_without_it_is_staged_once_more(
    make_sim: Any,
) -> None:
    """After a lost answer, the job found at the server may be another request's (two sent
    at the same moment, the server stamps whole seconds). The job ends successful, the file
    is not in the collection: the flow says so in the ledger and stages it once more."""
    from rs_workflows.flows import stage_products

    from rs_core.client import RsClient

    sim = make_sim("v2", staging_duration=0.2)
    with RsClient(sim.url, KEY, profile="") as other:
        auxip = other.get_station_client("auxip", "AUXIP")
        found = auxip.search_stations("-2d", "now", max_items=3)
        wrong, owner = found[0].id, found[1].id
        report = auxip.stage_and_wait([owner], collection="aux_wrong_job", poll_interval=0.05)
        assert report.ok, str(report)
        job = auxip.ledger_entry(owner).job_id
        # what a killed worker's rerun can leave: the entry of ``wrong`` following that job
        [(entry, _)] = auxip.ledger.claim(auxip.ledger_scope(), [wrong], target="aux_wrong_job")
        auxip.ledger.sending([entry.entry_id])
        auxip.ledger.record(entry.entry_id, "NOT_STARTED", job_id=job)
    before = staging_requests(sim)
    assert wrong not in before and before[owner] == 1

    report = stage_products(
        kind="auxip", since="2d", max_items=3, collection="aux_wrong_job", **FAST
    )
    rows = {row["name"]: row for row in report["files"]}
    assert rows[wrong]["action"] == "staged again", rows[wrong]
    assert rows[owner]["action"] == "already staged", rows[owner]
    assert {row["state"] for row in rows.values()} == {"DONE"}, report["summary"]
    assert {row["published"] for row in rows.values()} == {"by staging"}
    assert set(staging_requests(sim).values()) == {1}, staging_requests(sim)
    with RsClient(sim.url, KEY, profile="") as again:
        history = again.get_station_client("auxip", "AUXIP").ledger.entries(name=wrong)
    assert [e.state for e in history] == ["DONE", "FAILED"]  # newest first
    assert f"its staging job {job} ended successful" in history[1].reason


def test_stage_products_with_a_cql2_filter_on_v2(make_sim: Any) -> None:
    from rs_workflows.flows import stage_products

    import rs_core

    sim = make_sim("v2")
    auxip = rs_core.get_station("auxip", rs_server_href=sim.url, rs_server_api_key=KEY)
    one = auxip.search_stations("2000-01-01", "2100-01-01", limit=1)[0]
    report = stage_products(
        kind="auxip",
        since="2d",
        filter=f"auxip:id = '{one.properties['auxip:id']}'",
        collection="aux_one",
        **FAST,
    )
    names = [row["name"] for row in report["files"]]
    assert names == [one.id]
    assert {row["published"] for row in report["files"]} == {"by staging"}
    assert max(staging_requests(sim).values()) == 1


def test_a_refused_file_is_reported_with_its_typed_error(make_sim: Any) -> None:
    from rs_workflows.flows import stage_products
    from rs_workflows.report import WorkflowFailedError

    sim = make_sim("v1")
    sim.add_fault(Fault(path_regex=r"^/adgs/aux$", kind="status", status=404, times=1))
    state = stage_products(
        kind="auxip", since="2d", max_items=4, collection="aux", return_state=True, **FAST
    )
    assert state.is_failed()
    error = state.result(raise_on_failure=False)
    assert isinstance(error, WorkflowFailedError)
    bad = [r for r in error.rows if not r.ok]
    assert len(bad) == 1
    assert bad[0].error == "NotFoundError" and bad[0].reason
    assert "1 of 4 file(s)" in str(error)


def test_publish_staged_then_check_collection(make_sim: Any) -> None:
    from rs_workflows.flows import check_collection, publish_staged, stage_products
    from rs_workflows.report import WorkflowFailedError

    make_sim("v1")
    staged = stage_products(kind="auxip", since="2d", collection="aux_later", publish=False, **FAST)
    names = sorted(r["name"] for r in staged["files"])
    assert {r["published"] for r in staged["files"]} == {""}

    state = check_collection(kind="auxip", since="2d", collection="aux_later", return_state=True)
    error = state.result(raise_on_failure=False)
    assert isinstance(error, WorkflowFailedError)
    assert "missing" in str(error)

    published = publish_staged(kind="auxip", files=names, collection="aux_later")
    assert {r["published"] for r in published["files"]} == {"yes"}
    checked = check_collection(kind="auxip", since="2d", collection="aux_later")
    assert checked["missing"] == [] and checked["extra"] == []
    assert checked["at_station"] == len(names)


def test_publish_staged_reports_a_file_never_staged(make_sim: Any) -> None:
    from rs_workflows.flows import publish_staged
    from rs_workflows.report import WorkflowFailedError

    make_sim("v1")
    state = publish_staged(
        kind="auxip", files=["NOT_A_FILE.EOF"], collection="aux", return_state=True
    )
    error = state.result(raise_on_failure=False)
    assert isinstance(error, WorkflowFailedError)
    row = error.rows[0]
    assert row.name == "NOT_A_FILE.EOF" and row.state in ("UNKNOWN", "UNFINISHED")
    assert row.error and row.reason


def _incomplete_dataset() -> Dataset:
    from workflow_helpers import recent_dataset

    full = recent_dataset(12, 2)
    first_session = full.cadip_sessions[0]["SessionId"]
    files = [dict(f) for f in full.cadip_files]
    for file in files:
        if file["SessionId"] == first_session and file["Channel"] == 1:
            file["FinalBlock"] = False
    return Dataset(
        adgs_products=full.adgs_products, cadip_files=files, cadip_sessions=full.cadip_sessions
    )


def test_an_incomplete_session_waits_and_the_next_run_starts_before_it(make_sim: Any) -> None:
    from prefect.variables import Variable
    from rs_workflows.connect import StationRef
    from rs_workflows.flows import stage_sessions
    from rs_workflows.window import watermark_name

    from rs_core.dates import parse_datetime

    dataset = _incomplete_dataset()
    sim = make_sim("v2", dataset=dataset)
    state = stage_sessions(
        station="MTI",
        since="last",
        collection="s1_partial",
        ready_timeout=0.3,
        return_state=True,
        **FAST,
    )
    error = state.result(raise_on_failure=False)
    rows = error.rows
    not_ready = {r.name for r in rows if r.state == "NOT_READY"}
    assert not_ready and all("channel 1" in r.reason for r in rows if r.state == "NOT_READY")
    assert {r.state for r in rows} == {"DONE", "NOT_READY"}
    assert not set(staging_requests(sim)) & not_ready, "an incomplete session was staged"
    mark = Variable.get(watermark_name("stage-sessions", StationRef("cadip", "MTI"), "s1_partial"))
    incomplete_start = parse_datetime(dataset.cadip_sessions[0]["DownlinkStart"])
    assert isinstance(mark, str)
    assert parse_datetime(mark) <= incomplete_start


def test_since_last_continues_where_the_last_run_stopped(make_sim: Any) -> None:
    from rs_workflows.flows import stage_products

    make_sim("v1")
    first = stage_products(kind="auxip", since="last", collection="aux_last", **FAST)
    second = stage_products(kind="auxip", since="last", collection="aux_last", **FAST)
    assert first["window"][1] <= second["window"][0]
    assert second["files"] == [] or len(second["files"]) < len(first["files"])


def test_bad_input_is_a_typed_error_naming_it(make_sim: Any) -> None:
    from rs_workflows.connect import resolve_station
    from rs_workflows.window import check_window

    with pytest.raises(UnknownStationError, match="NOPE"):
        resolve_station(None, "NOPE", capability="sessions")
    with pytest.raises(InvalidInputError, match="2x"):
        check_window("2x", None, None)
    with pytest.raises(InvalidInputError, match="not both"):
        check_window("2d", "2024-01-01", None)
    with pytest.raises(InvalidInputError, match="after stop"):
        check_window(None, "2024-01-02", "2024-01-01")


def test_the_api_key_is_in_no_parameter_log_artifact_or_stored_file(
    make_sim: Any, prefect_home: str
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.settings import PREFECT_SERVER_DATABASE_CONNECTION_URL
    from rs_workflows.flows import stage_products

    make_sim("v1")
    state = stage_products(
        kind="auxip", since="2d", max_items=2, collection="aux_secret", return_state=True, **FAST
    )
    assert state.is_completed()
    run_id = state.state_details.flow_run_id
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(run_id)
        deadline = time.monotonic() + 60  # logs reach the API in batches, every few seconds
        while True:
            logs = client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id])))
            if logs or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        artifacts = client.read_artifacts()
    assert logs, "the run wrote no log to look into"
    seen = json.dumps(run.parameters) + "".join(log.message for log in logs)
    seen += "".join(str(a.data) for a in artifacts)
    assert KEY not in seen
    database = PREFECT_SERVER_DATABASE_CONNECTION_URL.value().split("///", 1)[-1]
    for folder in (Path(prefect_home), Path(database).parent):
        for path in folder.rglob("*"):
            if path.is_file():
                assert KEY.encode() not in path.read_bytes(), path


def test_staging_requests_at_once_are_bounded_per_station() -> None:
    import threading

    from rs_workflows.connect import StationRef
    from rs_workflows.tasks import _station_slot, set_station_bound

    ref = StationRef("auxip", "AUXIP")
    set_station_bound(ref, 2, global_limit=False)
    lock = threading.Lock()
    inside = peak = 0
    gate = threading.Barrier(6)

    def work() -> None:
        nonlocal inside, peak
        gate.wait()
        with _station_slot(ref):
            with lock:
                inside += 1
                peak = max(peak, inside)
            time.sleep(0.05)
            with lock:
                inside -= 1

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert peak == 2


def test_a_global_concurrency_limit_of_the_station_is_used_when_it_exists(make_sim: Any) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from rs_workflows.connect import StationRef
    from rs_workflows.flows import stage_products
    from rs_workflows.tasks import concurrency_limit_name, global_limit_exists

    make_sim("v1")
    ref = StationRef("auxip", "AUXIP")
    assert not global_limit_exists(ref)
    with get_client(sync_client=True) as client:
        client.create_global_concurrency_limit(
            GlobalConcurrencyLimitCreate(name=concurrency_limit_name(ref), limit=1)
        )
    try:
        assert global_limit_exists(ref)
        report = stage_products(kind="auxip", since="2d", max_items=3, collection="aux_gcl", **FAST)
        assert report["summary"] == "3 files: 3 done; 3 published"
    finally:
        with get_client(sync_client=True) as client:
            client.delete_global_concurrency_limit_by_name(concurrency_limit_name(ref))


def test_publish_staged_over_a_window_says_which_files_are_not_staged(make_sim: Any) -> None:
    from rs_workflows.flows import publish_staged, stage_products
    from rs_workflows.report import WorkflowFailedError

    make_sim("v1")
    staged = stage_products(
        kind="auxip", since="2d", max_items=2, collection="aux_some", publish=False, **FAST
    )
    done = {r["name"] for r in staged["files"]}
    state = publish_staged(kind="auxip", since="2d", collection="aux_some", return_state=True)
    error = state.result(raise_on_failure=False)
    assert isinstance(error, WorkflowFailedError)
    by_state: dict[str, set[str]] = {}
    for row in error.rows:
        by_state.setdefault(row.state, set()).add(row.name)
    assert by_state.pop("DONE") == done
    assert set(by_state) == {"NOT_STAGED"}
    assert all(r.published == "yes" for r in error.rows if r.name in done)
