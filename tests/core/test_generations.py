"""RS-Server generation detection, the v2 paging/key rules, CQL2 and v1's missing operations."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

import rs_core
from rs_core import ConfigurationError, InvalidInputError, RsClient, UnsupportedOperationError
from rs_core.generations import GenerationCache, check_api_version
from rs_core.http import HttpSettings
from rs_core.rsserver_v2 import check_filter, cql2_text, page_query
from rs_core.testing.simulator import ApiKey, Fault, RsServerSimulator

KEY = "gen-test-key-SECRET-0123"
FAST = HttpSettings(timeout=10.0, connect_timeout=5.0, retries=2, backoff_factor=0.01)
START, STOP = "2000-01-01", "2100-01-01"


@pytest.fixture(scope="module")
def v1() -> Iterator[RsServerSimulator]:
    with RsServerSimulator(api_keys={KEY: ApiKey.full_access("gen_user")}) as sim:
        yield sim


@pytest.fixture(scope="module")
def v2() -> Iterator[RsServerSimulator]:
    with RsServerSimulator(
        api_keys={KEY: ApiKey.full_access("gen_user")}, api_version="v2", staging_duration=0.05
    ) as sim:
        yield sim


@pytest.fixture(autouse=True)
def _clean(v1: RsServerSimulator, v2: RsServerSimulator) -> None:
    for sim in (v1, v2):
        sim.clear_requests()
        sim.clear_faults()


def probes(sim: RsServerSimulator, path: str = "/auxip") -> int:
    return len([r for r in sim.requests if r.path == path])


def auxip(sim: RsServerSimulator, **settings: Any) -> Any:
    return rs_core.get_station(
        "auxip",
        rs_server_href=sim.url,
        rs_server_api_key=KEY,
        owner_id="me",
        http_settings=FAST,
        **settings,
    )


def test_probe_once_and_cached_for_the_family(v2: RsServerSimulator) -> None:
    parent = RsClient(v2.url, KEY, "me", http_settings=FAST)
    first = parent.get_auxip_client()
    second = parent.get_auxip_client()
    assert first.server_generation() == "v2"
    first.search_stations(START, STOP, limit=1)
    second.search_stations(START, STOP, limit=1)
    assert probes(v2) == 1
    cadip = parent.get_cadip_client("MTI")  # another service: its own generation
    assert cadip.server_generation() == "v2"
    assert probes(v2, "/cadip") == 1


def test_a_first_v2_search_needs_no_probe(v2: RsServerSimulator) -> None:
    """The first search of an auto client goes as a v2 search: its answer tells the
    generation, which the family then knows (no probe at all)."""
    parent = RsClient(v2.url, KEY, "me", http_settings=FAST)
    first = parent.get_auxip_client()
    assert len(first.search_stations(START, STOP, limit=2)) == 2
    parent.get_auxip_client().search_stations(START, STOP, limit=1)
    assert first.server_generation() == "v2"
    cadip = parent.get_cadip_client("MTI")
    cadip.search_sessions(start_date=START, stop_date=STOP)
    cadip.search_stations(START, STOP, limit=1)
    assert probes(v2) == 0 and probes(v2, "/cadip") == 0
    assert [r.path for r in v2.requests][:1] == ["/auxip/collections/adgs/items"]


def test_a_first_search_on_v1_probes_after_the_v2_try(
    v1: RsServerSimulator, v2: RsServerSimulator
) -> None:
    """On a v1 server the first search's v2 try fails: the client probes, searches on v1 (the
    same result as a v1 client's) and knows the generation from then on."""
    expected = [i.to_dict() for i in auxip(v1, api_version="v1").search_stations(START, STOP)]
    v1.clear_requests()
    client = auxip(v1)
    assert [i.to_dict() for i in client.search_stations(START, STOP)] == expected
    sent = [r.path for r in v1.requests]
    assert sent[0] == "/auxip/collections/adgs/items" and sent[-2:] == [
        "/auxip",
        "/adgs/aux/search",
    ]
    assert len(sent) <= 4, sent  # the v2 try may ask /auxip/collections why it found nothing
    v1.clear_requests()
    client.search_stations(START, STOP, limit=1)
    assert [r.path for r in v1.requests] == ["/adgs/aux/search"]
    cadip = rs_core.get_station(
        "cadip", station="CADIP", rs_server_href=v1.url, rs_server_api_key=KEY, http_settings=FAST
    )
    sessions = cadip.search_sessions(start_date=START, stop_date=STOP)
    assert len(sessions) >= 1 and cadip.server_generation() == "v1"


