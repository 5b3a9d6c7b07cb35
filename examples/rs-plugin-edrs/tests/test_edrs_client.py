"""What EDRS adds to the contract: product types, the ``rs edrs-types`` command, discovery."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from rs_edrs.client import EdrsClient
from rs_edrs_testing import PRODUCT_TYPES, FakeEdrs

import rs_core
from rs_core.cli.main import main
from rs_core.http import HttpSettings
from rs_core.testing.simulator import RsServerSimulator

YEAR = ("2024-01-01", "2025-01-01")
FAST = HttpSettings(timeout=10.0, connect_timeout=5.0, retries=2, backoff_factor=0.01)


@pytest.fixture
def edrs(rs_simulator: RsServerSimulator, rs_api_key: str) -> Iterator[EdrsClient]:
    """A EDRS client built through discovery, as a user would."""
    with rs_core.get_station(
        "edrs", rs_server_href=rs_simulator.url, rs_server_api_key=rs_api_key, http_settings=FAST
    ) as client:
        yield client


def test_discovery_finds_the_kind(rs_simulator: RsServerSimulator, rs_api_key: str) -> None:
    parent = rs_core.RsClient(rs_simulator.url, rs_api_key, "alice")
    assert isinstance(parent.get_edrs_client(), EdrsClient)
    assert parent.get_station_client("edrs", "edrs").station_name == "EDRS"
    [info] = [p for p in rs_core.list_plugins() if p.kind == "edrs"]
    assert (info.distribution, info.state) == ("rs-plugin-edrs", "ok")


def test_search_by_product_type(edrs: EdrsClient, rs_simulator: RsServerSimulator) -> None:
    found = edrs.search_stations(*YEAR, product_type="S2B_MSIL1C")
    assert len(found) == 3
    assert {i.properties["edrs:product_type"] for i in found} == {"S2B_MSIL1C"}
    [sent] = rs_simulator.requests
    assert sent.query["product_type"] == ["S2B_MSIL1C"]
    assert len(edrs.search_stations(*YEAR)) == 9


@pytest.mark.parametrize("bad", ["", "  ", 42])
def test_bad_product_type_sends_nothing(
    edrs: EdrsClient, rs_simulator: RsServerSimulator, bad: object
) -> None:
    with pytest.raises(rs_core.InvalidInputError, match="product_type"):
        edrs.search_stations(*YEAR, product_type=bad)  # type: ignore[arg-type]
    assert rs_simulator.requests == []


def test_stage_and_wait_reports_a_failure(edrs: EdrsClient, edrs_service: FakeEdrs) -> None:
    files = list(edrs.search_stations(*YEAR, limit=3))
    edrs_service.fail(files[0].id, "disk full at the station")
    report = edrs.stage_and_wait(files, poll_interval=0.05, timeout=20)
    assert len(report.done) == 2
    [failed] = report.failed
    assert (failed.name, failed.message) == (files[0].id, "disk full at the station")


def test_product_types(edrs: EdrsClient) -> None:
    assert edrs.product_types() == list(PRODUCT_TYPES)


def test_cli_command(
    rs_simulator: RsServerSimulator, rs_api_key: str, capsys: pytest.CaptureFixture[str]
) -> None:
    options = ["--href", rs_simulator.url, "--api-key", rs_api_key]
    assert main(["edrs-types", *options]) == 0
    assert capsys.readouterr().out.split() == list(PRODUCT_TYPES)
    assert main(["edrs-types", *options, "-o", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == list(PRODUCT_TYPES)
    assert main(["search", "edrs", "--start", YEAR[0], "--stop", YEAR[1], *options]) == 0
    assert "9 file(s) at EDRS" in capsys.readouterr().err


def test_cli_command_reports_errors(
    rs_simulator: RsServerSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["edrs-types", "--href", rs_simulator.url, "--api-key", "wrong-key"]) == 1
    assert "EDRS product types request failed" in capsys.readouterr().err


def test_rs_plugins_check_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins", "--check", "rs-plugin-edrs"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert "rs_register_stations() yields 1 record(s)" in out
    assert "rs_register_commands() yields 1 record(s)" in out
