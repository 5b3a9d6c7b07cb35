"""The staging ledger: its own guarantees, staging from a fresh process, refusals, polling.

Unit tests of :class:`~rs_core.ledger.StagingLedger` (claims, take-over, history, several
processes at once), then the library and the ``rs`` command against the simulator on v1 and
v2: a file staged by one process is reported by another, a v2 ``POST`` whose answer is lost
is not sent twice, a ``DELETE`` whose answer is lost and then meets 404 is a success, and
polling asks once per job (v2) or file (v1) per round.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from rs_auxip import AuxipClient
from rs_cadip import CadipClient

from rs_core import EDownloadStatus, NotFoundError, StagingError
from rs_core.http import HttpSettings
from rs_core.ledger import LedgerScope, StagingLedger, end_run, holder_alive, new_run_id
from rs_core.testing.simulator import ApiKey, Dataset, Fault, RsServerSimulator

KEY = "ledger-test-key-5b1e"
USER = "ledger_user"
FAST = HttpSettings(timeout=10.0, connect_timeout=5.0, retries=2, backoff_factor=0.01)
SCOPE = LedgerScope("cadip", "MTI", "http://127.0.0.1:1", "v1")
EXECUTION = "/processes/staging/execution"
RS = [sys.executable, "-m", "rs_core"]


# -- the ledger itself ----------------------------------------------------------------------


def test_claim_writes_pending_before_anything_and_one_open_entry_per_file(
    tmp_path: Path,
) -> None:
    ledger = StagingLedger(tmp_path / "l.sqlite3")
    run = new_run_id()
    first = ledger.claim(SCOPE, ["a", "b"], target="s3://b/x", holder=run)
    assert [(e.name, e.state, mine) for e, mine in first] == [
        ("a", "PENDING", True),
        ("b", "PENDING", True),
    ]
    other = new_run_id()
    again = ledger.claim(SCOPE, ["a"], holder=other)
    assert again[0][0].entry_id == first[0][0].entry_id and again[0][1] is False  # watched
    end_run(run)  # the first run ended without finishing: its entries may be taken over
    taken = ledger.claim(SCOPE, ["a"], holder=other)
    assert taken[0][0].entry_id == first[0][0].entry_id and taken[0][1] is True
    assert taken[0][0].holder == other
    end_run(other)


def test_history_reason_and_forget(tmp_path: Path) -> None:
    ledger = StagingLedger(tmp_path / "l.sqlite3")
    [(entry, _)] = ledger.claim(SCOPE, ["a"], holder=None)
    ledger.sending([entry.entry_id], batch="b1")
    ledger.record(entry.entry_id, "IN_PROGRESS")
    ledger.record(entry.entry_id, "FAILED", "disk full")
    shown = ledger.get(entry.entry_id)
    assert shown is not None and shown.final and shown.reason == "disk full"
    assert [e.state for e in shown.history] == ["PENDING", "PENDING", "IN_PROGRESS", "FAILED"]
    assert shown.to_dict()["history"][-1]["detail"] == "disk full"
    ledger.record(entry.entry_id, "IN_PROGRESS")  # a final entry never reopens
    assert ledger.get(entry.entry_id).state == "FAILED"  # type: ignore[union-attr]
    [(fresh, mine)] = ledger.claim(SCOPE, ["a"])  # a new request after a final one
    assert mine and fresh.entry_id != entry.entry_id
    assert ledger.forget(name="a") == 1  # final only by default
    assert [e.entry_id for e in ledger.entries(name="a")] == [fresh.entry_id]
    assert ledger.forget(name="a", final_only=False) == 1


def test_lost_sends_bound_the_jobs_of_every_request_whose_job_is_unknown() -> None:
    """A request closed without its job being learnt (found DONE in the catalog) still made a
    job: its send time bounds the window where another lost request's job is looked for."""
    ledger = StagingLedger(":memory:")
    scope = LedgerScope("auxip", "AUXIP", "http://127.0.0.1:1", "v2")
    entries = [e for e, _ in ledger.claim(scope, ["lost", "closed", "refused", "known", "new"])]
    _lost, closed, refused, known, _never_sent = entries
    for index, entry in enumerate(entries[:4]):
        ledger.sending([entry.entry_id], batch=f"b{index}")
    ledger.record(closed.entry_id, "DONE", detail="found in the catalog collection c")
    ledger.record(refused.entry_id, "REFUSED", "400 bad request")  # answered: no job made
    ledger.record(known.entry_id, "NOT_STARTED", job_id="job-1")
    sends = {e.name: ledger.get(e.entry_id).sent_at for e in entries}  # type: ignore[union-attr]
    assert ledger.lost_sends(scope.service) == [sends["lost"], sends["closed"]]
    assert ledger.lost_sends(scope.service, exclude_names=["lost"]) == [sends["closed"]]
    assert ledger.lost_sends("http://elsewhere") == []


