"""The HTTP layer against real servers on 127.0.0.x: key placement, retries, timeouts, logs."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest

from rs_core.errors import (
    AuthenticationError,
    BadResponseError,
    NotFoundError,
    RateLimitedError,
    RequestRejectedError,
    RsConnectionError,
    RsTimeoutError,
    ServerError,
)
from rs_core.http import APIKEY_HEADER, HttpClient, HttpSettings
from rs_core.testing.simulator import Fault, RsServerSimulator

KEY = "s3cr3t-api-key-value"


@pytest.fixture
def sim() -> Iterator[RsServerSimulator]:
    with RsServerSimulator() as server:
        yield server


@pytest.fixture
def other_host() -> Iterator[RsServerSimulator]:
    """A second server on another loopback address: 'another host'."""
    with RsServerSimulator(host="127.0.0.2") as server:
        yield server


def fast(**overrides: float) -> HttpSettings:
    values = {"retries": 3, "backoff_factor": 0.01, "backoff_max": 0.05, "timeout": 5.0}
    values.update(overrides)
    return HttpSettings(**values)  # type: ignore[arg-type]


def client_for(sim: RsServerSimulator, **overrides: float) -> HttpClient:
    return HttpClient(fast(**overrides), KEY, trusted=[sim.url])


def test_key_sent_to_trusted_origin_only(
    sim: RsServerSimulator, other_host: RsServerSimulator
) -> None:
    http = client_for(sim)
    http.request("GET", f"{sim.url}/health")
    http.request("GET", f"{other_host.url}/health")
    assert sim.requests[-1].headers.get(APIKEY_HEADER) == KEY
    assert APIKEY_HEADER not in other_host.requests[-1].headers


def test_key_dropped_on_cross_host_redirect(
    sim: RsServerSimulator, other_host: RsServerSimulator
) -> None:
    sim.add_fault(
        Fault(path="/health", kind="redirect", location=f"{other_host.url}/health", times=1)
    )
    http = client_for(sim)
    response = http.request("GET", f"{sim.url}/health")
    assert response.json() == {"healthy": True}
    assert sim.requests[-1].headers.get(APIKEY_HEADER) == KEY
    assert len(other_host.requests) == 1
    assert APIKEY_HEADER not in other_host.requests[0].headers


def test_key_kept_on_same_origin_redirect(sim: RsServerSimulator) -> None:
    sim.add_fault(
        Fault(path="/apikeymanager", kind="redirect", location=f"{sim.url}/health", times=1)
    )
    http = client_for(sim)
    http.request("GET", f"{sim.url}/apikeymanager/check/api_key", ok=(403,))
    assert [r.path for r in sim.requests] == ["/apikeymanager/check/api_key", "/health"]
    assert all(r.headers.get(APIKEY_HEADER) == KEY for r in sim.requests)


@pytest.mark.parametrize("status", [503, 502, 504])
def test_retries_transient_statuses_then_succeeds(sim: RsServerSimulator, status: int) -> None:
    sim.add_fault(Fault(path="/health", kind="status", status=status, times=2))
    body = client_for(sim).get_json(f"{sim.url}/health")
    assert body == {"healthy": True}
    assert len(sim.requests) == 3


def test_gives_up_after_the_configured_retries(sim: RsServerSimulator) -> None:
    sim.add_fault(Fault(path="/health", kind="status", status=503))
    with pytest.raises(ServerError) as raised:
        client_for(sim, retries=2).get_json(f"{sim.url}/health", what="Health check failed")
    assert len(sim.requests) == 3
    err = raised.value
    assert err.status == 503 and err.method == "GET"
    assert err.url == f"{sim.url}/health"
    assert "Health check failed" in str(err) and "HTTP 503" in str(err)


def test_429_honours_retry_after(sim: RsServerSimulator) -> None:
    sim.add_fault(Fault(path="/health", kind="rate_limit", retry_after=1, times=1))
    started = time.monotonic()
    assert client_for(sim).get_json(f"{sim.url}/health") == {"healthy": True}
    assert time.monotonic() - started >= 0.9
    assert len(sim.requests) == 2


def test_persistent_429_is_rate_limited_error(sim: RsServerSimulator) -> None:
    sim.add_fault(Fault(path="/health", kind="rate_limit", retry_after=0))
    with pytest.raises(RateLimitedError) as raised:
        client_for(sim, retries=1).get_json(f"{sim.url}/health")
    assert raised.value.retry_after == 0
    assert len(sim.requests) == 2


def test_no_retry_on_400(sim: RsServerSimulator) -> None:
    sim.add_fault(Fault(path="/health", kind="status", status=400, body={"detail": "nope"}))
    with pytest.raises(RequestRejectedError, match="nope"):
        client_for(sim).get_json(f"{sim.url}/health")
    assert len(sim.requests) == 1


def test_no_retry_on_post(sim: RsServerSimulator) -> None:
    sim.add_fault(Fault(path="/catalog/collections", kind="status", status=503))
    with pytest.raises(ServerError):
        client_for(sim).request("POST", f"{sim.url}/catalog/collections", json_body={})
    assert len(sim.requests) == 1


def test_retry_on_statuses_can_be_narrowed(sim: RsServerSimulator) -> None:
    sim.add_fault(Fault(path="/health", kind="status", status=503))
    with pytest.raises(ServerError):
        client_for(sim).request("GET", f"{sim.url}/health", retry_on=(429,))
    assert len(sim.requests) == 1


def test_connection_reset_is_retried_then_typed(sim: RsServerSimulator) -> None:
    sim.add_fault(Fault(path="/health", kind="reset", times=1))
    assert client_for(sim).get_json(f"{sim.url}/health") == {"healthy": True}
    sim.add_fault(Fault(path="/health", kind="reset"))
    with pytest.raises(RsConnectionError, match="connection broke"):
        client_for(sim, retries=1).get_json(f"{sim.url}/health")


def test_unreachable_server_is_connection_error() -> None:
    http = HttpClient(fast(retries=1), KEY, trusted=["http://127.0.0.1:9"])
    with pytest.raises(RsConnectionError, match="cannot reach the server") as raised:
        http.get_json("http://127.0.0.1:9/health")
    assert raised.value.__cause__ is not None  # always chained
    assert KEY not in str(raised.value)


def test_hung_server_times_out_within_the_bound(sim: RsServerSimulator) -> None:
    sim.add_fault(Fault(path="/health", kind="hang", delay=30))
    started = time.monotonic()
    with pytest.raises(RsTimeoutError, match=r"0\.5 s read timeout"):
        client_for(sim, timeout=0.5).get_json(f"{sim.url}/health")
    assert time.monotonic() - started < 3  # no retry multiplies a read timeout


def test_non_json_answer_is_bad_response(sim: RsServerSimulator) -> None:
    sim.add_fault(Fault(path="/health", kind="nonjson"))
    with pytest.raises(BadResponseError, match="not JSON"):
        client_for(sim).get_json(f"{sim.url}/health")


def test_html_error_page_detail_is_readable(sim: RsServerSimulator) -> None:
    sim.add_fault(Fault(path="/health", kind="html", status=404))
    with pytest.raises(NotFoundError) as raised:
        client_for(sim).get_json(f"{sim.url}/health")
    assert "<" not in str(raised.value.detail)


def test_wrong_key_is_authentication_error(sim: RsServerSimulator) -> None:
    from rs_core.testing.simulator import ApiKey

    with RsServerSimulator(api_keys={"good": ApiKey.full_access("alice")}) as secured:
        http = HttpClient(fast(), "bad-key", trusted=[secured.url])
        with pytest.raises(AuthenticationError) as raised:
            http.get_json(
                f"{secured.url}/adgs/aux/search",
                params={"datetime": "2020-01-01T00:00:00Z/2020-01-02T00:00:00Z"},
            )
        assert raised.value.status == 403


def test_every_send_has_a_timeout_even_from_third_party_code(sim: RsServerSimulator) -> None:
    sim.add_fault(Fault(path="/health", kind="hang", delay=30))
    http = client_for(sim, timeout=0.3)
    import requests

    started = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        http.session.get(f"{sim.url}/health")  # as pystac-client would call it: no timeout
    assert time.monotonic() - started < 3


def test_key_never_in_debug_logs_or_reprs(
    sim: RsServerSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    sim.add_fault(Fault(path="/health", kind="status", status=503, times=1))
    http = client_for(sim)
    with caplog.at_level(logging.DEBUG):
        # a caller's own secret query value is masked in every logger, urllib3's too
        http.get_json(f"{sim.url}/health", params={"apikey": KEY, "token": "tok-123"})
        sim.add_fault(Fault(path="/health", kind="status", status=401, times=1))
        with pytest.raises(AuthenticationError) as raised:
            http.get_json(f"{sim.url}/health")
    assert any(r.name.startswith("urllib3") for r in caplog.records), "urllib3 logs expected"
    assert KEY not in caplog.text and "tok-123" not in caplog.text
    assert KEY not in str(raised.value) and KEY not in repr(raised.value)
    assert KEY not in repr(http) and KEY not in repr(http.session)
    assert "apikey=***" in caplog.text


def test_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="timeout"):
        HttpSettings(timeout=0)
    with pytest.raises(ValueError, match="retries"):
        HttpSettings(retries=-1)
