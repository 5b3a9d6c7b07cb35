"""rs-plugin-cadip against the REAL RS-Server 1.0 cadip and staging services (live contract).

Started by ``scripts/rs-server-1 start`` (``./dev test`` does it): RS-Server 1.0a4 in local mode
on our OData station simulator, with its real staging (PostgreSQL, moto S3, the 1.0 catalog).
URLs from ``RS_TEST_V10_*``; unset: skipped, unless ``RS_REQUIRE_RS_SERVER_1=1`` (then failed).
The kit's own staging test needs the simulator's request log and skips; staging is proven
below: a staged file ends DONE, with the station's bytes in S3 and its item in the catalog.
"""

from __future__ import annotations

from typing import Any

import pytest

from rs_core.testing.kit.station import StationContract


@pytest.mark.rs_server_1
class TestCadipRealRsServer10(StationContract):
    kind = "cadip"
    station = "MTI"  # collections cadip, mti, sgs in the shipped 1.0 config
    api_version = "v2"
    live_url_env = "RS_TEST_V10_CADIP_URL"
    require_live_env = "RS_REQUIRE_RS_SERVER_1"

    def test_staged_file_is_in_s3_and_in_the_catalog(
        self, rs_server_1: Any, station_client: Any
    ) -> None:
        items = self.search_all(station_client, limit=20)
        rs_server_1.check_staging(station_client, items[len(items) // 2])
