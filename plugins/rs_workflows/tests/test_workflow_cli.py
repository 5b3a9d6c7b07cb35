"""``rs workflow``: the command line, as a user runs it (subprocesses)."""

from __future__ import annotations

import json
import os
import shlex
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from workflow_helpers import KEY

HERE = Path(__file__).parent
ROOT = HERE.parents[2]
BIN = Path(sys.executable).parent
SIM_PORTS = range(9800, 9820)
TEMP_SERVER_PORTS = "9840-9850"
DONE_WHEN = shlex.split("workflow run stage-sessions --station MTI --since 2d --collection s1_cadu")
"""The issue's done-when command (after ``rs``)."""


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


def test_installing_rs_core_pulls_no_prefect() -> None:
    """What pip installs for ``rs-core`` (any extra), read from its installed metadata and
    followed through every installed requirement: Prefect is not among them."""
    import re
    from importlib import metadata

    def name(requirement: str) -> str:
        found = re.match(r"[A-Za-z0-9._-]+", requirement)
        assert found, requirement
        return re.sub(r"[-_.]+", "-", found.group(0)).lower()

    direct = [name(r) for r in metadata.requires("rs-core") or []]
    assert direct and "prefect" not in direct
    seen: set[str] = set()
    todo = list(direct)
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        try:
            todo += [name(r) for r in metadata.requires(current) or []]
        except metadata.PackageNotFoundError:
            continue  # an extra's requirement not installed here
    assert "rs-workflows" not in seen
    assert not [d for d in seen if d.startswith("prefect")], sorted(seen)


def test_the_rs_command_help_imports_no_prefect() -> None:
    """``rs --help`` as a user types it (the console script), its imports traced by Python."""
    done = subprocess.run(
        [str(BIN / "rs"), "--help"],
        env={**os.environ, "PYTHONPROFILEIMPORTTIME": "1"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "workflow" in done.stdout
    imported = [line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()]
    assert "rs_core.cli.main" in imported
    assert not [m for m in imported if m.split(".")[0] == "prefect"]


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
def rs_simulate_recent(tmp_path: Path) -> Iterator[dict[str, str]]:
    """``rs simulate --recent --with-api-key KEY --env`` in the background, as a user starts
    it; yields its printed exports applied to this environment (the reader's other shell)."""
    port = _port()
    log = (tmp_path / "simulate.log").open("w+")
    proc = subprocess.Popen(
        [
            str(BIN / "rs"),
            "simulate",
            "--recent",
            "--port",
            str(port),
            "--with-api-key",
            KEY,
            "--staging-duration",
            "0.1",
            "--env",
        ],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    try:
        assert proc.stdout is not None
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RSPY_HOST_", "RS_SERVER"))}
        while True:
            line = proc.stdout.readline()
            assert line, f"rs simulate printed no exports: {log.seek(0) or log.read()[-2000:]}"
            words = line.split()
            if words[:1] == ["export"]:
                name, _, value = words[1].partition("=")
                env[name] = value
            elif words[:1] == ["unset"]:
                env.pop(words[1], None)
            if "RS_API_VERSION" in line:  # the last export line
                break
        yield env
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def _catalog_names(env: dict[str, str], collection: str) -> set[str]:
    """The file names the catalog collection holds (item ids, asset keys and titles)."""
    from rs_core.client import RsClient

    with RsClient(env["RS_SERVER_HREF"], env["RSPY_APIKEY"], profile="") as client:
        names: set[str] = set()
        for item in client.get_catalog_client().get_items(collection_id=collection):
            names.add(item.id)
            names.update(item.assets)
            names.update(a.title for a in item.assets.values() if a.title)
        return names


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_done_when_rs_workflow_run_stage_sessions_since_2d_against_rs_simulate(
    rs_simulate_recent: dict[str, str], tmp_path: Path
) -> None:
    """The issue's done-when line, literally: ``rs simulate`` (``--recent``), its exports,
    then ``rs workflow run stage-sessions --station MTI --since 2d --collection s1_cadu``."""
    env = {
        **rs_simulate_recent,
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "RS_WORKFLOWS_SERVER_PORTS": TEMP_SERVER_PORTS,
        "RS_LEDGER": str(tmp_path / "ledger.sqlite3"),
    }
    env.pop("PREFECT_API_URL", None)
    done = _rs(*DONE_WHEN, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [line.split(" | ") for line in done.stdout.splitlines() if line.startswith("| DCS_")]
    assert len(rows) >= 20, done.stdout[-2000:]  # rs simulate --recent: sessions of hours
    names = {row[0].removeprefix("| ") for row in rows}
    assert {(row[3], row[4]) for row in rows} <= {("DONE", "by staging"), ("DONE", "yes")}
    assert f"stage-sessions: {len(rows)} files: {len(rows)} done; {len(rows)} published" in (
        done.stderr
    )
    assert names <= _catalog_names(env, "s1_cadu")
    assert KEY not in done.stdout + done.stderr

    # A second run finds them staged: it sends nothing again and still reports every file.
    again = _rs("-o", "json", *DONE_WHEN, env=env)
    assert again.returncode == 0, again.stderr[-3000:]
    report = json.loads(again.stdout)
    assert {f["name"] for f in report["files"]} >= names
    assert {f["action"] for f in report["files"]} <= {"already staged", "followed"}


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_rs_workflow_run_against_rs_simulate(tmp_path: Path) -> None:
    port = _port()
    sim = subprocess.Popen(
        [
            *(str(BIN / "rs"), "simulate", "--generation", "v1"),  # v1: the flow publishes
            *("--port", str(port), "--staging-duration", "0.1"),
        ],
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
        rows = [json.loads(line) for line in done.stdout.splitlines()]
        assert len(rows) == 3
        assert {(r["state"], r["published"]) for r in rows} == {("DONE", "yes")}
    finally:
        sim.terminate()
        sim.wait(timeout=30)