def test_a_failing_first_v2_search_is_its_own_error(v2: RsServerSimulator) -> None:
    """A v2 search that fails for its own reasons fails as it would after a probe."""
    client = auxip(v2)
    with pytest.raises(rs_core.UnknownCollectionError):
        client.search_stations(START, STOP, collection="no_such_collection")
    assert probes(v2) == 0 and client.server_generation() == "v2", "the collection list told"
    v2.add_fault(Fault(path="/auxip/collections/adgs/items", kind="status", status=500, times=9))
    fresh = auxip(v2)
    with pytest.raises(rs_core.ServerError):
        fresh.search_stations(START, STOP)
    assert probes(v2) == 1, "a failed search probes before it raises"


def test_v1_server_detected_as_v1(v1: RsServerSimulator) -> None:
    client = auxip(v1)
    assert client.server_generation() == "v1"
    client.search_stations(START, STOP, limit=1)
    assert probes(v1) == 1
    assert [r.path for r in v1.requests] == ["/auxip", "/adgs/aux/search"]


@pytest.mark.parametrize("setting", ["v1", "v2"])
def test_explicit_setting_skips_the_probe(
    v1: RsServerSimulator, v2: RsServerSimulator, setting: str
) -> None:
    sim = v1 if setting == "v1" else v2
    client = auxip(sim, api_version=setting)
    assert client.api_version == setting
    assert len(client.search_stations(START, STOP, limit=2)) == 2
    assert probes(sim) == 0


