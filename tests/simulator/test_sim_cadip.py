"""CADIP v1 routes: file search, sessions and their quirks, stations."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from rs_core.testing.simulator import Dataset, RsServerSimulator

FIXTURES = Path("/work/shared/fixtures/rs-server-v1")
WIDE = "2000-01-01T00:00:00Z/2030-01-01T00:00:00Z"
SESSION = "S1A_20200105072204051312"
CONSTANT = "1970-01-01T12:00:00.000Z"


def get(
    sim: RsServerSimulator, http: requests.Session, path: str, **params: object
) -> requests.Response:
    return http.get(f"{sim.url}{path}", params=params, timeout=10)


def test_file_feature_mapping_with_1970_quirk(
    sim: RsServerSimulator, http: requests.Session, default_dataset: Dataset
) -> None:
    odata = default_dataset.cadip_files[0]
    body = get(sim, http, "/cadip/CADIP/cadu/search", session_id=odata["SessionId"]).json()
    feature = next(f for f in body["features"] if f["id"] == odata["Name"])
    assert feature["properties"] == {
        "created": odata["PublicationDate"],
        "datetime": CONSTANT,
        "start_datetime": CONSTANT,
        "end_datetime": CONSTANT,
        "eviction_datetime": odata["EvictionDate"],
        "cadip:id": odata["Id"],
        "cadip:retransfer": odata["Retransfer"],
        "cadip:final_block": odata["FinalBlock"],
        "cadip:block_number": odata["BlockNumber"],
        "cadip:channel": odata["Channel"],
        "cadip:session_id": odata["SessionId"],
    }
    assert feature["assets"] == {"file": {"file:size": int(odata["Size"])}}
    assert feature["geometry"] is None and feature["links"] == []
    if not (FIXTURES / "files_stac.json").is_file():
        pytest.skip("shared v1 fixtures not available")
    real = json.loads((FIXTURES / "files_stac.json").read_text())["CADIP"]["features"][0]
    assert set(feature) == set(real)
    assert set(real["properties"]) <= set(feature["properties"])


@pytest.mark.parametrize("station", ["CADIP", "INS", "MPS", "MTI", "NSG", "SGS", "mti"])
def test_every_station_serves_the_files(
    sim: RsServerSimulator, http: requests.Session, station: str
) -> None:
    response = get(sim, http, f"/cadip/{station}/cadu/search", datetime=WIDE, limit=5)
    assert response.status_code == 200
    assert response.json()["numberReturned"] == 5


def test_unknown_station_is_400(sim: RsServerSimulator, http: requests.Session) -> None:
    response = get(sim, http, "/cadip/XYZ/cadu/search", datetime=WIDE)
    assert response.status_code == 400
    assert response.json() == {"detail": "Unknown CADIP station: 'XYZ'"}


def test_missing_search_parameters(sim: RsServerSimulator, http: requests.Session) -> None:
    response = get(sim, http, "/cadip/CADIP/cadu/search")
    assert response.status_code == 400
    assert response.json() == {"detail": "Missing search parameters"}


def test_file_search_validation(sim: RsServerSimulator, http: requests.Session) -> None:
    path = "/cadip/MTI/cadu/search"
    assert get(sim, http, path, datetime="2020-01-01T00:00:00Z").status_code == 422
    assert get(sim, http, path, datetime="x/y").status_code == 400
    assert get(sim, http, path, datetime=WIDE, limit=0).json() == {
        "detail": "Pagination cannot be less 0"
    }
    inverted = get(sim, http, path, datetime="2024-01-02T00:00:00Z/2024-01-01T00:00:00Z")
    assert inverted.status_code == 503
    same = get(sim, http, path, datetime="2020-01-05T18:52:29Z/2020-01-05T18:52:29Z")
    assert same.status_code == 200 and same.json()["features"] == []


def test_file_search_by_sessions_and_datetime(
    sim: RsServerSimulator, http: requests.Session, default_dataset: Dataset
) -> None:
    ids = ["S1A_20200105072204051312", "S2B_20231117033237234567"]
    body = get(sim, http, "/cadip/CADIP/cadu/search", session_id=", ".join(ids)).json()
    expected = [f for f in default_dataset.cadip_files if f["SessionId"] in ids]
    assert body["numberReturned"] == len(expected)
    assert {f["properties"]["cadip:session_id"] for f in body["features"]} == set(ids)
    both = get(
        sim,
        http,
        "/cadip/CADIP/cadu/search",
        session_id=ids[0],
        datetime=WIDE.replace("2000", "2021"),
    ).json()
    assert both["features"] == []


def test_file_search_default_limit_is_1000_and_sorted(
    sim: RsServerSimulator, http: requests.Session
) -> None:
    features = get(sim, http, "/cadip/CADIP/cadu/search", datetime=WIDE).json()["features"]
    assert len(features) == 409
    created = [f["properties"]["created"] for f in features]
    assert created == sorted(created, reverse=True)


def test_session_feature_and_assets_list_quirk(
    sim: RsServerSimulator, http: requests.Session, default_dataset: Dataset
) -> None:
    body = get(sim, http, "/cadip/CADIP/session", id=SESSION).json()
    assert body["numberReturned"] == 1
    [feature] = body["features"]
    odata = next(s for s in default_dataset.cadip_sessions if s["SessionId"] == SESSION)
    props = feature["properties"]
    assert feature["id"] == SESSION
    assert props["start_datetime"] == odata["DownlinkStart"]
    assert props["end_datetime"] == odata["DownlinkStop"]
    assert props["published"] == odata["PublicationDate"]
    assert props["platform"] == "S1A"
    assert props["cadip:downlink_orbit"] == odata["DownlinkOrbit"]
    assert props["cadip:delivery_push_ok"] is True
    assets = feature["assets"]
    assert isinstance(assets, list)
    files = [f for f in default_dataset.cadip_files if f["SessionId"] == SESSION]
    assert len(assets) == len(files)
    first = assets[0]
    assert list(first) == [files[0]["Name"]]
    asset = first[files[0]["Name"]]
    assert asset["href"] == f"{sim.url}/cadip/cadip/cadu?name={files[0]['Name']}"
    assert asset["roles"] == ["cadu"]
    assert asset["file:size"] == int(files[0]["Size"])
    assert asset["cadip:channel"] == files[0]["Channel"]


def test_session_search_rules(sim: RsServerSimulator, http: requests.Session) -> None:
    path = "/cadip/CADIP/session"
    missing = get(sim, http, path)
    assert missing.status_code == 400 and missing.json() == {"detail": "Missing search parameters"}
    only_start = get(sim, http, path, start_date="2020-01-01T00:00:00Z")
    assert only_start.status_code == 400
    platforms = get(sim, http, path, platform="S1A").json()
    assert platforms["numberReturned"] == 4
    assert {f["properties"]["platform"] for f in platforms["features"]} == {"S1A"}
    several = get(sim, http, path, platform="S2B, S3A").json()
    assert {f["properties"]["platform"] for f in several["features"]} == {"S2B", "S3A"}
    assert get(sim, http, path, platform="S9Z").json()["features"] == []
    interval = get(
        sim, http, path, start_date="2023-01-01T00:00:00Z", stop_date="2024-01-01T00:00:00Z"
    ).json()
    assert sorted(f["id"] for f in interval["features"]) == [
        "S1A_20231120061537234567",
        "S2B_20231117033237234567",
    ]
    combined = get(
        sim,
        http,
        path,
        platform="S2B",
        start_date="2023-01-01T00:00:00Z",
        stop_date="2024-01-01T00:00:00Z",
    ).json()
    assert [f["id"] for f in combined["features"]] == ["S2B_20231117033237234567"]
    bad = get(sim, http, path, start_date="2023-01-01", stop_date="2024-01-01T00:00:00Z")
    assert bad.status_code == 400


def test_sessions_only_at_the_cadip_station(sim: RsServerSimulator, http: requests.Session) -> None:
    response = get(sim, http, "/cadip/MTI/session", id=SESSION)
    assert response.status_code == 500
    assert get(sim, http, "/cadip/MTI/session").status_code == 400
