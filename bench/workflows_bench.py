"""rs-workflows benchmark: what a Prefect flow costs over ``stage_and_wait``, and 2 workers.

1. *In process*: 200 AUX files, 0.5 s of staging each at the simulator, staged by
   ``stage_and_wait`` (4 at a time) and by the ``stage-products`` flow (4 at a time, same
   poll interval) on Prefect's temporary local server; the ratio, with and without the
   server's start.
2. *On a server*: a real ``prefect server start``, the same 200 files as two deployments of
   100 (two time windows), both runs created at once, on one process worker (``--limit 1``:
   one run at a time) then on two.

Each measurement gets a fresh simulator (``bench/_server.py``, its own process) and a fresh
``PREFECT_HOME``. Ports: the Prefect server 9860-9869, its temporary servers 9870-9899.

    .venv/bin/python bench/workflows_bench.py            # writes its section of bench/results.md
    .venv/bin/python bench/workflows_bench.py --output -  # print only
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
BIN = Path(sys.executable).parent
FILES = 200
DURATION = 0.5
POLL = 0.5
WINDOW = ("2024-01-01T00:00:00Z", "2024-01-01T03:20:00Z")  # 200 products, one a minute
HALVES = (
    ("2024-01-01T00:00:00Z", "2024-01-01T01:39:59Z"),
    ("2024-01-01T01:40:00Z", "2024-01-01T03:20:00Z"),
)
HEADING = "## Workflows: a Prefect flow vs `stage_and_wait`, and 2 workers"


class Simulator:
    """``bench/_server.py`` in a child process, ``FILES`` products, fresh state."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(HERE / "_server.py"),
                "--products",
                str(FILES),
                "--files",
                "0",
                "--sessions",
                "0",
                "--staging-duration",
                str(DURATION),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.info = json.loads(self.proc.stdout.readline())
        self.url: str = self.info["url"]
        self.key: str = self.info["api_key"]

    def env(self) -> dict[str, str]:
        return {"RS_SERVER_HREF": self.url, "RSPY_APIKEY": self.key, "RS_API_VERSION": "v1"}

    def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def _port(ports: range) -> int:
    for port in ports:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise SystemExit(f"no free port in {ports}")


def direct() -> float:
    """``stage_and_wait`` of the 200 files."""
    import rs_core

    sim = Simulator()
    try:
        auxip = rs_core.get_station("auxip", rs_server_href=sim.url, rs_server_api_key=sim.key)
        names = [i.id for i in auxip.search_stations(*WINDOW, limit=FILES)]
        assert len(names) == FILES, len(names)
        started = time.perf_counter()
        report = auxip.stage_and_wait(
            names, s3_path="s3://bench/aux", concurrency=4, poll_interval=POLL
        )
        elapsed = time.perf_counter() - started
        assert report.ok, report.summary()
        return elapsed
    finally:
        sim.stop()


def in_process() -> tuple[float, float]:
    """``(server start, flow)`` seconds of the flow on Prefect's temporary server, in a child
    process with a fresh ``PREFECT_HOME``."""
    sim = Simulator()
    code = f"""
import json, time
t0 = time.perf_counter()
from rs_workflows.cli import prepare_prefect
prepare_prefect(quiet=True)
from prefect import flow
@flow
def noop() -> int:
    return 1
noop()
t1 = time.perf_counter()
from rs_workflows.flows import stage_products
report = stage_products(kind="auxip", start={WINDOW[0]!r}, stop={WINDOW[1]!r},
                        max_items={FILES}, collection="bench_aux", concurrency=4,
                        poll_interval={POLL}, s3_path="s3://bench/aux", publish=False)
t2 = time.perf_counter()
print(json.dumps({{"start": t1 - t0, "flow": t2 - t1, "summary": report["summary"]}}))
"""
    with tempfile.TemporaryDirectory(prefix="rs-wf-bench-") as home:
        env = {**os.environ, **sim.env(), **_prefect_env(home)}
        env.pop("PREFECT_API_URL", None)
        try:
            done = subprocess.run(
                [sys.executable, "-c", code],
                env=env,
                capture_output=True,
                text=True,
                timeout=1200,
                check=False,
            )
        finally:
            sim.stop()
    if done.returncode:
        raise SystemExit(done.stderr[-3000:])
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["summary"] == f"{FILES} files: {FILES} done; 0 published", result
    return result["start"], result["flow"]


def _prefect_env(home: str) -> dict[str, str]:
    return {
        "PREFECT_HOME": home,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_LOGGING_LEVEL": "CRITICAL",
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
        "RS_WORKFLOWS_SERVER_PORTS": "9870-9899",
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "RS_LEDGER": os.path.join(home, "ledger.sqlite3"),  # never the user's staging ledger
    }


