"""AUXIP station search, complete (RS-Server 1.0 semantics) on the simulator's v2 face:
collections, cql2-text sent as cql2-json, bbox/intersects, unknown collections and sort fields
as typed errors."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from rs_auxip import AuxipClient

from rs_core import (
    InvalidInputError,
    RsError,
    UnknownCollectionError,
    UnsortableFieldError,
    UnsupportedOperationError,
)
from rs_core.http import HttpSettings
from rs_core.testing.pytest_plugin import KIT_API_KEY
from rs_core.testing.simulator import Fault

FAST = HttpSettings(timeout=10.0, connect_timeout=5.0, retries=2, backoff_factor=0.01)
START, STOP = "2000-01-01", "2100-01-01"
SEARCH = "/auxip/search"


@pytest.fixture
def v2(rs_simulator_v2: Any) -> Any:
    return rs_simulator_v2


@pytest.fixture
def client(v2: Any) -> Iterator[AuxipClient]:
    with AuxipClient(v2.url, KIT_API_KEY, "tester", http_settings=FAST) as auxip:
        yield auxip


def paths(sim: Any) -> list[str]:
    return [f"{r.method} {r.path}" for r in sim.requests]


def test_spaces_around_equals_select_the_same_subset(client: AuxipClient) -> None:
    everything = client.search_stations(START, STOP)
    tight = client.search_stations(START, STOP, filter="product:type='AUX_PP2'")
    spaced = client.search_stations(START, STOP, filter="product:type  =  'AUX_PP2'")
    expected = [i.id for i in everything if i.properties.get("product:type") == "AUX_PP2"]
    assert expected and len(expected) < len(everything)
    assert sorted(i.id for i in spaced) == sorted(expected)
    assert [i.id for i in spaced] == [i.id for i in tight]


def test_several_collections_are_searched_one_by_one(client: AuxipClient, v2: Any) -> None:
    both = ["adgs_aux_pp2", "adgs_oper_aux_obmemc"]
    found = client.search_stations(START, STOP, collection=both, sortby="-created")
    types = {i.properties["product:type"] for i in found}
    assert types == {"AUX_PP2", "OPER_AUX_OBMEMC"}, "RS-Server merges one station's queries"
    created = [i.properties["created"] for i in found]
    assert created == sorted(created, reverse=True), "merged in the asked order"
    asked = [r.path for r in v2.requests if r.path.endswith("/items")]
    assert asked == [f"/auxip/collections/{c}/items" for c in both]
    capped = client.search_stations(START, STOP, collection=both, max_items=3)
    assert len(capped) == 3


def test_unknown_collection_is_a_typed_error_naming_the_valid_ones(
    client: AuxipClient, v2: Any
) -> None:
    with pytest.raises(UnknownCollectionError) as info:
        client.search_stations(START, STOP, collection="adgs_no_such_type")
    assert "adgs_no_such_type" in str(info.value) and "adgs_aux_pp2" in str(info.value)
    assert "adgs" in info.value.valid and "adgs2" in info.value.valid
    assert paths(v2)[-1] == "GET /auxip/collections", "checked before any search"
    v2.clear_requests()
    with pytest.raises(UnknownCollectionError):
        client.search_stations(START, STOP, collection=["adgs", "nope"], filter="platform='x'")
    assert paths(v2) == [], "the collection list is cached for the client"


def test_unsortable_field_is_refused_before_any_request(client: AuxipClient, v2: Any) -> None:
    client.server_generation()
    v2.clear_requests()
    with pytest.raises(UnsortableFieldError) as info:
        client.search_stations(START, STOP, sortby="-published")
    assert "'published'" in str(info.value) and "created" in info.value.sortable
    assert v2.requests == []


def test_the_servers_sort_refusal_is_the_same_error(client: AuxipClient, v2: Any) -> None:
    detail = {"detail": "start_datetime is not sortable"}
    items = "/auxip/collections/adgs/items"
    v2.add_fault(Fault(path=items, kind="status", status=404, body=detail, times=1))
    with pytest.raises(UnsortableFieldError) as info:
        client.search_stations(START, STOP, sortby="+start_datetime")
    assert "start_datetime" in str(info.value) and "created" in str(info.value)
    assert info.value.__cause__ is not None, "chained from the server's answer"


def test_bbox_and_intersects_are_posted(client: AuxipClient, v2: Any) -> None:
    polygon = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}
    with contextlib.suppress(RsError):  # the wire is checked, not the simulator's geometry
        client.search_stations(START, STOP, intersects=polygon, bbox=[-10, 40, 5, 50])
    [request] = [r for r in v2.requests if r.path == SEARCH]
    body = request.json()
    assert request.method == "POST" and body["bbox"] == [-10, 40, 5, 50]
    assert body["filter"] == {"op": "intersects", "args": [{"property": "geometry"}, polygon]}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"collection": ""},
        {"collection": ["adgs", 3]},
        {"collection": "a/b"},
        {"bbox": [1, 2, 3]},
        {"bbox": [0, 50, 1, 40]},
        {"intersects": {"type": "Circle", "coordinates": [0, 0]}},
        {"filter": "product:type == 'x'"},
        {"filter": "product:type = "},
    ],
)
def test_bad_search_arguments_send_nothing(client: AuxipClient, v2: Any, kwargs: Any) -> None:
    with pytest.raises(InvalidInputError):
        client.search_stations(START, STOP, **kwargs)
    assert v2.requests == []


def test_v2_only_arguments_on_v1(rs_simulator: Any) -> None:
    with AuxipClient(rs_simulator.url, KIT_API_KEY, "tester", http_settings=FAST) as auxip:
        for kwargs in ({"collection": "adgs"}, {"bbox": [0, 0, 1, 1]}, {"filter": "a='b'"}):
            with pytest.raises(UnsupportedOperationError, match="RS-Server v1"):
                auxip.search_stations(START, STOP, **kwargs)
        assert len(auxip.search_stations(START, STOP, sortby="-published", limit=2)) == 2


def test_the_servers_own_list_of_sortable_fields_is_read(client: AuxipClient, v2: Any) -> None:
    """Without a known list (a raw protocol search), the list in RS-Server 1.0's refusal."""
    from rs_core.rsserver_v2 import v2_search

    detail = {
        "code": "NotFound",
        "description": "'published' parameter is not sortable with adgs. Here is the list of "
        "sortable parameter(s) with adgs: id, auxip:id, created",
    }
    v2.add_fault(Fault(path=SEARCH, kind="status", status=404, body=detail, times=1))
    search, total = v2_search(
        {"sortby": "-published"}, collections=[], explicit=False, limit=5, max_items=None
    )
    with pytest.raises(UnsortableFieldError) as info:
        client._v2_protocol().find(search, max_items=total, timeout=10, what="search")
    assert info.value.sortable == ("id", "auxip:id", "created")
