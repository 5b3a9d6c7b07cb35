"""Fault injection: every kind, counting, ordering, matching."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from rs_core.testing.simulator import Fault, RsServerSimulator

WIDE = "2000-01-01T00:00:00Z/2030-01-01T00:00:00Z"


def search_url(sim: RsServerSimulator) -> str:
    return f"{sim.url}/adgs/aux/search?datetime={WIDE}"


def test_status_fault_with_times(sim: RsServerSimulator, http: requests.Session) -> None:
    sim.add_fault(Fault(path="/adgs/aux/search", kind="status", times=2, retry_after=3))
    for _ in range(2):
        response = http.get(search_url(sim), timeout=5)
        assert response.status_code == 503
        assert response.json() == {"detail": "Injected fault"}
        assert response.headers["Retry-After"] == "3"
    assert http.get(search_url(sim), timeout=5).status_code == 200
    assert sim.faults == []


def test_status_fault_custom_body_and_method(
    sim: RsServerSimulator, http: requests.Session
) -> None:
    sim.add_fault(Fault(path="/health", method="POST", status=500, body={"error": "boom"}))
    assert http.get(f"{sim.url}/health", timeout=5).status_code == 200
    response = http.post(f"{sim.url}/health", timeout=5)
    assert response.status_code == 500 and response.json() == {"error": "boom"}


def test_rate_limit(sim: RsServerSimulator, http: requests.Session) -> None:
    sim.add_fault(Fault(path="/health", kind="rate_limit", times=1, retry_after=2))
    response = http.get(f"{sim.url}/health", timeout=5)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "2"
    assert http.get(f"{sim.url}/health", timeout=5).status_code == 200


def test_latency(sim: RsServerSimulator, http: requests.Session) -> None:
    sim.add_fault(Fault(path="/health", kind="latency", delay=0.3))
    started = time.perf_counter()
    response = http.get(f"{sim.url}/health", timeout=5)
    assert time.perf_counter() - started >= 0.3
    assert response.json() == {"healthy": True}


def test_reset(sim: RsServerSimulator, http: requests.Session) -> None:
    sim.add_fault(Fault(path="/adgs", kind="reset", times=1))
    with pytest.raises(requests.exceptions.ConnectionError):
        http.get(search_url(sim), timeout=5)
    assert http.get(search_url(sim), timeout=5).status_code == 200


def test_truncate(sim: RsServerSimulator, http: requests.Session) -> None:
    sim.add_fault(Fault(path="/adgs/aux/search", kind="truncate", times=1))
    with pytest.raises(
        (requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError)
    ):
        http.get(search_url(sim), timeout=5)
    assert http.get(search_url(sim), timeout=5).json()["type"] == "FeatureCollection"


def test_nonjson(sim: RsServerSimulator, http: requests.Session) -> None:
    sim.add_fault(Fault(path="/health", kind="nonjson"))
    response = http.get(f"{sim.url}/health", timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    with pytest.raises(ValueError):
        response.json()


def test_html(sim: RsServerSimulator, http: requests.Session) -> None:
    sim.add_fault(Fault(path="/health", kind="html"))
    response = http.get(f"{sim.url}/health", timeout=5)
    assert response.status_code == 502
    assert response.headers["Content-Type"] == "text/html"
    assert "<html>" in response.text and "502 Bad Gateway" in response.text


def test_wrong_shape(sim: RsServerSimulator, http: requests.Session) -> None:
    sim.add_fault(Fault(path="/adgs/aux/search", kind="wrong_shape"))
    response = http.get(search_url(sim), timeout=5)
    assert response.status_code == 200
    assert isinstance(response.json(), list)


def test_redirect(sim: RsServerSimulator, http: requests.Session) -> None:
    sim.add_fault(Fault(path="/old", kind="redirect", status=307, location=f"{sim.url}/health"))
    response = http.get(f"{sim.url}/old", timeout=5, allow_redirects=False)
    assert response.status_code == 307
    assert response.headers["Location"] == f"{sim.url}/health"
    assert http.get(f"{sim.url}/old", timeout=5).json() == {"healthy": True}


def test_hang_times_out_client_and_stop_does_not_hang(default_dataset: object) -> None:
    sim = RsServerSimulator().start()
    try:
        sim.add_fault(Fault(path="/health", kind="hang"))
        with pytest.raises(requests.exceptions.ReadTimeout):
            requests.get(f"{sim.url}/health", timeout=(2, 0.3))
        errors: list[BaseException] = []

        def hung_call() -> None:
            try:
                requests.get(f"{sim.url}/health", timeout=10)
            except requests.RequestException as exc:
                errors.append(exc)

        thread = threading.Thread(target=hung_call)
        thread.start()
        time.sleep(0.2)
    finally:
        started = time.perf_counter()
        sim.stop()
        assert time.perf_counter() - started < 2
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert errors  # the hung request ended with a connection error, not an answer


def test_hang_with_delay_then_closes(sim: RsServerSimulator, http: requests.Session) -> None:
    sim.add_fault(Fault(path="/health", kind="hang", delay=0.2, times=1))
    with pytest.raises(requests.exceptions.ConnectionError):
        http.get(f"{sim.url}/health", timeout=5)


def test_order_regex_and_clear(sim: RsServerSimulator, http: requests.Session) -> None:
    sim.add_fault(Fault(path_regex=r"^/cadip/\w+/cadu/search$", status=504, times=1))
    sim.add_fault(Fault(path="/cadip", status=418))
    response = http.get(f"{sim.url}/cadip/MTI/cadu/search?datetime={WIDE}", timeout=5)
    assert response.status_code == 504
    assert (
        http.get(f"{sim.url}/cadip/MTI/cadu/search?datetime={WIDE}", timeout=5).status_code == 418
    )
    sim.clear_faults()
    assert (
        http.get(f"{sim.url}/cadip/MTI/cadu/search?datetime={WIDE}", timeout=5).status_code == 200
    )


def test_bad_fault_arguments() -> None:
    with pytest.raises(ValueError):
        Fault(kind="explode")
    with pytest.raises(ValueError):
        Fault(kind="redirect")
    with pytest.raises(ValueError):
        Fault(times=0)
