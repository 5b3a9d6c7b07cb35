"""The v2 face beyond the recordings: CQL2, paging, auth, staging jobs, CLI flag."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from rs_core.testing.simulator import ApiKey, Dataset, RsServerSimulator
from rs_core.testing.simulator.__main__ import main  # noqa: F401  (the --api flag exists)
from rs_core.testing.simulator.cql2 import Cql2Error, matches, parse

DT = "2019-01-01T00:00:00Z/2024-12-31T23:59:59Z"


@pytest.fixture
def v2(default_dataset: Dataset) -> Iterator[RsServerSimulator]:
    with RsServerSimulator(
        dataset=default_dataset, api_version="v2", staging_duration=0.1
    ) as simulator:
        yield simulator


def _get(sim: RsServerSimulator, path: str, **params: Any) -> requests.Response:
    return requests.get(sim.url + path, params=params, timeout=10)


def _wait(sim: RsServerSimulator, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 5
    while True:
        job: dict[str, Any] = _get(sim, f"/jobs/{job_id}").json()
        if job["status"] not in ("accepted", "running") or time.monotonic() > deadline:
            return job
        time.sleep(0.02)


def _create_collection(
    sim: RsServerSimulator, owner: str, coll: str, key: str | None = None
) -> None:
    body = {
        "type": "Collection",
        "id": coll,
        "owner": owner,
        "description": "d",
        "license": "other",
        "stac_version": "1.0.0",
        "extent": {
            "spatial": {"bbox": [[-180, -90, 180, 90]]},
            "temporal": {"interval": [[None, None]]},
        },
        "links": [],
    }
    headers = {"x-api-key": key} if key else {}
    response = requests.post(
        f"{sim.url}/catalog/collections", json=body, headers=headers, timeout=10
    )
    assert response.status_code == 201, response.text


def test_api_version_attribute_and_v1_routes_absent(v2: RsServerSimulator) -> None:
    assert v2.api_version == "v2" and v2.jobs == []
    assert _get(v2, "/adgs/aux/search", datetime=DT).status_code == 404
    with pytest.raises(ValueError):
        RsServerSimulator(api_version="v3")


def test_paging_by_next_links_covers_everything(v2: RsServerSimulator) -> None:
    everything = _get(v2, "/auxip/collections/adgs/items", datetime=DT, limit=1000).json()
    ids: list[str] = []
    url: str | None = f"{v2.url}/auxip/collections/adgs/items?datetime={DT}&limit=10"
    pages = 0
    while url:
        body = requests.get(url, timeout=10).json()
        ids += [f["id"] for f in body["features"]]
        url = next((lk["href"] for lk in body["links"] if lk["rel"] == "next"), None)
        pages += 1
    assert ids == [f["id"] for f in everything["features"]]
    assert len(ids) == 93 and pages == 10


def test_cql2_text_and_json(v2: RsServerSimulator) -> None:
    text = _get(
        v2,
        "/auxip/collections/adgs/items",
        filter="platform='sentinel-3a' and product:type='AX___OSF_AX'",
        limit=50,
    ).json()
    assert text["features"] and all(
        f["properties"]["platform"] == "sentinel-3a" for f in text["features"]
    )
    body = {
        "collections": ["cadip"],
        "filter-lang": "cql2-json",
        "filter": {
            "op": "and",
            "args": [
                {"op": "=", "args": [{"property": "platform"}, "sentinel-1a"]},
                {
                    "op": "t_after",
                    "args": [{"property": "datetime"}, {"timestamp": "2022-01-01T00:00:00Z"}],
                },
            ],
        },
    }
    found = requests.post(f"{v2.url}/cadip/search", json=body, timeout=10).json()
    assert [f["id"] for f in found["features"]] == [
        "S1A_20231120061537234567",
        "S1A_20220715090550123456",
    ]


@pytest.mark.parametrize(
    "flt",
    ["end_datetime>'2024-01-01T00:00:00Z'", "platform='a' or platform='b'", "platform like 'x%'"],
)
def test_unsupported_cql2_is_422(v2: RsServerSimulator, flt: str) -> None:
    response = _get(v2, "/auxip/collections/adgs/items", filter=flt)
    assert response.status_code == 422
    post = requests.post(
        f"{v2.url}/auxip/search",
        json={"collections": ["adgs"], "filter": {"op": "<", "args": [{"property": "x"}, 1]}},
        timeout=10,
    )
    assert post.status_code == 422


def test_cql2_module_temporal() -> None:
    node = parse("t_during(datetime, INTERVAL('2020-01-01T00:00:00Z', '..'))", "cql2-text")
    assert matches(node, {"datetime": "2021-01-01T00:00:00Z"})
    assert not matches(node, {"datetime": "2019-01-01T00:00:00Z"})
    with pytest.raises(Cql2Error):
        parse("not platform='x'", None)


def test_limit_validation_and_unknown_collection(v2: RsServerSimulator) -> None:
    assert _get(v2, "/auxip/collections/adgs/items", limit=0).status_code == 422
    assert _get(v2, "/auxip/collections/adgs/items", limit="x").status_code == 422
    unknown = _get(v2, "/cadip/collections/nope/items")
    assert unknown.status_code == 404 and unknown.json()["code"] == "NotFound"


def test_cluster_mode_roles(default_dataset: Dataset) -> None:
    keys = {
        "k": ApiKey.full_access("alice"),
        "mti": ApiKey(user_login="bob", iam_roles=["rs_cadip_mti_read"]),
    }
    with RsServerSimulator(dataset=default_dataset, api_keys=keys, api_version="v2") as sim:
        assert _get(sim, "/auxip/collections").status_code == 403
        assert (
            requests.get(
                f"{sim.url}/auxip/collections", headers={"x-api-key": "bad"}, timeout=10
            ).status_code
            == 403
        )
        ok = requests.get(f"{sim.url}/auxip/collections", headers={"x-api-key": "k"}, timeout=10)
        assert ok.status_code == 200 and ok.json()["numberReturned"] == 20
        listed = requests.get(
            f"{sim.url}/cadip/collections", headers={"x-api-key": "mti"}, timeout=10
        ).json()
        assert {c["station"] for c in listed["collections"]} == {"mti"}
        denied = requests.get(
            f"{sim.url}/cadip/collections/cadip/items", headers={"x-api-key": "mti"}, timeout=10
        )
        assert denied.status_code == 401


def test_staging_href_success_lands_in_catalog(default_dataset: Dataset) -> None:
    keys = {"k": ApiKey.full_access("test_user")}
    with RsServerSimulator(
        dataset=default_dataset, api_keys=keys, api_version="v2", staging_duration=0.1
    ) as sim:
        _create_collection(sim, "testuser", "my_aux", "k")
        body = {
            "inputs": {
                "collection": "my_aux",
                "items": {"href": f"{sim.url}/auxip/search?collections=adgs&limit=2"},
            }
        }
        headers = {"x-api-key": "k"}
        response = requests.post(
            f"{sim.url}/processes/staging/execution", json=body, headers=headers, timeout=10
        )
        assert response.status_code == 201
        job = response.json()
        assert job["status"] == "accepted" and job["progress"] == 0
        running = requests.get(f"{sim.url}/jobs/{job['jobID']}", headers=headers, timeout=10).json()
        assert running["status"] == "running"
        deadline = time.monotonic() + 5
        while running["status"] == "running" and time.monotonic() < deadline:
            time.sleep(0.02)
            running = requests.get(
                f"{sim.url}/jobs/{job['jobID']}", headers=headers, timeout=10
            ).json()
        assert running["status"] == "successful" and running["progress"] == 100
        assert sim.jobs[0]["owner"] == "testuser" and len(sim.jobs[0]["items"]) == 2
        items = requests.get(
            f"{sim.url}/catalog/collections/testuser:my_aux/items", headers=headers, timeout=10
        ).json()
        assert len(items["features"]) == 2
        asset = next(iter(items["features"][0]["assets"].values()))
        assert asset["alternate"]["s3"]["href"].startswith(
            "s3://rs-cluster-catalog/stations/testuser/my_aux/"
        )


def test_staging_value_cadip_session_and_fail_staging(v2: RsServerSimulator) -> None:
    _create_collection(v2, "me", "sessions")
    session = _get(v2, "/cadip/collections/cadip/items/S1A_20231120061537234567").json()
    body = {
        "inputs": {
            "collection": "sessions",
            "owner": "me",
            "items": {"value": {"type": "FeatureCollection", "features": [session]}},
        }
    }
    first = requests.post(f"{v2.url}/processes/staging/execution", json=body, timeout=10).json()
    assert _wait(v2, first["jobID"])["status"] == "successful"
    stored = requests.get(
        f"{v2.url}/catalog/collections/me:sessions/items/S1A_20231120061537234567", timeout=10
    ).json()
    assert len(stored["assets"]) == 60
    v2.fail_staging("S1A_20231120061537234567", "boom")
    second = requests.post(f"{v2.url}/processes/staging/execution", json=body, timeout=10).json()
    final = _wait(v2, second["jobID"])
    assert final["status"] == "failed" and final["message"] == "boom"


def test_staging_unknown_items_fail_at_once_and_dismiss(v2: RsServerSimulator) -> None:
    _create_collection(v2, "me", "c")
    unknown = {
        "inputs": {
            "collection": "c",
            "owner": "me",
            "items": {"value": {"type": "FeatureCollection", "features": [{"id": "nope"}]}},
        }
    }
    response = requests.post(f"{v2.url}/processes/staging/execution", json=unknown, timeout=10)
    assert response.status_code == 201 and response.json()["status"] == "failed"
    bad_href = {"inputs": {"collection": "c", "owner": "me", "items": {"href": "http://x/y"}}}
    again = requests.post(f"{v2.url}/processes/staging/execution", json=bad_href, timeout=10)
    assert again.status_code == 201 and again.json()["status"] == "failed"
    good = {
        "inputs": {
            "collection": "c",
            "owner": "me",
            "items": {"href": f"{v2.url}/auxip/collections/adgs/items?limit=1"},
        }
    }
    job = requests.post(f"{v2.url}/processes/staging/execution", json=good, timeout=10).json()
    dismissed = requests.delete(f"{v2.url}/jobs/{job['jobID']}", timeout=10)
    assert dismissed.status_code == 200 and dismissed.json()["status"] == "dismissed"
    time.sleep(0.15)
    assert _get(v2, f"/jobs/{job['jobID']}").json()["status"] == "dismissed"
    assert _get(v2, "/jobs/unknown").status_code == 404
    assert [j["status"] for j in v2.jobs] == ["failed", "failed", "dismissed"]


def test_cli_accepts_api_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}
    monkeypatch.setattr("rs_core.testing.simulator.__main__.serve", lambda *a, **k: seen.update(k))
    from rs_core.testing.simulator.__main__ import main as run

    assert run(["--api", "v2", "--port", "0"]) == 0
    assert seen["api_version"] == "v2"
