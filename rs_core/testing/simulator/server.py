"""The simulator's HTTP plumbing: threads, keep-alive, one-``send`` answers, recording, faults.

Every answer (status line, headers and body) is built as one bytes object and written with a
single ``sendall``, and accepted sockets get ``TCP_NODELAY``: without both, Nagle plus delayed
ACK adds about 40 ms to each call on a reused connection.

Example:
    >>> with RsServerSimulator() as sim:
    ...     sim.url.startswith("http://127.0.0.1:")
    True
"""

from __future__ import annotations

import contextlib
import re
import signal
import socket
import struct
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType, TracebackType
from typing import Any, Self
from urllib.parse import unquote, urlsplit

from .auth import ApiKey, OAuth2Provider, authenticate
from .catalog import Catalog
from .dataset import Dataset
from .fakes import FakeContext, FakeStation, StationFakeRoutes, installed_fakes
from .faults import Fault, FaultList
from .messages import (
    Headers,
    RecordedRequest,
    Response,
    detail_response,
    dumps,
    json_response,
)
from .stations import StagingJobs
from .v2_staging import StagingProcesses
from .v2_stations import StacService, V2Stations

__all__ = ["LocalHttpService", "RouteHandler", "RsServerSimulator", "serve"]

RouteHandler = Callable[[RecordedRequest, re.Match[str]], Response | tuple[int, Any]]
"""A route added with :meth:`RsServerSimulator.add_route`: ``handler(request, match)``
returns a :class:`~.messages.Response`, or ``(status, value)`` answered as JSON."""

