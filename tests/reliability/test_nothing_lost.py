"""Nothing lost: stage_and_wait over 200 files with random failures and a crash midway.

A first run in a subprocess is killed with SIGKILL while files are being staged; a rerun in
this process resumes. Every file must end DONE or FAILED with the server's own message, and
no file DONE at the server before the rerun may be staged again (counted from the simulator's
request log).
"""

from __future__ import annotations

import collections
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from reliability_support import API_KEY, PATIENT, USER
from rs_auxip import AuxipClient
from rs_cadip import CadipClient

from rs_core.ledger import StagingLedger
from rs_core.staging import StagingOutcome, StagingReport
from rs_core.testing.simulator import ApiKey, Dataset, RsServerSimulator

N_FILES = 200
STAGE_PATH = "/cadip/CADIP/cadu"
FAILURE_MESSAGE = "Simulated station download failure"


@pytest.fixture
def sim() -> Iterator[RsServerSimulator]:
    dataset = Dataset.synthetic(n_products=0, n_files=N_FILES, n_sessions=4, seed=7)
    with RsServerSimulator(
        api_keys={API_KEY: ApiKey.full_access(USER)},
        dataset=dataset,
        staging_duration=0.3,
        staging_failure_rate=0.1,
        seed=11,
    ) as server:
        yield server


def _client(sim: RsServerSimulator) -> CadipClient:
    return CadipClient(sim.url, API_KEY, None, "CADIP", http_settings=PATIENT)


def _names(client: CadipClient) -> list[str]:
    found = client.search_files("2023-12-31", "2024-01-02", limit=1000)
    names = sorted(item.id for item in found)
    assert len(names) == N_FILES
    return names


def _stagings(sim: RsServerSimulator, since: int = 0) -> collections.Counter[str]:
    """How many staging requests each file name received (requests ``since`` onwards)."""
    return collections.Counter(
        r.param("name") or "" for r in sim.requests[since:] if r.path == STAGE_PATH
    )


def _server_status(sim: RsServerSimulator, name: str) -> str | None:
    state = sim.staging_state(name)
    return None if state is None else str(state["status"])


def _check_final(sim: RsServerSimulator, report: StagingReport, names: list[str]) -> None:
    assert list(report.outcomes) == names, "every file is in the report, in order"
    assert not report.unfinished and not report.refused, report.summary()
    for outcome in report.outcomes.values():
        assert outcome.state in ("DONE", "FAILED")
        assert _server_status(sim, outcome.name) == outcome.state  # what the server says
        if outcome.state == "FAILED":
            assert FAILURE_MESSAGE in outcome.message, outcome.message  # the server's message
    assert report.failed, "staging_failure_rate=0.1 over 200 files: some must fail"


_CRASHING_RUN = textwrap.dedent(
    """
    import sys
    from rs_cadip import CadipClient
    from rs_core.http import HttpSettings

    url, names = sys.argv[1], sys.argv[2:]
    client = CadipClient(url, None, None, "CADIP", http_settings=HttpSettings(timeout=10))
    client.stage_and_wait(names, concurrency=2, poll_interval=0.05, timeout=120)
    print("finished", flush=True)
    """
)


