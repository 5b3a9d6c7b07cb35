"""rs-plugin-cadip against the rs-core station contract (the test kit)."""

from __future__ import annotations

from rs_core.testing.kit.station import StationContract

# The kit fixtures come from conftest.py (it imports rs_core.testing.pytest_plugin's fixtures:
# a non-root conftest may not set pytest_plugins). A plugin at the root of its own repository
# writes `pytest_plugins = ["rs_core.testing.pytest_plugin"]` in its conftest.py instead.


class TestCadipContract(StationContract):
    kind = "cadip"
    station = "MTI"
    session_station = "CADIP"  # RS-Server v1 serves sessions only at the CADIP station
    search_path = "/cadip/{station}/cadu/search"
    staging_path = "/cadip/{station}/cadu"
    status_path = "/cadip/{station}/cadu/status"
    session_path = "/cadip/{station}/session"


class TestCadipContractV2(StationContract):
    """The same contract on the simulator's RS-Server v2 face (detected, not configured)."""

    kind = "cadip"
    station = "MTI"  # v2 serves sessions at every station with a collection
    api_version = "v2"
    search_path = "/cadip/collections/{station_lower}/items"
    session_path = "/cadip/collections/{station_lower}/items"
    id_search_path = "/cadip/search"
    wire_sort_field = "published"  # sessions are sorted by the server, then their files
    staging_path = "/processes/staging/execution"
    status_path = "/jobs"
