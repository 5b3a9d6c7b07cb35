"""The kit's fixtures (``-p rs_core.testing.pytest_plugin`` in pyproject.toml), with the fake
EDRS service installed on its simulators."""

from __future__ import annotations

import pytest
from rs_edrs_testing import FakeEdrs

from rs_core.testing.simulator import RsServerSimulator


@pytest.fixture
def edrs_service() -> FakeEdrs:
    """A fresh EDRS service (products, staging jobs) for each test."""
    return FakeEdrs()


@pytest.fixture
def rs_simulator(rs_simulator: RsServerSimulator, edrs_service: FakeEdrs) -> RsServerSimulator:
    """The kit's cluster-mode simulator, serving EDRS too."""
    edrs_service.install(rs_simulator)
    return rs_simulator


@pytest.fixture
def rs_local_simulator(
    rs_local_simulator: RsServerSimulator, edrs_service: FakeEdrs
) -> RsServerSimulator:
    """The kit's local-mode simulator, serving EDRS too."""
    edrs_service.install(rs_local_simulator)
    return rs_local_simulator