def test_bad_input_is_typed(tmp_path: Path) -> None:
    from rs_core import ConfigurationError, InvalidInputError

    ledger = StagingLedger(":memory:")
    [(entry, _)] = ledger.claim(SCOPE, ["a"])
    with pytest.raises(InvalidInputError, match="unknown ledger state 'DONNE'"):
        ledger.record(entry.entry_id, "DONNE")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigurationError, match="RS_LEDGER"):
        StagingLedger(blocker / "sub" / "l.sqlite3")


def test_dead_process_holder_is_not_alive() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    host = new_run_id().split(":")[0]
    assert not holder_alive(f"{host}:{proc.stdout.strip()}:x")
    assert holder_alive(f"{host}:{os.getpid()}:y") is False  # a run of ours that never began
    assert holder_alive("another-host:1:z")  # cannot tell: taken as alive


_CLAIMER = textwrap.dedent(
    """
    import sys
    from rs_core.ledger import LedgerScope, StagingLedger, new_run_id
    ledger = StagingLedger(sys.argv[1])
    scope = LedgerScope("cadip", "MTI", "http://127.0.0.1:1", "v1")
    mine = [e.name for e, ok in ledger.claim(scope, [f"f{i}" for i in range(200)],
                                             holder=new_run_id()) if ok]
    print(len(mine))
    sys.stdin.read()  # stay alive (holding) until the test is done
    """
)


def test_several_processes_claim_each_file_once(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.sqlite3")
    StagingLedger(path).close()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _CLAIMER, path],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    counts = []
    try:
        for proc in procs:
            assert proc.stdout is not None
            counts.append(int(proc.stdout.readline()))
    finally:
        for proc in procs:
            proc.communicate("", timeout=30)
    assert sum(counts) == 200, counts  # each file claimed by exactly one process
    entries = StagingLedger(path).entries(limit=1000)
    assert len(entries) == 200 and len({e.name for e in entries}) == 200


# -- against the simulator ------------------------------------------------------------------


@pytest.fixture
def v2() -> Iterator[RsServerSimulator]:
    with RsServerSimulator(
        api_keys={KEY: ApiKey.full_access(USER)},
        staging_duration=0.3,
        api_version="v2",
        dataset=Dataset.synthetic(n_products=60, n_files=40, n_sessions=2, seed=3),
    ) as server:
        yield server


@pytest.fixture
def v1() -> Iterator[RsServerSimulator]:
    with RsServerSimulator(
        api_keys={KEY: ApiKey.full_access(USER)},
        staging_duration=0.3,
        dataset=Dataset.synthetic(n_products=60, n_files=40, n_sessions=2, seed=3),
    ) as server:
        yield server


def _aux_names(client: AuxipClient, n: int) -> list[str]:
    found = client.search_stations("2000-01-01", "2100-01-01", limit=n, sortby="+created")
    return [item.id for item in found]


def test_v2_status_and_staging_from_a_fresh_process(v2: RsServerSimulator) -> None:
    """The library in a new process: stage files it never searched, and ask their status."""
    ledger = os.environ["RS_LEDGER"]
    with AuxipClient(v2.url, KEY, http_settings=FAST) as client:
        names = _aux_names(client, 3)
    with AuxipClient(v2.url, KEY, http_settings=FAST) as fresh:  # knows nothing of names
        report = fresh.stage_and_wait(names, poll_interval=0.05, timeout=30)
        assert report.ok, str(report)
    with AuxipClient(v2.url, KEY, http_settings=FAST, ledger=ledger) as other:
        info = other.staging_info(names[0])
        assert info.status is EDownloadStatus.DONE
        job = other.staging_job(names[0])
        assert job is not None and set(names) <= set(job.files)
    posts = [r for r in v2.requests if r.path == EXECUTION]
    assert len(posts) == 1, "one job for the three files"


