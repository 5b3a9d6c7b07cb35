"""Staging and status: the state machine, string booleans, sparse files, failures."""

from __future__ import annotations

import os
import time
from pathlib import Path

import requests

from rs_core.testing.simulator import Dataset, RsServerSimulator

WIDE = "2000-01-01T00:00:00Z/2030-01-01T00:00:00Z"
STATUS_KEYS = {
    "product_id",
    "name",
    "available_at_station",
    "db_id",
    "download_start",
    "download_stop",
    "status",
    "status_fail_message",
}


def first_product(sim: RsServerSimulator, http: requests.Session) -> dict[str, object]:
    features = http.get(
        f"{sim.url}/adgs/aux/search", params={"datetime": WIDE, "limit": 1}, timeout=10
    ).json()["features"]
    return features[0]


def status(
    sim: RsServerSimulator, http: requests.Session, name: str, path: str = "/adgs/aux"
) -> requests.Response:
    return http.get(f"{sim.url}{path}/status", params={"name": name}, timeout=10)


def wait_final(
    sim: RsServerSimulator, http: requests.Session, name: str, path: str = "/adgs/aux"
) -> dict[str, object]:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        body = status(sim, http, name, path).json()
        if body["status"] in ("DONE", "FAILED"):
            return body
        time.sleep(0.02)
    raise AssertionError(f"{name} never finished")


def test_unknown_name_staging_is_503_string_false(
    sim: RsServerSimulator, http: requests.Session
) -> None:
    response = http.get(f"{sim.url}/adgs/aux", params={"name": "never-searched.EOF"}, timeout=5)
    assert response.status_code == 503
    assert response.json() == {"started": "false"}


def test_known_but_unsearched_name_is_refused_by_default(
    sim: RsServerSimulator, http: requests.Session, default_dataset: Dataset
) -> None:
    name = default_dataset.adgs_products[0]["Name"]
    assert http.get(f"{sim.url}/adgs/aux", params={"name": name}, timeout=5).status_code == 503
    assert status(sim, http, name).status_code == 404


def test_relaxed_mode_stages_any_dataset_name(default_dataset: Dataset) -> None:
    name = default_dataset.adgs_products[0]["Name"]
    with (
        RsServerSimulator(
            dataset=default_dataset, staging_duration=0.0, require_search_before_staging=False
        ) as sim,
        requests.Session() as http,
    ):
        response = http.get(f"{sim.url}/adgs/aux", params={"name": name}, timeout=5)
        assert response.json() == {"started": "true"}
        assert wait_final(sim, http, name)["status"] == "DONE"
        refused = http.get(f"{sim.url}/adgs/aux", params={"name": "not-in-dataset"}, timeout=5)
        assert refused.status_code == 503


def test_status_after_search_is_not_started(sim: RsServerSimulator, http: requests.Session) -> None:
    feature = first_product(sim, http)
    response = status(sim, http, str(feature["id"]))
    assert response.status_code == 200
    body = response.json()
    assert set(body) == STATUS_KEYS
    assert body["status"] == "NOT_STARTED"
    assert body["download_start"] is None and body["download_stop"] is None
    assert body["product_id"] == feature["properties"]["adgs:id"]  # type: ignore[index]


def test_staging_in_progress_then_done_with_sparse_file(
    sim: RsServerSimulator, http: requests.Session, tmp_path: Path
) -> None:
    feature = first_product(sim, http)
    name = str(feature["id"])
    target = tmp_path / "out"
    response = http.get(
        f"{sim.url}/adgs/aux",
        params={"name": name, "local": str(target), "obs": "s3://bucket/dir"},
        timeout=5,
    )
    assert response.status_code == 200
    assert response.json() == {"started": "true"}
    assert response.text == '{"started":"true"}'
    running = status(sim, http, name).json()
    assert running["status"] == "IN_PROGRESS"
    assert running["download_start"] is not None and running["download_stop"] is None
    time.strptime(running["download_start"], "%Y-%m-%dT%H:%M:%S.%f")
    done = wait_final(sim, http, name)
    assert done["status"] == "DONE" and done["status_fail_message"] is None
    time.strptime(done["download_stop"], "%Y-%m-%dT%H:%M:%S.%f")
    written = target / name
    size = feature["assets"]["file"]["file:size"]  # type: ignore[index]
    assert written.stat().st_size == size
    assert written.stat().st_blocks * 512 < size  # sparse
    assert [p.name for p in target.iterdir()] == [name]  # no temporary left
    state = sim.staging_state(name)
    assert state is not None and state["obs"] == "s3://bucket/dir" and state["service"] == "adgs"