def _kill(proc: subprocess.Popen[Any]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def on_server(n_workers: int) -> float:
    """Seconds until both 100-file runs are final, with ``n_workers`` workers."""
    sim = Simulator()
    home = tempfile.mkdtemp(prefix="rs-wf-bench-server-")
    port = _port(range(9860, 9870))
    env = {**os.environ, **_prefect_env(home), "PREFECT_API_URL": f"http://127.0.0.1:{port}/api"}
    procs: list[subprocess.Popen[Any]] = []
    try:
        procs.append(
            subprocess.Popen(
                [
                    str(BIN / "prefect"),
                    "server",
                    "start",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        )
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(env["PREFECT_API_URL"] + "/health", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("prefect server did not start") from None
                time.sleep(0.5)
        subprocess.run(
            [str(BIN / "prefect"), "work-pool", "create", "bench", "--type", "process"],
            env=env,
            check=True,
            capture_output=True,
            timeout=300,
        )
        for i, (start, stop) in enumerate(HALVES):
            subprocess.run(
                [
                    str(BIN / "rs"),
                    "workflow",
                    "deploy",
                    "stage-products",
                    "--kind",
                    "auxip",
                    "--start",
                    start,
                    "--stop",
                    stop,
                    "--collection",
                    f"bench_{i}",
                    "--poll-interval",
                    str(POLL),
                    "--pool",
                    "bench",
                    "--name",
                    f"half-{i}",
                ],
                env=env,
                check=True,
                capture_output=True,
                timeout=300,
            )
        worker_env = {**env, **sim.env()}
        for _ in range(n_workers):
            procs.append(
                subprocess.Popen(
                    [
                        str(BIN / "prefect"),
                        "worker",
                        "start",
                        "--pool",
                        "bench",
                        "--type",
                        "process",
                        "--limit",
                        "1",
                    ],
                    env=worker_env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )
        time.sleep(15)  # the workers register and poll (their start is not measured)
        return _run_both(env["PREFECT_API_URL"])
    finally:
        for proc in reversed(procs):
            _kill(proc)
        sim.stop()


def _run_both(api_url: str) -> float:
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with (
        temporary_settings(updates={PREFECT_API_URL: api_url}),
        get_client(sync_client=True) as client,
    ):
        ids = [
            client.create_flow_run_from_deployment(
                client.read_deployment_by_name(f"stage-products/half-{i}").id
            ).id
            for i in range(len(HALVES))
        ]
        started = time.perf_counter()
        while True:
            runs = [client.read_flow_run(i) for i in ids]
            if all(r.state is not None and r.state.is_final() for r in runs):
                break
            time.sleep(0.5)
        elapsed = time.perf_counter() - started
        assert all(r.state is not None and r.state.is_completed() for r in runs), runs
        return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--output",
        default=str(HERE / "results.md"),
        help="results file whose workflows section is replaced; - to print",
    )
    args = parser.parse_args()
    load = os.getloadavg()[0]
    t_direct = direct()
    t_start, t_flow = in_process()
    t_one = on_server(1)
    t_two = on_server(2)
    lines = [
        HEADING,
        "",
        f"`{' '.join(['python', 'bench/workflows_bench.py', *sys.argv[1:]])}` on "
        f"{platform.node() or 'this machine'} ({os.cpu_count()} cores, load {load:.1f} at the "
        f"start); {FILES} AUX files, {DURATION} s of staging each at the simulator, 4 at a "
        f"time, polls from {POLL} s.",
        "",
        "| run | seconds | vs `stage_and_wait` |",
        "|---|---|---|",
        f"| `stage_and_wait` (no Prefect) | {t_direct:.1f} | 1.00x |",
        f"| `stage-products` flow in process, `publish=False` (temporary server up) | "
        f"{t_flow:.1f} | "
        f"{t_flow / t_direct:.2f}x |",
        f"| the same, counting the temporary server's start ({t_start:.1f} s) | "
        f"{t_start + t_flow:.1f} | {(t_start + t_flow) / t_direct:.2f}x |",
        f"| 2 deployments x 100 files (staged and published) on a Prefect server, 1 worker "
        "(`--limit 1`) | "
        f"{t_one:.1f} | {t_one / t_direct:.2f}x |",
        f"| the same, 2 workers | {t_two:.1f} | {t_two / t_direct:.2f}x "
        f"(speed-up {t_one / t_two:.2f}x over 1 worker) |",
        "",
        f"- The flow's cost is Prefect's per task: {1000 * (t_flow - t_direct) / FILES:.0f} ms "
        "per file here (on RS-Server v1, one cached staging task per file, the key that makes "
        "a rerun send nothing twice; v2 has one task per item), plus the temporary server's "
        "start for a one-off `rs workflow run` (a served or deployed flow pays it once).",
        "- The server rows include publishing, worker hand-over and each flow run's process "
        "start; two workers take the two runs at once.",
        "- Shared 2-core machine: compare ratios, and look at the load.",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.output != "-":
        path = Path(args.output)
        old = path.read_text() if path.exists() else ""
        if HEADING in old:
            head, _, rest = old.partition(HEADING)
            tail = rest.split("\n## ", 1)
            old = head + ("## " + tail[1] if len(tail) > 1 else "")
        path.write_text(old.rstrip() + "\n\n" + text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
