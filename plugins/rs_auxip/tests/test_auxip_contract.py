"""rs-plugin-auxip against the rs-core station contract (the test kit), on both generations."""

from __future__ import annotations

from rs_core.testing.kit.station import StationContract

# The kit fixtures come from conftest.py (it imports rs_core.testing.pytest_plugin's fixtures:
# a non-root conftest may not set pytest_plugins). A plugin at the root of its own repository
# writes `pytest_plugins = ["rs_core.testing.pytest_plugin"]` in its conftest.py instead.


class TestAuxipContract(StationContract):
    """Runs once per generation the plugin declares (v1, v2: detected, not configured)."""

    kind = "auxip"
    station = "AUXIP"
    search_path = "/adgs/aux/search"
    staging_path = "/adgs/aux"
    status_path = "/adgs/aux/status"
    v2_search_path = "/auxip/collections/adgs/items"
    v2_staging_path = "/processes/staging/execution"
    v2_status_path = "/jobs"
