"""``rs workflow``: the command line, as a user runs it (subprocesses)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
ROOT = HERE.parents[2]
BIN = Path(sys.executable).parent
SIM_PORTS = range(9800, 9820)
TEMP_SERVER_PORTS = "9850-9899"


def _rs(*args: str, env: dict[str, str] | None = None, timeout: float = 600) -> Any:
    return subprocess.run(
        [str(BIN / "rs"), *args],
        env=env or dict(os.environ),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_rs_help_lists_the_command_without_importing_prefect() -> None:
    code = (
        "import sys, contextlib, io\n"
        "from rs_core.cli.main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.suppress(SystemExit):\n"
        "    main(['--help'])\n"
        "print('workflow' in out.getvalue(), any(m.startswith('prefect') for m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.split() == ["True", "False"]


def test_core_and_station_plugins_do_not_depend_on_prefect() -> None:
    for pyproject in [ROOT / "pyproject.toml", *ROOT.glob("plugins/rs_*/pyproject.toml")]:
        project = tomllib.loads(pyproject.read_text())["project"]
        if project["name"] == "rs-workflows":
            assert any(d.startswith("prefect") for d in project["dependencies"])
            continue
        wanted = list(project.get("dependencies", []))
        for extra in project.get("optional-dependencies", {}).values():
            wanted += extra
        assert not [d for d in wanted if d.lower().startswith("prefect")], pyproject


def test_workflow_list_names_every_flow() -> None:
    done = _rs("workflow", "list")
    assert done.returncode == 0, done.stderr
    for name in ("stage-sessions", "stage-products", "publish-staged", "check-collection"):
        assert f"{name}:" in done.stdout


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--station", "NOPE", "--since", "2d", "--collection", "c"], "NOPE"),
        (["--station", "MTI", "--since", "2x", "--collection", "c"], "2x"),
        (
            ["--station", "MTI", "--since", "2d", "--collection", "c", "--concurrency", "0"],
            "--concurrency",
        ),
        (["--station", "MTI", "--since", "2d"], "--collection"),
    ],
)
def test_bad_input_is_a_usage_error_naming_it_before_prefect_starts(
    args: list[str], named: str
) -> None:
    started = time.monotonic()
    done = _rs("workflow", "run", "stage-sessions", *args, timeout=60)
    assert done.returncode == 2, done.stderr
    assert named in done.stderr
    assert "Traceback" not in done.stderr
    assert "temporary server" not in done.stderr
    del started


def test_deploy_without_a_prefect_server_says_what_is_missing() -> None:
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    done = _rs(
        "workflow",
        "deploy",
        "stage-sessions",
        "--station",
        "MTI",
        "--since",
        "last",
        "--collection",
        "c",
        "--pool",
        "p",
        env=env,
        timeout=120,
    )
    assert done.returncode == 2
    assert "PREFECT_API_URL" in done.stderr


def _port() -> int:
    for port in SIM_PORTS:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.skip("no free port for the simulator")


@pytest.fixture
def recent_sim() -> Iterator[str]:
    """``recent_simulator.py --api v2`` as its own process (local mode); yields its URL."""
    port = _port()
    proc = subprocess.Popen(
        [
            sys.executable,
            str(HERE / "recent_simulator.py"),
            "--port",
            str(port),
            "--api",
            "v2",
            "--files",
            "16",
            "--sessions",
            "2",
            "--staging-duration",
            "0.1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        assert proc.stdout is not None
        assert "listening" in proc.stdout.readline().decode()
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_rs_workflow_run_stage_sessions_since_2d_stages_and_publishes(
    recent_sim: str, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "RS_WORKFLOWS_SERVER_PORTS": TEMP_SERVER_PORTS,
        "RSPY_HOST_CADIP": recent_sim,
        "RSPY_HOST_CATALOG": recent_sim,
        "RSPY_HOST_STAGING": recent_sim,
    }
    env.pop("PREFECT_API_URL", None)
    done = _rs(
        "workflow",
        "run",
        "stage-sessions",
        "--station",
        "MTI",
        "--since",
        "2d",
        "--collection",
        "s1_cadu",
        "--poll-interval",
        "0.2",
        env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [line for line in done.stdout.splitlines() if line.startswith("| DCS_")]
    assert len(rows) == 16
    assert all("| DONE | by staging |" in row for row in rows)
    assert "stage-sessions: 16 files: 16 done; 16 published" in done.stderr

    # The catalog holds them: check-collection agrees, in JSON.
    checked = _rs(
        "-o",
        "json",
        "workflow",
        "run",
        "check-collection",
        "--kind",
        "cadip",
        "--station",
        "MTI",
        "--since",
        "2d",
        "--collection",
        "s1_cadu",
        env=env,
    )
    assert checked.returncode == 0, checked.stderr[-3000:]
    assert '"missing": []' in checked.stdout


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_rs_workflow_run_against_rs_simulate(tmp_path: Path) -> None:
    port = _port()
    sim = subprocess.Popen(
        [str(BIN / "rs"), "simulate", "--port", str(port), "--staging-duration", "0.1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert time.monotonic() < deadline, "rs simulate did not start"
            time.sleep(0.2)
        env = {
            **os.environ,
            "PREFECT_HOME": str(tmp_path / "prefect"),
            "RS_WORKFLOWS_SERVER_PORTS": TEMP_SERVER_PORTS,
            "RSPY_HOST_ADGS": url,
            "RSPY_HOST_CATALOG": url,
        }
        env.pop("PREFECT_API_URL", None)
        done = _rs(
            "-o",
            "ndjson",
            "workflow",
            "run",
            "stage-products",
            "--kind",
            "auxip",
            "--start",
            "2000-01-01",
            "--stop",
            "now",
            "--max-items",
            "3",
            "--collection",
            "aux_sim",
            "--poll-interval",
            "0.2",
            env=env,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        import json

        rows = [json.loads(line) for line in done.stdout.splitlines()]
        assert len(rows) == 3
        assert {(r["state"], r["published"]) for r in rows} == {("DONE", "yes")}
    finally:
        sim.terminate()
        sim.wait(timeout=30)
