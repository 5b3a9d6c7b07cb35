"""Complete v2/1.0 station search in the core: the cql2-text parser, request building and
validation (rs_core.cql2, rs_core.rsserver_v2.v2_search), POST paging."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rs_core import InvalidInputError, ServerError, UnsortableFieldError
from rs_core.cql2 import all_of, parse_cql2_text, to_cql2_json
from rs_core.http import HttpClient, HttpSettings
from rs_core.rsserver_v2 import (
    StationProtocolV2,
    V2Endpoints,
    V2State,
    check_bbox,
    check_collections_arg,
    check_intersects,
    cql2_text,
    v2_search,
)


def prop(name: str) -> dict[str, str]:
    return {"property": name}


# -- cql2-text -> cql2-json ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("product:type = 'AUX_PP2'", {"op": "=", "args": [prop("product:type"), "AUX_PP2"]}),
        ("product:type='AUX_PP2'", {"op": "=", "args": [prop("product:type"), "AUX_PP2"]}),
        ("  a   >=  -2.5 ", {"op": ">=", "args": [prop("a"), -2.5]}),
        ("a != 1", {"op": "<>", "args": [prop("a"), 1]}),
        ("name = 'it''s'", {"op": "=", "args": [prop("name"), "it's"]}),
        (
            "a = 1 and b = 2 AND c = 3",
            {
                "op": "and",
                "args": [
                    {"op": "=", "args": [prop("a"), 1]},
                    {"op": "=", "args": [prop("b"), 2]},
                    {"op": "=", "args": [prop("c"), 3]},
                ],
            },
        ),
        (
            "a = 1 or b = 2 and c = 3",
            {
                "op": "or",
                "args": [
                    {"op": "=", "args": [prop("a"), 1]},
                    {
                        "op": "and",
                        "args": [
                            {"op": "=", "args": [prop("b"), 2]},
                            {"op": "=", "args": [prop("c"), 3]},
                        ],
                    },
                ],
            },
        ),
        ("platform IN ('sentinel-1a', 'sentinel-1b')", None),
        ("NOT (a = 1)", {"op": "not", "args": [{"op": "=", "args": [prop("a"), 1]}]}),
        ("x IS NULL", {"op": "isNull", "args": [prop("x")]}),
        ("x LIKE 'S1%'", {"op": "like", "args": [prop("x"), "S1%"]}),
        (
            "T_AFTER(published, TIMESTAMP('2024-01-01T00:00:00Z'))",
            {"op": "t_after", "args": [prop("published"), {"timestamp": "2024-01-01T00:00:00Z"}]},
        ),
        (
            "t_during(datetime, INTERVAL('2024-01-01', '..'))",
            {"op": "t_during", "args": [prop("datetime"), {"interval": ["2024-01-01", ".."]}]},
        ),
        (
            "S_INTERSECTS(geometry, POLYGON((0 0, 1 0, 1 1, 0 0)))",
            {
                "op": "s_intersects",
                "args": [
                    prop("geometry"),
                    {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]},
                ],
            },
        ),
        (
            "S_INTERSECTS(geometry, POINT(4.5 50))",
            {
                "op": "s_intersects",
                "args": [prop("geometry"), {"type": "Point", "coordinates": [4.5, 50]}],
            },
        ),
    ],
)
def test_text_becomes_json(text: str, expected: dict[str, Any] | None) -> None:
    parsed = parse_cql2_text(text)
    if expected is None:
        assert parsed == {"op": "in", "args": [prop("platform"), ["sentinel-1a", "sentinel-1b"]]}
    else:
        assert parsed == expected


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("", "non-empty"),
        ("a =", "end of the filter"),
        ("a == 'b'", "character 3"),
        ("= 'b'", "character 0"),
        ("a 'b'", "expected an operator"),
        ("a = 'b' extra", "unexpected 'extra'"),
        ("a = 'unterminated", "unexpected character"),
        ("(a = 1", "end of the filter"),
        ("a BETWEEN 1 OR 2", "BETWEEN needs 'AND'"),
        ("POINT(1)", "two (or three) numbers"),
        ("TIMESTAMP(1)", "one quoted string"),
    ],
)
def test_bad_text_names_what_and_where(text: str, where: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        parse_cql2_text(text)
    assert where in str(info.value)


@pytest.mark.parametrize(
    "value",
    [
        {"op": "="},
        {"op": "=", "args": [prop("a")]},
        {"op": "and", "args": [{"op": "=", "args": [prop("a"), 1]}]},
        {"op": "in", "args": [prop("a"), "x"]},
        {"args": []},
        3,
    ],
)
def test_bad_json_is_refused(value: Any) -> None:
    with pytest.raises(InvalidInputError):
        to_cql2_json(value)


_NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,6}(:[a-z_]{1,6})?", fullmatch=True).filter(
    lambda n: (
        n.upper() not in {"AND", "OR", "NOT", "IN", "LIKE", "BETWEEN", "IS", "NULL"}
        and n.upper() not in {"TRUE", "FALSE"}
    )
)
_LITERALS = st.one_of(
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=12),
    st.integers(-(10**6), 10**6),
    st.booleans(),
)
_LEAVES = st.builds(
    lambda op, name, value: {"op": op, "args": [{"property": name}, value]},
    st.sampled_from(["=", "<>", "<", "<=", ">", ">="]),
    _NAMES,
    _LITERALS,
)
_TREES = st.recursive(
    _LEAVES,
    lambda kids: st.builds(
        lambda op, args: {"op": op, "args": args},
        st.sampled_from(["and", "or"]),
        st.lists(kids, min_size=2, max_size=3),
    ),
    max_leaves=6,
)


def _flat(node: Any) -> Any:
    """Nested and-in-and (or-in-or) flattened, as the parser writes it."""
    if isinstance(node, dict) and node.get("op") in ("and", "or"):
        args = []
        for arg in (_flat(a) for a in node["args"]):
            args.extend(arg["args"] if arg.get("op") == node["op"] else [arg])
        return {"op": node["op"], "args": args}
    return node


@settings(max_examples=150, deadline=None)
@given(_TREES)
def test_text_written_from_json_parses_back(tree: dict[str, Any]) -> None:
    assert parse_cql2_text(cql2_text(tree)) == _flat(tree)


def test_all_of() -> None:
    a, b = {"op": "=", "args": [prop("a"), 1]}, {"op": "=", "args": [prop("b"), 2]}
    assert all_of([None, None]) is None
    assert all_of([a, None, {"op": "and", "args": [b, a]}]) == {"op": "and", "args": [a, b, a]}


# -- request building --------------------------------------------------------------------------


def test_get_and_post_forms_of_one_search() -> None:
    base = {"datetime": "2024-01-01T00:00:00Z/2024-01-02T00:00:00Z", "sortby": "-published"}
    search, cap = v2_search(
        base, collections=["S2B_L0_DS"], explicit=True, limit=5, max_items=None, bbox=[0, 1, 2, 3]
    )
    assert cap == 5 and not search.post
    assert search.query() == {
        "collections": "S2B_L0_DS",
        "datetime": base["datetime"],
        "bbox": "0,1,2,3",
        "limit": "5",
        "sortby": "-published",
    }
    polygon = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}
    posted, _ = v2_search(
        base,
        collections=["a", "b"],
        explicit=False,
        limit=None,
        max_items=None,
        page_size=50,
        filter="product:type = 'X' and S_INTERSECTS(geometry, POINT(1 2))",
        clauses=[{"op": "=", "args": [prop("platform"), "sentinel-2b"]}],
        intersects=polygon,
    )
    body = posted.body()
    assert posted.post and body["limit"] == 50 and body["collections"] == ["a", "b"]
    assert body["sortby"] == [{"field": "published", "direction": "desc"}]
    assert body["filter-lang"] == "cql2-json"
    ops = [clause["op"] for clause in body["filter"]["args"]]
    assert ops == ["=", "intersects", "=", "intersects"], (
        "s_intersects is sent as RS-Server reads it"
    )


def test_sortby_is_checked_against_the_sortable_fields() -> None:
    with pytest.raises(UnsortableFieldError) as info:
        v2_search(
            {"sortby": "+datetime"},
            collections=["x"],
            explicit=False,
            limit=None,
            max_items=None,
            sortable=("created", "published"),
            label="PRIP",
        )
    assert str(info.value) == "PRIP cannot sort on 'datetime'; sortable fields: created, published"
    assert info.value.sortable == ("created", "published")


@pytest.mark.parametrize(
    ("check", "value"),
    [
        (check_collections_arg, ""),
        (check_collections_arg, []),
        (check_collections_arg, ["a", None]),
        (check_collections_arg, "a,b"),
        (check_collections_arg, {"a": 1}),
        (check_bbox, "0,0,1,1"),
        (check_bbox, [0, 0, 1]),
        (check_bbox, [0, 0, 1, True]),
        (check_bbox, [0, 10, 1, 5]),
        (check_bbox, [-181, 0, 1, 1]),
        (check_bbox, [0, -91, 1, 1]),
        (check_intersects, {"type": "Polygon"}),
        (check_intersects, {"type": "Circle", "coordinates": [0, 0]}),
        (check_intersects, "POLYGON((0 0, 1 1, 0 0))"),
    ],
)
def test_bad_arguments(check: Any, value: Any) -> None:
    with pytest.raises(InvalidInputError):
        check(value)


def test_good_arguments() -> None:
    assert check_collections_arg(("a", " b ", "a")) == ("a", "b")
    assert check_bbox([170, -10, -170, 10]) == (170.0, -10.0, -170.0, 10.0), "antimeridian"
    feature = {"type": "Feature", "geometry": {"type": "Point", "coordinates": (1, 2)}}
    assert check_intersects(feature) == {"type": "Point", "coordinates": [1, 2]}


# -- POST paging -------------------------------------------------------------------------------


class _Posts(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    bodies: list[dict[str, Any]] = []

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        self.bodies.append(body)
        page = int(str(body.get("token", "next:1")).split(":")[1])
        links = []
        if page < 3:
            href = f"http://127.0.0.1:{self.server.server_address[1]}/prip/search"
            links.append(
                {
                    "rel": "next",
                    "href": href,
                    "method": "POST",
                    "body": {"token": f"next:{page + 1}"},
                    "merge": True,
                }
            )
        feature = {
            "type": "Feature",
            "stac_version": "1.0.0",
            "id": f"P{page}",
            "geometry": None,
            "properties": {"datetime": "2024-01-01T00:00:00Z"},
            "links": [],
            "assets": {f"P{page}": {"href": "http://x/y", "file:size": 1}},
        }
        payload = json.dumps({"type": "FeatureCollection", "features": [feature], "links": links})
        data = payload.encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/geo+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _Prip(StationProtocolV2):
    service = "prip"


@pytest.fixture
def posts() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    bodies: list[dict[str, Any]] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("H", (_Posts,), {"bodies": bodies}))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", bodies
    server.shutdown()
    server.server_close()


def test_post_next_links_merge_their_body_into_the_search(posts: Any) -> None:
    url, bodies = posts
    http = HttpClient(HttpSettings(timeout=5.0, retries=0), None)
    protocol = _Prip(http, V2Endpoints(url, url), V2State(), label="PRIP")
    search, total = v2_search(
        {}, collections=["c"], explicit=True, limit=None, max_items=2, filter="a='b'"
    )
    found = protocol.find(search, max_items=total, timeout=5.0, what="x")
    assert [i.id for i in found] == ["P1", "P2"], "lazy: two pages for two items"
    assert len(bodies) == 2
    assert bodies[1]["token"] == "next:2" and bodies[1]["filter"] == bodies[0]["filter"]
    assert bodies[1]["collections"] == ["c"], "merge keeps the original search"


def test_a_search_of_every_collection_names_none() -> None:
    search, _ = v2_search({}, collections=(), explicit=False, limit=3, max_items=None)
    assert search.query() == {"limit": "3"}
    assert "collections" not in search.body()


# -- the next page asked for while a page is used --------------------------------------------


class _Pages(BaseHTTPRequestHandler):
    """``GET /prip/search?page=N``: pages 1-3 of two features each; ``failing``: that page
    answers 500; every request's page is appended to ``asked``."""

    asked: list[int]
    failing: int = 0

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        page = int(self.path.rpartition("page=")[2] or 1)
        self.asked.append(page)
        if page == self.failing:
            self.send_response(500)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        links = []
        if page < 3:
            href = f"http://127.0.0.1:{self.server.server_address[1]}/prip/search?page={page + 1}"
            links.append({"rel": "next", "href": href})
        features = [{"type": "Feature", "id": f"P{page}-{n}"} for n in (1, 2)]
        data = json.dumps({"type": "FeatureCollection", "features": features, "links": links})
        self.send_response(200)
        self.send_header("Content-Type", "application/geo+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data.encode())


@contextlib.contextmanager
def _pages_server(failing: int = 0) -> Iterator[tuple[ThreadingHTTPServer, list[int]]]:
    asked: list[int] = []
    handler = type("H", (_Pages,), {"asked": asked, "failing": failing})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server, asked
    finally:
        server.shutdown()
        server.server_close()


def _pages_of(server: ThreadingHTTPServer, ahead: Any) -> Iterator[dict[str, Any]]:
    url = f"http://127.0.0.1:{server.server_address[1]}"
    http = HttpClient(HttpSettings(timeout=5.0, retries=0), None)
    protocol = _Prip(http, V2Endpoints(url, url), V2State(), label="PRIP")
    return protocol.iter_features(
        f"{url}/prip/search", {"page": "1"}, timeout=5.0, what="PRIP search", ahead=ahead
    )


def _until(check: Any) -> bool:
    deadline = time.monotonic() + 10
    while not check() and time.monotonic() < deadline:
        time.sleep(0.01)
    return bool(check())


def test_the_next_page_is_asked_for_while_a_page_is_used_when_it_will_be_needed() -> None:
    with _pages_server() as (server, asked):
        pages: list[list[str]] = []
        found = _pages_of(server, lambda page: pages.append([f["id"] for f in page]) or True)
        assert next(found)["id"] == "P1-1"
        assert _until(lambda: asked == [1, 2]), (
            f"page 2 not asked for while page 1 is used: {asked}"
        )
        assert pages == [["P1-1", "P1-2"]], "ahead sees the page before it is used"
        assert [f["id"] for f in found] == ["P1-2", "P2-1", "P2-2", "P3-1", "P3-2"]
        assert asked == [1, 2, 3], "each page asked for once, none after the last"


def test_without_ahead_a_page_is_asked_for_only_once_the_one_before_is_used() -> None:
    with _pages_server() as (server, asked):
        found = _pages_of(server, lambda page: False)
        assert [next(found)["id"], next(found)["id"]] == ["P1-1", "P1-2"]
        time.sleep(0.2)  # a request sent in the background would have arrived
        assert asked == [1]
        assert next(found)["id"] == "P2-1" and asked == [1, 2]
        found.close()


def test_a_next_page_that_fails_in_the_background_fails_where_it_is_needed() -> None:
    with _pages_server(failing=2) as (server, asked):
        seen: list[str] = []
        with pytest.raises(ServerError) as caught:
            for feature in _pages_of(server, lambda page: True):
                seen.append(feature["id"])
        assert seen == ["P1-1", "P1-2"], "page 1 is used whole before page 2's error"
        assert "PRIP search" in str(caught.value) and caught.value.status == 500
        assert asked == [1, 2]


def test_a_search_left_mid_page_lets_the_next_page_go() -> None:
    with _pages_server() as (server, asked):
        found = _pages_of(server, lambda page: True)
        assert next(found)["id"] == "P1-1"
        assert _until(lambda: asked == [1, 2])
        found.close()  # page 2, coming in the background, is dropped: nothing raised
        time.sleep(0.2)
        assert asked == [1, 2], "no page asked for after the search was left"


def test_a_file_asset_drops_only_the_unevaluated_checksum_template() -> None:
    from rs_core.rsserver_v2 import asset_files

    sent = {
        "a": {"href": "h", "file:checksum": "$.Checksum[0].Value", "file:size": 1},
        "b": {"href": "h", "file:checksum": "1220abcd"},
        "c": {"href": "h", "file:checksum": None},
    }
    item = {"id": "P", "properties": {"datetime": None}, "assets": sent}
    files = {f["id"]: f["assets"]["file"] for f in asset_files(item, "c")}
    assert files == {
        "a": {"href": "h", "file:size": 1},
        "b": {"href": "h", "file:checksum": "1220abcd"},
        "c": {"href": "h", "file:checksum": None},
    }
    assert all(files[k] is not sent[k] for k in sent), "each file's asset is a new dict"
    assert list(files["a"]) == ["href", "file:size"], "the other fields keep the order sent"
    assert "file:checksum" in sent["a"], "the item sent is left as it was"
