"""No silent partial result (issue #15, point 5): every page of a paged search is checked, and a
2xx answer to a write that is not the written item is verified by reading the item back.

A page that answers 200 with something that is not a FeatureCollection (no ``features``,
``features: null``, an error object) is a :class:`BadResponseError` naming the page, for a v2
station search and for every catalog search shape (``items()``, ``pages()``,
``item_collection()``); pystac-client's own paging stops quietly there.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from reliability_support import API_KEY, OWNER, PATIENT, USER
from rs_auxip import AuxipClient

import rs_core
from rs_core.errors import BadResponseError
from rs_core.testing.kit.catalog import make_collection, make_item
from rs_core.testing.simulator import ApiKey, Fault, RsServerSimulator

BAD_PAGES: dict[str, Any] = {
    "no features": {"type": "FeatureCollection", "links": []},
    "features null": {"type": "FeatureCollection", "features": None, "links": []},
    "error object": {"code": "InternalError", "description": "database went away"},
    "features not a list": {"type": "FeatureCollection", "features": {"a": 1}},
}


@pytest.fixture(scope="module")
def sims() -> Iterator[tuple[RsServerSimulator, RsServerSimulator]]:
    keys = {API_KEY: ApiKey.full_access(USER)}
    with (
        RsServerSimulator(api_keys=keys) as v1,
        RsServerSimulator(api_keys=keys, api_version="v2") as v2,
    ):
        yield v1, v2


@pytest.fixture(scope="module")
def catalog(sims: tuple[RsServerSimulator, RsServerSimulator]) -> Iterator[Any]:
    client = rs_core.get_catalog(
        rs_server_href=sims[0].url, rs_server_api_key=API_KEY, http_settings=PATIENT
    )
    client.add_collection(make_collection("pages"))
    for k in range(5):
        client.add_item("pages", make_item(f"page-item-{k}"))
    yield client
    client.close()


@pytest.mark.parametrize("shape", BAD_PAGES)
def test_v2_station_bad_page_two(
    sims: tuple[RsServerSimulator, RsServerSimulator], shape: str
) -> None:
    sim = sims[1]
    with AuxipClient(sim.url, API_KEY, None, http_settings=PATIENT, api_version="v2") as auxip:
        whole = auxip.search_stations("2000-01-01", "2100-01-01", page_size=2, max_items=6)
        assert len(whole) == 6
        sim.add_fault(
            Fault(path="/auxip/collections/adgs/items", kind="status", status=200, skip=1,
                  body=BAD_PAGES[shape])
        )  # fmt: skip
        try:
            with pytest.raises(BadResponseError) as caught:
                auxip.search_stations("2000-01-01", "2100-01-01", page_size=2, max_items=6)
        finally:
            sim.clear_faults()
    message = str(caught.value)
    assert "page 2" in message and "not a GeoJSON FeatureCollection" in message
    assert caught.value.url and "/auxip/collections/adgs/items" in caught.value.url
    assert caught.value.status == 200


def _catalog_calls(catalog: Any) -> dict[str, Callable[[], Any]]:
    def search() -> Any:
        return catalog.search(collections=["pages"], limit=2)

    return {
        "items()": lambda: list(search().items()),
        "pages()": lambda: [list(p) for p in search().pages()],
        "item_collection()": lambda: search().item_collection(),
    }


@pytest.mark.parametrize("call", ["items()", "pages()", "item_collection()"])
@pytest.mark.parametrize("shape", BAD_PAGES)
def test_catalog_bad_page_two(
    sims: tuple[RsServerSimulator, RsServerSimulator], catalog: Any, shape: str, call: str
) -> None:
    sim = sims[0]
    run = _catalog_calls(catalog)[call]
    assert len(run()) >= 2, "more than one page when nothing is wrong"
    path = r"^/catalog/search$" if call != "get_items" else r"^/catalog/collections/[^/]+/items$"
    if call == "get_items":
        first = sim.requests[-1]
        assert "limit" not in first.query, "get_items pages with the server's default size"
        pytest.skip("the simulator's item listing is one page: nothing to fault on page 2")
    sim.add_fault(Fault(path_regex=path, kind="status", status=200, skip=1, body=BAD_PAGES[shape]))
    try:
        with pytest.raises(BadResponseError) as caught:
            run()
    finally:
        sim.clear_faults()
    assert "page 2" in str(caught.value), str(caught.value)
    assert caught.value.url and "/catalog/" in caught.value.url


def test_catalog_empty_page_two_ends_the_results(
    sims: tuple[RsServerSimulator, RsServerSimulator], catalog: Any
) -> None:
    """An empty FeatureCollection is the end of the results, not an error."""
    sim = sims[0]
    empty = {"type": "FeatureCollection", "features": [], "links": []}
    sim.add_fault(Fault(path="/catalog/search", kind="status", status=200, skip=1, body=empty))
    try:
        found = list(catalog.search(collections=["pages"], limit=2).items())
    finally:
        sim.clear_faults()
    assert len(found) == 2


@pytest.mark.parametrize(
    "answer",
    [
        {"detail": "accepted"},
        {"type": "Feature", "id": "another-item", "properties": {}},
        [],
    ],
    ids=["object", "another item", "list"],
)
@pytest.mark.parametrize("write", ["add_item", "update_item"])
def test_write_answered_with_something_else_is_not_a_success(
    sims: tuple[RsServerSimulator, RsServerSimulator], catalog: Any, write: str, answer: Any
) -> None:
    sim = sims[0]
    item = make_item(f"w-{uuid.uuid4().hex[:8]}")
    if write == "update_item":
        catalog.add_item("pages", item)
        item.properties["platform"] = "changed"
    method, regex = (
        ("POST", r"^/catalog/collections/[^/]+/items$")
        if write == "add_item"
        else ("PUT", r"^/catalog/collections/[^/]+/items/[^/]+$")
    )
    sim.add_fault(
        Fault(path_regex=regex, method=method, kind="status", status=200, body=answer, times=1)
    )
    try:
        with pytest.raises(BadResponseError) as caught:
            getattr(catalog, write)("pages", item)
    finally:
        sim.clear_faults()
    message = str(caught.value)
    assert "not stored" in message and "HTTP 200" in message, message
    assert API_KEY not in message


@pytest.mark.parametrize("content", [b"", b'{"detail": "created"}'], ids=["empty", "other"])
def test_write_answer_that_lost_the_item_is_read_back(catalog: Any, content: bytes) -> None:
    """A write that the server stored but whose answer is not the item (an empty body, a
    gateway's note) is a success: the item read back is returned. The answer is made by
    hand (a narrow unit test); the read-back is a real GET to the simulator."""
    item = make_item(f"e-{uuid.uuid4().hex[:8]}")
    catalog.add_item("pages", item)
    answer = requests.Response()
    answer.status_code, answer._content = 201, content
    answer.url = f"{catalog.href_catalog}/collections/{OWNER}:pages/items"
    body = catalog._item_body(item, OWNER, "pages")
    got = catalog._written_item(answer, f"{OWNER}:pages", body, "Adding it failed")
    assert got.id == item.id and got.collection_id == f"{OWNER}:pages"
    assert got.properties["owner"] == OWNER, "the stored item, as the server keeps it"
