"""Recording, keep-alive speed, serve() in a subprocess, the synthetic dataset at scale."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from rs_core.testing.simulator import Dataset, RsServerSimulator

REPO = Path(__file__).resolve().parents[2]
WIDE = "2000-01-01T00:00:00Z/2030-01-01T00:00:00Z"


def test_requests_are_recorded(sim: RsServerSimulator, http: requests.Session) -> None:
    http.get(
        f"{sim.url}/adgs/aux/search",
        params={"datetime": WIDE, "limit": 2},
        headers={"X-Api-Key": "k1"},
        timeout=5,
    )
    http.post(f"{sim.url}/catalog/collections/alice:a%2Fb/items", data=b'{"x": 1}', timeout=5)
    first, second = sim.requests
    assert first.method == "GET"
    assert first.path == "/adgs/aux/search"
    assert first.query == {"datetime": [WIDE], "limit": ["2"]}
    assert "datetime=" in first.raw_query
    assert first.headers["x-api-key"] == "k1" and first.headers["X-API-KEY"] == "k1"
    assert first.client_address[0] == "127.0.0.1"
    assert second.method == "POST" and second.body == b'{"x": 1}'
    assert second.raw_path == "/catalog/collections/alice:a%2Fb/items"
    assert second.path == "/catalog/collections/alice:a/b/items"
    sim.clear_requests()
    assert sim.requests == []


def test_faulted_requests_are_recorded_too(sim: RsServerSimulator, http: requests.Session) -> None:
    from rs_core.testing.simulator import Fault

    sim.add_fault(Fault(path="/health", kind="reset", times=1))
    with pytest.raises(requests.exceptions.ConnectionError):
        http.get(f"{sim.url}/health", timeout=5)
    assert [r.path for r in sim.requests] == ["/health"]


def test_keep_alive_calls_are_fast(sim: RsServerSimulator, http: requests.Session) -> None:
    http.get(f"{sim.url}/health", timeout=5)
    started = time.perf_counter()
    for _ in range(50):
        http.get(f"{sim.url}/health", timeout=5)
    per_call = (time.perf_counter() - started) / 50
    assert per_call < 0.02  # no 40 ms Nagle/delayed-ACK stall
    assert len({r.client_address for r in sim.requests}) == 1  # one reused connection


def test_start_stop_without_with(default_dataset: Dataset) -> None:
    sim = RsServerSimulator(dataset=default_dataset)
    with pytest.raises(RuntimeError):
        _ = sim.url
    sim.start()
    url = sim.url
    assert requests.get(f"{url}/health", timeout=5).ok
    sim.stop()
    sim.stop()  # idempotent
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"{url}/health", timeout=2)


def _spawn(*args: str) -> tuple[subprocess.Popen[str], str]:
    env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1")
    process = subprocess.Popen(
        [sys.executable, "-m", "rs_core.testing.simulator", "--port", "0", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    return process, line


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_serve_in_a_subprocess(sig: signal.Signals) -> None:
    process, line = _spawn("--api-key", "secret")
    try:
        assert line.startswith("RS-Server simulator listening on http://127.0.0.1:")
        assert line.endswith(" (Ctrl-C to stop)")
        url = line.split(" on ", 1)[1].split(" ", 1)[0]
        assert requests.get(f"{url}/health", timeout=5).json() == {"healthy": True}
        check = requests.get(
            f"{url}/apikeymanager/check/api_key", headers={"x-api-key": "secret"}, timeout=5
        )
        assert check.status_code == 200 and "rs_adgs_read" in check.json()["iam_roles"]
        process.send_signal(sig)
        assert process.wait(timeout=10) == 0
        assert process.stderr is not None
        assert "Traceback" not in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_synthetic_50k_search() -> None:
    """A 50k-product dataset answers a whole-range search in one page, sorted (how fast is
    measured by the benchmarks, bench/run.py: no wall-clock assert on a shared machine)."""
    dataset = Dataset.synthetic(
        n_products=50_000, n_files=2_000, n_sessions=10, start=datetime(2024, 1, 1, tzinfo=UTC)
    )
    assert len(dataset.adgs_products) == 50_000
    with RsServerSimulator(dataset=dataset) as sim, requests.Session() as http:
        url = f"{sim.url}/adgs/aux/search"
        params = {"datetime": "2023-01-01T00:00:00Z/2025-01-01T00:00:00Z", "limit": 50_000}
        response = http.get(url, params=params, timeout=60)
        assert response.status_code == 200
        body = response.json()
        assert body["numberReturned"] == 50_000
        created = [f["properties"]["created"] for f in body["features"][:100]]
        assert created == sorted(created, reverse=True)
        station = http.get(url, params={**params, "sortby": "+doNotSort", "limit": 5}, timeout=30)
        expected = [p["Name"] for p in dataset.adgs_products[:5]]
        assert [f["id"] for f in station.json()["features"]] == expected


def test_synthetic_is_deterministic_and_consistent() -> None:
    one = Dataset.synthetic(n_products=10, n_files=20, n_sessions=3, seed=4)
    two = Dataset.synthetic(n_products=10, n_files=20, n_sessions=3, seed=4)
    other = Dataset.synthetic(n_products=10, n_files=20, n_sessions=3, seed=5)
    assert one.adgs_products == two.adgs_products
    assert one.adgs_products != other.adgs_products
    session_ids = {s["SessionId"] for s in one.cadip_sessions}
    assert {f["SessionId"] for f in one.cadip_files} == session_ids
    finals = [f for f in one.cadip_files if f["FinalBlock"]]
    assert len(finals) == 2 * len(session_ids)  # one final block per channel and session
    assert len({f["Name"] for f in one.cadip_files}) == 20
    with pytest.raises(ValueError):
        Dataset.synthetic(n_files=3, n_sessions=0)


def test_from_folder(tmp_path: Path, default_dataset: Dataset) -> None:
    import json

    (tmp_path / "adgs_products.json").write_text(
        json.dumps({"Data": default_dataset.adgs_products[:2]})
    )
    dataset = Dataset.from_folder(tmp_path)
    assert len(dataset.adgs_products) == 2 and dataset.cadip_files == []
    with RsServerSimulator(dataset=dataset) as sim:
        body = requests.get(
            f"{sim.url}/adgs/aux/search", params={"datetime": WIDE}, timeout=5
        ).json()
        assert body["numberReturned"] == 2
