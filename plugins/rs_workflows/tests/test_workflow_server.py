"""The cluster path: a real ``prefect server start``, process workers, a deployed flow.

One Prefect server (its own ``PREFECT_HOME``, a port in 9820-9839) for the module; workers are
``prefect worker start --type process`` processes. Everything started is stopped at the end,
pass or fail. A worker killed with SIGKILL in the middle of a run, then a rerun: every file
ends staged and published, and the simulator saw one staging request per file.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from workflow_helpers import KEY, staging_requests

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

BIN = Path(sys.executable).parent
PORTS = range(9820, 9840)
POOL = "rs-test-pool"


def _free_port() -> int:
    for port in PORTS:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.skip(f"no free port in {PORTS.start}-{PORTS.stop - 1}")


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    out: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _kill_tree(proc: subprocess.Popen[Any], sig: int = signal.SIGKILL) -> None:
    for pid in [*_descendants(proc.pid), proc.pid]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A real Prefect server; yields the environment that reaches it."""
    home = tmp_path_factory.mktemp("prefect-server")
    port = _free_port()
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "PREFECT_UI_ENABLED": "true",
    }
    log = (home / "server.log").open("wb")
    proc = subprocess.Popen(
        [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"{env['PREFECT_API_URL']}/health", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(
                        "prefect server did not start: " + (home / "server.log").read_text()[-2000:]
                    ) from None
                time.sleep(0.5)
        subprocess.run(
            [str(BIN / "prefect"), "work-pool", "create", POOL, "--type", "process"],
            env=env,
            check=True,
            capture_output=True,
            timeout=120,
        )
        yield env
    finally:
        _kill_tree(proc, signal.SIGTERM)
        log.close()


@pytest.fixture
def workers(server: dict[str, str], tmp_path: Path) -> Iterator[Any]:
    """``start(env)`` starts a process worker of the pool; all are stopped at the end."""
    started: list[subprocess.Popen[Any]] = []

    def start(extra: dict[str, str]) -> subprocess.Popen[Any]:
        log = (tmp_path / f"worker-{len(started)}.log").open("wb")
        proc = subprocess.Popen(
            [str(BIN / "prefect"), "worker", "start", "--pool", POOL, "--type", "process"],
            env={**server, **extra},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        started.append(proc)
        return proc

    try:
        yield start
    finally:
        for proc in started:
            if proc.poll() is None:
                _kill_tree(proc, signal.SIGKILL)


def _rs(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "rs"), *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )


def _flow_env(server: dict[str, str], sim: Any, storage: Path) -> dict[str, str]:
    """What a worker needs: the Prefect server, where results go, how to reach RS-Server,
    and the staging ledger the workers of this machine share (``RS_LEDGER``)."""
    return {
        "RS_SERVER_HREF": sim.url,
        "RSPY_APIKEY": KEY,
        "RS_API_VERSION": sim.api_version,
        "RS_LEDGER": str(storage.parent / "ledger.sqlite3"),
        "PREFECT_LOCAL_STORAGE_PATH": str(storage),
        "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "true",
    }


def _run_deployment(server: dict[str, str], name: str, timeout: float = 300) -> Any:
    """Create a flow run of deployment ``name`` and wait for its final state."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with (
        temporary_settings(updates={PREFECT_API_URL: server["PREFECT_API_URL"]}),
        get_client(sync_client=True) as client,
    ):
        deployment = client.read_deployment_by_name(name)
        run = client.create_flow_run_from_deployment(deployment.id)
        deadline = time.monotonic() + timeout
        while True:
            run = client.read_flow_run(run.id)
            if run.state is not None and run.state.is_final():
                return run
            assert time.monotonic() < deadline, f"flow run stuck in {run.state}"
            time.sleep(1)


def _why(run: Any, storage: Path) -> str:
    """A failed run's whole message, and the history of every ledger entry not DONE."""
    from rs_core.ledger import StagingLedger

    ledger = StagingLedger(storage.parent / "ledger.sqlite3")
    try:
        lines = [f"{run.state.name}: {run.state.message}"]
        for entry in ledger.entries():
            if entry.state != "DONE":
                full = ledger.get(entry.entry_id)
                lines.append(f"{entry} holder={entry.holder} batch={entry.batch}")
                lines += [f"    {e.to_dict()}" for e in (full.history if full else ())]
        return "\n".join(lines)
    finally:
        ledger.close()


def _result(server: dict[str, str], run: Any, storage: Path) -> Any:
    from prefect.settings import (
        PREFECT_API_URL,
        PREFECT_LOCAL_STORAGE_PATH,
        temporary_settings,
    )

    updates = {PREFECT_API_URL: server["PREFECT_API_URL"], PREFECT_LOCAL_STORAGE_PATH: storage}
    with temporary_settings(updates=updates):
        return run.state.result(raise_on_failure=False)


def _deploy(server: dict[str, str], sim: Any, storage: Path, name: str, *args: str) -> None:
    env = {**server, **_flow_env(server, sim, storage)}
    env.pop("RSPY_APIKEY")  # deploying needs no RS-Server credentials
    done = _rs(env, "workflow", "deploy", *args, "--pool", POOL, "--name", name)
    assert done.returncode == 0, done.stderr[-3000:]


def test_a_deployed_flow_runs_on_a_worker_and_its_result_is_read_back(
    server: dict[str, str], workers: Any, make_sim: Any, tmp_path: Path
) -> None:
    sim = make_sim("v1", staging_duration=0.2)
    storage = tmp_path / "results"
    _deploy(
        server,
        sim,
        storage,
        "aux-srv",
        "stage-products",
        "--kind",
        "auxip",
        "--since",
        "2d",
        "--max-items",
        "6",
        "--collection",
        "aux_srv",
        "--poll-interval",
        "0.2",
    )
    workers(_flow_env(server, sim, storage))
    run = _run_deployment(server, "stage-products/aux-srv")
    assert run.state.is_completed(), run.state
    report = _result(server, run, storage)
    assert isinstance(report, dict), report
    assert report["summary"] == "6 files: 6 done; 6 published"
    assert max(staging_requests(sim).values()) == 1
    assert run.parameters["collection"] == "aux_srv"
    assert KEY not in str(run.parameters)
    for path in Path(server["PREFECT_HOME"]).rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path


@pytest.mark.parametrize("api_version", ["v1", "v2"])
def test_a_worker_killed_mid_flow_then_a_rerun_stages_nothing_twice_and_loses_nothing(
    server: dict[str, str], workers: Any, make_sim: Any, tmp_path: Path, api_version: str
) -> None:
    """SIGKILL of the worker (and the flow run it executes) while it stages, then a rerun on
    a new worker: every file staged and published, one staging request per file at the
    simulator (v1: a GET per file; v2: the files named in the job requests)."""
    sim = make_sim(api_version, staging_duration=1.0)
    storage = tmp_path / "results"
    n_files = 30
    _deploy(
        server,
        sim,
        storage,
        f"aux-crash-{api_version}",
        "stage-products",
        "--kind",
        "auxip",
        "--since",
        "2d",
        "--max-items",
        str(n_files),
        "--collection",
        f"aux_crash_{api_version}",
        "--concurrency",
        "2",
        "--poll-interval",
        "0.3",
    )
    env = _flow_env(server, sim, storage)
    worker = workers(env)
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with (
        temporary_settings(updates={PREFECT_API_URL: server["PREFECT_API_URL"]}),
        get_client(sync_client=True) as client,
    ):
        deployment = client.read_deployment_by_name(f"stage-products/aux-crash-{api_version}")
        first = client.create_flow_run_from_deployment(deployment.id)
    deadline = time.monotonic() + 300
    while len(staging_requests(sim)) < n_files // 3:
        assert time.monotonic() < deadline, "the first run never started staging"
        assert worker.poll() is None, "the worker died on its own"
        time.sleep(0.05)
    _kill_tree(worker, signal.SIGKILL)  # the worker and the flow run it was executing
    staged_before = len(staging_requests(sim))
    assert staged_before < n_files, "the run ended before the kill: nothing was tested"

    workers(env)
    rerun = _run_deployment(server, f"stage-products/aux-crash-{api_version}")
    assert rerun.state.is_completed(), _why(rerun, storage)
    report = _result(server, rerun, storage)
    assert report["summary"] == f"{n_files} files: {n_files} done; {n_files} published"
    counts = staging_requests(sim)
    assert len(counts) == n_files
    assert set(counts.values()) == {1}, {n: c for n, c in counts.items() if c != 1}
    del first


def test_rs_workflow_serve_registers_a_scheduled_deployment_and_runs_it(
    server: dict[str, str], make_sim: Any, tmp_path: Path
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    sim = make_sim("v1", staging_duration=0.1)
    storage = tmp_path / "results"
    env = {**server, **_flow_env(server, sim, storage)}
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(
        [
            str(BIN / "rs"),
            "workflow",
            "serve",
            "stage-products",
            "--kind",
            "auxip",
            "--since",
            "2d",
            "--max-items",
            "3",
            "--collection",
            "aux_served",
            "--poll-interval",
            "0.2",
            "--name",
            "served",
            "--interval",
            "86400",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        with (
            temporary_settings(updates={PREFECT_API_URL: server["PREFECT_API_URL"]}),
            get_client(sync_client=True) as client,
        ):
            deadline = time.monotonic() + 240
            while True:
                try:
                    deployment = client.read_deployment_by_name("stage-products/served")
                    break
                except Exception:
                    assert proc.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
                    assert time.monotonic() < deadline, "rs workflow serve registered nothing"
                    time.sleep(1)
            assert deployment.schedules, "the deployment has no schedule"
            assert deployment.parameters["collection"] == "aux_served"
        run = _run_deployment(server, "stage-products/served")
        assert run.state.is_completed(), run.state
        assert len(staging_requests(sim)) == 3
    finally:
        _kill_tree(proc, signal.SIGKILL)
        log.close()
