"""rs-plugin-prip is a first-party plugin: discovered, typed, and v2-only; bad input sends
nothing (no simulator PRIP face needed)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from rs_prip.client import PripClient
from rs_prip.protocol_v2 import PripProtocolV2

import rs_core
from rs_core.errors import (
    InvalidInputError,
    NotFoundError,
    UnknownStationError,
    UnsupportedOperationError,
)
from rs_core.http import HttpSettings
from rs_core.testing.pytest_plugin import KIT_API_KEY

FAST = HttpSettings(timeout=10.0, connect_timeout=5.0, retries=2, backoff_factor=0.01)

START, STOP = "2024-06-01", "2024-09-01"


def test_the_prip_kind_builds_the_first_party_client() -> None:
    prip = rs_core.get_station(
        "prip", rs_server_href="http://127.0.0.1:1", owner_id="me", rs_server_api_key="k"
    )
    assert type(prip) is PripClient
    assert prip.station_name == "PRIP" and prip.v2_service == "prip"
    assert prip.default_collection == "prip_staged"


def test_an_unknown_station_id_is_refused() -> None:
    with pytest.raises(UnknownStationError, match="PRIP"):
        PripClient.validate_station("CADIP")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"product_type": ""},
        {"product_type": 3},
        {"platform": "S9Z"},
        {"platform": ""},
        {"collection": ""},
        {"collection": ["S2B_L0_DS", ""]},
        {"filter": "product:type =="},
        {"bbox": [0, 0, 1]},
        {"intersects": {"type": "Polygon"}},
        {"sortby": "datetime"},
        {"max_items": 0},
        {"page_size": -2},
        {"limit": 0},
    ],
)
def test_bad_input_sends_nothing(rs_simulator_v2: Any, kwargs: dict[str, Any]) -> None:
    prip = PripClient(rs_simulator_v2.url, KIT_API_KEY, "tester", http_settings=FAST)
    with prip, pytest.raises(InvalidInputError):
        prip.search_stations(START, STOP, **kwargs)
    assert rs_simulator_v2.requests == []


class _NoPrip(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.send_response(404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "22")
        self.end_headers()
        self.wfile.write(b'{"detail":"Not Found"}')


def test_a_server_without_prip_is_an_error_not_an_empty_result() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NoPrip)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with PripClient(url, KIT_API_KEY, "tester", http_settings=FAST) as prip:
            with pytest.raises((UnsupportedOperationError, NotFoundError)) as info:
                prip.search_stations(START, STOP)
            assert "PRIP" in str(info.value)
    finally:
        server.shutdown()
        server.server_close()


def test_platform_codes_become_rs_server_names() -> None:
    from rs_prip.client import _platform

    assert _platform("S2B") == "sentinel-2b" and _platform("s1a") == "sentinel-1a"
    assert _platform("sentinel-5P") == "sentinel-5P"


def test_a_product_is_one_file_level_item() -> None:
    product = {
        "id": "S2B_OPER_MSI_L0__DS_X",
        "properties": {"published": "2024-06-16T22:25:39Z", "product:type": "OPER_MSI"},
        "assets": {
            "S2B_OPER_MSI_L0__DS_X": {
                "href": "http://station/Products(1)/$value",
                "roles": ["data", "metadata"],
                "file:size": 108544,
                "file:checksum": "$.Checksum[0].Value",
            }
        },
    }
    [file] = PripProtocolV2.explode(product, "S2B_L0_DS")
    assert file["id"] == "S2B_OPER_MSI_L0__DS_X" and file["collection"] == "S2B_L0_DS"
    assert file["assets"] == {
        "file": {
            "href": "http://station/Products(1)/$value",
            "roles": ["data", "metadata"],
            "file:size": 108544,
        }
    }, "the unevaluated checksum template is dropped"
    assert file["properties"]["product:type"] == "OPER_MSI"
