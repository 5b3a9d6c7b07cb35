"""Fixtures of the rs-plugin-cadip tests: the kit's simulators and fast clients."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from rs_cadip import CadipClient

from rs_core.http import HttpSettings
from rs_core.testing.pytest_plugin import KIT_API_KEY  # fixtures: the root conftest

FAST = HttpSettings(timeout=10.0, connect_timeout=5.0, retries=2, backoff_factor=0.01)


@pytest.fixture
def sim(rs_simulator: Any) -> Any:
    """Cluster-mode simulator (key ``KIT_API_KEY``), no recorded requests, no faults."""
    return rs_simulator


@pytest.fixture
def client(sim: Any) -> Iterator[CadipClient]:
    """A cluster-mode CADIP client (station CADIP, which serves sessions) with fast retries."""
    with CadipClient(sim.url, KIT_API_KEY, "tester", "CADIP", http_settings=FAST) as cadip:
        yield cadip
