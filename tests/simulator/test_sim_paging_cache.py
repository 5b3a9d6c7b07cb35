"""Paged searches select once per query (issue #18): the same bytes as selecting per page,
changes seen by the next request, and a bounded cache.

Each search is paged twice through the same simulator, with the selections kept
(``selections.size`` at its default) and with none kept (``size = 0``: every page selects
again, the behaviour before the cache); the pages must be byte-identical. ``computed`` counts
the selections made: the measure of work, instead of a wall clock.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from rs_auxip.fake import auxip_item

from rs_core.testing.kit.catalog import make_collection
from rs_core.testing.simulator import ApiKey, Dataset, RsServerSimulator, StacService
from rs_core.testing.simulator import catalog as catalog_module
from rs_core.testing.simulator.messages import dumps
from rs_core.testing.simulator.selections import DEFAULT_SIZE, SelectionCache

N_PRODUCTS = 3000
DT = "2000-01-01T00:00:00Z/2100-01-01T00:00:00Z"
KEY = "k"
OWNER = "alice"


@pytest.fixture(scope="module")
def big_dataset() -> Dataset:
    return Dataset.synthetic(n_products=N_PRODUCTS, n_files=10, n_sessions=2)


@pytest.fixture
def v2(big_dataset: Dataset) -> Iterator[RsServerSimulator]:
    with RsServerSimulator(dataset=big_dataset, api_version="v2") as simulator:
        yield simulator


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def _next(page: dict[str, Any]) -> dict[str, Any] | None:
    return next((link for link in page["links"] if link["rel"] == "next"), None)


def page_through(
    http: requests.Session, url: str, params: dict[str, Any] | None = None, body: Any = None
) -> list[bytes]:
    """Every page's raw body, following ``next`` links (POST links carry their body)."""
    if body is None:
        response = http.get(url, params=params, timeout=30)
    else:
        response = http.post(url, json=body, timeout=30)
    pages: list[bytes] = []
    while True:
        assert response.status_code == 200, response.text
        pages.append(response.content)
        link = _next(response.json())
        if link is None:
            return pages
        if link.get("method") == "POST":
            response = http.post(link["href"], json=link["body"], timeout=30)
        else:
            response = http.get(link["href"], timeout=30)


def cached_and_not(cache: SelectionCache[Any], run: Callable[[], list[bytes]]) -> list[bytes]:
    """``run()`` with the selections kept, then with none kept: the same pages; returns them.

    With the cache, a search of several pages selects once; without, once per page."""
    cache.size = DEFAULT_SIZE
    cache.changed()
    before = cache.computed
    kept = run()
    assert len(kept) > 2
    assert cache.computed == before + 1  # one selection for every page
    cache.size = 0
    before = cache.computed
    uncached = run()
    assert cache.computed == before + len(uncached)  # one per page: the old behaviour
    cache.size = DEFAULT_SIZE
    assert kept == uncached
    return kept


# -- STAC station services (v2) -------------------------------------------------------------


@pytest.mark.parametrize(
    "path, params, body",
    [
        ("/auxip/collections/adgs/items", {"datetime": DT, "limit": 250}, None),
        ("/auxip/collections/adgs/items", {"limit": 400, "sortby": "+id"}, None),
        ("/auxip/search", {"collections": "adgs", "datetime": DT, "limit": 300}, None),
        (
            "/auxip/search",
            {
                "collections": "adgs",
                "limit": 200,
                "filter": "t_intersects(datetime, "
                "INTERVAL('2024-01-01T05:00:00Z','2024-01-02T20:00:00Z'))",
            },
            None,
        ),
        ("/auxip/search", None, {"collections": ["adgs"], "datetime": DT, "limit": 350}),
        (
            "/auxip/search",
            None,
            {
                "collections": ["adgs"],
                "limit": 500,
                "sortby": [{"field": "id", "direction": "desc"}],
                "filter": {
                    "op": "t_after",
                    "args": [{"property": "created"}, {"timestamp": "2024-01-01T12:00:00Z"}],
                },
            },
        ),
    ],
)
def test_v2_paging_through_thousands_is_the_same_with_the_cache(
    v2: RsServerSimulator,
    http: requests.Session,
    path: str,
    params: dict[str, Any] | None,
    body: Any,
) -> None:
    service = v2.stac_service("auxip")
    pages = cached_and_not(
        service.selections, lambda: page_through(http, v2.url + path, params, body)
    )
    ids = [f["id"] for page in pages for f in json.loads(page)["features"]]
    assert len(ids) == len(set(ids)) > 100


