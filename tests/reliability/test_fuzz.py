"""Hostile input, both ways: what users pass in and what servers send back.

Whatever the input, a client call returns a result or raises an :class:`rs_core.RsError`; any
other exception is a bug. Ids and file names travel only as one encoded path segment or one
query value: the path the simulator records is always the intended one.

Hypothesis runs with bounded ``max_examples`` so the suite stays fast; :data:`TRIED` counts the
inputs actually tried and the last test prints the totals (quoted in docs/reliability.md).
"""

from __future__ import annotations

import collections
import json
import os
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import unquote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability_support import API_KEY, PATIENT
from rs_auxip import AuxipClient
from rs_cadip import CadipClient
from rs_catalog import StacClient

from rs_core.client import RsClient
from rs_core.errors import BadResponseError, InvalidInputError, NotFoundError, RsError
from rs_core.testing.kit.catalog import make_collection, make_item
from rs_core.testing.simulator import ApiKey, Fault, RsServerSimulator

TRIED: collections.Counter[str] = collections.Counter()
OWNER = "fuzzowner"

FUZZ = settings(
    max_examples=int(os.environ.get("RS_FUZZ_EXAMPLES", "80")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def sim() -> Iterator[RsServerSimulator]:
    with RsServerSimulator(
        api_keys={API_KEY: ApiKey.full_access(OWNER)}, staging_duration=0.05
    ) as server:
        yield server


@pytest.fixture(scope="module")
def clients(sim: RsServerSimulator) -> Iterator[tuple[AuxipClient, CadipClient, StacClient]]:
    rs = RsClient(sim.url, API_KEY, OWNER, http_settings=PATIENT)
    catalog = rs.get_stac_client()
    catalog.add_collection(make_collection("fuzz"))
    catalog.add_item("fuzz", make_item("present"))
    yield rs.get_auxip_client(), rs.get_cadip_client("CADIP"), catalog
    rs.close()


def _only_rs_errors(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Call ``fn``; an RsError is fine (returned), anything else fails the test."""
    try:
        return fn(*args, **kwargs)
    except RsError as err:
        return err


# -- user input ----------------------------------------------------------------------------

_zones = st.builds(
    lambda minutes: timezone(timedelta(minutes=minutes)), st.integers(-23 * 60, 23 * 60)
)
_moments = st.one_of(
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=_zones),
    st.dates(),
    st.text(max_size=40),
    st.sampled_from(
        [
            "2024-01-01",
            "2024-01-01T00:00:00Z",
            "now",
            "-1d",
            "0000-00-00",
            "9999-12-31T23:59:59Z",
            "2024-02-30",
            "2024-01-01T25:00:00",
            "1e9",
            "",
            " ",
            "2024-01-01/2024-01-02",
            "\x00",
        ]
    ),
    st.integers(-(10**12), 10**12),
    st.none(),
)


@FUZZ
@given(start=_moments, stop=_moments, limit=st.one_of(st.none(), st.integers(-(10**20), 10**20)))
def test_search_inputs(clients: Any, start: Any, stop: Any, limit: Any) -> None:
    auxip, cadip, _ = clients
    TRIED["search dates and limits"] += 1
    for client in (auxip, cadip):
        result = _only_rs_errors(client.search_stations, start, stop, limit=limit)
        if isinstance(result, RsError):
            assert isinstance(result, InvalidInputError) or result.status is not None, result
        else:
            assert limit is None or len(result) <= limit


@FUZZ
@given(
    start=_moments,
    stop=_moments,
    ids=st.one_of(st.none(), st.text(max_size=30), st.lists(st.text(max_size=30), max_size=3)),
    platforms=st.one_of(st.none(), st.text(max_size=5), st.lists(st.text(max_size=4))),
)
def test_session_inputs(clients: Any, start: Any, stop: Any, ids: Any, platforms: Any) -> None:
    _, cadip, _ = clients
    TRIED["session search inputs"] += 1
    _only_rs_errors(cadip.search_sessions, ids, start, stop, platforms)


_hostile_text = st.one_of(
    st.text(min_size=1, max_size=40),
    st.sampled_from(
        [
            "..",
            ".",
            "../x",
            "a/b",
            "a?b=1",
            "a#b",
            "%2e%2e",
            "..%2f",
            "a b",
            "%",
            "%zz",
            "a&name=b",
            "/",
            "//x",
            "?",
            "#",
            "é/ü",
            "\u202e",
            "a\r\nX-Injected: 1",
            "\x00",
            "x" * 3000,
        ]
    ),
    st.builds(
        "".join,
        st.lists(
            st.sampled_from(["/", "?", "#", "%", "..", ".", "&", "=", "+", " ", "ü", "a"]),
            min_size=1,
            max_size=12,
        ),
    ),
)


@FUZZ
@given(name=_hostile_text)
def test_file_names_stay_query_values(sim: RsServerSimulator, clients: Any, name: str) -> None:
    _, cadip, _ = clients
    TRIED["file names (status + staging)"] += 1
    for call, path in (
        (cadip.staging_info, "/cadip/CADIP/cadu/status"),
        (cadip.staging, "/cadip/CADIP/cadu"),
    ):
        sim.clear_requests()
        result = _only_rs_errors(call, name)
        if isinstance(result, InvalidInputError):
            assert not sim.requests
            continue
        (request,) = sim.requests
        assert request.path == path, f"{name!r} changed the path to {request.path!r}"
        assert request.query["name"] == [name], request.raw_query


@FUZZ
@given(item_id=_hostile_text)
def test_item_ids_stay_one_path_segment(sim: RsServerSimulator, clients: Any, item_id: str) -> None:
    _, _, catalog = clients
    TRIED["catalog item ids (get + remove)"] += 1
    for call in (
        lambda: catalog.get_item(item_id, collection_id="fuzz"),
        lambda: catalog.remove_item("fuzz", item_id),
    ):
        sim.clear_requests()
        result = _only_rs_errors(call)
        if isinstance(result, InvalidInputError):
            assert not sim.requests and item_id.strip() in ("", ".", ".."), item_id
            continue
        assert isinstance(result, NotFoundError) or item_id == "present", result
        (request,) = sim.requests
        segments = request.raw_path.split("/")
        assert segments[:4] == ["", "catalog", "collections", f"{OWNER}:fuzz"], request.raw_path
        assert segments[4:5] == ["items"] and len(segments) == 6, request.raw_path
        assert unquote(segments[5]) == item_id


@FUZZ
@given(
    limit=st.one_of(st.integers(-(10**20), 10**20), st.floats(), st.text(max_size=5)),
    max_items=st.one_of(st.none(), st.integers(-(10**20), 10**20)),
)
def test_catalog_search_limits(clients: Any, limit: Any, max_items: Any) -> None:
    _, _, catalog = clients
    TRIED["catalog search limits"] += 1
    result = _only_rs_errors(
        lambda: catalog.search(
            collections=["fuzz"], limit=limit, max_items=max_items
        ).item_collection()
    )
    if not isinstance(result, RsError):
        assert [i.id for i in result] == ["present"]


# -- server answers ------------------------------------------------------------------------

_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)

_VALID_FEATURE: dict[str, Any] = {
    "type": "Feature",
    "stac_version": "1.0.0",
    "id": "F.raw",
    "geometry": None,
    "links": [],
    "properties": {
        "datetime": "2024-01-01T00:00:00Z",
        "created": "2024-01-01T00:00:00.000Z",
        "eviction_datetime": "2024-01-02T00:00:00Z",
    },
    "assets": {"file": {"file:size": 3}},
}
_VALID_ANSWERS: dict[str, Any] = {
    "search": {
        "type": "FeatureCollection",
        "numberMatched": 1,
        "numberReturned": 1,
        "features": [_VALID_FEATURE],
    },
    "status": {
        "product_id": "x",
        "name": "F.raw",
        "available_at_station": None,
        "db_id": 1,
        "download_start": "2024-01-01T00:00:00.000",
        "download_stop": None,
        "status": "DONE",
        "status_fail_message": None,
    },
    "stage": {"started": "true"},
    "catalog": {"type": "FeatureCollection", "features": [make_item("x").to_dict()], "links": []},
}


def _mutate(data: Any, draw: Any) -> Any:
    """``data`` with one field at a random depth dropped, added or replaced by random JSON."""
    if isinstance(data, dict) and data:
        key = draw(st.sampled_from(sorted(data)))
        action = draw(st.sampled_from(["drop", "replace", "recurse", "extra"]))
        out = dict(data)
        if action == "drop":
            del out[key]
        elif action == "replace":
            out[key] = draw(_json)
        elif action == "extra":
            out[draw(st.text(max_size=8))] = draw(_json)
        else:
            out[key] = _mutate(data[key], draw)
        return out
    if isinstance(data, list) and data:
        index = draw(st.integers(0, len(data) - 1))
        return [*data[:index], _mutate(data[index], draw), *data[index + 1 :]]
    return draw(_json)


@st.composite
def _answers(draw: Any, kind: str) -> Any:
    valid = _VALID_ANSWERS[kind]
    choice = draw(st.integers(0, 9))
    if choice == 0:
        return draw(_json)
    body = valid
    for _ in range(draw(st.integers(1, 3))):
        body = _mutate(body, draw)
    return body


def _served(sim: RsServerSimulator, path: str, body: Any, method: str | None = None) -> None:
    sim.clear_faults()
    sim.add_fault(
        Fault(
            path_regex=path,
            method=method,
            kind="status",
            status=200,
            body=json.dumps(body).encode(),
        )
    )


@FUZZ
@given(search=_answers("search"), status=_answers("status"), stage=_answers("stage"))
def test_station_answers(
    sim: RsServerSimulator, clients: Any, search: Any, status: Any, stage: Any
) -> None:
    auxip, cadip, _ = clients
    TRIED["station answers (search, sessions, status, staging)"] += 1
    try:
        _served(sim, r"^/adgs/aux/search$", search)
        _only_rs_errors(auxip.search_stations, "2020-01-01", "2020-01-02")
        _served(sim, r"^/cadip/CADIP/session$", search)
        _only_rs_errors(cadip.search_sessions, "S1A_1")
        _served(sim, r"^/cadip/CADIP/cadu/status$", status)
        result = _only_rs_errors(cadip.staging_info, "F.raw")
        assert isinstance(result, (RsError)) or result.status.value in (
            "NOT_STARTED",
            "IN_PROGRESS",
            "FAILED",
            "DONE",
        )
        _served(sim, r"^/cadip/CADIP/cadu$", stage)
        _only_rs_errors(cadip.staging, "F.raw")
    finally:
        sim.clear_faults()


@FUZZ
@given(page=_answers("catalog"), collection=_json)
def test_catalog_answers(sim: RsServerSimulator, clients: Any, page: Any, collection: Any) -> None:
    _, _, catalog = clients
    TRIED["catalog answers (search, get)"] += 1
    try:
        _served(sim, r"^/catalog/search$", page)
        _only_rs_errors(lambda: catalog.search(collections=["fuzz"], max_items=5).item_collection())
        _served(sim, r"^/catalog/collections/[^/]+$", collection, method="GET")
        catalog._forget()
        _only_rs_errors(catalog.get_collection, "fuzz")
        _served(sim, r"^/catalog/collections/[^/]+/items$", collection, method="POST")
        _only_rs_errors(catalog.add_item, "fuzz", make_item("posted"))
    finally:
        sim.clear_faults()


@pytest.mark.parametrize("kind", ["json", "text"])
def test_huge_answers(sim: RsServerSimulator, clients: Any, kind: str) -> None:
    auxip, cadip, catalog = clients
    TRIED["huge answers"] += 1
    blob = "x" * (8 * 1024 * 1024)
    body: Any = (
        {"type": "FeatureCollection", "features": [{"id": blob}]} if kind == "json" else blob
    )
    try:
        raw = json.dumps(body).encode() if kind == "json" else blob
        for path in (r"^/adgs/aux/search$", r"^/cadip/CADIP/cadu/status$", r"^/catalog/search$"):
            sim.add_fault(Fault(path_regex=path, kind="status", status=200, body=raw))
        for call in (
            lambda: auxip.search_stations("2020-01-01", "2020-01-02"),
            lambda: cadip.staging_info("F.raw"),
            lambda: catalog.search(collections=["fuzz"]).item_collection(),
        ):
            err = _only_rs_errors(call)
            assert isinstance(err, BadResponseError), err
            assert len(str(err)) < 2000, "an error message must not carry the whole body"
    finally:
        sim.clear_faults()


def test_zz_report_inputs_tried(capsys: pytest.CaptureFixture[str]) -> None:
    """Print how many inputs the fuzzers tried (run last in this module)."""
    if len(TRIED) < 8:
        pytest.skip("run the whole module to count the inputs")
    with capsys.disabled():
        print(f"\nfuzz inputs tried: {sum(TRIED.values())} {dict(TRIED)}")
    assert all(count >= 2 for count in TRIED.values()), TRIED