def test_v2_a_client_remembers_a_bounded_number_of_searched_files(
    v2: RsServerSimulator,
) -> None:
    """A long-lived client forgets the least recently seen files beyond ``max_files``; one it
    forgot is looked up again (a search by id) when staged, and staged."""
    from rs_core.rsserver_v2 import MAX_REMEMBERED_FILES, V2State

    assert V2State().max_files == MAX_REMEMBERED_FILES == 50_000
    with AuxipClient(v2.url, KEY, http_settings=FAST) as client:
        client.server_generation()
        state = client._v2_state
        state.max_files = 3
        names = _aux_names(client, 5)
        assert list(state.files) == names[2:]  # the last three seen
        client.search_stations("2000-01-01", "2100-01-01", limit=1, sortby="+created")
        assert list(state.files) == [names[3], names[4], names[0]]  # names[0] seen again
        v2.clear_requests()
        report = client.stage_and_wait([names[1]], poll_interval=0.05, timeout=30)
        assert report.ok, str(report)
        lookups = [r for r in v2.requests if r.method == "GET" and "/auxip/" in r.path]
        assert lookups, "the forgotten file was not looked up again"
        assert names[1] in state.files and len(state.files) == 3
        state.max_files = 0
        state.remember_files({})
        assert state.files == {}
    posts = [r for r in v2.requests if r.path == EXECUTION]
    assert len(posts) == 1


def test_v2_unknown_file_is_not_found_without_a_request(v2: RsServerSimulator) -> None:
    with AuxipClient(v2.url, KEY, http_settings=FAST) as client:
        client.server_generation()
        v2.clear_requests()
        with pytest.raises(NotFoundError, match=r"NEVER\.EOF"):
            client.staging_info("NEVER.EOF")
    assert not [r for r in v2.requests if r.path.startswith("/jobs")]


def test_v2_lost_post_answer_is_not_sent_twice(v2: RsServerSimulator) -> None:
    with AuxipClient(v2.url, KEY, http_settings=FAST) as client:
        names = _aux_names(client, 2)
        v2.add_fault(Fault(path=EXECUTION, kind="truncate", times=1))  # job made, answer cut
        report = client.stage_and_wait(names, poll_interval=0.05, timeout=30)
        assert report.ok, str(report)
        entry = client.ledger_entry(names[0])
        assert entry is not None and entry.job_id and entry.state == "DONE"
    posts = [r for r in v2.requests if r.path == EXECUTION]
    assert len(posts) == 1, "the POST whose answer was lost was sent again"
    assert len(v2.jobs) == 1


def test_v2_delete_after_a_lost_answer_then_404_is_success(
    v2: RsServerSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    with AuxipClient(v2.url, KEY, http_settings=FAST) as client:
        [name] = _aux_names(client, 1)
        job = client.staging(name)
        assert job is not None
        path = f"/jobs/{job.job_id}"
        v2.add_fault(Fault(path=path, method="DELETE", kind="truncate", times=1))

        def gone_404() -> Fault:
            return Fault(path=path, method="DELETE", kind="status", status=404, times=1)

        v2.add_fault(gone_404())
        caplog.set_level("INFO", logger="rs_core.rsserver_v2")
        gone = client.dismiss_job(job.job_id)
        assert gone.status == "dismissed"
        assert "answer was lost" in caplog.text
        v2.add_fault(gone_404())
        with pytest.raises(NotFoundError):  # a plain 404 is still an error
            client.dismiss_job(job.job_id)


def test_v2_polling_asks_once_per_job_per_round(v2: RsServerSimulator) -> None:
    with AuxipClient(v2.url, KEY, http_settings=FAST) as client:
        names = _aux_names(client, 50)
        v2.clear_requests()
        report = client.stage_and_wait(names, timeout=60)
        assert report.ok, str(report)
    [job] = v2.jobs
    asked = [r for r in v2.requests if r.path == f"/jobs/{job['jobID']}"]
    assert 1 <= len(asked) <= report.polls * 1, (len(asked), report.polls)
    assert report.polls <= 15  # a 0.3 s job: the schedule starts small


def test_v1_polling_asks_once_per_file_per_round(v1: RsServerSimulator) -> None:
    with AuxipClient(v1.url, KEY, http_settings=FAST) as client:
        names = _aux_names(client, 10)
        v1.clear_requests()
        report = client.stage_and_wait(names, timeout=60)
        assert report.ok, str(report)
    status = [r for r in v1.requests if r.path == "/adgs/aux/status"]
    # one status request per file before staging (is it DONE already?), then per round
    assert len(status) <= len(names) * (report.polls + 1), (len(status), report.polls)


def test_v1_rs_status_in_a_fresh_process(v1: RsServerSimulator) -> None:
    with AuxipClient(v1.url, KEY, http_settings=FAST) as client:
        [name] = _aux_names(client, 1)
    env = {"RS_SERVER_HREF": v1.url, "RSPY_APIKEY": KEY}
    staged = _rs("stage", "auxip", name, "--wait", "-o", "json", env=env)
    assert staged.returncode == 0, staged.stderr
    status = _rs("status", "auxip", name, "-o", "json", env=env)
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)[0]["status"] == "DONE"
    listed = _rs("staging", "list", "-o", "json", env=env)
    assert [e["name"] for e in json.loads(listed.stdout)] == [name]
    assert json.loads(_rs("staging", "list", "--open", "-o", "json", env=env).stdout) == []
    forgot = _rs("staging", "forget", "--state", "DONE", env=env)
    assert forgot.returncode == 0 and "forgot 1 request(s)" in forgot.stderr
    assert json.loads(_rs("staging", "list", "-o", "json", env=env).stdout) == []


