"""The same day of work (search, stage, publish) with an API key, a session cookie and a bearer
token, in Python and with the ``rs`` command, against the simulator in cluster mode (v1 and v2)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

import rs_core
from rs_core.cli.main import main
from rs_core.http import HttpSettings
from rs_core.testing.kit.catalog import make_collection, make_item
from rs_core.testing.simulator import RsServerSimulator
from rs_core.testing.simulator.auth import TEST_USERS, identity_service

_, KEY, _ = TEST_USERS["alice"]
TOKEN = "alice-token-for-the-script"
FAST = HttpSettings(timeout=5, retries=1, deadline=30)


@pytest.fixture(params=["v1", "v2"])
def sim(request: pytest.FixtureRequest) -> Iterator[RsServerSimulator]:
    service = identity_service()  # its keys and users, on a v1 or v2 simulator
    server = RsServerSimulator(
        api_keys=dict(service._api_keys or {}),
        oauth2=service.oauth2,
        api_version=request.param,
        staging_duration=0.05,
    )
    assert server.oauth2 is not None
    server.oauth2.tokens[TOKEN] = server.oauth2.users["alice"][1]
    with server:
        yield server


def credentials(sim: RsServerSimulator) -> dict[str, dict[str, str]]:
    assert sim.oauth2 is not None
    return {
        "api-key": {"rs_server_api_key": KEY},
        "cookie": {"oauth2_cookie": sim.oauth2.cookie_for("alice")},
        "bearer": {"bearer_token": TOKEN},
    }


@pytest.mark.parametrize("method", ["api-key", "cookie", "bearer"])
def test_search_stage_publish_in_python(sim: RsServerSimulator, method: str) -> None:
    auxip = rs_core.get_station(
        "auxip", rs_server_href=sim.url, http_settings=FAST, **credentials(sim)[method]
    )
    files = auxip.search_stations("2016-01-01", "2030-01-01", limit=2)
    report = auxip.stage_and_wait(files, s3_path="s3://bucket/day", poll_interval=0.05)
    assert report.ok, report.summary()
    catalog = rs_core.get_catalog(client=auxip)
    name = f"day_{method.replace('-', '')}"
    catalog.add_collection(make_collection(name))
    catalog.add_item(name, make_item(f"{name}-item"))
    assert catalog.get_item(f"{name}-item", collection_id=name).id == f"{name}-item"
    assert auxip.owner_id == "alice"


@pytest.mark.parametrize("method", ["api-key", "cookie"])
def test_search_stage_publish_with_rs(
    sim: RsServerSimulator,
    method: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("RS_SERVER_HREF", sim.url)
    if method == "api-key":
        monkeypatch.setenv("RSPY_APIKEY", KEY)
    else:
        assert sim.oauth2 is not None
        monkeypatch.setattr("sys.stdin", io.StringIO(sim.oauth2.cookie_for("alice")))
        assert main(["login", "--cookie", "-"]) == 0  # a stored login, no env var
    capsys.readouterr()
    assert (
        main(
            [
                "search",
                "auxip",
                "--start",
                "2016-01-01",
                "--stop",
                "2030-01-01",
                "--limit",
                "1",
                "-o",
                "json",
            ]
        )
        == 0
    )
    name = json.loads(capsys.readouterr().out)["features"][0]["id"]
    if sim.api_version == "v1":  # v2: a new process stages what it searched only with the ledger
        assert main(["stage", "auxip", name, "--s3", "s3://bucket/day", "--wait", "-q"]) == 0
    coll = f"cli_{method.replace('-', '')}"
    assert main(["catalog", "add-collection", coll]) == 0
    item = tmp_path / "item.json"
    item.write_text(json.dumps(make_item(f"{coll}-item").to_dict()))
    assert main(["catalog", "add-item", coll, str(item)]) == 0
    capsys.readouterr()
    assert main(["catalog", "items", coll, "-o", "json"]) == 0
    assert [f["id"] for f in json.loads(capsys.readouterr().out)["features"]] == [f"{coll}-item"]
