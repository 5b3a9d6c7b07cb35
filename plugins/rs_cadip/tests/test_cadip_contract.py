"""rs-plugin-cadip against the rs-core station contract (the test kit), on both generations."""

from __future__ import annotations

from rs_core.testing.kit.station import StationContract

# The kit fixtures come from conftest.py (it imports rs_core.testing.pytest_plugin's fixtures:
# a non-root conftest may not set pytest_plugins). A plugin at the root of its own repository
# writes `pytest_plugins = ["rs_core.testing.pytest_plugin"]` in its conftest.py instead.


class TestCadipContract(StationContract):
    """Runs once per generation the plugin declares (v1, v2: detected, not configured)."""

    kind = "cadip"
    station = "MTI"
    session_station = "CADIP"  # RS-Server v1 serves sessions only at the CADIP station
    search_path = "/cadip/{station}/cadu/search"
    staging_path = "/cadip/{station}/cadu"
    status_path = "/cadip/{station}/cadu/status"
    session_path = "/cadip/{station}/session"
    # v2 serves sessions at every station with a collection
    v2_search_path = "/cadip/collections/{station_lower}/items"
    v2_session_path = "/cadip/collections/{station_lower}/items"
    v2_id_search_path = "/cadip/search"
    v2_wire_sort_field = "published"  # sessions are sorted by the server, then their files
    v2_staging_path = "/processes/staging/execution"
    v2_status_path = "/jobs"
