"""Catalog: STAC API + Transactions with rs-server-catalog's owner mapping and quirks."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import requests

from rs_core.testing.simulator import ApiKey, RsServerSimulator

OWNER = "alice"


def collection_body(coll: str = "s1_aux", owner: str | None = OWNER) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "Collection",
        "stac_version": "1.0.0",
        "id": coll,
        "description": f"This is the collection {coll} from user {owner}.",
        "license": "public-domain",
        "extent": {
            "spatial": {"bbox": [[-180.0, -90.0, 180.0, 90.0]]},
            "temporal": {"interval": [["2020-01-01T00:00:00Z", None]]},
        },
        "links": [
            {
                "rel": "license",
                "href": "https://creativecommons.org/licenses/publicdomain/",
            }
        ],
    }
    if owner is not None:
        body["owner"] = owner
    return body


def item_body(
    item_id: str, coll: str = "s1_aux", when: str = "2021-07-16T00:00:00Z", x: float = 10.0
) -> dict[str, Any]:
    file_name = item_id.rsplit("/", 1)[-1]
    return {
        "type": "Feature",
        "stac_version": "1.0.0",
        "stac_extensions": ["https://stac-extensions.github.io/file/v2.1.0/schema.json"],
        "id": item_id,
        "collection": coll,
        "geometry": {"type": "Point", "coordinates": [x, 45.0]},
        "bbox": [x, 45.0, x, 45.0],
        "properties": {"datetime": when, "platform": "S1A"},
        "links": [],
        "assets": {
            file_name: {
                "href": f"s3://rs-cluster-temp/stations/ADGS/{file_name}",
                "file:size": 1234,
            }
        },
    }


@pytest.fixture
def cat(sim: RsServerSimulator) -> str:
    return f"{sim.url}/catalog"


def create(http: requests.Session, cat: str, coll: str = "s1_aux", owner: str = OWNER) -> None:
    response = http.post(f"{cat}/collections", json=collection_body(coll, owner), timeout=5)
    assert response.status_code == 201, response.text


def add(
    http: requests.Session, cat: str, body: dict[str, Any], cid: str = "alice:s1_aux"
) -> requests.Response:
    return http.post(f"{cat}/collections/{cid}/items", json=body, timeout=5)


def test_landing_and_conformance(cat: str, http: requests.Session, sim: RsServerSimulator) -> None:
    create(http, cat)
    landing = http.get(f"{cat}/", timeout=5).json()
    assert landing["type"] == "Catalog" and landing["stac_version"] == "1.0.0"
    rels = {link["rel"] for link in landing["links"]}
    assert {"self", "root", "data", "search", "conformance", "child"} <= rels
    assert all(link["href"].startswith(sim.url) for link in landing["links"])
    search_methods = {link["method"] for link in landing["links"] if link["rel"] == "search"}
    assert search_methods == {"GET", "POST"}
    conformance = http.get(f"{cat}/conformance", timeout=5).json()["conformsTo"]
    for fragment in (
        "core",
        "collections",
        "item-search",
        "ogcapi-features",
        "transaction",
        "filter",
    ):
        assert any(fragment in url for url in conformance), fragment
    assert http.get(cat, timeout=5).json()["id"] == landing["id"]


def test_collection_crud_and_owner_quirk(cat: str, http: requests.Session) -> None:
    create(http, cat)
    single = http.get(f"{cat}/collections/alice:s1_aux", timeout=5)
    assert single.status_code == 200
    assert single.json()["id"] == "s1_aux" and single.json()["owner"] == "alice"
    listed = http.get(f"{cat}/collections", timeout=5).json()["collections"]
    assert [c["id"] for c in listed] == ["alice_s1_aux"]  # the quirk
    assert any(link["rel"] == "license" for link in single.json()["links"])

    updated = collection_body()
    updated["description"] = "changed"
    put = http.put(f"{cat}/collections/alice:s1_aux", json=updated, timeout=5)
    assert put.status_code == 200 and put.json()["description"] == "changed"
    assert http.get(f"{cat}/collections/alice:s1_aux", timeout=5).json()["description"] == "changed"

    deleted = http.delete(f"{cat}/collections/alice:s1_aux", timeout=5)
    assert deleted.status_code == 200
    missing = http.get(f"{cat}/collections/alice:s1_aux", timeout=5)
    assert missing.status_code == 404 and missing.json()["code"] == "NotFoundError"
    assert http.delete(f"{cat}/collections/alice:s1_aux", timeout=5).status_code == 404


def test_duplicate_collection_is_409(cat: str, http: requests.Session) -> None:
    create(http, cat)
    again = http.post(f"{cat}/collections", json=collection_body(), timeout=5)
    assert again.status_code == 409
    assert again.json()["code"] == "ConflictError"
    create(http, cat, owner="bob")  # same short id, other owner: fine


def test_invalid_collection_is_400_pydantic_list(cat: str, http: requests.Session) -> None:
    body = collection_body()
    del body["extent"], body["license"]
    response = http.post(f"{cat}/collections", json=body, timeout=5)
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert isinstance(detail, list)
    assert {tuple(e["loc"]) for e in detail} == {("body", "extent"), ("body", "license")}
    assert all({"type", "loc", "msg", "input"} <= set(e) for e in detail)
    not_json = http.post(
        f"{cat}/collections", data=b"{nope", headers={"Content-Type": "application/json"}, timeout=5
    )
    assert not_json.status_code == 400


def test_item_crud_with_server_additions(
    cat: str, http: requests.Session, sim: RsServerSimulator
) -> None:
    create(http, cat)
    response = add(http, cat, item_body("ADGS1.EOF"))
    assert response.status_code == 201, response.text
    item = http.get(f"{cat}/collections/alice:s1_aux/items/ADGS1.EOF", timeout=5).json()
    assert item["collection"] == "s1_aux"
    props = item["properties"]
    assert props["owner"] == "alice"
    assert {"published", "updated", "expires"} <= set(props)
    asset = item["assets"]["ADGS1.EOF"]
    assert asset["href"] == (
        f"{sim.url}/catalog/alice/collections/s1_aux/items/ADGS1.EOF/download/ADGS1.EOF"
    )
    assert asset["alternate"] == {"s3": {"href": "s3://rs-cluster-temp/stations/ADGS/ADGS1.EOF"}}
    assert asset["file:size"] == 1234
    assert {link["rel"] for link in item["links"]} == {"self", "parent", "collection", "root"}
    assert all(link["href"].startswith(sim.url) for link in item["links"])

    duplicate = add(http, cat, item_body("ADGS1.EOF"))
    assert duplicate.status_code == 409 and duplicate.json()["code"] == "ConflictError"

    changed = copy.deepcopy(item)  # round trip: rewritten assets go back
    changed["properties"]["platform"] = "S1B"
    put = http.put(f"{cat}/collections/alice:s1_aux/items/ADGS1.EOF", json=changed, timeout=5)
    assert put.status_code == 200, put.text
    assert put.json()["properties"]["platform"] == "S1B"
    assert put.json()["properties"]["published"] == props["published"]
    assert put.json()["assets"]["ADGS1.EOF"]["alternate"] == asset["alternate"]

    deleted = http.delete(f"{cat}/collections/alice:s1_aux/items/ADGS1.EOF", timeout=5)
    assert deleted.status_code == 200
    assert deleted.json() == {"deleted item": "ADGS1.EOF"}
    gone = http.get(f"{cat}/collections/alice:s1_aux/items/ADGS1.EOF", timeout=5)
    assert gone.status_code == 404
    assert (
        http.delete(f"{cat}/collections/alice:s1_aux/items/ADGS1.EOF", timeout=5).status_code == 404
    )


def test_item_to_missing_collection_is_404(cat: str, http: requests.Session) -> None:
    response = add(http, cat, item_body("X.EOF", coll="nothing"), cid="alice:nothing")
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("mutate", "status"),
    [
        (lambda b: b.pop("stac_extensions"), 400),
        (lambda b: b.pop("assets"), 400),
        (lambda b: b.pop("properties"), 400),
        (lambda b: b["assets"]["ADGS1.EOF"].update(href="https://example.com/ADGS1.EOF"), 400),
        (lambda b: b["assets"]["ADGS1.EOF"].update(href="s3://bucket/other-name.EOF"), 400),
        (lambda b: b["properties"].update(datetime=None), 400),
        (lambda b: b.update(collection="someone_else"), 400),
    ],
)
def test_invalid_items_are_400(cat: str, http: requests.Session, mutate: Any, status: int) -> None:
    create(http, cat)
    body = item_body("ADGS1.EOF")
    mutate(body)
    response = add(http, cat, body)
    assert response.status_code == status, response.text
    assert "detail" in response.json()


def test_item_id_with_slash_encoded(cat: str, http: requests.Session) -> None:
    create(http, cat)
    body = item_body("dir/ADGS2.EOF")
    assert add(http, cat, body).status_code == 201
    got = http.get(f"{cat}/collections/alice:s1_aux/items/dir%2FADGS2.EOF", timeout=5)
    assert got.status_code == 200
    assert got.json()["id"] == "dir/ADGS2.EOF"
    self_link = next(link["href"] for link in got.json()["links"] if link["rel"] == "self")
    assert self_link.endswith("/items/dir%2FADGS2.EOF")
    percent = item_body("a%20b.EOF")
    assert add(http, cat, percent).status_code == 201
    assert (
        http.get(f"{cat}/collections/alice:s1_aux/items/a%2520b.EOF", timeout=5).json()["id"]
        == "a%20b.EOF"
    )


def test_items_paging_with_next_links(cat: str, http: requests.Session) -> None:
    create(http, cat)
    for i in range(7):
        assert add(http, cat, item_body(f"I{i}.EOF", when=f"2021-07-{10 + i:02d}T00:00:00Z")).ok
    url: str | None = f"{cat}/collections/alice:s1_aux/items?limit=3"
    seen: list[str] = []
    pages = 0
    while url:
        page = http.get(url, timeout=5).json()
        pages += 1
        seen += [f["id"] for f in page["features"]]
        url = next((link["href"] for link in page["links"] if link["rel"] == "next"), None)
    assert pages == 3
    assert seen == [f"I{i}.EOF" for i in reversed(range(7))]  # datetime descending
    window = http.get(
        f"{cat}/collections/alice:s1_aux/items",
        params={"datetime": "2021-07-11T00:00:00Z/2021-07-12T12:00:00Z"},
        timeout=5,
    ).json()
    assert [f["id"] for f in window["features"]] == ["I2.EOF", "I1.EOF"]
    assert (
        http.get(f"{cat}/collections/alice:s1_aux/items?token=bogus", timeout=5).status_code == 400
    )


def test_search_get_and_post(cat: str, http: requests.Session) -> None:
    create(http, cat)
    create(http, cat, coll="s1_chunk")
    for i in range(5):
        assert add(http, cat, item_body(f"A{i}.EOF", x=float(i))).ok
    assert add(http, cat, item_body("C.raw", coll="s1_chunk"), cid="alice:s1_chunk").ok

    everything = http.get(f"{cat}/search", params={"limit": 100}, timeout=5).json()
    assert everything["numberReturned"] == 6
    one = http.get(f"{cat}/search", params={"collections": "alice:s1_chunk"}, timeout=5).json()
    assert [f["id"] for f in one["features"]] == ["C.raw"]
    assert one["features"][0]["collection"] == "alice_s1_chunk"  # v1 search quirk
    underscore = http.get(f"{cat}/search", params={"collections": "alice_s1_chunk"}, timeout=5)
    assert underscore.json()["numberReturned"] == 1
    ids = http.get(f"{cat}/search", params={"ids": "A1.EOF,A3.EOF"}, timeout=5).json()
    assert sorted(f["id"] for f in ids["features"]) == ["A1.EOF", "A3.EOF"]
    boxed = http.get(f"{cat}/search", params={"bbox": "0.5,40,2.5,50"}, timeout=5).json()
    assert sorted(f["id"] for f in boxed["features"]) == ["A1.EOF", "A2.EOF"]
    cql = http.get(
        f"{cat}/search", params={"filter": "owner = 'alice' AND id = 'A4.EOF'"}, timeout=5
    ).json()
    assert [f["id"] for f in cql["features"]] == ["A4.EOF"]

    body = {"collections": ["alice:s1_aux"], "limit": 2}
    first = http.post(f"{cat}/search", json=body, timeout=5).json()
    seen = [f["id"] for f in first["features"]]
    link = next(link for link in first["links"] if link["rel"] == "next")
    assert link["method"] == "POST" and link["body"]["collections"] == ["alice:s1_aux"]
    while link is not None:
        page = http.post(link["href"], json=link["body"], timeout=5).json()
        seen += [f["id"] for f in page["features"]]
        link = next((lk for lk in page["links"] if lk["rel"] == "next"), None)
    assert sorted(seen) == [f"A{i}.EOF" for i in range(5)]
    cql_json = http.post(
        f"{cat}/search",
        json={
            "filter": {"op": "=", "args": [{"property": "owner"}, "nobody"]},
            "filter-lang": "cql2-json",
        },
        timeout=5,
    ).json()
    assert cql_json["features"] == []


def test_catalog_auth_in_cluster_mode(default_dataset: Any) -> None:
    keys = {"a": ApiKey("alice", []), "b": ApiKey("bob", ["rs_catalog_alice:*_read"])}
    with (
        RsServerSimulator(dataset=default_dataset, api_keys=keys) as sim,
        requests.Session() as http,
    ):
        cat = f"{sim.url}/catalog"
        anonymous = http.get(f"{cat}/collections", timeout=5)
        assert anonymous.status_code == 403
        assert anonymous.json() == "Not authenticated"  # a bare JSON string
        assert (
            http.get(f"{cat}/collections", headers={"x-api-key": "zz"}, timeout=5).status_code
            == 403
        )
        alice = {"x-api-key": "a"}
        mine = collection_body(owner=None)  # owner from the key
        assert (
            http.post(f"{cat}/collections", json=mine, headers=alice, timeout=5).status_code == 201
        )
        assert http.get(f"{cat}/collections/alice:s1_aux", headers=alice, timeout=5).ok
        bob = {"x-api-key": "b"}
        assert (
            http.get(f"{cat}/collections/alice:s1_aux", headers=bob, timeout=5).status_code == 200
        )
        write = http.post(
            f"{cat}/collections/alice:s1_aux/items", json=item_body("Z.EOF"), headers=bob, timeout=5
        )
        assert write.status_code == 401
        other = collection_body(owner="alice", coll="other")
        assert (
            http.post(f"{cat}/collections", json=other, headers=bob, timeout=5).status_code == 401
        )
