"""The simulator's public extension point: ``add_route`` for a plugin's fake service."""

from __future__ import annotations

import re

import pytest
import requests

from rs_core.testing.simulator import (
    Fault,
    RecordedRequest,
    Response,
    RsServerSimulator,
    json_response,
)

ALICE_KEY = "alice-key"  # conftest.py: cluster_sim


def echo(request: RecordedRequest, match: re.Match[str]) -> tuple[int, object]:
    return 200, {"method": request.method, "kind": match["kind"], "q": request.param("q")}


def test_route_answers_json_with_named_groups(
    sim: RsServerSimulator, http: requests.Session
) -> None:
    sim.add_route("GET", r"/prip/(?P<kind>\w+)", echo)
    response = http.get(f"{sim.url}/prip/types", params={"q": "a b"}, timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {"method": "GET", "kind": "types", "q": "a b"}


def test_whole_path_must_match_and_method_counts(
    sim: RsServerSimulator, http: requests.Session
) -> None:
    sim.add_route("GET", r"/prip/(?P<kind>\w+)", echo)
    assert http.get(f"{sim.url}/prip/types/extra", timeout=5).status_code == 404
    assert http.get(f"{sim.url}/x/prip/types", timeout=5).status_code == 404
    assert http.post(f"{sim.url}/prip/types", timeout=5).status_code == 404
    sim.add_route("*", r"/any", lambda request, match: (201, request.method))
    assert http.delete(f"{sim.url}/any", timeout=5).json() == "DELETE"
    assert http.put(f"{sim.url}/any", timeout=5).status_code == 201


def test_response_object_is_sent_as_is(sim: RsServerSimulator, http: requests.Session) -> None:
    sim.add_route(
        "GET",
        r"/prip/file",
        lambda request, match: Response(200, b"raw bytes", "text/plain", (("X-Prip", "1"),)),
    )
    sim.add_route("POST", r"/prip/echo", lambda request, match: json_response(202, request.json()))
    response = http.get(f"{sim.url}/prip/file", timeout=5)
    assert (response.content, response.headers["X-Prip"]) == (b"raw bytes", "1")
    assert response.headers["Content-Type"] == "text/plain"
    posted = http.post(f"{sim.url}/prip/echo", json={"a": [1, 2]}, timeout=5)
    assert (posted.status_code, posted.json()) == (202, {"a": [1, 2]})


def test_same_method_and_regex_replaces(sim: RsServerSimulator, http: requests.Session) -> None:
    sim.add_route("GET", r"/prip/v", lambda request, match: (200, 1))
    sim.add_route("GET", r"/prip/v", lambda request, match: (200, 2))
    sim.add_route("GET", r"/prip/.*", lambda request, match: (200, 3))
    assert http.get(f"{sim.url}/prip/v", timeout=5).json() == 2, "replaced, and still first"
    assert http.get(f"{sim.url}/prip/w", timeout=5).json() == 3


def test_added_routes_come_before_builtin_ones(
    sim: RsServerSimulator, http: requests.Session
) -> None:
    sim.add_route("GET", r"/health", lambda request, match: (200, {"healthy": False}))
    assert http.get(f"{sim.url}/health", timeout=5).json() == {"healthy": False}
    assert http.get(f"{sim.url}/adgs/aux/status", params={"name": "x"}, timeout=5).status_code == (
        404
    )


def test_requests_are_recorded(sim: RsServerSimulator, http: requests.Session) -> None:
    sim.add_route("GET", r"/prip/(?P<kind>\w+)", echo)
    http.get(f"{sim.url}/prip/search", params={"q": "1"}, timeout=5)
    [recorded] = sim.requests
    assert (recorded.path, recorded.query) == ("/prip/search", {"q": ["1"]})


def test_faults_apply(sim: RsServerSimulator, http: requests.Session) -> None:
    sim.add_route("GET", r"/prip/(?P<kind>\w+)", echo)
    sim.add_fault(Fault(path="/prip/search", kind="status", status=502, times=1))
    assert http.get(f"{sim.url}/prip/search", timeout=5).status_code == 502
    assert http.get(f"{sim.url}/prip/search", timeout=5).status_code == 200
    sim.add_fault(Fault(path="/prip/search", kind="truncate", times=1))
    with pytest.raises(
        (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError)
    ):
        http.get(f"{sim.url}/prip/search", timeout=5)


def test_cluster_mode_checks_the_key(
    cluster_sim: RsServerSimulator, http: requests.Session
) -> None:
    cluster_sim.add_route("GET", r"/prip/(?P<kind>\w+)", echo)
    cluster_sim.add_route("GET", r"/prip-public", lambda request, match: (200, "ok"), auth=False)
    url = f"{cluster_sim.url}/prip/search"
    missing = http.get(url, timeout=5)
    assert (missing.status_code, missing.json()) == (403, {"detail": "Not authenticated"})
    assert http.get(url, headers={"x-api-key": "wrong"}, timeout=5).status_code == 403
    assert http.get(url, headers={"x-api-key": ALICE_KEY}, timeout=5).status_code == 200
    assert http.get(f"{cluster_sim.url}/prip-public", timeout=5).json() == "ok"


def test_handler_error_is_a_500(
    sim: RsServerSimulator, http: requests.Session, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(request: RecordedRequest, match: re.Match[str]) -> tuple[int, object]:
        raise KeyError("boom")

    sim.add_route("GET", r"/prip/broken", broken)
    response = http.get(f"{sim.url}/prip/broken", timeout=5)
    assert response.status_code == 500
    assert "KeyError" in capsys.readouterr().err
