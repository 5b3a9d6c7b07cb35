"""pytest fixtures of the rs-core test kit (opt-in).

Activate it in a ``conftest.py`` (it is deliberately *not* a ``pytest11`` entry point, so a
plain ``pip install rs-core`` never loads pytest code into other projects' test runs)::

    pytest_plugins = ["rs_core.testing.pytest_plugin"]

Then subclass the contract classes of :mod:`rs_core.testing.kit` and use the fixtures:

``rs_simulator``
    An :class:`~rs_core.testing.simulator.RsServerSimulator` in cluster mode (API key
    :data:`KIT_API_KEY` with every station role), started once per module; like every
    simulator it serves each installed station plugin's fake station (``StationType.fake``).
``rs_local_simulator``
    The same in local mode (no authentication), started once per module.
``rs_simulator_v2``, ``rs_local_simulator_v2``
    The same two, speaking RS-Server v2 (0.2: STAC stations, OGC staging).
``rs_api_key``
    The key the cluster-mode simulator accepts.
``rs_isolated_ledger`` (autouse)
    Each test's staging ledger is a file of its own (env ``RS_LEDGER``), never the user's.
``rs_http_settings``
    Fast :class:`~rs_core.HttpSettings` for tests (2 retries, 10 ms backoff, 10 s timeout).

Every fixture using a simulator forgets its recorded requests and faults before each test.

Example::

    def test_health(rs_simulator):
        import requests
        assert requests.get(rs_simulator.url + "/health").json() == {"healthy": True}
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from rs_core.http import HttpSettings

# The kit's contract classes assert a lot: let pytest rewrite them for readable failures.
pytest.register_assert_rewrite("rs_core.testing.kit")

__all__ = [
    "KIT_API_KEY",
    "KIT_USER",
    "rs_api_key",
    "rs_http_settings",
    "rs_isolated_ledger",
    "rs_local_simulator",
    "rs_local_simulator_v2",
    "rs_simulator",
    "rs_simulator_v2",
]

KIT_API_KEY = "rs-kit-api-key-0123456789"
KIT_USER = "kituser"
KIT_STAGING_DURATION = 0.2


def _start(api_keys: dict[str, Any] | None, api_version: str = "v1") -> Any:
    from rs_core.testing.simulator import RsServerSimulator

    sim = RsServerSimulator(
        api_keys=api_keys, staging_duration=KIT_STAGING_DURATION, seed=0, api_version=api_version
    )
    return sim.start()


@pytest.fixture(scope="module")
def _rs_simulator_module() -> Iterator[Any]:
    from rs_core.testing.simulator import ApiKey

    sim = _start({KIT_API_KEY: ApiKey.full_access(KIT_USER)})
    try:
        yield sim
    finally:
        sim.stop()


@pytest.fixture(scope="module")
def _rs_local_simulator_module() -> Iterator[Any]:
    sim = _start(None)
    try:
        yield sim
    finally:
        sim.stop()


@pytest.fixture(scope="module")
def _rs_simulator_v2_module() -> Iterator[Any]:
    from rs_core.testing.simulator import ApiKey

    sim = _start({KIT_API_KEY: ApiKey.full_access(KIT_USER)}, "v2")
    try:
        yield sim
    finally:
        sim.stop()


@pytest.fixture(scope="module")
def _rs_local_simulator_v2_module() -> Iterator[Any]:
    sim = _start(None, "v2")
    try:
        yield sim
    finally:
        sim.stop()


def _fresh(sim: Any) -> Any:
    sim.clear_faults()
    sim.clear_requests()
    return sim


@pytest.fixture
def rs_simulator(_rs_simulator_module: Any) -> Iterator[Any]:
    """A cluster-mode simulator (key :data:`KIT_API_KEY`), clean for this test."""
    yield _fresh(_rs_simulator_module)
    _rs_simulator_module.clear_faults()


@pytest.fixture
def rs_local_simulator(_rs_local_simulator_module: Any) -> Iterator[Any]:
    """A local-mode simulator (no authentication), clean for this test."""
    yield _fresh(_rs_local_simulator_module)
    _rs_local_simulator_module.clear_faults()


@pytest.fixture
def rs_simulator_v2(_rs_simulator_v2_module: Any) -> Iterator[Any]:
    """A cluster-mode RS-Server v2 simulator (key :data:`KIT_API_KEY`), clean for this test."""
    yield _fresh(_rs_simulator_v2_module)
    _rs_simulator_v2_module.clear_faults()


@pytest.fixture
def rs_local_simulator_v2(_rs_local_simulator_v2_module: Any) -> Iterator[Any]:
    """A local-mode RS-Server v2 simulator (no authentication), clean for this test."""
    yield _fresh(_rs_local_simulator_v2_module)
    _rs_local_simulator_v2_module.clear_faults()


@pytest.fixture
def rs_api_key() -> str:
    """The API key the ``rs_simulator`` accepts."""
    return KIT_API_KEY


@pytest.fixture
def rs_http_settings() -> HttpSettings:
    """Fast HTTP settings for tests: few retries, tiny backoff."""
    return HttpSettings(timeout=10.0, connect_timeout=5.0, retries=2, backoff_factor=0.01)


@pytest.fixture(autouse=True)
def rs_isolated_ledger(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Every test gets its own staging ledger file (env ``RS_LEDGER``, inherited by the
    processes it starts): tests never read or write the user's ledger."""
    monkeypatch.setenv("RS_LEDGER", str(tmp_path_factory.mktemp("ledger") / "ledger.sqlite3"))