def test_v2_rs_stage_and_status_from_fresh_processes(v2: RsServerSimulator) -> None:
    with CadipClient(v2.url, KEY, None, "CADIP", http_settings=FAST) as client:
        names = [i.id for i in client.search_files("2000-01-01", "2100-01-01", limit=3)]
    env = {"RS_SERVER_HREF": v2.url, "RSPY_APIKEY": KEY}
    staged = _rs("stage", "cadip", *names, "--wait", "-o", "json", env=env)
    assert staged.returncode == 0, staged.stdout + staged.stderr
    assert json.loads(staged.stdout)["summary"].startswith("3 files: 3 done")
    status = _rs("status", "cadip", names[0], "-o", "json", env=env)
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)[0]["status"] == "DONE"
    shown = _rs("staging", "show", names[0], env=env)
    assert shown.returncode == 0 and "DONE" in shown.stdout and "job_id" in shown.stdout


def test_rs_staging_usage_errors() -> None:
    bad = _rs("staging", "list", "--state", "DONNE")
    assert bad.returncode == 2 and "--state 'DONNE'" in bad.stderr
    bad = _rs("staging", "show")
    assert bad.returncode == 2 and "show needs" in bad.stderr
    bad = _rs("staging", "forget")
    assert bad.returncode == 2 and "forget needs" in bad.stderr
    missing = _rs("staging", "show", "nothing-here.raw")
    assert missing.returncode == 1 and "nothing in the ledger" in missing.stderr


def test_staging_refused_by_v1_is_final_in_the_ledger(v1: RsServerSimulator) -> None:
    with AuxipClient(v1.url, KEY, http_settings=FAST) as client:
        with pytest.raises(StagingError):
            client.staging("NEVER_SEARCHED.EOF")
        entry = client.ledger_entry("NEVER_SEARCHED.EOF")
        assert entry is not None and entry.state == "REFUSED" and "refused" in entry.reason


def _rs(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("RSPY_", "RS_SERVER"))}
    full.update(env or {})
    return subprocess.run(
        [*RS, *args], capture_output=True, text=True, timeout=120, env=full, check=False
    )


# -- staging anything a user holds (v2) ----------------------------------------------------


def test_v2_stages_items_collections_files_and_search_urls(
    v2: RsServerSimulator, tmp_path: Path
) -> None:
    with AuxipClient(v2.url, KEY, http_settings=FAST) as client:
        found = client.search_stations("2000-01-01", "2100-01-01", limit=4, sortby="+created")
        saved = tmp_path / "picked.json"
        picked = {"type": "FeatureCollection", "features": found.to_dict()["features"][2:3]}
        saved.write_text(json.dumps(picked))
        report = client.stage_and_wait(
            [found.items[0], found.items[1:2], saved], poll_interval=0.05, timeout=30
        )
        assert sorted(report.outcomes) == sorted(i.id for i in found.items[:3]), str(report)
        assert report.ok, str(report)
        search_url = f"{v2.url}/auxip/collections/adgs/items?limit=1&sortby=-created"
        by_url = client.stage_and_wait({"href": search_url}, poll_interval=0.05, timeout=30)
        assert list(by_url.outcomes) == [search_url] and by_url.ok, str(by_url)
        job = client.stage_items([found.items[3]], asset_names=[found.items[3].id])
        # OGC API - Processes: a job's results are 404 until it finished.
        for _ in range(400):
            try:
                results = client.job_results(job.job_id)
                break
            except NotFoundError:
                time.sleep(0.05)
        assert client.list_processes()["processes"][0]["id"] == "Staging"
        assert client.staging_process()["id"] == "Staging"
    posts = [r.json() for r in v2.requests if r.path == EXECUTION]
    assert [p["inputs"]["items"].get("href") for p in posts] == [None, search_url, None]
    assert posts[2]["inputs"]["asset_names"] == [found.items[3].id]
    assert results["collection"] == "auxip_staged"