def test_v2_every_page_answered_once_selected_and_against_an_independent_selection(
    v2: RsServerSimulator, http: requests.Session, big_dataset: Dataset
) -> None:
    service = v2.stac_service("auxip")
    before = service.selections.computed
    pages = page_through(
        http, f"{v2.url}/auxip/collections/adgs/items", {"datetime": DT, "limit": 1000}
    )
    assert len(pages) == 4 and service.selections.computed == before + 1
    ids = [f["id"] for page in pages for f in json.loads(page)["features"]]
    # independent: the products sorted by publication, newest first (ties: the later record)
    records = sorted(
        enumerate(big_dataset.adgs_products),
        key=lambda pair: (pair[1]["PublicationDate"], pair[0]),
        reverse=True,
    )
    assert ids == [auxip_item(record, i).item_id for i, record in records]


def _new_product(service: StacService, big_dataset: Dataset, name: str) -> None:
    newest = max(big_dataset.adgs_products, key=lambda record: str(record["PublicationDate"]))
    record = {
        **newest,
        "Id": name,
        "Name": f"{name}.EOF",
        "PublicationDate": "2099-01-01T00:00:00Z",
    }
    service.add_items([auxip_item(record, len(big_dataset.adgs_products) + 1)])


def test_v2_a_new_product_is_seen_by_the_next_request(
    v2: RsServerSimulator, http: requests.Session, big_dataset: Dataset
) -> None:
    service = v2.stac_service("auxip")
    url = f"{v2.url}/auxip/search"
    params = {"collections": "adgs", "limit": 100}
    first = http.get(url, params=params, timeout=30).json()
    assert first["features"][0]["id"] != "S1_NEW_PRODUCT"
    computed = service.selections.computed
    page_two = http.get(url, params={**params, "page": 2}, timeout=30).content
    assert service.selections.computed == computed  # kept

    _new_product(service, big_dataset, "S1_NEW_PRODUCT")
    again = http.get(url, params=params, timeout=30).json()
    assert again["features"][0]["id"] == "S1_NEW_PRODUCT"  # newest first
    assert service.selections.computed == computed + 1
    # a page asked after the change is that page of the new selection, as before the cache
    shifted = http.get(url, params={**params, "page": 2}, timeout=30).content
    assert shifted != page_two
    service.selections.size = 0
    assert http.get(url, params={**params, "page": 2}, timeout=30).content == shifted


def test_v2_selections_are_bounded_least_recently_used_first(
    v2: RsServerSimulator, http: requests.Session
) -> None:
    service = v2.stac_service("auxip")
    url = f"{v2.url}/auxip/collections/adgs/items"
    days = [f"2000-01-01T00:00:00Z/2100-01-{day:02d}T00:00:00Z" for day in range(1, 21)]
    for day in days:
        assert http.get(url, params={"datetime": day, "limit": 5}, timeout=30).ok
    assert len(service.selections) == DEFAULT_SIZE < len(days)
    computed = service.selections.computed
    http.get(url, params={"datetime": days[-1], "limit": 5, "page": 2}, timeout=30)
    assert service.selections.computed == computed  # the latest is kept
    http.get(url, params={"datetime": days[0], "limit": 5, "page": 2}, timeout=30)
    assert service.selections.computed == computed + 1  # the first was dropped
    assert len(service.selections) == DEFAULT_SIZE