def test_rerun_after_sigkill_resumes_and_loses_nothing(sim: RsServerSimulator) -> None:
    client = _client(sim)
    names = _names(client)
    env = {**os.environ, "RSPY_APIKEY": API_KEY}
    first = subprocess.Popen(
        [sys.executable, "-c", _CRASHING_RUN, sim.url, *names],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while sum(_stagings(sim).values()) < N_FILES // 3:
            assert first.poll() is None, "the first run ended before the crash"
            assert time.monotonic() < deadline, "the first run does not stage"
            time.sleep(0.01)
        first.send_signal(signal.SIGKILL)
    finally:
        out, _err = first.communicate(timeout=30)
    assert first.returncode == -signal.SIGKILL and b"finished" not in out

    before = _stagings(sim)
    assert all(count == 1 for count in before.values()), "first run staged a file twice"
    assert len(before) < N_FILES, "the crash came after every file was staged"
    done_at_crash = {n for n in names if _server_status(sim, n) == "DONE"}
    mark = len(sim.requests)

    report = client.stage_and_wait(names, concurrency=4, poll_interval=0.05, timeout=120)

    _check_final(sim, report, names)
    again = _stagings(sim, since=mark)
    assert not done_at_crash & set(again), "a file DONE before the rerun was staged again"
    assert all(count == 1 for count in again.values()), "the rerun staged a file twice"
    assert set(before) | set(again) == set(names), "some file was never staged"
    # found DONE, or re-attached to the killed run's request (from the ledger): not staged again
    resumed = [o for o in report.outcomes.values() if o.already_done or o.resumed]
    assert {o.name for o in resumed} >= done_at_crash
    client.close()


class _Crash(Exception):
    """The simulated crash of the caller."""


def test_rerun_after_a_crash_in_the_progress_callback(sim: RsServerSimulator) -> None:
    client = _client(sim)
    names = _names(client)
    seen: list[str] = []

    def crash_midway(outcome: StagingOutcome, report: StagingReport) -> None:
        seen.append(outcome.name)
        if len(seen) == N_FILES // 2:
            raise _Crash("the caller died")

    with pytest.raises(_Crash):
        client.stage_and_wait(names, poll_interval=0.05, progress=crash_midway, timeout=120)
    sent = len(sim.requests)
    time.sleep(0.3)
    assert len(sim.requests) == sent, "the crashed run kept sending requests after raising"
    before = _stagings(sim)
    assert all(count == 1 for count in before.values())
    done_before = {n for n in names if _server_status(sim, n) == "DONE"}
    mark = len(sim.requests)

    report = client.stage_and_wait(names, poll_interval=0.05, timeout=120)

    _check_final(sim, report, names)
    again = _stagings(sim, since=mark)
    assert not done_before & set(again)
    assert set(before) | set(again) == set(names)
    client.close()


# -- SIGKILL at random points, several seeds, v1 and v2 (the ledger's Done-when) -----------

SEEDS = (1, 2, 3)
_RUN = textwrap.dedent(
    """
    import json, sys
    import rs_core
    from rs_core.http import HttpSettings

    kind, station, url, names = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    client = rs_core.get_station(kind, station=station, rs_server_href=url,
                                 http_settings=HttpSettings(timeout=10, retries=3))
    report = client.stage_and_wait(names, concurrency=2, poll_interval=0.05, timeout=120)
    print(json.dumps(report.to_dict()), flush=True)
    """
)


def _run_until_killed(
    sim: RsServerSimulator, args: list[str], kill_after_requests: int
) -> dict[str, object] | None:
    """Run a stage_and_wait in a new process; SIGKILL it once the simulator has answered
    ``kill_after_requests`` more requests. The report when it finished first, else None."""
    env = {**os.environ, "RSPY_APIKEY": API_KEY}
    start = len(sim.requests)
    return _run_script_until_killed(
        _RUN, args, env, lambda: len(sim.requests) - start >= kill_after_requests
    )


def _run_script_until_killed(
    script: str,
    args: list[str],
    env: dict[str, str],
    kill_when: Callable[[], bool],
    patience: float = 100,
) -> dict[str, Any] | None:
    """Run ``script`` in a new process; SIGKILL it as soon as ``kill_when()`` is true. The
    report it printed when it finished first, else None."""
    # files, not pipes: a 200-file report is larger than a pipe's buffer, and the run
    # would block writing it while this loop waits for it to end
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            [sys.executable, "-c", script, *args], env=env, stdout=out, stderr=err
        )
        try:
            deadline = time.monotonic() + patience
            while proc.poll() is None and not kill_when():
                assert time.monotonic() < deadline, "the run neither ends nor progresses"
                time.sleep(0.002)
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
        finally:
            proc.wait(timeout=60)
        out.seek(0)
        err.seek(0)
        output, errors = out.read().decode(), err.read().decode()
    if proc.returncode == -signal.SIGKILL:
        return None
    assert proc.returncode == 0, errors
    return json.loads(output.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _final_run(sim: RsServerSimulator, args: list[str]) -> dict[str, Any]:
    report = _run_until_killed(sim, args, kill_after_requests=10**9)
    assert report is not None
    return report  # type: ignore[return-value]


@pytest.mark.parametrize("seed", SEEDS)
def test_v1_sigkill_at_random_points_then_rerun(seed: int) -> None:
    rng = random.Random(seed)
    dataset = Dataset.synthetic(n_products=0, n_files=N_FILES, n_sessions=4, seed=7)
    with RsServerSimulator(
        api_keys={API_KEY: ApiKey.full_access(USER)},
        dataset=dataset,
        staging_duration=0.3,
        staging_failure_rate=0.1,
        seed=seed,
    ) as sim:
        client = _client(sim)
        names = _names(client)
        args = ["cadip", "CADIP", sim.url, *names]
        for _ in range(2):  # a run of ~450 requests: prechecks, 200 stagings, polls
            _run_until_killed(sim, args, kill_after_requests=rng.randint(1, 450))
        report = _final_run(sim, args)
        files = {f["name"]: f for f in report["files"]}  # type: ignore[index,union-attr]
        assert sorted(files) == names, "every file is in the report"
        ledger = StagingLedger(os.environ["RS_LEDGER"])
        staged = _stagings(sim)
        for name in names:
            state = files[name]["state"]
            assert state in ("DONE", "FAILED"), (name, files[name])
            assert _server_status(sim, name) == state
            if state == "FAILED":
                assert FAILURE_MESSAGE in files[name]["message"]
            entries = ledger.entries(name=name)
            assert entries and entries[0].state == state, "the ledger knows how it ended"
            failed_before = sum(1 for e in entries[1:] if e.state == "FAILED")
            assert 1 <= staged[name] <= 1 + failed_before, (
                f"{name} staged {staged[name]} times with {failed_before} failure(s) before"
            )
        client.close()


@pytest.mark.parametrize("seed", SEEDS)
def test_v2_sigkill_at_random_points_then_rerun(seed: int) -> None:
    rng = random.Random(seed)
    dataset = Dataset.synthetic(n_products=N_FILES, n_files=0, n_sessions=0, seed=7)
    with RsServerSimulator(
        api_keys={API_KEY: ApiKey.full_access(USER)},
        dataset=dataset,
        staging_duration=1.0,
        api_version="v2",
        seed=seed,
    ) as sim:
        with AuxipClient(sim.url, API_KEY, http_settings=PATIENT) as client:
            found = client.search_stations("2000-01-01", "2100-01-01", limit=1000)
            names = sorted(item.id for item in found)
        assert len(names) == N_FILES
        args = ["auxip", "AUXIP", sim.url, *names]
        for _ in range(2):  # probe, collection, 4 searches by id, the POST, polls
            _run_until_killed(sim, args, kill_after_requests=rng.randint(1, 14))
        report = _final_run(sim, args)
        files = {f["name"]: f for f in report["files"]}  # type: ignore[index,union-attr]
        assert sorted(files) == names
        assert all(f["state"] == "DONE" for f in files.values()), report["summary"]
        staged: collections.Counter[str] = collections.Counter()
        for job in sim.jobs:
            staged.update(str(i) for i in job["items"])
        assert len(staged) == N_FILES, "every product was staged"
        assert set(staged.values()) == {1}, "a product was staged twice"
        ledger = StagingLedger(os.environ["RS_LEDGER"])
        assert {e.state for e in ledger.entries(limit=10_000)} == {"DONE"}


def test_rs_status_in_a_fresh_process_reports_a_file_staged_by_another() -> None:
    """`rs status` (a third process) after a killed `stage_and_wait` (another process)."""
    dataset = Dataset.synthetic(n_products=5, n_files=0, n_sessions=0, seed=7)
    with RsServerSimulator(
        api_keys={API_KEY: ApiKey.full_access(USER)},
        dataset=dataset,
        staging_duration=0.2,
        api_version="v2",
    ) as sim:
        with AuxipClient(sim.url, API_KEY, http_settings=PATIENT) as client:
            name = client.search_stations("2000-01-01", "2100-01-01", limit=1)[0].id
        _final_run(sim, ["auxip", "AUXIP", sim.url, name])
        env = {**os.environ, "RSPY_APIKEY": API_KEY, "RS_SERVER_HREF": sim.url}
        out = subprocess.run(
            [sys.executable, "-m", "rs_core", "status", "auxip", name, "-o", "json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)[0]["status"] == "DONE"


# -- the same against the REAL RS-Server 1.0 staging service (scripts/rs-server-1) ---------

_REAL_RUN = textwrap.dedent(
    """
    import json, sys
    from rs_auxip import AuxipClient
    from rs_core.http import HttpSettings

    collection, owner, names = sys.argv[1], sys.argv[2], sys.argv[3:]
    client = AuxipClient(None, None, owner, api_version="v2",
                         http_settings=HttpSettings(timeout=60, retries=3))
    report = client.stage_and_wait(names, collection=collection, poll_interval=0.2,
                                   poll_max_interval=1.0, timeout=600)
    print(json.dumps(report.to_dict()), flush=True)
    """
)
REAL_SEEDS = (1, 2)


def _real_run_until_killed(
    args: list[str], env: dict[str, str], kill_when: Callable[[], bool]
) -> dict[str, Any] | None:
    """Run a stage_and_wait against the real services in a new process; SIGKILL it as soon as
    ``kill_when()`` is true. The report when it finished first, else None."""
    return _run_script_until_killed(_REAL_RUN, args, env, kill_when, patience=600)


@pytest.mark.rs_server_1
@pytest.mark.parametrize("seed", REAL_SEEDS)
def test_real_staging_service_sigkill(seed: int, tmp_path: Path) -> None:
    """Every file the real AUXIP station holds, staged by the REAL RS-Server 1.0 staging
    service (``scripts/rs-server-1``) into a fresh collection; the run is killed twice at
    random points, then run to its end in a fresh process. Fault-free proxies
    (:class:`~rs_core.testing.fault_proxy.FaultProxy`) in front of the services count the
    requests (the kill points) and keep what reached the server."""
    import requests
    from test_fault_proxy_real import require_rs_server_1

    from rs_core.testing.fault_proxy import FaultProxy

    urls = require_rs_server_1()
    owner = os.environ.get("RS_TEST_V10_OWNER") or "reluser"
    staging_url = urls["STAGING"]
    rng = random.Random(seed)
    collection = f"sigkill-{seed}-{random.Random().getrandbits(24):06x}"
    started = int(time.time())
    before = {j["jobID"] for j in requests.get(f"{staging_url}/jobs", timeout=60).json()["jobs"]}
    with (
        FaultProxy(urls["AUXIP"]) as auxip,
        FaultProxy(staging_url) as staging,
        FaultProxy(urls["CATALOG"]) as catalog,
    ):
        env = {
            **os.environ,
            "RSPY_HOST_ADGS": auxip.url,
            "RSPY_HOST_STAGING": staging.url,
            "RSPY_HOST_CATALOG": catalog.url,
            "RS_LEDGER": str(tmp_path / "ledger.sqlite3"),
        }
        env.pop("RSPY_APIKEY", None)
        with (
            AuxipClient(None, None, owner, api_version="v2", http_settings=PATIENT) as client,
            pytest.MonkeyPatch.context() as patch,
        ):
            patch.setenv("RSPY_HOST_ADGS", urls["AUXIP"])
            found = client.search_stations("2000-01-01", "2100-01-01", limit=1000)
        names = sorted(item.id for item in found)
        assert len(names) >= 50, "the real AUXIP station holds fewer files than expected"
        args = [collection, owner, *names]

        def after(proxies: list[FaultProxy], more: int) -> Callable[[], bool]:
            start = sum(len(p.requests) for p in proxies)
            return lambda: sum(len(p.requests) for p in proxies) - start >= more

        # a run: the probe, the searches by id (one per file on 1.0a4), the target
        # collection, the POST, the polls; killed once anywhere in its first 100 requests,
        # then once among its staging requests (the POST in flight, or a poll)
        kills = [after([auxip, staging, catalog], rng.randint(1, 100))]
        kills.append(after([staging], rng.randint(1, 6)))
        killed = [_real_run_until_killed(args, env, when) is None for when in kills]
        assert any(killed), "no run was killed"
        report = _real_run_until_killed(args, env, lambda: False)
        assert report is not None
        posts = [r for r in staging.requests if r.method == "POST"]

    files = {f["name"]: f for f in report["files"]}
    assert sorted(files) == names, "every file is in the report"
    ledger = StagingLedger(str(tmp_path / "ledger.sqlite3"))
    sent: collections.Counter[str] = collections.Counter()
    for post in posts:
        features = post.json()["inputs"]["items"]["value"]["features"]
        sent.update(str(name) for f in features for name in f["assets"])  # the files
    for name in names:
        state = files[name]["state"]
        assert state in ("DONE", "FAILED"), f"{name}: {files[name]} ({report['summary']})"
        if state == "FAILED":
            assert files[name]["message"] or files[name]["error"], "a failure says why"
        entries = ledger.entries(name=name)
        assert entries and entries[0].state == state, "the ledger knows how it ended"
        failed_before = sum(1 for e in entries[1:] if e.state == "FAILED")
        assert 1 <= sent[name] <= 1 + failed_before, (
            f"{name} sent to staging {sent[name]} times with {failed_before} failure(s) before"
        )
    # what the server holds: one job per POST that reached it, every DONE file in the catalog
    jobs = requests.get(f"{staging_url}/jobs", timeout=60).json()["jobs"]
    new = [j for j in jobs if j["jobID"] not in before]
    assert all(
        j["created"] >= time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(started)) for j in new
    )
    assert len(new) == len(posts), f"{len(new)} jobs on the server for {len(posts)} POST(s)"
    items = requests.get(
        f"{urls['CATALOG']}/catalog/collections/{owner}:{collection}/items",
        params={"limit": 1000},
        timeout=60,
    ).json()["features"]
    staged = {name for f in items for name in f["assets"]}
    done = {n for n in names if files[n]["state"] == "DONE"}
    assert done <= staged, f"DONE but not in the catalog: {sorted(done - staged)[:5]}"
