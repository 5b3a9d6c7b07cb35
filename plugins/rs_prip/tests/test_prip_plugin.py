"""rs-plugin-prip is a first-party plugin: discovered, lazy, and typed."""

from __future__ import annotations

from rs_prip.client import PripClient

import rs_core
from rs_core.errors import UnknownStationError


def test_the_prip_kind_builds_the_first_party_client() -> None:
    prip = rs_core.get_station(
        "prip", rs_server_href="http://127.0.0.1:1", owner_id="me", rs_server_api_key="k"
    )
    assert type(prip) is PripClient
    assert prip.station_name == "PRIP"
    assert prip.v2_service == "prip"


def test_an_unknown_station_id_is_refused() -> None:
    try:
        PripClient.validate_station("CADIP")
    except UnknownStationError as err:
        assert "PRIP" in str(err)
    else:
        raise AssertionError("CADIP accepted as a PRIP station")