def test_stac_service_lookup(v2: RsServerSimulator) -> None:
    assert v2.stac_service("auxip").service == "auxip"
    with pytest.raises(LookupError, match="no STAC service 'nothing'"):
        v2.stac_service("nothing")
    with RsServerSimulator() as v1, pytest.raises(LookupError, match="served: none"):
        v1.stac_service("auxip")


# -- the catalog ----------------------------------------------------------------------------


def _item(i: int, coll: str = "big") -> dict[str, Any]:
    name = f"S1A_{i:06d}.SAFE.zip"
    return {
        "type": "Feature",
        "stac_version": "1.0.0",
        "stac_extensions": [],
        "id": f"item-{i:06d}",
        "collection": coll,
        "geometry": {"type": "Point", "coordinates": [i % 10, 45.0]},
        "bbox": [i % 10, 45.0, i % 10, 45.0],
        "properties": {  # many equal datetimes: ties sort by id
            "datetime": f"2024-01-{1 + i % 28:02d}T{i % 24:02d}:00:00Z",
            "platform": "S1A" if i % 3 else "S1B",
        },
        "assets": {name: {"href": f"s3://bucket/data/{name}", "roles": ["data"]}},
        "links": [],
    }


def create_collection(http: requests.Session, sim: RsServerSimulator, coll: str) -> None:
    """Create the catalog collection ``coll`` of the session's user."""
    collection = make_collection(coll, "paging").to_dict(include_self_link=False)
    answer = http.post(f"{sim.url}/catalog/collections", json=collection, timeout=10)
    assert answer.status_code == 201, answer.text


@pytest.fixture
def catalog_sim() -> Iterator[RsServerSimulator]:
    with RsServerSimulator(api_keys={KEY: ApiKey.full_access(OWNER)}) as simulator:
        yield simulator


@pytest.fixture
def cat_http(catalog_sim: RsServerSimulator) -> Iterator[requests.Session]:
    """A session of ``alice`` with ``alice:big`` holding 3,000 items (one bulk request)."""
    with requests.Session() as session:
        session.headers["x-api-key"] = KEY
        cat = f"{catalog_sim.url}/catalog"
        create_collection(session, catalog_sim, "big")
        items = {f"item-{i:06d}": _item(i) for i in range(N_PRODUCTS)}
        bulk = session.post(
            f"{cat}/collections/{OWNER}:big/bulk_items",
            json={"items": items, "method": "insert"},
            timeout=60,
        )
        assert bulk.status_code == 200, bulk.text
        yield session


@pytest.mark.parametrize(
    "path, params, body",
    [
        ("/catalog/collections/alice:big/items", {"limit": 250}, None),
        ("/catalog/collections/alice:big/items", {"limit": 300, "datetime": "2024-01-05/.."}, None),
        ("/catalog/search", {"collections": "alice:big", "limit": 400}, None),
        (
            "/catalog/search",
            {"limit": 200, "filter": "platform = 'S1A'", "bbox": "2,40,7,50"},
            None,
        ),
        ("/catalog/search", None, {"collections": ["alice_big"], "limit": 350}),
        (
            "/catalog/search",
            None,
            {
                "limit": 150,
                "filter": {"op": "=", "args": [{"property": "platform"}, "S1B"]},
                "filter-lang": "cql2-json",
            },
        ),
    ],
)
def test_catalog_paging_through_thousands_is_the_same_with_the_cache(
    catalog_sim: RsServerSimulator,
    cat_http: requests.Session,
    path: str,
    params: dict[str, Any] | None,
    body: Any,
) -> None:
    run = lambda: page_through(cat_http, catalog_sim.url + path, params, body)  # noqa: E731
    pages = cached_and_not(catalog_sim.catalog.selections, run)
    answers = [json.loads(page) for page in pages]
    ids = [f["id"] for answer in answers for f in answer["features"]]
    assert len(ids) == len(set(ids)) == answers[0]["numberMatched"] > 100