def test_env_setting_skips_the_probe(
    v2: RsServerSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RS_API_VERSION", "V2")
    client = auxip(v2)
    assert client.api_version == "v2"
    client.search_stations(START, STOP, limit=1)
    assert probes(v2) == 0


def test_concurrent_first_calls_probe_once(v2: RsServerSimulator) -> None:
    client = auxip(v2)
    threads = [
        threading.Thread(target=client.search_stations, args=(START, STOP), kwargs={"limit": 1})
        for _ in range(6)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert probes(v2) == 0, "first searches need no probe"
    client = auxip(v2)
    threads = [threading.Thread(target=client.server_generation) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert probes(v2) == 1


@pytest.mark.parametrize("bad", ["v3", "", "latest", 2])
def test_bad_setting_is_a_configuration_error(v2: RsServerSimulator, bad: Any) -> None:
    with pytest.raises(ConfigurationError):
        auxip(v2, api_version=bad)
    assert v2.requests == []


def test_bad_env_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RS_API_VERSION", "v9")
    with pytest.raises(ConfigurationError, match="RS_API_VERSION"):
        RsClient(None, None, "me")


def test_failed_probe_is_not_cached(v2: RsServerSimulator) -> None:
    client = auxip(v2)
    v2.add_fault(Fault(path="/auxip", kind="status", status=503, times=3))
    with pytest.raises(rs_core.ServerError):
        client.server_generation()
    assert client.server_generation() == "v2"


@pytest.mark.parametrize(
    ("version", "path"), [("v1", "/adgs/aux/search"), ("v2", "/auxip/collections/adgs/items")]
)
def test_errors_name_the_generation(
    v1: RsServerSimulator, v2: RsServerSimulator, version: str, path: str
) -> None:
    sim = v1 if version == "v1" else v2
    sim.add_fault(Fault(path=path, kind="status", status=500, times=1))
    with pytest.raises(rs_core.ServerError) as info:
        auxip(sim).search_stations(START, STOP)
    assert f"[RS-Server {version}]" in str(info.value)
    assert KEY not in str(info.value) and KEY not in repr(info.value)


def test_v1_lacks_the_v2_operations(v1: RsServerSimulator) -> None:
    client = auxip(v1)
    for call in (
        client.list_collections,
        client.queryables,
        client.list_jobs,
        lambda: client.dismiss_job("j1"),
        lambda: client.search_stations(START, STOP, filter="platform='sentinel-1a'"),
        lambda: client.search_stations(START, STOP, collection="adgs"),
    ):
        with pytest.raises(UnsupportedOperationError, match="v1"):
            call()
    assert not [r for r in v1.requests if r.path != "/auxip"], "nothing but the probe"


def test_bad_v2_input_sends_nothing(v2: RsServerSimulator) -> None:
    client = auxip(v2)
    for kwargs in (
        {"max_items": 0},
        {"filter": 3},
        {"filter": " "},
        {"page_size": -1},
        {"filter": {"op": "="}},
        {"collection": ""},
    ):
        with pytest.raises(InvalidInputError):
            client.search_stations(START, STOP, **kwargs)
    with pytest.raises(InvalidInputError):
        client.dismiss_job("")
    assert v2.requests == []


# -- next links and the API key -------------------------------------------------------------


class _Recorder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    pages: dict[str, Any] = {}
    seen: list[tuple[str, str | None]] = []

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.seen.append((self.path, self.headers.get("x-api-key")))
        path = self.path.split("?")[0]
        body = self.pages.get(path)
        payload = json.dumps(body if body is not None else {"detail": "Not Found"}).encode()
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def _feature(ident: str) -> dict[str, Any]:
    return {
        "type": "Feature",
        "stac_version": "1.0.0",
        "id": ident,
        "geometry": None,
        "properties": {"datetime": "2024-01-01T00:00:00Z"},
        "links": [],
        "assets": {f"{ident}.EOF": {"href": "http://x/y", "file:size": 1}},
    }


@pytest.fixture
def two_hosts() -> Iterator[tuple[str, str, list[tuple[str, str | None]]]]:
    seen: list[tuple[str, str | None]] = []
    handler = type("H", (_Recorder,), {"seen": seen, "pages": {}})
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), handler) for _ in range(2)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    trusted, other = (f"http://127.0.0.1:{s.server_address[1]}" for s in servers)
    handler.pages.update(
        {
            "/auxip": {"type": "Catalog", "links": [], "conformsTo": []},
            "/auxip/collections/adgs/items": {
                "type": "FeatureCollection",
                "features": [_feature("A")],
                "links": [{"rel": "next", "href": f"{other}/elsewhere?token=next:page=2"}],
            },
            "/elsewhere": {"type": "FeatureCollection", "features": [_feature("B")], "links": []},
        }
    )
    yield trusted, other, seen
    for server in servers:
        server.shutdown()
        server.server_close()


def test_next_link_to_another_host_gets_no_key(two_hosts: Any) -> None:
    trusted, _other, seen = two_hosts
    client = auxip(type("S", (), {"url": trusted})())  # type: ignore[arg-type]
    found = client.search_stations(START, STOP)
    assert [i.id for i in found] == ["A.EOF", "B.EOF"]
    keys = {path.split("?")[0]: key for path, key in seen}
    assert "/auxip" not in keys, "the first search needs no probe"
    assert keys["/auxip/collections/adgs/items"] == KEY
    assert keys["/elsewhere"] is None, "the key went to a host it was not configured for"


# -- pure functions -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "text"),
    [
        (
            {"op": "=", "args": [{"property": "platform"}, "sentinel-1a"]},
            "platform = 'sentinel-1a'",
        ),
        (
            {
                "op": "and",
                "args": [
                    {"op": "=", "args": [{"property": "a"}, 1]},
                    {"op": "=", "args": [{"property": "product:type"}, "O'K"]},
                ],
            },
            "a = 1 AND product:type = 'O''K'",
        ),
        (
            {
                "op": "t_during",
                "args": [{"property": "datetime"}, {"interval": ["2024-01-01T00:00:00Z", ".."]}],
            },
            "T_DURING(datetime, INTERVAL('2024-01-01T00:00:00Z', '..'))",
        ),
        (
            {
                "op": "or",
                "args": [
                    {
                        "op": "and",
                        "args": [
                            {"op": "=", "args": [{"property": "a"}, True]},
                            {"op": "=", "args": [{"property": "b"}, 2]},
                        ],
                    },
                    {"op": "isNull", "args": [{"property": "c d"}]},
                ],
            },
            '(a = TRUE AND b = 2) OR "c d" IS NULL',
        ),
    ],
)
def test_cql2_json_to_text(expression: dict[str, Any], text: str) -> None:
    assert cql2_text(expression) == text
    assert check_filter(expression) == text


def test_page_query() -> None:
    assert page_query({}, limit=None, max_items=None, filter_text=None) == ({"limit": "1000"}, None)
    assert page_query({}, limit=5, max_items=3, filter_text="a=1", page_size=2) == (
        {"limit": "2", "filter": "a=1", "filter-lang": "cql2-text"},
        3,
    )


def test_generation_cache_and_setting() -> None:
    cache = GenerationCache()
    calls: list[int] = []
    assert cache.resolve("k", lambda: calls.append(1) or "v1") == "v1"
    assert cache.resolve("k", lambda: calls.append(1) or "v2") == "v1"
    cache.forget("k")
    assert cache.resolve("k", lambda: "v2") == "v2"
    assert check_api_version("2") == "v2"
