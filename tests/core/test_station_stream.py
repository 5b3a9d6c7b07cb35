"""Station searches one item after the other (``iter_stations``): the same items as
``search_stations``, bad arguments refused before any request, and memory that stays at about
one page however many files the search finds."""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from rs_auxip import AuxipClient
from rs_cadip import CadipClient
from rs_prip import PripClient

from rs_core.errors import InvalidInputError
from rs_core.http import HttpSettings
from rs_core.testing.simulator import ApiKey, Dataset, RsServerSimulator

KEY = "stream-key"
FAST = HttpSettings(timeout=20.0, connect_timeout=5.0, retries=1, backoff_factor=0.01)
START, STOP = "2000-01-01", "2100-01-01"


@pytest.fixture(scope="module")
def sim_v2() -> Iterator[RsServerSimulator]:
    with RsServerSimulator(api_keys={KEY: ApiKey.full_access("tester")}, api_version="v2") as s:
        yield s


@pytest.fixture(scope="module")
def sim_v1() -> Iterator[RsServerSimulator]:
    with RsServerSimulator(api_keys={KEY: ApiKey.full_access("tester")}) as s:
        yield s


def _dicts(items: Any) -> list[dict[str, Any]]:
    return [item.to_dict() for item in items]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"page_size": 7},
        {"page_size": 5, "max_items": 12},
        {"page_size": 4, "sortby": "-created"},
        {"limit": 9},
    ],
)
def test_auxip_stream_equals_the_search(sim_v2: RsServerSimulator, kwargs: dict[str, Any]) -> None:
    with AuxipClient(sim_v2.url, KEY, "tester", http_settings=FAST) as auxip:
        held = auxip.search_stations(START, STOP, **kwargs)
        streamed = auxip.iter_stations(START, STOP, **kwargs)
        assert not isinstance(streamed, list)
        assert len(held) > 8
        assert _dicts(streamed) == _dicts(held)


def test_prip_and_cadip_streams_equal_their_searches(sim_v2: RsServerSimulator) -> None:
    with PripClient(sim_v2.url, KEY, "tester", http_settings=FAST) as prip:
        held = prip.search_stations(START, STOP, page_size=4)
        assert len(held) > 4
        assert _dicts(prip.iter_stations(START, STOP, page_size=4)) == _dicts(held)
        several = [c.id for c in prip.list_collections()[:2]]
        held = prip.search_stations(START, STOP, collection=several, sortby="-published")
        streamed = prip.iter_stations(START, STOP, collection=several, sortby="-published")
        assert _dicts(streamed) == _dicts(held), "collections merged in the same order"
    with CadipClient(sim_v2.url, KEY, "tester", "CADIP", http_settings=FAST) as cadip:
        held = cadip.search_stations(START, STOP, page_size=1, max_items=40)
        assert len(held) > 10
        streamed = cadip.iter_stations(START, STOP, page_size=1, max_items=40)
        assert _dicts(streamed) == _dicts(held)
        sorted_held = cadip.search_stations(START, STOP, sortby="-created", max_items=30)
        sorted_streamed = cadip.iter_stations(START, STOP, sortby="-created", max_items=30)
        assert _dicts(sorted_streamed) == _dicts(sorted_held)


def test_v1_streams_equal_their_searches(sim_v1: RsServerSimulator) -> None:
    with AuxipClient(sim_v1.url, KEY, "tester", http_settings=FAST) as auxip:
        held = auxip.search_stations(START, STOP, limit=20)
        assert len(held) == 20
        assert _dicts(auxip.iter_stations(START, STOP, limit=20)) == _dicts(held)
    with CadipClient(sim_v1.url, KEY, "tester", "CADIP", http_settings=FAST) as cadip:
        held = cadip.search_stations(START, STOP, limit=15)
        assert _dicts(cadip.iter_stations(START, STOP, limit=15)) == _dicts(held)


