"""rs-plugin-auxip against the rs-core station contract (the test kit)."""

from __future__ import annotations

from rs_core.testing.kit.station import StationContract

# The kit fixtures come from conftest.py (it imports rs_core.testing.pytest_plugin's fixtures:
# a non-root conftest may not set pytest_plugins). A plugin at the root of its own repository
# writes `pytest_plugins = ["rs_core.testing.pytest_plugin"]` in its conftest.py instead.


class TestAuxipContract(StationContract):
    kind = "auxip"
    station = "AUXIP"
    search_path = "/adgs/aux/search"
    staging_path = "/adgs/aux"
    status_path = "/adgs/aux/status"


class TestAuxipContractV2(StationContract):
    """The same contract on the simulator's RS-Server v2 face (detected, not configured)."""

    kind = "auxip"
    station = "AUXIP"
    api_version = "v2"
    search_path = "/auxip/collections/adgs/items"
    staging_path = "/processes/staging/execution"
    status_path = "/jobs"
