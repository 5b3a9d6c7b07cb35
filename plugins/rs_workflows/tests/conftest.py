"""Fixtures of the rs-workflows tests: Prefect on a temporary SQLite API, recent simulators.

``PREFECT_HOME`` is a temporary folder for the whole run (set before Prefect is imported), so
the tests never read or write the developer's Prefect state.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

_HOME = tempfile.mkdtemp(prefix="rs-workflows-prefect-")
os.environ["PREFECT_HOME"] = _HOME
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "120"
os.environ["PREFECT_LOGGING_LOGGERS_PREFECT_TASK_RUNS_LEVEL"] = "WARNING"
os.environ["PREFECT_SERVER_LOGGING_LEVEL"] = "CRITICAL"  # quiet shutdown of the test API
os.environ.pop("PREFECT_API_URL", None)

sys.path.insert(0, str(Path(__file__).parent))

from workflow_helpers import KEY, recent_dataset  # noqa: E402

from rs_core.testing.simulator import ApiKey, RsServerSimulator  # noqa: E402

HOSTS = ("RSPY_HOST_ADGS", "RSPY_HOST_CADIP", "RSPY_HOST_CATALOG", "RSPY_HOST_STAGING")


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    shutil.rmtree(_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def prefect_home() -> str:
    """The temporary ``PREFECT_HOME`` of this test run."""
    return _HOME


@pytest.fixture(scope="session")
def harness() -> Iterator[None]:
    """Prefect's test harness (a temporary API on SQLite), once for the session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


def _start(api_version: str, files: int, sessions: int, **options: Any) -> RsServerSimulator:
    sim = RsServerSimulator(
        api_keys={KEY: ApiKey.full_access("wfuser")},
        dataset=options.pop("dataset", None) or recent_dataset(files, sessions),
        staging_duration=options.pop("staging_duration", 0.1),
        api_version=api_version,
        **options,
    )
    sim.start()
    return sim


@pytest.fixture(params=["v1", "v2"])
def sim(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A cluster-mode simulator (v1, then v2) with recent sessions; the flows' environment
    points at it (``RS_SERVER_HREF``, ``RSPY_APIKEY``)."""
    simulator = _start(request.param, files=24, sessions=2)
    connect(monkeypatch, simulator)
    try:
        yield simulator
    finally:
        simulator.stop()
        _forget()


def connect(monkeypatch: pytest.MonkeyPatch, simulator: Any) -> None:
    """Point the process's rs-client settings at ``simulator`` (cluster mode)."""
    for name in HOSTS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RS_SERVER_HREF", simulator.url)
    monkeypatch.setenv("RSPY_APIKEY", KEY)
    monkeypatch.setenv("RS_API_VERSION", simulator.api_version)
    _forget()


def _forget() -> None:
    from rs_workflows.connect import forget_clients

    forget_clients()


@pytest.fixture
def make_sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Build and connect a simulator of one's own: ``make_sim("v1", files=..., ...)``."""
    started: list[RsServerSimulator] = []

    def make(api_version: str, files: int = 24, sessions: int = 2, **options: Any) -> Any:
        simulator = _start(api_version, files, sessions, **options)
        started.append(simulator)
        connect(monkeypatch, simulator)
        return simulator

    try:
        yield make
    finally:
        for simulator in started:
            simulator.stop()
        _forget()