def test_bad_staging_inputs_are_typed(v2: RsServerSimulator, tmp_path: Path) -> None:
    from rs_core import InvalidInputError

    not_json = tmp_path / "x.json"
    not_json.write_text("{")
    with AuxipClient(v2.url, KEY, http_settings=FAST) as client:
        with pytest.raises(InvalidInputError, match=r"x\.json"):
            client.stage_and_wait(not_json)
        with pytest.raises(InvalidInputError, match="http"):
            client.stage_and_wait({"href": "ftp://nope"})
        with pytest.raises(InvalidInputError, match="Cannot stage 42"):
            client.stage_and_wait([42])
        with pytest.raises(InvalidInputError, match="job_id"):
            client.job_results("a/b")


def test_the_documented_ledger_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "reliability.md").read_text("utf-8")
    block = doc.split("<!-- ledger-example -->", 1)[1].split("```python\n", 1)[1]
    exec(compile(block.split("```", 1)[0], "reliability.md", "exec"), {})
    out = capsys.readouterr().out
    assert "DONE job 4c1e" in out and "'IN_PROGRESS', 'DONE'" in out


def test_v2_status_of_a_job_the_server_forgot_comes_from_the_ledger(v2: RsServerSimulator) -> None:
    with AuxipClient(v2.url, KEY, http_settings=FAST) as client:
        [name] = _aux_names(client, 1)
        assert client.stage_and_wait([name], poll_interval=0.05, timeout=30).ok
    with AuxipClient(v2.url, KEY, http_settings=FAST) as fresh:
        v2.add_fault(Fault(path_regex=r"^/jobs/[^/]+$", kind="status", status=404, times=1))
        info = fresh.staging_info(name)
        assert info.status is EDownloadStatus.DONE and info.message == "Finished"
        assert info.raw == {}, "not the server's answer: the ledger's"


def test_two_processes_staging_the_same_files_at_once_stage_each_once(
    v2: RsServerSimulator, tmp_path: Path
) -> None:
    from test_nothing_lost import _RUN

    with AuxipClient(v2.url, KEY, http_settings=FAST) as client:
        names = _aux_names(client, 30)
    env = {**os.environ, "RSPY_APIKEY": KEY}
    outs = [tmp_path / f"out{i}.json" for i in range(2)]
    procs = []
    for out in outs:
        with out.open("w") as stream:
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-c", _RUN, "auxip", "AUXIP", v2.url, *names],
                    env=env,
                    stdout=stream,
                    stderr=subprocess.DEVNULL,
                )
            )
    for proc in procs:
        assert proc.wait(timeout=120) == 0
    for out in outs:
        report = json.loads(out.read_text().strip().splitlines()[-1])
        assert report["summary"].startswith("30 files: 30 done"), report["summary"]
    staged = [item for job in v2.jobs for item in job["items"]]
    assert len(staged) == len(set(staged)) == 30, "a product was staged by both processes"


def test_the_ledger_file_holds_no_secret(v1: RsServerSimulator, tmp_path: Path) -> None:
    path = tmp_path / "secret-check.sqlite3"
    with AuxipClient(v1.url, KEY, http_settings=FAST, ledger=path) as client:
        names = _aux_names(client, 2)
        v1.add_fault(Fault(path="/adgs/aux", kind="status", status=500, times=1))
        report = client.stage_and_wait([*names, "NEVER.EOF"], poll_interval=0.05, timeout=30)
        assert report.refused, str(report)
        client.ledger.close()
    for file in tmp_path.glob("secret-check.sqlite3*"):
        assert KEY.encode() not in file.read_bytes(), f"the API key is in {file.name}"
