"""The HTTP layer against real servers on 127.0.0.x: key placement, retries, timeouts, logs."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from rs_core.credentials import ApiKeyCredential, BearerToken, Credential, SessionCookie
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
from rs_core.testing.simulator.messages import Response

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


# -- credentials: session cookie and bearer token -------------------------------------------


@pytest.mark.parametrize(
    ("credential", "header", "sent"),
    [
        (SessionCookie("c00kie-value"), "Cookie", "session=c00kie-value"),
        (BearerToken("t0ken-value"), "Authorization", "Bearer t0ken-value"),
        (ApiKeyCredential(KEY), APIKEY_HEADER, KEY),
    ],
    ids=["cookie", "bearer", "api-key"],
)
def test_each_credential_goes_to_trusted_origins_only(
    sim: RsServerSimulator,
    other_host: RsServerSimulator,
    credential: Credential,
    header: str,
    sent: str,
) -> None:
    http = HttpClient(fast(), credential=credential, trusted=[sim.url])
    sim.add_fault(
        Fault(path="/health", kind="redirect", location=f"{other_host.url}/health", times=1)
    )
    http.request("GET", f"{sim.url}/health")  # redirected to the other host
    http.request("GET", f"{other_host.url}/health")  # a `next` link on another host
    assert sim.requests[-1].headers.get(header) == sent
    assert len(other_host.requests) == 2
    for request in other_host.requests:
        assert not {h.lower() for h in request.headers} & {"cookie", "authorization", "x-api-key"}
    assert sent not in repr(http) and credential.secret.reveal() not in repr(credential)


def test_cookies_servers_set_are_not_kept_or_forwarded(
    sim: RsServerSimulator, other_host: RsServerSimulator
) -> None:
    sim.add_route(
        "GET",
        "/set-cookie",
        lambda request, match: Response(
            302,
            b"",
            "",
            (("location", f"{other_host.url}/health"), ("set-cookie", "tracker=abc; Path=/")),
        ),
        auth=False,
    )
    http = HttpClient(fast(), credential=SessionCookie("mine"), trusted=[sim.url])
    http.request("GET", f"{sim.url}/set-cookie")
    http.request("GET", f"{sim.url}/health")
    assert "cookie" not in {h.lower() for h in other_host.requests[-1].headers}
    assert sim.requests[-1].headers.get("Cookie") == "session=mine"  # not "tracker=abc"
    assert len(http.session.cookies) == 0


def test_refused_cookie_says_the_method_and_that_the_session_expired(
    sim: RsServerSimulator,
) -> None:
    detail = "Error connecting to '/x' without a valid API key or OAuth2 session cookie."
    sim.add_fault(Fault(path="/health", kind="status", status=401, body={"detail": detail}))
    http = HttpClient(fast(), credential=SessionCookie("stale"), trusted=[sim.url])
    with pytest.raises(AuthenticationError) as raised:
        http.get_json(f"{sim.url}/health")
    err = raised.value
    assert err.auth_method == "session cookie" and err.status == 401
    assert "sent: session cookie" in str(err) and "no longer valid" in str(err)
    assert "without a valid API key" in str(err)  # the server's own answer
    assert "stale" not in str(err) and "stale" not in repr(err)


def test_missing_role_in_the_server_answer_is_named(sim: RsServerSimulator) -> None:
    detail = "Missing RS_PROCESSES_STAGING_EXECUTE authorization role"
    sim.add_fault(Fault(path="/health", kind="status", status=401, body={"detail": detail}))
    with pytest.raises(AuthenticationError) as raised:
        client_for(sim).get_json(f"{sim.url}/health")
    assert raised.value.missing_role == "RS_PROCESSES_STAGING_EXECUTE"
    assert raised.value.auth_method == "API key"
    assert "needs the role RS_PROCESSES_STAGING_EXECUTE" in str(raised.value)


def test_no_credential_is_said_so(sim: RsServerSimulator) -> None:
    sim.add_fault(Fault(path="/health", kind="status", status=403, body={"detail": "no"}))
    with pytest.raises(AuthenticationError, match="sent: no credential"):
        HttpClient(fast()).get_json(f"{sim.url}/health")


@pytest.mark.parametrize("bad", ["", "  ", "a b", "x;y"])
def test_bad_cookie_values_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="session cookie"):
        SessionCookie(bad)


# -- the deadline of a whole call -----------------------------------------------------------


class TrickleServer:
    """Answers every request with a 200 whose body arrives one byte per ``pause`` seconds."""

    def __init__(self, size: int = 200, pause: float = 0.05) -> None:
        self.size, self.pause = size, pause
        self.sent = 0
        self._stop = threading.Event()
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(4)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        conn, _ = self._sock.accept()
        with conn:
            conn.recv(65536)
            head = (
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                f"Content-Length: {self.size}\r\n\r\n"
            )
            conn.sendall(head.encode())
            for _ in range(self.size):
                if self._stop.wait(self.pause):
                    return
                try:
                    conn.sendall(b" ")
                except OSError:
                    return
                self.sent += 1

    def close(self) -> None:
        self._stop.set()
        self._sock.close()
        self._thread.join(timeout=5)


def test_a_trickling_body_cannot_outlast_the_deadline() -> None:
    server = TrickleServer(size=400, pause=0.05)  # 20 s to send it all, each read < 1 s
    try:
        http = HttpClient(fast(timeout=5.0, deadline=0.6))
        with pytest.raises(
            RsTimeoutError, match=r"did not arrive in full within the 0\.6 s deadline"
        ):
            http.get_json(f"{server.url}/slow")
        assert 0 < server.sent < server.size  # it was still trickling when the call gave up
    finally:
        server.close()


def test_a_hung_server_is_bounded_by_the_deadline_not_the_read_timeout(
    sim: RsServerSimulator,
) -> None:
    sim.add_fault(Fault(path="/health", kind="hang", delay=30))
    with pytest.raises(RsTimeoutError, match=r"within the 0\.5 s deadline"):
        client_for(sim, timeout=20.0).get_json(f"{sim.url}/health", deadline=0.5)
    assert len(sim.requests) == 1


def test_retry_after_longer_than_what_is_left_fails_at_once(sim: RsServerSimulator) -> None:
    sim.add_fault(Fault(path="/health", kind="rate_limit", retry_after=40))
    with pytest.raises(RateLimitedError, match="asks to wait 40 s") as raised:
        client_for(sim, deadline=5.0).get_json(f"{sim.url}/health")
    assert raised.value.retry_after == 40
    assert len(sim.requests) == 1  # no wait, no second request


def test_503_with_a_long_retry_after_is_rate_limited_too(sim: RsServerSimulator) -> None:
    sim.add_fault(Fault(path="/health", kind="status", status=503, retry_after=30))
    with pytest.raises(RateLimitedError) as raised:
        client_for(sim, deadline=5.0).get_json(f"{sim.url}/health")
    assert raised.value.retry_after == 30 and raised.value.status == 503


def test_retries_stop_at_the_deadline(sim: RsServerSimulator) -> None:
    sim.add_fault(Fault(path="/health", kind="status", status=503))
    http = client_for(sim, retries=50, backoff_factor=0.2, backoff_max=0.2, deadline=0.5)
    with pytest.raises((RsTimeoutError, ServerError)) as raised:
        http.get_json(f"{sim.url}/health")
    assert "deadline" in str(raised.value)
    assert 1 <= len(sim.requests) < 10


def test_deadline_must_be_positive() -> None:
    with pytest.raises(ValueError, match="deadline"):
        HttpSettings(deadline=0)


def test_key_refused_as_no_session_says_a_session_is_wanted(sim: RsServerSimulator) -> None:
    """RS-Server 1.0a4's staging reads the user from the session cookie only: a valid key gets
    "without a valid API key or OAuth2 session cookie". Not a missing role: a session."""
    detail = "Error connecting to '/x' without a valid API key or OAuth2 session cookie."
    sim.add_fault(Fault(path="/health", kind="status", status=401, body={"detail": detail}))
    http = HttpClient(fast(), api_key="k", trusted=[sim.url])
    with pytest.raises(AuthenticationError) as raised:
        http.get_json(f"{sim.url}/health", role="RS_PROCESSES_STAGING_EXECUTE")
    err = raised.value
    assert err.auth_method == "API key" and err.missing_role is None
    assert "wants an OAuth2 session" in str(err) and "needs the role" not in str(err)


def test_environment_settings_are_kept_per_origin_for_streamed_requests(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """requests re-reads the proxy env vars on every request; the session keeps the answer per
    origin, also for the streamed requests every HttpClient call makes, and sees a change."""
    import requests

    from rs_core.http import ApiKeySession

    calls: list[str] = []
    merge = requests.Session.merge_environment_settings

    def counted(self: requests.Session, url: Any, *args: Any) -> Any:
        calls.append(str(url))
        return merge(self, url, *args)

    monkeypatch.setattr(requests.Session, "merge_environment_settings", counted)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.invalid:3128")
    session = ApiKeySession(None, HttpSettings())
    for _ in range(3):
        got = session.merge_environment_settings("http://a.test/x", {}, True, None, None)
        assert got["stream"] is True and got["proxies"]["http"] == "http://proxy.invalid:3128"
    got["proxies"]["http"] = "changed by the caller"
    assert len(calls) == 1, "computed once for the origin"
    session.merge_environment_settings("http://a.test/y", {}, None, None, None)
    assert len(calls) == 2, "stream is part of the key"
    monkeypatch.setenv("NO_PROXY", "a.test")
    got = session.merge_environment_settings("http://a.test/x", {}, True, None, None)
    assert len(calls) == 3 and "http" not in got["proxies"], "an env change is seen"


def test_a_body_is_decoded_with_the_collector_paused() -> None:
    """decode_json pauses the cyclic collector for the decoding only (a page of a search is
    tens of thousands of kept containers), and a body that is no JSON still gets its typed
    error with the collector back on."""
    import gc

    from rs_core.http import decode_json

    seen: list[bool] = []

    class Recording(requests.Response):
        def json(self, **kwargs: Any) -> Any:
            seen.append(gc.isenabled())
            return super().json(**kwargs)

    good, bad = Recording(), Recording()
    for response, body in ((good, b'{"features": [{"id": "a"}]}'), (bad, b"<html>")):
        response.status_code, response._content = 200, body
        response.url = "http://127.0.0.1/x"
    assert decode_json(good) == {"features": [{"id": "a"}]}
    assert gc.isenabled()
    with pytest.raises(BadResponseError):
        decode_json(bad, what="A page")
    assert seen == [False, False] and gc.isenabled()
