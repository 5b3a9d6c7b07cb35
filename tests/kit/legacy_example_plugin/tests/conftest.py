"""The kit's fixtures (``-p rs_core.testing.pytest_plugin`` in pyproject.toml), with the fake
OLDPRIP service installed on its simulators."""

from __future__ import annotations

import pytest
from rs_oldprip_testing import FakeOldPrip

from rs_core.testing.simulator import RsServerSimulator


@pytest.fixture
def oldprip_service() -> FakeOldPrip:
    """A fresh OLDPRIP service (products, staging jobs) for each test."""
    return FakeOldPrip()


@pytest.fixture
def rs_simulator(
    rs_simulator: RsServerSimulator, oldprip_service: FakeOldPrip
) -> RsServerSimulator:
    """The kit's cluster-mode simulator, serving OLDPRIP too."""
    oldprip_service.install(rs_simulator)
    return rs_simulator


@pytest.fixture
def rs_local_simulator(
    rs_local_simulator: RsServerSimulator, oldprip_service: FakeOldPrip
) -> RsServerSimulator:
    """The kit's local-mode simulator, serving OLDPRIP too."""
    oldprip_service.install(rs_local_simulator)
    return rs_local_simulator
