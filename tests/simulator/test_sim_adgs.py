"""ADGS v1 routes: search mapping, validation errors, sorting, limits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from rs_core.testing.simulator import Dataset, RsServerSimulator

FIXTURES = Path("/work/shared/fixtures/rs-server-v1")
WIDE = "2000-01-01T00:00:00Z/2030-01-01T00:00:00Z"


def search(sim: RsServerSimulator, http: requests.Session, **params: object) -> requests.Response:
    return http.get(f"{sim.url}/adgs/aux/search", params=params, timeout=10)


def test_health(sim: RsServerSimulator, http: requests.Session) -> None:
    response = http.get(f"{sim.url}/health", timeout=5)
    assert response.status_code == 200
    assert response.json() == {"healthy": True}
    assert response.headers["Content-Type"] == "application/json"


def test_search_maps_odata_to_v1_feature(
    sim: RsServerSimulator, http: requests.Session, default_dataset: Dataset
) -> None:
    odata = default_dataset.adgs_products[0]
    response = search(sim, http, datetime="2019-02-16T00:00:00Z/2019-02-17T00:00:00Z")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"type", "numberMatched", "numberReturned", "features"}
    assert body["type"] == "FeatureCollection"
    feature = next(f for f in body["features"] if f["id"] == odata["Name"])
    assert feature == {
        "stac_version": "1.0.0",
        "stac_extensions": ["https://stac-extensions.github.io/file/v2.1.0/schema.json"],
        "type": "Feature",
        "id": odata["Name"],
        "geometry": None,
        "properties": {
            "datetime": odata["ContentDate"]["Start"],
            "start_datetime": odata["ContentDate"]["Start"],
            "end_datetime": odata["ContentDate"]["End"],
            "adgs:id": odata["Id"],
            "created": odata["PublicationDate"],
        },
        "links": [],
        "assets": {"file": {"file:size": int(odata["ContentLength"])}},
    }


def test_feature_shape_matches_real_v1_answer(
    sim: RsServerSimulator, http: requests.Session
) -> None:
    if not (FIXTURES / "files_stac.json").is_file():
        pytest.skip("shared v1 fixtures not available")
    real = json.loads((FIXTURES / "files_stac.json").read_text())["AUXIP"]["features"][0]
    ours = search(sim, http, datetime=WIDE, limit=1).json()["features"][0]
    assert set(ours) == set(real)
    assert set(real["properties"]) <= set(ours["properties"])
    assert set(ours["assets"]["file"]) == set(real["assets"]["file"])


def test_filter_on_publication_date_inclusive(
    sim: RsServerSimulator, http: requests.Session, default_dataset: Dataset
) -> None:
    odata = default_dataset.adgs_products[0]  # published 2019-02-16T18:29:37.522Z
    hit = search(sim, http, datetime="2019-02-16T18:29:37Z/2019-02-16T18:29:38Z").json()
    assert odata["Name"] in [f["id"] for f in hit["features"]]
    miss = search(sim, http, datetime="2019-02-16T18:29:38Z/2019-02-16T18:29:39Z").json()
    assert odata["Name"] not in [f["id"] for f in miss["features"]]


def test_number_matched_and_counts(
    sim: RsServerSimulator, http: requests.Session, default_dataset: Dataset
) -> None:
    body = search(sim, http, datetime=WIDE).json()
    assert body["numberMatched"] == body["numberReturned"] == len(body["features"])
    assert len(body["features"]) == len(default_dataset.adgs_products)
    assert "links" not in body  # no pagination in v1


def test_default_sort_is_created_descending(sim: RsServerSimulator, http: requests.Session) -> None:
    features = search(sim, http, datetime=WIDE).json()["features"]
    created = [f["properties"]["created"] for f in features]
    assert created == sorted(created, reverse=True)


def test_sort_ascending_and_do_not_sort(
    sim: RsServerSimulator, http: requests.Session, default_dataset: Dataset
) -> None:
    ascending = search(sim, http, datetime=WIDE, sortby="+created").json()["features"]
    created = [f["properties"]["created"] for f in ascending]
    assert created == sorted(created)
    station = search(sim, http, datetime=WIDE, sortby="+doNotSort").json()["features"]
    assert [f["id"] for f in station] == [p["Name"] for p in default_dataset.adgs_products]
    by_id = search(sim, http, datetime=WIDE, sortby="-id").json()["features"]
    assert [f["id"] for f in by_id] == sorted((f["id"] for f in by_id), reverse=True)


def test_limit_caps_after_sorting(sim: RsServerSimulator, http: requests.Session) -> None:
    full = search(sim, http, datetime=WIDE).json()["features"]
    capped = search(sim, http, datetime=WIDE, limit=3).json()
    assert [f["id"] for f in capped["features"]] == [f["id"] for f in full[:3]]
    assert capped["numberReturned"] == 3


def test_missing_datetime_is_fastapi_422(sim: RsServerSimulator, http: requests.Session) -> None:
    response = search(sim, http)
    assert response.status_code == 422
    assert response.json() == {
        "detail": [
            {
                "type": "missing",
                "loc": ["query", "datetime"],
                "msg": "Field required",
                "input": None,
            }
        ]
    }


def test_datetime_without_or_with_two_slashes_is_422(
    sim: RsServerSimulator, http: requests.Session
) -> None:
    for value in ("2020-01-01T00:00:00Z", "2020-01-01T00:00:00Z/2020-01-02T00:00:00Z/x"):
        response = search(sim, http, datetime=value)
        assert response.status_code == 422
        assert response.json() == {"detail": "Missing start/stop"}


def test_datetime_bad_format_is_400(sim: RsServerSimulator, http: requests.Session) -> None:
    for value in ("2020-01-01/2020-02-01", "2020-01-01T00:00:00.000Z/2020-02-01T00:00:00Z"):
        response = search(sim, http, datetime=value)
        assert response.status_code == 400
        assert response.json() == {"detail": "Missing start/stop"}


def test_limit_below_one_is_422(sim: RsServerSimulator, http: requests.Session) -> None:
    for value in (0, -5):
        response = search(sim, http, datetime=WIDE, limit=value)
        assert response.status_code == 422
        assert response.json() == {"detail": "Pagination cannot be less 0"}


def test_limit_not_an_integer_is_422_list(sim: RsServerSimulator, http: requests.Session) -> None:
    response = search(sim, http, datetime=WIDE, limit="ten")
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["type"] == "int_parsing" and error["loc"] == ["query", "limit"]


def test_inverted_range_is_503(sim: RsServerSimulator, http: requests.Session) -> None:
    response = search(sim, http, datetime="2024-01-02T00:00:00Z/2024-01-01T00:00:00Z")
    assert response.status_code == 503
    assert response.json()["detail"].startswith("General failure: Search timerange is inverted")


def test_equal_bounds_give_empty_answer(
    sim: RsServerSimulator, http: requests.Session, default_dataset: Dataset
) -> None:
    response = search(sim, http, datetime="2019-02-16T18:29:37Z/2019-02-16T18:29:37Z")
    assert response.status_code == 200
    assert response.json() == {
        "type": "FeatureCollection",
        "numberMatched": 0,
        "numberReturned": 0,
        "features": [],
    }


def test_unknown_route_and_method(sim: RsServerSimulator, http: requests.Session) -> None:
    assert http.get(f"{sim.url}/nope", timeout=5).status_code == 404
    response = http.post(f"{sim.url}/adgs/aux/search?datetime={WIDE}", timeout=5)
    assert response.status_code == 405
    assert response.json() == {"detail": "Method Not Allowed"}
