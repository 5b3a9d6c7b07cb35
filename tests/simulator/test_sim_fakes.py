"""Plugins bring their own fake stations: the blocks, their rules, the registry, both faces."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from rs_core.cli.main import main
from rs_core.testing.simulator import (
    ApiKey,
    Dataset,
    FakeContext,
    FakeRuleError,
    FakeStation,
    RsServerSimulator,
    V1Station,
)
from rs_core.testing.simulator.fakes import installed_fakes
from rs_core.testing.simulator.stations import StagingJobs

KEY = "sim-fakes-key"


def feature(index: int, created: str | None = None) -> dict[str, Any]:
    stamp = created or f"202{index}-01-01T00:00:00.000Z"
    return {
        "type": "Feature",
        "id": f"thing-{index}",
        "geometry": None,
        "properties": {"created": stamp, "kind": "even" if index % 2 == 0 else "odd"},
        "assets": {"file": {"file:size": 10 + index}},
    }


def context() -> FakeContext:
    return FakeContext(Dataset(), lambda: "http://127.0.0.1:1", StagingJobs())


@pytest.mark.parametrize(
    ("features", "rule"),
    [
        ([feature(1), feature(2)], "dataset-in-range"),
        (
            [feature(1), feature(2), feature(3), feature(4, "1990-01-01T12:00:00Z")],
            "dataset-empty-day",
        ),
        ([feature(1), feature(2), feature(3, "yesterday")], "created-sortable"),
        ([feature(1), feature(2), feature(3), feature(1)], "unique-ids"),
    ],
)
def test_v1_block_names_the_rule_a_fake_breaks(features: list[dict[str, Any]], rule: str) -> None:
    with pytest.raises(FakeRuleError, match=f"breaks rule {rule}") as caught:
        V1Station(context(), "things", features)
    assert caught.value.rule == rule


def _things(ctx: FakeContext) -> V1Station:
    return V1Station(
        ctx,
        "things",
        [feature(i) for i in range(1, 6)],
        filters={"kind": "kind"},
        routes={"/things/kinds": lambda request: (200, ["even", "odd"])},
    )


THINGS = FakeStation(kind="things", build=_things)


@pytest.fixture
def things() -> Iterator[RsServerSimulator]:
    keys = {KEY: ApiKey.full_access("u"), "weak": ApiKey("w", ["rs_other_read"])}
    with RsServerSimulator(api_keys=keys, fakes=[THINGS], staging_duration=0.01) as sim:
        yield sim


def test_v1_block_search_stage_status(things: RsServerSimulator) -> None:
    http = requests.Session()
    http.headers["x-api-key"] = KEY
    base = things.url
    found = http.get(
        f"{base}/things/search",
        params={"datetime": "2000-01-01T00:00:00Z/2100-01-01T00:00:00Z", "kind": "odd"},
        timeout=5,
    ).json()
    assert [f["id"] for f in found["features"]] == ["thing-5", "thing-3", "thing-1"]  # -created
    refused = http.get(f"{base}/things", params={"name": "thing-2"}, timeout=5)
    assert (refused.status_code, refused.json()) == (503, {"started": "false"})
    unknown = http.get(f"{base}/things/status", params={"name": "thing-2"}, timeout=5)
    assert unknown.status_code == 404 and "detail" in unknown.json()
    assert http.get(f"{base}/things", params={"name": "thing-3"}, timeout=5).json() == {
        "started": "true"
    }
    status = http.get(f"{base}/things/status", params={"name": "thing-3"}, timeout=5).json()
    assert status["name"] == "thing-3" and len(status["download_start"]) == 26  # %f
    assert http.get(f"{base}/things/kinds", timeout=5).json() == ["even", "odd"]
    missing = http.get(f"{base}/things/search", timeout=5)
    assert missing.status_code == 422


def test_v1_block_roles(things: RsServerSimulator) -> None:
    url = f"{things.url}/things/search"
    params = {"datetime": "2000-01-01T00:00:00Z/2100-01-01T00:00:00Z"}
    assert requests.get(url, params=params, timeout=5).status_code == 403
    weak = requests.get(url, params=params, headers={"x-api-key": "weak"}, timeout=5)
    assert weak.status_code == 401 and "'things'" in weak.json()["detail"]


def test_every_installed_station_plugin_brings_a_fake() -> None:
    kinds = {fake.kind for fake in installed_fakes()}
    assert {"auxip", "cadip", "prip", "edrs"} <= kinds


@pytest.fixture(scope="module")
def both() -> Iterator[RsServerSimulator]:
    with RsServerSimulator(api_version="both", api_keys={KEY: ApiKey.full_access("u")}) as sim:
        yield sim


def get(sim: RsServerSimulator, path: str, **params: Any) -> requests.Response:
    return requests.get(sim.url + path, params=params, headers={"x-api-key": KEY}, timeout=5)


def test_both_generations_on_one_simulator(both: RsServerSimulator) -> None:
    wide = "2000-01-01T00:00:00Z/2100-01-01T00:00:00Z"
    assert get(both, "/edrs/search", datetime=wide).json()["numberReturned"] == 9  # v1 only
    assert get(both, "/adgs/aux/search", datetime=wide, limit=2).json()["numberReturned"] == 2
    assert len(get(both, "/cadip/cadip/cadu/search", datetime=wide, limit=3).json()["features"])
    assert get(both, "/auxip/collections").status_code == 200  # v2 face
    assert get(both, "/cadip/collections/mti_sentinel1").json()["id"] == "mti_sentinel1"
    assert get(both, "/prip/search", collections="IW_SLC__1S").json()["features"]
    assert get(both, "/edrs/collections").status_code == 404  # a v1-only fake has no v2 face


def test_stac_block_speaks_rs_server_1_0(both: RsServerSimulator) -> None:
    # a collection the service does not have: 200 empty on search, 404 on the collection
    assert get(both, "/cadip/search", collections="ins").json()["features"] == []
    assert get(both, "/cadip/collections/ins").status_code == 404
    # per-collection filtering
    sessions = get(both, "/cadip/search", collections="mti_sentinel1", limit=50).json()
    assert sessions["features"]
    assert {f["properties"]["constellation"] for f in sessions["features"]} == {"sentinel-1"}
    # sortby of a non-sortable field is refused
    refused = get(both, "/auxip/search", collections="adgs", sortby="-published")
    assert refused.status_code == 404 and "not sortable" in refused.json()["description"]
    # bbox and intersects (by bounding box)
    assert len(get(both, "/prip/search", bbox="-10,35,-8.5,36").json()["features"]) == 1
    shape = {"type": "Point", "coordinates": [-9.5, 35.5]}
    posted = requests.post(
        both.url + "/prip/search",
        json={"intersects": shape, "collections": ["S1A_L0_IW_RAW"]},
        headers={"x-api-key": KEY},
        timeout=5,
    ).json()
    assert len(posted["features"]) == 1
    # POST cql2-json
    body = {
        "collections": ["S2B_L0_DS", "S2B_L0_GR"],
        "filter-lang": "cql2-json",
        "filter": {"op": "=", "args": [{"property": "product:type"}, "MSI_L0__GR"]},
    }
    found = requests.post(
        both.url + "/prip/search", json=body, headers={"x-api-key": KEY}, timeout=5
    ).json()
    types = {f["properties"]["product:type"] for f in found["features"]}
    assert types == {"MSI_L0__GR"}
    # GET cql2-text, paging by next token
    page = get(both, "/prip/search", filter="platform='sentinel-2b'", limit=2).json()
    [following] = [link for link in page["links"] if link["rel"] == "next"]
    assert "token=next:page=2" in following["href"]
    # PRIP: default sort -published, one asset keyed by the item id
    published = [f["properties"]["published"] for f in page["features"]]
    assert published == sorted(published, reverse=True)
    item = page["features"][0]
    assert list(item["assets"]) == [item["id"]]
    assert item["assets"][item["id"]]["roles"] == ["data", "metadata"]
    # queryables per collection
    queryables = get(both, "/prip/collections/IW_SLC__1S/queryables").json()
    assert "product:type" in queryables["properties"]


def test_staging_asset_names_and_results(both: RsServerSimulator) -> None:
    headers = {"x-api-key": KEY}
    requests.post(
        both.url + "/catalog/collections",
        json={"id": "kit_staged", "type": "Collection", "description": "d", "license": "other",
              "extent": {"spatial": {"bbox": [[-180, -90, 180, 90]]},
                         "temporal": {"interval": [[None, None]]}},
              "links": [], "stac_version": "1.0.0"},
        headers=headers,
        timeout=5,
    )  # fmt: skip
    search = f"{both.url}/cadip/search?collections=cadip&limit=1"
    session = requests.get(search, headers=headers, timeout=5).json()["features"][0]
    wanted = sorted(session["assets"])[:2]
    inputs = {"collection": "kit_staged", "items": {"href": search}, "asset_names": wanted}
    job = requests.post(
        both.url + "/processes/staging/execution",
        json={"inputs": inputs},
        headers=headers,
        timeout=5,
    ).json()
    assert job["status"] in ("accepted", "running")
    assert get(both, f"/jobs/{job['jobID']}/results").status_code == 404  # not finished yet
    [snapshot] = [j for j in both.jobs if j["jobID"] == job["jobID"]]
    assert snapshot["items"] == [session["id"]]
    bad = dict(inputs, asset_names=["no-such-asset"])
    failed = requests.post(
        both.url + "/processes/staging/execution",
        json={"inputs": bad},
        headers=headers,
        timeout=5,
    ).json()
    assert failed["status"] == "failed" and "asset_names" in failed["message"]


def test_results_of_a_finished_job() -> None:
    with RsServerSimulator(api_version="v2", staging_duration=0) as sim:
        requests.post(
            sim.url + "/catalog/collections",
            json={"id": "c1", "type": "Collection", "description": "d", "license": "other",
                  "extent": {"spatial": {"bbox": [[-180, -90, 180, 90]]},
                             "temporal": {"interval": [[None, None]]}},
                  "links": [], "stac_version": "1.0.0", "owner": "me"},
            timeout=5,
        )  # fmt: skip
        href = f"{sim.url}/auxip/search?collections=adgs&limit=1"
        job = requests.post(
            sim.url + "/processes/staging/execution",
            json={"inputs": {"collection": "c1", "owner": "me", "items": {"href": href}}},
            timeout=5,
        ).json()
        assert job["status"] != "failed", job["message"]
        results = requests.get(f"{sim.url}/jobs/{job['jobID']}/results", timeout=5).json()
        assert results["collection"] == "c1" and len(results["items"]) == 1


def test_rs_search_plugin_option(
    both: RsServerSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    options = ["--href", both.url, "--api-key", KEY, "-o", "json"]
    span = ["--start", "2024-01-01", "--stop", "2025-01-01"]
    assert main(["search", "edrs", *span, "--product-type", "S2B_MSIL1C", *options]) == 0
    found = json.loads(capsys.readouterr().out)
    features = found["features"] if isinstance(found, dict) else found
    assert len(features) == 3
    assert main(["search", "auxip", *span, "--product-type", "S2B_MSIL1C", *options]) == 2
    assert "--product-type is not a search option of station kind 'auxip'" in (
        capsys.readouterr().err
    )


def test_dataset_synthetic_names_an_unknown_size() -> None:
    with pytest.raises(TypeError, match="n_widgets"):
        Dataset.synthetic(n_widgets=3)
    scaled = Dataset.scaled(100, seed=1)
    assert len(scaled.adgs_products) == 100 and len(scaled.cadip_sessions) == 2


def test_deprecated_dataset_forms_warn_and_work() -> None:
    with pytest.warns(DeprecationWarning, match=r"Dataset\(adgs_products=\[\.\.\.\]"):
        dataset = Dataset([{"Name": "a"}])
    assert dataset.adgs_products == [{"Name": "a"}]
    with pytest.warns(DeprecationWarning, match="n_products=..., n_files=..., n_sessions=..."):
        synthetic = Dataset.synthetic(3, 4, 2, seed=1)
    assert (len(synthetic.adgs_products), len(synthetic.cadip_sessions)) == (3, 2)
    with pytest.warns(DeprecationWarning, match="rs_cadip.fake.CADIP_STATIONS"):
        from rs_core.testing.simulator.auth import CADIP_STATIONS
    assert "mti" in CADIP_STATIONS


def test_a_v1_plugin_stages_under_a_global_v2_setting(
    both: RsServerSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    import rs_core

    monkeypatch.setenv("RS_API_VERSION", "v2")
    with rs_core.get_station("edrs", rs_server_href=both.url, rs_server_api_key=KEY) as edrs:
        files = list(edrs.search_stations("2024-01-01", "2025-01-01", limit=2))
        report = edrs.stage_and_wait(files, poll_interval=0.05, timeout=20)
        assert len(report.done) == 2, report.summary()
        with pytest.raises(rs_core.UnsupportedOperationError, match="v1 only"):
            edrs.queryables()


def test_a_fake_that_cannot_be_loaded_is_skipped_with_a_warning() -> None:
    from rs_core.plugin_api import StationType, hookimpl
    from rs_core.plugins import register_plugin, unregister_plugin

    class Ghost:
        @hookimpl
        def rs_register_stations(self) -> Iterator[StationType]:
            yield StationType(
                kind="ghost", client_class="a:B", stations=("G",), fake="rs_no_such_fake:FAKE"
            )

    register_plugin(Ghost(), name="ghost")
    try:
        with pytest.warns(RuntimeWarning, match="'ghost' cannot be loaded"):
            kinds = {fake.kind for fake in installed_fakes()}
        assert "ghost" not in kinds and "auxip" in kinds
    finally:
        unregister_plugin("ghost")


def get_local(sim: RsServerSimulator, path: str, **params: Any) -> requests.Response:
    return requests.get(sim.url + path, params=params, timeout=5)


def test_dataset_recent_moves_each_fakes_records_together_to_just_before_now() -> None:
    from datetime import UTC, datetime, timedelta

    from rs_core.testing.simulator.dataset import epoch

    fake = FakeStation(kind="things", build=lambda _ctx: None, lists=("things", "parts"))  # type: ignore[arg-type,return-value]
    dataset = Dataset(
        things=[
            {"Name": "a_20200101.raw", "PublicationDate": "2020-01-01T00:00:00.1234Z"},
            {
                "Name": "b",
                "PublicationDate": "2020-01-03T00:00:00.000000Z",
                "Nested": [{"Start": "2020-01-02T12:00:00Z"}],
            },
        ],
        parts=[{"Name": "p", "PublicationDate": "2019-12-31T00:00:00+00:00"}],
        other=[{"PublicationDate": "2000-01-01T00:00:00Z"}],
    )
    now = datetime(2030, 6, 1, 12, tzinfo=UTC)
    moved = dataset.recent(now, lead=timedelta(minutes=5), fakes=[fake])
    newest = max(epoch(r["PublicationDate"]) for r in [*moved.things, *moved.parts])
    assert newest == (now - timedelta(minutes=5)).timestamp()
    assert moved.things[0] == {
        "Name": "a_20200101.raw",
        "PublicationDate": "2030-05-30T11:55:00.1234Z",  # its own form, the name unchanged
    }
    assert moved.things[1]["PublicationDate"] == "2030-06-01T11:55:00.000000Z"
    assert moved.things[1]["Nested"] == [{"Start": "2030-05-31T23:55:00Z"}]
    assert moved.parts == [{"Name": "p", "PublicationDate": "2030-05-29T11:55:00+00:00"}]
    assert moved.other == dataset.other  # no fake's list: as it was
    assert dataset.things[0]["PublicationDate"] == "2020-01-01T00:00:00.1234Z"  # a copy


def test_dataset_recent_serves_every_installed_fake_minutes_ago() -> None:
    from datetime import UTC, datetime

    from rs_core.testing.simulator.dataset import epoch

    moved = Dataset.synthetic().recent()
    now = datetime.now(UTC).timestamp()
    for fake in installed_fakes():
        stamps = [epoch(r.get("PublicationDate")) for n in fake.lists for r in getattr(moved, n)]
        if any(stamps):
            assert now - 3600 < max(stamps) < now, fake.kind
