"""A fault-injecting HTTP proxy: put the simulator's faults in front of a real server.

:class:`FaultProxy` listens on 127.0.0.1 and forwards every request to one upstream base URL
(a real station service, a staging service, a catalog). Faults are the simulator's
(:class:`~rs_core.testing.simulator.Fault`, the same kinds, matching, ``times`` and ``skip``):
a ``status``/``rate_limit``/``nonjson``/``html``/``wrong_shape``/``redirect`` fault answers
instead of the upstream (nothing is forwarded), ``reset`` and ``hang`` cut the connection
without forwarding, ``truncate`` forwards and cuts the upstream's answer in half, ``latency``
waits, then forwards.

The upstream's base URL is rewritten to the proxy's in answer bodies and in ``Location``, so the
``next`` links of a paged answer, and every link a client follows, come back through the proxy
(a fault with ``skip=1`` then hits page 2). Requests go upstream with ``Accept-Encoding:
identity`` (the bodies are rewritten) and each on its own connection.

Example:
    >>> from rs_core.testing.simulator import Fault, RsServerSimulator
    >>> import urllib.error, urllib.request
    >>> with RsServerSimulator() as sim, FaultProxy(sim.url) as proxy:
    ...     _ = proxy.add_fault(Fault(path="/health", kind="status", status=503, times=1))
    ...     try:
    ...         urllib.request.urlopen(proxy.url + "/health")
    ...     except urllib.error.HTTPError as err:
    ...         first = err.code
    ...     second = urllib.request.urlopen(proxy.url + "/health").status
    ...     first, second, [r.path for r in proxy.requests]
    (503, 200, ['/health', '/health'])
"""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit

from .simulator.messages import RecordedRequest, Response
from .simulator.server import LocalHttpService

__all__ = ["FaultProxy"]

# hop-by-hop headers and those the simulator's plumbing writes itself
_DROP_REQUEST = frozenset(
    {"host", "connection", "keep-alive", "proxy-connection", "te", "trailer",
     "transfer-encoding", "upgrade", "accept-encoding", "content-length"}
)  # fmt: skip
_DROP_RESPONSE = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "content-length", "content-type",
     "date", "server", "content-encoding"}
)  # fmt: skip


class FaultProxy(LocalHttpService):
    """A proxy on 127.0.0.1 in front of ``upstream`` that injects faults
    (:class:`~rs_core.testing.simulator.Fault`).

    Args:
        upstream: the real server's base URL (``http://host:port``; a path is kept as a prefix).
        host, port: where to listen (``port=0``: a free one).
        timeout: seconds to wait for the upstream (connect and each read).

    :attr:`requests` records what the client sent (faulty requests included), like the
    simulator's request log; :attr:`forwarded` counts what reached the upstream.
    """

    def __init__(
        self, upstream: str, host: str = "127.0.0.1", port: int = 0, timeout: float = 120.0
    ) -> None:
        parts = urlsplit(upstream.rstrip("/"))
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"upstream must be an http:// URL, not {upstream!r}")
        super().__init__(host, port)
        self.upstream = upstream.rstrip("/")
        self.timeout = timeout
        self._upstream_host = parts.hostname
        self._upstream_port = parts.port or 80
        self._upstream_prefix = parts.path
        self._forwarded = 0

    def __repr__(self) -> str:
        return f"FaultProxy(url={self._url!r}, upstream={self.upstream!r})"

    @property
    def forwarded(self) -> int:
        """How many requests reached the upstream (and were answered) so far."""
        with self._records_lock:
            return self._forwarded

    # -- forwarding -----------------------------------------------------------------------

    def _route(self, request: RecordedRequest) -> Response:
        """Forward ``request`` upstream; its answer with the upstream's URL made the proxy's."""
        target = self._upstream_prefix + request.raw_path
        if request.raw_query:
            target += "?" + request.raw_query
        headers = {
            name: value
            for name, value in request.headers.items()
            if name.lower() not in _DROP_REQUEST
        }
        headers["Host"] = f"{self._upstream_host}:{self._upstream_port}"
        headers["Accept-Encoding"] = "identity"
        connection = http.client.HTTPConnection(
            self._upstream_host, self._upstream_port, timeout=self.timeout
        )
        try:
            connection.request(request.method, target, body=request.body or None, headers=headers)
            answer = connection.getresponse()
            body = answer.read()
        except (OSError, http.client.HTTPException) as err:
            return Response(
                502, f"fault proxy: upstream {self.upstream} failed: {err}".encode(), "text/plain"
            )
        finally:
            connection.close()
        with self._records_lock:
            self._forwarded += 1
        upstream = f"http://{self._upstream_host}:{self._upstream_port}"
        body = body.replace(upstream.encode(), self.url.encode())
        kept = tuple(
            (name, value.replace(upstream, self.url) if name.lower() == "location" else value)
            for name, value in answer.getheaders()
            if name.lower() not in _DROP_RESPONSE
        )
        return Response(answer.status, body, answer.getheader("Content-Type") or "", kept)