_HTML_PAGE = (
    "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
    "<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)
_MAX_BODY = 256 * 1024 * 1024


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], simulator: LocalHttpService) -> None:
        self.simulator = simulator
        self.stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def track(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(connection)

    def untrack(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(connection)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Connection errors are the clients' business; stay quiet."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "rs-server-simulator/1.0"
    sys_version = ""
    server: _HttpServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.server.untrack(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: no per-request logging."""

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET

    # -- reading --------------------------------------------------------------------------

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks: list[bytes] = []
            while True:
                size_line = self.rfile.readline(65537)
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0 or length > _MAX_BODY:
            raise ValueError("bad Content-Length")
        return self.rfile.read(length) if length else b""

    # -- writing --------------------------------------------------------------------------

    def _head(self, response: Response, length: int) -> bytes:
        lines = [
            f"HTTP/1.1 {response.status} {_reason(response.status)}",
            f"Server: {self.server_version}",
            f"Date: {formatdate(usegmt=True)}",
            f"Content-Length: {length}",
        ]
        if response.content_type:  # a redirect of RS-Server 0.2 has none
            lines.insert(3, f"Content-Type: {response.content_type}")
        lines.extend(f"{name}: {value}" for name, value in response.headers)
        if self.close_connection:
            lines.append("Connection: close")
        elif self.request_version == "HTTP/1.0":
            lines.append("Connection: keep-alive")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _send(self, response: Response) -> None:
        body = b"" if self.command == "HEAD" else response.body
        self.wfile.write(self._head(response, len(response.body)) + body)

    def _abort(self, reset: bool) -> None:
        self.close_connection = True
        connection = self.connection
        try:
            if reset:
                connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            else:
                connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self.rfile.close()
        finally:
            connection.close()

    # -- dispatch -------------------------------------------------------------------------

    def _dispatch(self) -> None:
        simulator = self.server.simulator
        target = self.path
        if target.startswith(("http://", "https://")):
            parts = urlsplit(target)
            target = parts.path + (f"?{parts.query}" if parts.query else "")
        target = target.split("#", 1)[0]
        raw_path, _, raw_query = target.partition("?")
        try:
            body = self._read_body()
        except (ValueError, OSError):
            self.close_connection = True
            self._send(detail_response(400, "Bad request body"))
            return
        record = RecordedRequest(
            method=self.command,
            raw_path=raw_path or "/",
            raw_query=raw_query,
            headers=Headers(self.headers.items()),
            body=body,
            client_address=(str(self.client_address[0]), int(self.client_address[1])),
            time=time.time(),
        )
        simulator._record(record)
        fault = simulator._faults.take(record.method, record.path)
        if fault is not None and self._apply_fault(fault, record):
            return
        try:
            response = simulator._route(record)
        except Exception:  # a simulator bug: answer like Starlette, say why on stderr
            traceback.print_exc(file=sys.stderr)
            response = Response(500, b"Internal Server Error", "text/plain; charset=utf-8")
        self._send(response)

    def _apply_fault(self, fault: Fault, record: RecordedRequest) -> bool:
        """Apply ``fault``; True when the request is fully handled."""
        simulator = self.server.simulator
        kind = fault.kind
        if kind == "latency":
            self.server.stopping.wait(fault.effective_delay)
            return False
        if kind == "hang":
            self.server.stopping.wait(fault.effective_delay)
            self._abort(reset=False)
            return True
        if kind == "reset":
            self._abort(reset=True)
            return True
        if kind == "truncate":
            response = simulator._route(record)
            half = response.body[: len(response.body) // 2]
            self.wfile.write(self._head(response, len(response.body)) + half)
            self._abort(reset=False)
            return True
        self._send(_fault_response(fault))
        return True


def _fault_body(fault: Fault, default: Any) -> tuple[bytes, str]:
    value = default if fault.body is None else fault.body
    if isinstance(value, bytes):
        return value, "application/json"
    if isinstance(value, str):
        return value.encode("utf-8"), "text/plain; charset=utf-8"
    return dumps(value), "application/json"


def _fault_response(fault: Fault) -> Response:
    status = fault.effective_status
    headers: list[tuple[str, str]] = []
    if fault.kind == "rate_limit":
        retry = fault.retry_after if fault.retry_after is not None else 1
        headers.append(("Retry-After", str(retry)))
        body, ctype = _fault_body(fault, {"detail": "Too Many Requests (injected fault)"})
    elif fault.kind == "status":
        if fault.retry_after is not None:
            headers.append(("Retry-After", str(fault.retry_after)))
        body, ctype = _fault_body(fault, {"detail": "Injected fault"})
    elif fault.kind == "nonjson":
        status = 200
        body, ctype = _fault_body(fault, "<<not json>> injected garbage {\x00\x01")
        ctype = "text/plain; charset=utf-8"
    elif fault.kind == "html":
        page = _HTML_PAGE.format(status=status, reason=_reason(status))
        body, ctype = (fault.body if isinstance(fault.body, bytes) else page.encode()), "text/html"
    elif fault.kind == "wrong_shape":
        status = 200
        body, ctype = _fault_body(fault, [{"type": "FeatureCollection", "features": "none"}])
    else:  # redirect
        headers.append(("Location", str(fault.location)))
        body, ctype = b"", "text/plain; charset=utf-8"
    if fault.retry_after is not None and fault.kind in ("html", "redirect"):
        headers.append(("Retry-After", str(fault.retry_after)))
    return Response(status, body, ctype, tuple(headers))


class LocalHttpService:
    """An HTTP service on ``host:port`` served by a background thread, with a request log and
    injected :class:`~.faults.Fault` s: the plumbing of :class:`RsServerSimulator` and of
    :class:`~rs_core.testing.fault_proxy.FaultProxy`. A subclass answers in :meth:`_route`."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self._faults = FaultList()
        self._records: list[RecordedRequest] = []
        self._records_lock = threading.Lock()
        self._server: _HttpServer | None = None
        self._thread: threading.Thread | None = None
        self._url: str | None = None

    def _route(self, request: RecordedRequest) -> Response:
        """The answer to ``request`` (when no fault answers instead)."""
        raise NotImplementedError

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> Self:
        """Bind and serve in a background thread; returns ``self``."""
        if self._server is not None:
            return self
        server = _HttpServer((self.host, self.port), self)
        bound_host, bound_port = server.server_address[:2]
        shown = "127.0.0.1" if bound_host in ("0.0.0.0", "") else str(bound_host)
        if ":" in shown:
            shown = f"[{shown}]"
        self.port = int(bound_port)
        self._url = f"http://{shown}:{self.port}"
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{type(self).__name__}-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, wake hanging requests, close client connections (idempotent)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.stopping.set()
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self._stopped()

    def _stopped(self) -> None:
        """Called once :meth:`stop` stopped serving."""

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash); only once started."""
        if self._url is None:
            raise RuntimeError(
                f"the {type(self).__name__} is not started; use start() or a with block"
            )
        return self._url

    # -- recording, faults ----------------------------------------------------------------

    def _record(self, record: RecordedRequest) -> None:
        with self._records_lock:
            self._records.append(record)

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of the requests received so far, oldest first."""
        with self._records_lock:
            return list(self._records)

    def clear_requests(self) -> None:
        """Forget the recorded requests."""
        with self._records_lock:
            self._records.clear()

    def add_fault(self, fault: Fault) -> Fault:
        """Inject ``fault`` (tried after the faults already there); returns it."""
        self._faults.add(fault)
        return fault

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        self._faults.clear()

    @property
    def faults(self) -> list[Fault]:
        """The active faults, in order."""
        return self._faults.snapshot()


class _ExtraRoute:
    __slots__ = ("auth", "handler", "method", "pattern")

    def __init__(
        self, method: str, pattern: re.Pattern[str], handler: RouteHandler, auth: bool
    ) -> None:
        self.method = method
        self.pattern = pattern
        self.handler = handler
        self.auth = auth


class RsServerSimulator(LocalHttpService):
    """An RS-Server v1 (ADGS, CADIP, catalog) on 127.0.0.1, for tests, benchmarks and demos.

    Args:
        host: the address to listen on.
        port: the port (``0``: a free one).
        api_keys: ``None`` for local mode (no auth); else ``{key: ApiKey(...)}`` (cluster mode).
        dataset: the stations' records (default :meth:`Dataset.default`).
        staging_duration: seconds a staging job stays ``IN_PROGRESS``.
        staging_failure_rate: probability (seeded by ``seed``) that a job ends ``FAILED``.
        require_search_before_staging: like RS-Server, stage only names a search returned;
            ``False`` also accepts any name of the dataset.
        api_version: ``"v1"`` (default: the fakes' RS-Server v1 routes), ``"v2"`` (RS-Server
            0.2/1.0: the fakes' STAC services, staging as OGC API - Processes ``/processes``
            and ``/jobs``, see :mod:`.v2_stations` and :mod:`.v2_staging`) or ``"both"``
            (each fake on every generation it speaks: ``rs simulate``); ``/catalog``,
            ``/health`` and the API-key manager are served by all.
        fakes: the fake stations to serve (default: every installed station plugin's,
            :func:`~.fakes.installed_fakes`).
        oauth2: RS-Server 1.0's OAuth2 side (``/auth/me``, the console login, session
            cookies): see :class:`~.auth.OAuth2Provider`; implies cluster mode.

    Other routes are served with :meth:`add_route` (tried first).

    Example:
        >>> import json, urllib.request
        >>> with RsServerSimulator() as sim:
        ...     json.load(urllib.request.urlopen(sim.url + "/health"))
        {'healthy': True}
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        api_keys: Mapping[str, ApiKey] | None = None,
        dataset: Dataset | None = None,
        staging_duration: float = 0.2,
        staging_failure_rate: float = 0.0,
        seed: int = 0,
        require_search_before_staging: bool = True,
        api_version: str = "v1",
        fakes: Sequence[FakeStation] | None = None,
        oauth2: OAuth2Provider | None = None,
    ) -> None:
        if oauth2 is not None and api_keys is None:
            api_keys = {}  # OAuth2 sessions mean cluster mode
        self.oauth2 = oauth2
        if api_version not in ("v1", "v2", "both"):
            raise ValueError(f"api_version must be 'v1', 'v2' or 'both', not {api_version!r}")
        self.api_version = api_version
        super().__init__(host, port)
        self._api_keys: dict[str, ApiKey] | None = dict(api_keys) if api_keys is not None else None
        self.fakes: tuple[FakeStation, ...] = tuple(installed_fakes() if fakes is None else fakes)
        self.dataset = dataset if dataset is not None else Dataset()
        for fake in self.fakes:  # a list the dataset does not hold: the fake's own records
            if not all(self.dataset.holds(name) for name in fake.lists):
                for name, values in fake.default_lists().items():
                    self.dataset.setdefault(name, values)
        self.staging = StagingJobs(
            duration=staging_duration,
            failure_rate=staging_failure_rate,
            seed=seed,
            require_search_before_staging=require_search_before_staging,
        )
        self.catalog = Catalog(lambda: self.url)
        context = FakeContext(self.dataset, lambda: self.url, self.staging, api_version)
        self._stations: tuple[StationFakeRoutes, ...] = tuple(
            fake.build(context) for fake in self.fakes
        )
        self._v2: V2Stations | None = None
        self._v2_staging: StagingProcesses | None = None
        if api_version != "v1":
            self._v2 = V2Stations(
                service for station in self._stations for service in station.stac_services()
            )
            self._v2_staging = StagingProcesses(
                self._v2,
                self.catalog,
                lambda: self.url,
                self._route,
                duration=staging_duration,
                failure_rate=staging_failure_rate,
                seed=seed,
            )
        self._extra_routes: tuple[_ExtraRoute, ...] = ()

    def _stopped(self) -> None:
        self.staging.stop()

    def __repr__(self) -> str:
        mode = "local" if self._api_keys is None else f"cluster, {len(self._api_keys)} key(s)"
        version = "" if self.api_version == "v1" else f", api_version={self.api_version!r}"
        return f"RsServerSimulator(url={self._url!r}, {mode}, {self.dataset!r}{version})"

    @property
    def local_mode(self) -> bool:
        """True when no API keys were given (no authentication)."""
        return self._api_keys is None

    # -- recording, faults, staging -------------------------------------------------------

    def add_api_key(self, key: str, api_key: ApiKey) -> None:
        """Register one more key (switches a local-mode simulator to cluster mode)."""
        if self._api_keys is None:
            self._api_keys = {}
        self._api_keys[key] = api_key

    def fail_staging(self, name: str, message: str = "Simulated staging failure") -> None:
        """Make the current (or next) staging job of file ``name`` end ``FAILED`` with
        ``message`` (once). In v2, ``name`` is an item id or an asset (file) name of a job,
        which then ends ``failed`` with ``message``."""
        self.staging.fail(name, message)
        if self._v2_staging is not None:
            self._v2_staging.fail(name, message)

    @property
    def jobs(self) -> list[dict[str, Any]]:
        """v2: a snapshot of the staging jobs, oldest first (each as ``GET /jobs/{id}`` shows
        it plus ``owner``, ``collection`` and ``items``, the staged item ids); v1: ``[]``."""
        if self._v2_staging is None:
            return []
        return self._v2_staging.snapshot()

    def staging_state(self, name: str) -> dict[str, Any] | None:
        """The status object of ``name`` (plus ``service``, ``local``, ``obs``), or None."""
        return self.staging.state(name)

    def stac_service(self, service: str) -> StacService:
        """The STAC station service served at ``/<service>`` (v2), e.g. to add products to it
        (:meth:`StacService.add_items`) or look at its kept selections; ``LookupError`` when
        this simulator serves no such service."""
        found = self._v2.services.get(service) if self._v2 is not None else None
        if found is None:
            served = sorted(self._v2.services) if self._v2 is not None else []
            raise LookupError(
                f"no STAC service {service!r} (api_version={self.api_version!r}; "
                f"served: {', '.join(served) or 'none'})"
            )
        return found

    # -- extension point ------------------------------------------------------------------

    def add_route(
        self, method: str, path_regex: str, handler: RouteHandler, *, auth: bool = True
    ) -> None:
        """Serve one more route: the public extension point for plugins' fake services.

        ``method`` is an HTTP method (``"GET"``, or ``"*"`` for any); ``path_regex`` must match
        the whole decoded request path (``re.fullmatch``). ``handler(request, match)`` gets the
        :class:`~.messages.RecordedRequest` and the match (named groups included) and returns a
        :class:`~.messages.Response` or ``(status, value)``, answered as JSON. A handler that
        raises answers 500 (traceback on stderr).

        Added routes are tried in order, before the built-in ones, and get the simulator's
        machinery for free: the request is recorded (:attr:`requests`), faults apply
        (:meth:`add_fault`), and in cluster mode a missing or wrong ``x-api-key`` is refused
        with 403 (``auth=False`` serves without a key). Adding a route with the same method
        and regex again replaces the earlier one, so a per-test fixture may re-install its
        service on a shared simulator.

        Example:
            >>> import json, urllib.request
            >>> with RsServerSimulator() as sim:
            ...     sim.add_route("GET", r"/prip/types/(?P<mission>S[0-9])",
            ...                   lambda request, match: (200, [match["mission"] + "_L1"]))
            ...     json.load(urllib.request.urlopen(sim.url + "/prip/types/S2"))
            ['S2_L1']
        """
        verb = method.upper()
        pattern = re.compile(path_regex)
        route = _ExtraRoute(verb, pattern, handler, auth)
        kept = tuple(
            r for r in self._extra_routes if (r.method, r.pattern.pattern) != (verb, path_regex)
        )
        self._extra_routes = (*kept, route)

    def _extra_route(self, request: RecordedRequest) -> Response | None:
        for route in self._extra_routes:
            match = route.pattern.fullmatch(request.path)
            if match is None or route.method not in ("*", request.method):
                continue
            if route.auth:
                principal = self._principal(request)
                if isinstance(principal, Response):
                    return principal
            answer = route.handler(request, match)
            if isinstance(answer, Response):
                return answer
            status, value = answer
            return json_response(status, value)
        return None

    # -- routing --------------------------------------------------------------------------

    def _principal(self, request: RecordedRequest) -> ApiKey | Response | None:
        """The key's owner (cluster mode), None (local mode) or a 403."""
        if self._api_keys is None:
            return None
        key = request.headers.get("x-api-key") or request.param("api-key")
        if not key and self.oauth2 is not None:
            return authenticate(request, self._api_keys, self.oauth2)
        catalog = request.path.startswith("/catalog")
        if not key:
            if catalog:
                return json_response(403, "Not authenticated")
            return detail_response(403, "Not authenticated")
        found = self._api_keys.get(key)
        if found is None:
            return detail_response(403, "UAC manager: Invalid API key")
        return found

    def _route(self, request: RecordedRequest) -> Response:
        if self._extra_routes:
            extra = self._extra_route(request)
            if extra is not None:
                return extra
        segments = [unquote(part) for part in request.raw_path.split("/")[1:]]
        owner = None
        if self.api_version != "v2":
            owner = next((s for s in self._stations if s.owns_v1(segments)), None)
        if owner is not None:
            principal = self._principal(request)
            if isinstance(principal, Response):
                return principal
            answer = owner.route_v1(request, segments, principal)
            if answer is not None:
                return answer
            return detail_response(404, "Not Found")
        if self._v2 is not None:
            answer = self._route_v2(request, segments)
            if answer is not None:
                return answer
        if self.oauth2 is not None:
            answer = self.oauth2.handle(request, self.url)
            if answer is not None:
                return answer
        if segments == ["health"]:
            if request.method not in ("GET", "HEAD"):
                return detail_response(405, "Method Not Allowed")
            return json_response(200, {"healthy": True})
        if segments == ["apikeymanager", "check", "api_key"]:
            return self._check_api_key(request)
        if segments and segments[0] == "catalog":
            principal = self._principal(request)
            if isinstance(principal, Response):
                return principal
            return self.catalog.handle(request, segments[1:], principal)
        return detail_response(404, "Not Found")

    def _route_v2(self, request: RecordedRequest, segments: list[str]) -> Response | None:
        """The RS-Server 0.2 routes, or None for the shared ones (health, catalog, keys)."""
        assert self._v2 is not None and self._v2_staging is not None
        self._v2_staging.advance()
        if segments in ([], [""]):
            if request.method not in ("GET", "HEAD"):
                return detail_response(405, "Method Not Allowed")
            first = next(iter(self._v2.services), "")  # RS-Server 0.2 redirects to /auxip
            return Response(307, b"", "", (("location", f"/{first}"),))
        staging = self._v2_staging.owns(segments)
        if not (staging or self._v2.owns(segments)):
            return None
        principal = self._principal(request)
        if isinstance(principal, Response):
            return principal
        if staging:
            return self._v2_staging.handle(request, segments, principal)
        return self._v2.handle(request, segments, principal)

    def _check_api_key(self, request: RecordedRequest) -> Response:
        if request.method != "GET":
            return detail_response(405, "Method Not Allowed")
        key = request.headers.get("x-api-key") or request.param("api-key")
        if not key:
            return detail_response(403, "Not authenticated")
        found = (self._api_keys or {}).get(key)
        if found is None:
            return detail_response(403, "Invalid API key")
        return json_response(200, found.to_json())


def serve(host: str = "127.0.0.1", port: int = 8000, **kwargs: Any) -> None:
    """Run a simulator until Ctrl-C or SIGTERM (blocking); prints its URL first.

    ``kwargs`` go to :class:`RsServerSimulator`.

    Example (shell):
        python -m rs_core.testing.simulator --port 8000 --api-key secret
    """
    simulator = RsServerSimulator(host=host, port=port, **kwargs)
    simulator.start()
    print(f"RS-Server simulator listening on {simulator.url} (Ctrl-C to stop)", flush=True)
    finished = threading.Event()
    previous: Any = None
    in_main = threading.current_thread() is threading.main_thread()

    def on_term(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    if in_main:
        previous = signal.signal(signal.SIGTERM, on_term)
    try:
        finished.wait()
    except KeyboardInterrupt:
        pass
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)
        simulator.stop()