@pytest.mark.parametrize(
    ("call", "named"),
    [
        (lambda c: c.iter_stations(START, STOP, max_items=0), "max_items"),
        (lambda c: c.iter_stations("2024-02-01", "2024-01-01"), "date"),
        (lambda c: c.iter_stations(START, STOP, sortby="published"), "sort"),
        (lambda c: c.iter_stations(START, STOP, bbox=[1, 2]), "bbox"),
    ],
)
def test_a_stream_refuses_bad_arguments_before_any_request(
    sim_v2: RsServerSimulator, call: Any, named: str
) -> None:
    with AuxipClient(sim_v2.url, KEY, "tester", http_settings=FAST) as auxip:
        auxip.server_generation()  # the probe is not what is counted
        sim_v2.clear_requests()
        with pytest.raises(InvalidInputError) as caught:
            call(auxip)  # raised by the call itself, not when iterating
        assert named in str(caught.value).lower()
        assert sim_v2.requests == []


def test_files_found_by_a_stream_can_be_staged_by_name(sim_v2: RsServerSimulator) -> None:
    with AuxipClient(sim_v2.url, KEY, "tester", http_settings=FAST) as auxip:
        name = next(auxip.iter_stations(START, STOP, max_items=1)).id
    with AuxipClient(sim_v2.url, KEY, "tester", http_settings=FAST) as auxip:
        first = next(auxip.iter_stations(START, STOP, max_items=1))
        assert first.id == name
        report = auxip.stage_and_wait([name], timeout=30, poll_interval=0.05, progress=False)
        assert [o.name for o in report.done] == [name], report


def _page_bytes(url: str, size: int) -> int:
    """Peak Python memory of fetching one page of ``size`` items and holding it decoded (the
    floor's page; the simulator serves it in this process, its share counted too)."""
    gc.collect()
    tracemalloc.start()
    try:
        with requests.Session() as http:
            page = http.get(
                f"{url}/auxip/collections/adgs/items",
                params={"limit": str(size)},
                headers={"x-api-key": KEY},
                timeout=30,
            ).json()
        held = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(page["features"]) == size
    return held


def _peak(fn: Any) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.slow
def test_a_stream_holds_about_one_page() -> None:
    """Iterating files in pages of 150 peaks at two pages' worth of memory at most (the decoded
    page, its items as they are built, bounded caches) whatever their number: 3,000 files
    cost what 600 do, within a page; holding them all costs far more."""
    dataset = Dataset.synthetic(n_products=3000, n_files=1, n_sessions=1)
    with (
        RsServerSimulator(
            api_keys={KEY: ApiKey.full_access("tester")}, api_version="v2", dataset=dataset
        ) as sim,
        AuxipClient(sim.url, KEY, "tester", http_settings=FAST) as auxip,
    ):
        page = _page_bytes(sim.url, 150)
        for _ in auxip.iter_stations(START, STOP, page_size=150, max_items=1200):
            pass  # imports, the probe and caches out of the way

        def stream(count: int) -> None:
            seen = 0
            for item in auxip.iter_stations(START, STOP, page_size=150, max_items=count):
                seen += 1
                del item
            assert seen == count

        def hold() -> None:
            found = auxip.search_stations(START, STOP, page_size=150)
            assert sum(1 for _ in found) == 3000

        small, large, held = _peak(lambda: stream(600)), _peak(lambda: stream(3000)), _peak(hold)
        print(f"one page {page / 2**20:.2f} MiB, streamed 600: {small / 2**20:.2f} MiB, "
              f"3000: {large / 2**20:.2f} MiB, held {held / 2**20:.2f} MiB")  # fmt: skip
        # 5x the files cost at most one page more (CI once measured 0.52 page more, after the
        # whole suite; 0.15 page alone) and two pages in all: the target of issue #18
        assert large <= small + page, "a stream's memory does not grow with the files"
        assert large <= 2 * page, (large, page)
        assert held >= 10 * page, (held, page)