def test_restaging_resets_the_job(sim: RsServerSimulator, http: requests.Session) -> None:
    name = str(first_product(sim, http)["id"])
    http.get(f"{sim.url}/adgs/aux", params={"name": name}, timeout=5)
    first = wait_final(sim, http, name)
    http.get(f"{sim.url}/adgs/aux", params={"name": name}, timeout=5)
    again = status(sim, http, name).json()
    assert again["status"] == "IN_PROGRESS"
    assert again["download_stop"] is None
    assert again["download_start"] > first["download_start"]


def test_fail_staging_forces_failed_once(sim: RsServerSimulator, http: requests.Session) -> None:
    name = str(first_product(sim, http)["id"])
    sim.fail_staging(name, message="disk full")
    http.get(f"{sim.url}/adgs/aux", params={"name": name}, timeout=5)
    failed = wait_final(sim, http, name)
    assert failed["status"] == "FAILED"
    assert failed["status_fail_message"] == "disk full"
    http.get(f"{sim.url}/adgs/aux", params={"name": name}, timeout=5)
    assert wait_final(sim, http, name)["status"] == "DONE"


def test_failure_rate_one_always_fails(default_dataset: Dataset) -> None:
    with (
        RsServerSimulator(
            dataset=default_dataset, staging_duration=0.0, staging_failure_rate=1.0
        ) as sim,
        requests.Session() as http,
    ):
        files = http.get(
            f"{sim.url}/cadip/MTI/cadu/search", params={"datetime": WIDE, "limit": 3}, timeout=5
        ).json()["features"]
        for feature in files:
            assert http.get(
                f"{sim.url}/cadip/MTI/cadu", params={"name": feature["id"]}, timeout=5
            ).ok
        for feature in files:
            body = wait_final(sim, http, feature["id"], "/cadip/MTI/cadu")
            assert body["status"] == "FAILED" and body["status_fail_message"]


def test_cadip_status_table_is_shared_and_named(
    sim: RsServerSimulator, http: requests.Session
) -> None:
    feature = http.get(
        f"{sim.url}/cadip/INS/cadu/search", params={"datetime": WIDE, "limit": 1}, timeout=5
    ).json()["features"][0]
    assert http.get(f"{sim.url}/cadip/SGS/cadu", params={"name": feature["id"]}, timeout=5).ok
    assert status(sim, http, feature["id"], "/cadip/NSG/cadu").status_code == 200
    missing = status(sim, http, "nope.raw", "/cadip/CADIP/cadu")
    assert missing.status_code == 404
    assert missing.json() == {
        "detail": "No CadipDownloadStatus entry found in table 'cadip_download_status' "
        "for name='nope.raw'"
    }
    adgs_missing = status(sim, http, "nope")
    assert "'adgs_download_status'" in adgs_missing.json()["detail"]


def test_session_search_registers_its_files(sim: RsServerSimulator, http: requests.Session) -> None:
    session = http.get(
        f"{sim.url}/cadip/CADIP/session", params={"id": "S2B_20231117033237234567"}, timeout=5
    ).json()["features"][0]
    name = next(iter(session["assets"][0]))
    response = http.get(f"{sim.url}/cadip/CADIP/cadu", params={"name": name}, timeout=5)
    assert response.json() == {"started": "true"}


def test_staging_and_status_need_name(sim: RsServerSimulator, http: requests.Session) -> None:
    for path in ("/adgs/aux", "/adgs/aux/status", "/cadip/MTI/cadu", "/cadip/MTI/cadu/status"):
        response = http.get(f"{sim.url}{path}", timeout=5)
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["query", "name"]


def test_staging_state_for_tests(sim: RsServerSimulator, http: requests.Session) -> None:
    assert sim.staging_state("nothing") is None
    name = str(first_product(sim, http)["id"])
    state = sim.staging_state(name)
    assert state is not None and state["status"] == "NOT_STARTED"


def test_sparse_write_failure_marks_failed(
    sim: RsServerSimulator, http: requests.Session, tmp_path: Path
) -> None:
    blocker = tmp_path / "file-not-dir"
    blocker.write_text("x")
    name = str(first_product(sim, http)["id"])
    http.get(f"{sim.url}/adgs/aux", params={"name": name, "local": str(blocker)}, timeout=5)
    body = wait_final(sim, http, name)
    assert body["status"] == "FAILED"
    assert "Error" in body["status_fail_message"]
    assert not os.path.exists(blocker / name)