def test_catalog_pages_against_an_independent_selection(
    catalog_sim: RsServerSimulator, cat_http: requests.Session
) -> None:
    pages = page_through(
        cat_http, f"{catalog_sim.url}/catalog/collections/alice:big/items", {"limit": 1000}
    )
    features = [f for page in pages for f in json.loads(page)["features"]]
    expected = sorted(
        (_item(i) for i in range(N_PRODUCTS)),
        key=lambda item: (item["properties"]["datetime"], item["id"]),
        reverse=True,
    )
    assert [f["id"] for f in features] == [item["id"] for item in expected]
    assert features[0]["collection"] == "big" and features[0]["properties"]["owner"] == OWNER


def test_catalog_pages_are_the_answers_serialised_whole(
    catalog_sim: RsServerSimulator, cat_http: requests.Session
) -> None:
    """Items are serialised once (a template per stored item): every page is byte for byte
    ``dumps`` of the answer made of the public items, as before; odd items too."""
    cat = f"{catalog_sim.url}/catalog"
    odd = [
        {k: v for k, v in _item(90000).items() if k != "collection"},  # collection added last
        {"links": [], **_item(90001), "properties": {"datetime": "2030-01-01T00:00:00Z",
         "title": "Ünïcode ✓ \"quoted\"", "ratio": 0.1, "big": 10**20, "none": None}},
    ]  # fmt: skip
    for body in odd:
        assert cat_http.post(f"{cat}/collections/{OWNER}:big/items", json=body).status_code == 201
    cat_http.put(f"{cat}/collections/{OWNER}:big/items/item-000005", json=_item(5))  # replaced
    catalog = catalog_sim.catalog
    stored = catalog._items[OWNER, "big"]
    for path, in_search in (("/collections/alice:big/items", False), ("/search", True)):
        for page in page_through(cat_http, cat + path, {"limit": 700}):
            answer = json.loads(page)
            features = [
                catalog._public_item(OWNER, "big", stored[f["id"]], in_search)
                for f in answer["features"]
            ]
            assert page == dumps({**answer, "features": features})
            assert all(list(f) == list(stored[f["id"]]) for f in answer["features"])
    assert list(stored["item-090000"])[-1] == "collection"


def test_catalog_an_item_holding_a_hole_mark_is_serialised_whole(
    catalog_sim: RsServerSimulator, cat_http: requests.Session
) -> None:
    body = _item(90002)
    body["properties"]["title"] = catalog_module._MARKS["links"]  # what no item should hold
    cat = f"{catalog_sim.url}/catalog"
    assert cat_http.post(f"{cat}/collections/{OWNER}:big/items", json=body).status_code == 201
    stored = catalog_sim.catalog._items[OWNER, "big"]["item-090002"]
    assert catalog_module._template(stored) is None
    page = cat_http.get(f"{cat}/search", params={"ids": "item-090002"}).content
    answer = json.loads(page)
    public = catalog_sim.catalog._public_item(OWNER, "big", stored, True)
    assert answer["features"] == [public] and page == dumps({**answer, "features": [public]})


