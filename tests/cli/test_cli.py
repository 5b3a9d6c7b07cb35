"""The ``rs`` command line, run as a subprocess against the simulator."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_support import RS, rs

from rs_core.testing.simulator import ApiKey, RsServerSimulator

KEY = "cli-test-key-9f8e7d"


@pytest.fixture(scope="module")
def sim() -> Iterator[RsServerSimulator]:
    with RsServerSimulator(
        api_keys={KEY: ApiKey.full_access("cli_user")}, staging_duration=0.1
    ) as server:
        yield server


def cluster(sim: RsServerSimulator) -> dict[str, str]:
    return {"RS_SERVER_HREF": sim.url, "RSPY_APIKEY": KEY}


def test_help_lists_commands_and_exits_0() -> None:
    out = rs("--help")
    assert out.returncode == 0
    for command in (
        "plugins",
        "search",
        "sessions",
        "stage",
        "status",
        "catalog",
        "whoami",
        "simulate",
        "demo",
    ):
        assert command in out.stdout


def test_help_is_lazy() -> None:
    code = (
        "import sys; from rs_core.cli.main import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('pystac_client', 'pystac', 'requests', 'prefect') "
        "if m in sys.modules]\n"
        "print('HEAVY', heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "HEAVY []" in out.stdout
    if importlib.util.find_spec("rs_workflows") is not None:  # its command listed, no prefect
        assert "workflow" in out.stdout


def test_no_command_is_usage_error() -> None:
    assert rs().returncode == 2


def test_plugins_lists_installed_kinds_as_json() -> None:
    out = rs("plugins", "-o", "json")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    kinds = {r["kind"] for r in rows}
    assert {"auxip", "cadip", "stac"} <= kinds
    assert all(r["state"] == "ok" for r in rows if r["kind"] in ("auxip", "cadip", "stac"))


def test_plugins_check_validates_a_distribution() -> None:
    good = rs("plugins", "--check", "rs-plugin-cadip")
    assert good.returncode == 0, good.stderr
    assert "loads" in good.stdout
    missing = rs("plugins", "--check", "rs-plugin-nothing-here")
    assert missing.returncode == 1
    assert "not installed" in missing.stderr


def test_search_auxip_as_json_is_stac(sim: RsServerSimulator) -> None:
    out = rs(
        "search",
        "auxip",
        "--start",
        "2016-01-01",
        "--stop",
        "2025-01-01",
        "--limit",
        "3",
        "-o",
        "json",
        env=cluster(sim),
    )
    assert out.returncode == 0, out.stderr
    body = json.loads(out.stdout)
    assert body["type"] == "FeatureCollection"
    assert 0 < len(body["features"]) <= 3
    assert KEY not in out.stdout + out.stderr


def test_search_ndjson_one_feature_per_line(sim: RsServerSimulator) -> None:
    out = rs(
        "search",
        "auxip",
        "--start",
        "2016-01-01",
        "--stop",
        "2025-01-01",
        "-o",
        "ndjson",
        "--limit",
        "2",
        env=cluster(sim),
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 2
    assert all(json.loads(line)["type"] == "Feature" for line in lines)


def test_sessions_table(sim: RsServerSimulator) -> None:
    out = rs(
        "sessions", "--station", "CADIP", "--start", "2000-01-01", "--stop", "now", env=cluster(sim)
    )
    assert out.returncode == 0, out.stderr
    assert "SESSION" in out.stdout and "S1A_" in out.stdout


def test_bad_date_is_usage_error(sim: RsServerSimulator) -> None:
    out = rs("search", "auxip", "--start", "not-a-date", env=cluster(sim))
    assert out.returncode == 2
    assert out.stderr.startswith("rs: error:") and "not-a-date" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_start_after_stop_is_usage_error(sim: RsServerSimulator) -> None:
    out = rs("search", "auxip", "--start", "2020-01-02", "--stop", "2020-01-01", env=cluster(sim))
    assert out.returncode == 2
    assert "after" in out.stderr


def test_unknown_station_is_usage_error(sim: RsServerSimulator) -> None:
    out = rs("search", "cadip", "--station", "XXX", "--start", "-1d", env=cluster(sim))
    assert out.returncode == 2
    assert "XXX" in out.stderr and "MTI" in out.stderr


def test_unreachable_server_is_operational_failure() -> None:
    out = rs(
        "search",
        "auxip",
        "--start",
        "-1d",
        "--timeout",
        "2",
        env={"RS_SERVER_HREF": "http://127.0.0.1:9", "RSPY_APIKEY": KEY},
    )
    assert out.returncode == 1
    assert "127.0.0.1:9" in out.stderr
    assert KEY not in out.stderr


def test_wrong_api_key_is_operational_failure(sim: RsServerSimulator) -> None:
    out = rs(
        "search",
        "auxip",
        "--start",
        "-1d",
        env={"RS_SERVER_HREF": sim.url, "RSPY_APIKEY": "wrong-key-123"},
    )
    assert out.returncode == 1
    assert "403" in out.stderr and "wrong-key-123" not in out.stderr


def test_missing_api_key_in_cluster_mode_is_usage_error(sim: RsServerSimulator) -> None:
    out = rs("search", "auxip", "--start", "-1d", env={"RS_SERVER_HREF": sim.url})
    assert out.returncode == 2
    assert "RSPY_APIKEY" in out.stderr


def test_whoami_never_prints_the_key(sim: RsServerSimulator) -> None:
    out = rs("whoami", "-o", "json", env=cluster(sim))
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["user_login"] == "cli_user" and data["owner_id"] == "cliuser"
    assert data["iam_roles"]
    assert KEY not in out.stdout + out.stderr


def test_debug_shows_traceback_without_the_key(sim: RsServerSimulator) -> None:
    out = rs(
        "--debug",
        "search",
        "auxip",
        "--start",
        "-1d",
        env={"RS_SERVER_HREF": sim.url, "RSPY_APIKEY": "wrong-key-456"},
    )
    assert out.returncode == 1
    assert "Traceback" in out.stderr
    assert "wrong-key-456" not in out.stderr


def test_stage_wait_and_status(sim: RsServerSimulator, tmp_path: Path) -> None:
    found = rs(
        "search",
        "auxip",
        "--start",
        "2016-01-01",
        "--stop",
        "2025-01-01",
        "--limit",
        "2",
        "-o",
        "json",
        env=cluster(sim),
    )
    names = [f["id"] for f in json.loads(found.stdout)["features"]]
    out = rs(
        "stage", "auxip", *names, "--local", str(tmp_path), "--wait", "-o", "json", env=cluster(sim)
    )
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert [f["state"] for f in report["files"]] == ["DONE", "DONE"]
    status = rs("status", "auxip", *names, env=cluster(sim))
    assert status.returncode == 0
    assert status.stdout.count("DONE") == 2


def test_status_of_never_staged_file_fails(sim: RsServerSimulator) -> None:
    out = rs("status", "auxip", "NEVER_STAGED.TGZ", env=cluster(sim))
    assert out.returncode == 1
    assert "UNKNOWN" in out.stdout


def test_stage_refused_file_exits_1(sim: RsServerSimulator) -> None:
    out = rs("stage", "MTI", "NOT_FROM_A_SEARCH.raw", "--wait", "-o", "json", env=cluster(sim))
    assert out.returncode == 1
    report = json.loads(out.stdout)
    assert report["files"][0]["state"] == "REFUSED"


def test_simulate_prints_url_and_stops_on_ctrl_c() -> None:
    proc = subprocess.Popen(
        [*RS, "simulate", "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "http://127.0.0.1:" in line
        url = line.split("http://", 1)[1].split()[0]
        import requests

        assert requests.get(f"http://{url}/health", timeout=5).json() == {"healthy": True}
        proc.send_signal(signal.SIGINT)
        started = time.monotonic()
        assert proc.wait(timeout=10) == 0
        assert time.monotonic() - started < 10
    finally:
        if proc.poll() is None:
            proc.kill()


def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    out = rs("demo", "--workdir", str(tmp_path), "--files", "3", timeout=180)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert "result: OK" in out.stdout
    staged = [p for p in tmp_path.iterdir() if p.is_file()]
    assert len(staged) == 3


def test_ctrl_c_during_stage_wait_prints_what_was_done(tmp_path: Path) -> None:
    with RsServerSimulator(
        api_keys={KEY: ApiKey.full_access("cli_user")}, staging_duration=60
    ) as slow:
        found = rs(
            "search",
            "auxip",
            "--start",
            "2016-01-01",
            "--stop",
            "2025-01-01",
            "--limit",
            "3",
            "-o",
            "json",
            env=cluster(slow),
        )
        names = [f["id"] for f in json.loads(found.stdout)["features"]]
        env = {k: v for k, v in os.environ.items() if not k.startswith("RSPY_")}
        env.update(cluster(slow))
        proc = subprocess.Popen(
            [*RS, "stage", "auxip", *names, "--wait", "--local", str(tmp_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # wait until all three staging requests went out
            sent = [r for r in slow.requests if r.path == "/adgs/aux"]
            if len(sent) == 3:
                break
            time.sleep(0.05)
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 130
    assert "interrupted" in err and "3 files" in err and "3 unfinished" in err
    assert all(name in out for name in names)  # the table of what was done
    assert "Traceback" not in err


def test_catalog_commands_round_trip(sim: RsServerSimulator, tmp_path: Path) -> None:
    env = cluster(sim)
    assert rs("catalog", "add-collection", "cli_coll", env=env).returncode == 0
    item = {
        "type": "Feature",
        "stac_version": "1.0.0",
        "id": "cli_item_1",
        "stac_extensions": ["https://stac-extensions.github.io/file/v2.1.0/schema.json"],
        "geometry": None,
        "properties": {"datetime": "2024-01-02T03:04:05Z"},
        "links": [],
        "assets": {"cli_item_1.raw": {"href": "s3://bucket/dir/cli_item_1.raw", "roles": ["data"]}},
    }
    item_file = tmp_path / "item.json"
    item_file.write_text(json.dumps(item))
    added = rs("catalog", "add-item", "cli_coll", str(item_file), env=env)
    assert added.returncode == 0, added.stderr
    listed = rs("catalog", "collections", "-o", "json", env=env)
    assert listed.returncode == 0, listed.stderr
    assert any(c["id"].endswith("cli_coll") for c in json.loads(listed.stdout))
    items = rs("catalog", "items", "cli_coll", "-o", "json", env=env)
    assert [f["id"] for f in json.loads(items.stdout)["features"]] == ["cli_item_1"]
    found = rs(
        "catalog",
        "search",
        "--collection",
        "cli_coll",
        "--start",
        "2024-01-01",
        "--stop",
        "2024-01-03",
        "-o",
        "ndjson",
        env=env,
    )
    assert found.returncode == 0, found.stderr
    assert [json.loads(x)["id"] for x in found.stdout.splitlines()] == ["cli_item_1"]
    duplicate = rs("catalog", "add-item", "cli_coll", str(item_file), env=env)
    assert duplicate.returncode == 1 and "409" in duplicate.stderr
    assert rs("catalog", "remove-item", "cli_coll", "cli_item_1", env=env).returncode == 0
    assert rs("catalog", "remove-collection", "cli_coll", env=env).returncode == 0
    gone = rs("catalog", "collection", "cli_coll", env=env)
    assert gone.returncode == 1 and "404" in gone.stderr


def test_catalog_bad_arguments_are_usage_errors(sim: RsServerSimulator, tmp_path: Path) -> None:
    assert rs("catalog", "items", env=cluster(sim)).returncode == 2
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    out = rs("catalog", "add-item", "c", str(bad), env=cluster(sim))
    assert out.returncode == 2 and "not JSON" in out.stderr
