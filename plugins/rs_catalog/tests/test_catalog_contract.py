"""The catalog kit's contract, run against the simulator and both real STAC servers."""

from __future__ import annotations

from typing import Any

import pytest
from rs_catalog import StacClient

from rs_core.testing.kit.catalog import CatalogContract


class TestSimulatorContract(CatalogContract):
    @pytest.fixture
    def catalog_client(self, sim_client: StacClient) -> Any:
        return sim_client


@pytest.mark.stac_server
class TestPgstacContract(CatalogContract):
    @pytest.fixture
    def catalog_client(self, pgstac_client: StacClient) -> Any:
        return pgstac_client


@pytest.mark.stac_server
class TestRscatalogContract(CatalogContract):
    @pytest.fixture
    def catalog_client(self, rscatalog_client: StacClient) -> Any:
        return rscatalog_client