def test_catalog_writes_are_seen_by_the_next_request(
    catalog_sim: RsServerSimulator, cat_http: requests.Session
) -> None:
    cat = f"{catalog_sim.url}/catalog"
    selections = catalog_sim.catalog.selections
    search = {"collections": "alice:big", "limit": 100}

    def first_ids() -> list[str]:
        answer = cat_http.get(f"{cat}/search", params=search, timeout=30).json()
        return [f["id"] for f in answer["features"]]

    def newest(i: int) -> dict[str, Any]:
        item = _item(i)
        item["properties"]["datetime"] = "2030-01-01T00:00:00Z"
        return item

    before = first_ids()
    computed = selections.computed
    assert first_ids() == before and selections.computed == computed  # kept
    writes: list[tuple[Callable[[], requests.Response], Callable[[list[str]], bool]]] = [
        (  # POST an item
            lambda: cat_http.post(f"{cat}/collections/alice:big/items", json=newest(90001)),
            lambda ids: ids[0] == "item-090001",
        ),
        (  # PUT it back into January
            lambda: cat_http.put(
                f"{cat}/collections/alice:big/items/item-090001", json=_item(90001)
            ),
            lambda ids: "item-090001" not in ids,
        ),
        (  # DELETE the newest
            lambda: cat_http.delete(f"{cat}/collections/alice:big/items/{before[0]}"),
            lambda ids: before[0] not in ids and ids[0] == before[1],
        ),
        (  # bulk upsert
            lambda: cat_http.post(
                f"{cat}/collections/alice:big/bulk_items",
                json={"items": {"item-000007": newest(7)}, "method": "upsert"},
            ),
            lambda ids: ids[0] == "item-000007",
        ),
        (  # DELETE the collection
            lambda: cat_http.delete(f"{cat}/collections/alice:big"),
            lambda ids: ids == [],
        ),
    ]
    for write, seen in writes:
        assert write().ok
        ids = first_ids()
        assert seen(ids), ids
        assert selections.computed == computed + 1
        computed = selections.computed
    catalog_sim.catalog.clear()
    assert selections.generation > 0 and len(selections) == 0


def test_catalog_a_staged_item_is_seen_by_the_next_search() -> None:
    keys = {KEY: ApiKey.full_access(OWNER)}
    with (
        RsServerSimulator(api_keys=keys, api_version="v2", staging_duration=0.05) as sim,
        requests.Session() as http,
    ):
        http.headers["x-api-key"] = KEY
        create_collection(http, sim, "staged")
        search = {"collections": f"{OWNER}:staged"}
        assert http.get(f"{sim.url}/catalog/search", params=search).json()["features"] == []
        computed = sim.catalog.selections.computed
        assert http.get(f"{sim.url}/catalog/search", params=search).json()["features"] == []
        assert sim.catalog.selections.computed == computed
        body = {
            "inputs": {
                "collection": "staged",
                "items": {"href": f"{sim.url}/auxip/search?collections=adgs&limit=2"},
            }
        }
        job = http.post(f"{sim.url}/processes/staging/execution", json=body).json()
        deadline = time.monotonic() + 10
        state = http.get(f"{sim.url}/jobs/{job['jobID']}").json()
        while state["status"] in ("accepted", "running") and time.monotonic() < deadline:
            time.sleep(0.02)
            state = http.get(f"{sim.url}/jobs/{job['jobID']}").json()
        assert state["status"] == "successful", state
        answer = http.get(f"{sim.url}/catalog/search", params=search).json()
        assert len(answer["features"]) == 2


# -- the cache itself ---------------------------------------------------------------------


def test_selection_cache_is_bounded_and_least_recently_used_first() -> None:
    cache: SelectionCache[int] = SelectionCache(size=3)
    for key in range(5):
        cache.get(key, lambda key=key: [key])  # type: ignore[misc]
    assert len(cache) == 3 and cache.computed == 5
    assert cache.get(4, lambda: [-1]) == [4] and cache.computed == 5
    assert cache.get(2, lambda: [-1]) == [2]  # now the most recent
    cache.get(5, lambda: [5])  # drops 3, the least recently used
    assert cache.get(3, lambda: [-3]) == [-3] and cache.computed == 7
    assert cache.get(2, lambda: [-1]) == [2]


def test_selection_cache_keeps_nothing_computed_across_a_change() -> None:
    cache: SelectionCache[str] = SelectionCache()

    def during_a_write() -> list[str]:
        cache.changed()  # the data changes while this selection is computed
        return ["stale"]

    assert cache.get("q", during_a_write) == ["stale"]
    assert len(cache) == 0
    assert cache.get("q", lambda: ["fresh"]) == ["fresh"] and len(cache) == 1
    cache.size = 0
    cache.changed()
    assert cache.get("q", lambda: ["again"]) == ["again"] and len(cache) == 0
