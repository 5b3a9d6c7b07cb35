"""Fixtures of the rs-plugin-prip tests: the kit's simulator and fast clients."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from rs_prip import PripClient

from rs_core.http import HttpSettings
from rs_core.testing.pytest_plugin import KIT_API_KEY  # fixtures: the root conftest

FAST = HttpSettings(timeout=10.0, connect_timeout=5.0, retries=2, backoff_factor=0.01)


@pytest.fixture
def sim(rs_simulator: Any) -> Any:
    """Cluster-mode simulator (key ``KIT_API_KEY``), no recorded requests, no faults."""
    return rs_simulator


@pytest.fixture
def client(sim: Any) -> Iterator[PripClient]:
    """A cluster-mode PRIP client with fast retries."""
    with PripClient(sim.url, KIT_API_KEY, "tester", http_settings=FAST) as prip:
        yield prip
