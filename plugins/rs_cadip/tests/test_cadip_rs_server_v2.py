"""rs-plugin-cadip against the REAL RS-Server 0.2 CADIP service (the station contract, live).

Started by ``scripts/rs-server-v2 start`` (``./dev test`` does it); the URL comes from
``RS_TEST_V2_CADIP_URL``. Unset: skipped, unless ``RS_REQUIRE_RS_SERVER_V2=1`` (then failed).
Staging is skipped loudly: there is no real staging service (rs-server-staging 0.2 does not
install); v2 staging is proven against the simulator's v2 face (``test_cadip_contract.py``).
"""

from __future__ import annotations

import pytest

from rs_core.testing.kit.station import StationContract


@pytest.mark.rs_server_v2
class TestCadipRealRsServer02(StationContract):
    kind = "cadip"
    station = "MTI"  # RS-Server 0.2's default config has collections cadip, mti, sgs
    api_version = "v2"
    live_url_env = "RS_TEST_V2_CADIP_URL"
