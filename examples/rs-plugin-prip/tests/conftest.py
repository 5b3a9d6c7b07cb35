"""The kit's fixtures (``-p rs_core.testing.pytest_plugin`` in pyproject.toml), with the fake
PRIP service installed on its simulators."""

from __future__ import annotations

import pytest
from rs_prip_testing import FakePrip

from rs_core.testing.simulator import RsServerSimulator


@pytest.fixture
def prip_service() -> FakePrip:
    """A fresh PRIP service (products, staging jobs) for each test."""
    return FakePrip()


@pytest.fixture
def rs_simulator(rs_simulator: RsServerSimulator, prip_service: FakePrip) -> RsServerSimulator:
    """The kit's cluster-mode simulator, serving PRIP too."""
    prip_service.install(rs_simulator)
    return rs_simulator


@pytest.fixture
def rs_local_simulator(
    rs_local_simulator: RsServerSimulator, prip_service: FakePrip
) -> RsServerSimulator:
    """The kit's local-mode simulator, serving PRIP too."""
    prip_service.install(rs_local_simulator)
    return rs_local_simulator
