"""The one HTTP layer every client and plugin uses.

* One :class:`requests.Session` per root client, shared by its children (connection reuse).
* A timeout on every request, including requests made by third-party code through the
  session (pystac-client): ``(connect, read)`` seconds.
* Retries with exponential backoff and jitter on connection errors and on 429 (honouring
  ``Retry-After``), 502, 503, 504 - for idempotent methods only, never for a POST that creates.
* The credential (API key, session cookie or bearer token, see :mod:`rs_core.credentials`)
  goes only to trusted origins (the configured RS-Server URLs): it is added in
  :meth:`ApiKeySession.send`, which also runs for every redirect hop, so a redirect or a
  ``next`` link to another host never carries it. The session keeps no cookie jar: cookies
  servers set are dropped, so none travels to another host either.
* Every call has a total deadline (connect, every read of the body, retries and waits): a body
  that trickles in cannot hold a call past it, and a ``Retry-After`` longer than what is left
  is an immediate :class:`~rs_core.errors.RateLimitedError` carrying the server's wait.
* Errors become typed :mod:`rs_core.errors` naming method, URL, status and the server's detail;
  a 401/403 also names the authentication method used (never its value).
* Requests are logged at DEBUG without headers; secret-looking query values are masked.

>>> http = HttpClient(HttpSettings(timeout=5), api_key="k", trusted=["http://127.0.0.1:8000"])
>>> http.get_json("http://127.0.0.1:8000/health")   # doctest: +SKIP
{'healthy': True}
"""

from __future__ import annotations

import email.utils
import http.cookiejar
import json
import logging
import os
import random
import re
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
from attrs import field, frozen
from requests.adapters import HTTPAdapter

from rs_core.credentials import (
    APIKEY_HEADER,
    AUTH_HEADERS,
    ApiKeyCredential,
    Credential,
    SessionCookie,
)
from rs_core.errors import (
    AuthenticationError,
    BadResponseError,
    HttpError,
    RateLimitedError,
    RsConnectionError,
    RsTimeoutError,
    error_for_status,
    redact_url,
)
from rs_core.items import gc_paused

__all__ = [
    "APIKEY_HEADER",
    "ApiKeySession",
    "HttpClient",
    "HttpSettings",
    "RedactingFilter",
    "Secret",
    "missing_role_in",
    "origin_of",
    "server_detail",
]

_PROXY_ENV = (
    *("http_proxy", "https_proxy", "all_proxy", "no_proxy"),
    *("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"),
    *("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "REQUEST_METHOD"),
)
"""Env vars that requests reads to choose proxies and CA bundle (see merge_environment_settings)."""
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
RETRY_STATUSES = frozenset({429, 502, 503, 504})

_TAG = re.compile(r"<[^>]+>")
_SECRET_IN_TEXT = re.compile(
    r"((?:api[-_]?key|token|secret|password|passwd|signature|credential)[^=&\s\"']*=)"
    r"([^&\s\"']+)",
    re.I,
)

_OAUTH_IN_TEXT = re.compile(r"([?&](?:code|session_code|state|execution|tab_id)=)([^&\s\"']+)")
"""OAuth2 login parameters (the one-time code, the login session) in logged URLs."""


class RedactingFilter(logging.Filter):
    """Masks API keys and secret-looking query values in other libraries' log records.

    urllib3 logs every request line (with its query string) at DEBUG; this filter, installed on
    its loggers by :class:`HttpClient`, rewrites such records before any handler sees them.
    """

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[Secret] = set()

    def add_secret(self, value: str | Secret) -> None:
        """Mask ``value`` wherever it appears."""
        secret = value if isinstance(value, Secret) else Secret(value)
        if secret.reveal():
            self._secrets.add(secret)

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message in place; never drops a record."""
        try:
            message = record.getMessage()
        except Exception:  # a broken record is the logging module's business
            return True
        cleaned = _OAUTH_IN_TEXT.sub(r"\1***", _SECRET_IN_TEXT.sub(r"\1***", message))
        for secret in list(self._secrets):
            cleaned = cleaned.replace(secret.reveal(), "***")
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


_REDACTOR = RedactingFilter()
for _name in ("urllib3.connectionpool", "urllib3.util.retry", "urllib3.connection"):
    logging.getLogger(_name).addFilter(_REDACTOR)


def _positive(_inst: object, attribute: Any, value: float) -> None:
    if not isinstance(value, (int, float)) or value <= 0:
        raise ValueError(f"{attribute.name} must be a positive number of seconds, got {value!r}")


def _verify(_inst: object, attribute: Any, value: bool | str) -> None:
    if isinstance(value, bool):
        return
    if not isinstance(value, str) or not os.path.exists(value):
        raise ValueError(
            f"verify must be True, False or the path of a CA bundle (file or folder), got "
            f"{value!r}" + (" which does not exist" if isinstance(value, str) else "")
        )


def _non_negative(_inst: object, attribute: Any, value: float) -> None:
    if not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"{attribute.name} must be >= 0, got {value!r}")


@frozen
class HttpSettings:
    """How the HTTP layer behaves. Every field has a sensible default.

    ``timeout`` is the read timeout (seconds to wait for the server's answer), ``connect_timeout``
    the time to open a connection. ``retries`` counts extra attempts after the first.
    ``verify`` is ``True``, ``False`` or the path of a CA bundle (``REQUESTS_CA_BUNDLE`` is
    honoured when ``verify`` is ``True``). ``deadline`` bounds a whole call: connecting, every
    read of the answer, retries and their waits (default 300 s).
    """

    timeout: float = field(default=30.0, validator=_positive)
    connect_timeout: float = field(default=10.0, validator=_positive)
    retries: int = field(default=3, validator=_non_negative)
    backoff_factor: float = field(default=0.5, validator=_non_negative)
    backoff_max: float = field(default=20.0, validator=_non_negative)
    retry_after_max: float = field(default=60.0, validator=_non_negative)
    deadline: float = field(default=300.0, validator=_positive)
    verify: bool | str = field(default=True, validator=_verify)
    pool_size: int = 16
    user_agent: str = "rs-client"

    @property
    def timeouts(self) -> tuple[float, float]:
        """The ``(connect, read)`` pair requests wants."""
        return (self.connect_timeout, self.timeout)


class Secret:
    """A string that never shows itself in ``repr``/``str``/logs.

    >>> s = Secret("abc"); str(s), repr(s), s.reveal()
    ('***', "Secret('***')", 'abc')
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret itself. Call it only where it goes on the wire."""
        return self._value

    def __str__(self) -> str:
        return "***"

    def __repr__(self) -> str:
        return "Secret('***')"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self) -> Any:
        raise TypeError("Secret values are not picklable")


def origin_of(url: str) -> str:
    """``scheme://host:port`` of a URL, lower-cased, with the default port made explicit.

    >>> origin_of("HTTP://Example.org/a/b?c")
    'http://example.org:80'
    """
    parts = urlsplit(url)
    scheme = (parts.scheme or "http").lower()
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None:
        port = 443 if scheme == "https" else 80
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"


class _NoCookies(http.cookiejar.DefaultCookiePolicy):
    """Keep no cookie a server sets: our own session cookie travels as a header, to trusted
    origins only, and nothing in a jar can follow a redirect to another host."""

    def set_ok(self, cookie: http.cookiejar.Cookie, request: Any) -> bool:
        return False


class ApiKeySession(requests.Session):
    """A :class:`requests.Session` that adds the credential only for trusted origins.

    ``credential`` is a :class:`~rs_core.credentials.Credential` (API key, session cookie,
    bearer token), or a :class:`Secret` API key as before. It also gives every request a
    timeout when the caller (e.g. pystac-client) sets none.
    """

    def __init__(self, credential: Credential | Secret | None, settings: HttpSettings) -> None:
        super().__init__()
        if isinstance(credential, Secret):
            credential = ApiKeyCredential(credential.reveal())
        self.credential: Credential | None = credential
        self._trusted: set[str] = set()
        self._default_timeout = settings.timeouts
        self.verify = settings.verify
        self.headers["User-Agent"] = settings.user_agent
        self.cookies.set_policy(_NoCookies())
        self._environment_cache: dict[tuple[Any, ...], dict[str, Any]] = {}
        adapter = HTTPAdapter(pool_connections=settings.pool_size, pool_maxsize=settings.pool_size)
        self.mount("http://", adapter)
        self.mount("https://", adapter)

    @property
    def _api_key(self) -> Secret | None:
        """The API key, when that is the credential (kept for callers of the seed's name)."""
        cred = self.credential
        return cred.secret if isinstance(cred, ApiKeyCredential) else None

    def merge_environment_settings(
        self, url: str | bytes | None, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> Any:
        """requests lets ``REQUESTS_CA_BUNDLE`` override the session's ``verify``; here an
        explicit setting (``False`` or a CA bundle path) wins, the env var only fills
        ``verify=True``."""
        key = self._environment_key(url, proxies, stream, verify, cert)
        cached = self._environment_cache.get(key) if key is not None else None
        if cached is not None:
            return {**cached, "proxies": dict(cached["proxies"])}
        settings: Any = super().merge_environment_settings(url, proxies, stream, verify, cert)
        if verify is None and self.verify is not True:
            settings["verify"] = self.verify
        if key is not None:
            if len(self._environment_cache) >= 256:
                self._environment_cache.clear()
            self._environment_cache[key] = {**settings, "proxies": dict(settings["proxies"])}
        return settings

    def _environment_key(
        self, url: str | bytes | None, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> tuple[Any, ...] | None:
        """What :meth:`merge_environment_settings` depends on, or None (do not cache).

        requests re-reads the proxy env vars and re-checks ``no_proxy`` on every request
        (~0.1 ms, a tenth of a call on a reused local connection); the answer depends only on
        the origin, the session's settings and these env vars, so it is kept per origin.
        """
        if proxies or verify is not None or cert is not None:
            return None
        if not isinstance(url, str):
            return None
        try:
            parts = urlsplit(url)
            key = (
                parts.scheme,
                parts.netloc,
                stream,  # every call of HttpClient.request streams (for its deadline)
                self.trust_env,
                self.stream,
                self.verify,
                self.cert if not isinstance(self.cert, list) else tuple(self.cert),
                tuple(sorted(self.proxies.items())),
                tuple(map(os.environ.get, _PROXY_ENV)),
            )
            hash(key)
        except (TypeError, ValueError):
            return None
        return key

    def trust(self, url: str) -> None:
        """Send the API key to ``url``'s origin from now on."""
        self._trusted.add(origin_of(url))

    def is_trusted(self, url: str) -> bool:
        """True when a request to ``url`` carries the API key."""
        return origin_of(url) in self._trusted

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        """Send one prepared request (also called for each redirect hop).

        Credential headers are removed from every request, then the credential is added when
        the request's origin is trusted. Once sent, its header is masked: the request stays
        reachable from the response (``response.request``) and from errors (``err.response``,
        requests' ``err.request``), whose ``repr`` must not show it.
        """
        headers = request.headers
        for name in AUTH_HEADERS:
            headers.pop(name, None)
        cred = self.credential
        applied = cred is not None and request.url is not None and self.is_trusted(request.url)
        if applied:
            assert cred is not None
            cred.apply(headers)
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self._default_timeout
        try:
            return super().send(request, **kwargs)
        finally:
            if applied:
                assert cred is not None
                headers[cred.header] = "***"

    def __repr__(self) -> str:
        method = self.credential.method if self.credential is not None else "none"
        return f"<ApiKeySession trusted={sorted(self._trusted)} auth={method}>"


def server_detail(response: requests.Response) -> Any:
    """The server's own explanation in an error answer, whatever its shape.

    ``{"detail": ...}`` (FastAPI), ``{"code", "description"}`` (catalog), a bare JSON string,
    ``{"started": "false"}`` (staging) or an HTML/text page (trimmed).
    """
    text = response.text or ""
    try:
        body = json.loads(text) if text else None
    except ValueError:
        body = None
        stripped = " ".join(_TAG.sub(" ", text).split())
        return stripped[:300] or None
    if isinstance(body, dict):
        for key in ("detail", "description", "message", "error", "title"):
            if body.get(key) not in (None, ""):
                value = body[key]
                code = body.get("code")
                return f"{code}: {value}" if key == "description" and code else value
        return body
    return body


def _broke(err: Exception) -> bool:
    """True when a connection was made and then failed, rather than never made."""
    if not isinstance(err, requests.exceptions.ConnectionError):
        return True  # chunked/decoding errors happen mid-body
    text = str(err).lower()
    return any(w in text for w in ("reset", "aborted", "remote end closed", "broken"))


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass  # not seconds: an HTTP date
    else:
        return max(0.0, seconds)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class _DeadlineExceeded(Exception):
    """The call's deadline passed while its answer was still arriving."""


_BODY_CHUNK = 256 * 1024


def _socket_of(response: requests.Response) -> Any:
    """The socket a streamed response reads from, or None (then only read timeouts bound)."""
    connection = getattr(response.raw, "connection", None)
    return getattr(connection, "sock", None)


def _read_body(response: requests.Response, end: float, read_timeout: float) -> None:
    """Read a streamed response's whole body, never past ``end`` (a ``time.monotonic()``).

    Each socket read waits at most the read timeout and at most what is left of the deadline,
    so a body that trickles in a byte at a time still ends in time.
    """
    raw = response.raw
    sock = _socket_of(response)
    chunks: list[bytes] = []
    try:
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise _DeadlineExceeded
            if sock is not None:
                sock.settimeout(min(read_timeout, left))
            chunk = raw.read1(_BODY_CHUNK, decode_content=True)
            if not chunk:
                break
            chunks.append(chunk)
    except urllib3.exceptions.ReadTimeoutError as err:
        response.close()
        if end - time.monotonic() <= 0.01:
            raise _DeadlineExceeded from err
        raise requests.exceptions.ReadTimeout(err, request=response.request) from err
    except urllib3.exceptions.DecodeError as err:
        response.close()
        raise requests.exceptions.ContentDecodingError(err, request=response.request) from err
    except (urllib3.exceptions.ProtocolError, urllib3.exceptions.SSLError, OSError) as err:
        response.close()
        raise requests.exceptions.ChunkedEncodingError(err, request=response.request) from err
    except _DeadlineExceeded:
        response.close()
        raise
    response._content = b"".join(chunks)  # what requests itself does for stream=False
    response._content_consumed = True  # type: ignore[attr-defined]
    raw.release_conn()


_MISSING_ROLE = re.compile(r"\bMissing (\w+) authorization role", re.I)
_V1_ROLE = re.compile(r"right role to (read|download) from the '(\w+)' station", re.I)
_SESSION_REFUSED = (
    "without a valid api key or oauth2 session cookie",
    "not found in keycloak",
    "is disabled from keycloak",
    "not authenticated",
)


def missing_role_in(detail: Any) -> str | None:
    """The role a server's 401/403 detail says is missing, if it names one.

    >>> missing_role_in("Missing RS_CADIP_MTI_READ authorization role")
    'RS_CADIP_MTI_READ'
    >>> missing_role_in("Authorization key does not include the right role to read from the "
    ...                 "'cadip_mti' station")
    'rs_cadip_mti_read'
    """
    text = str(detail or "")
    found = _MISSING_ROLE.search(text)
    if found:
        return found.group(1)
    found = _V1_ROLE.search(text)
    if found:
        return f"rs_{found.group(2).lower()}_{found.group(1).lower()}"
    return None


def _auth_error(
    err: HttpError, credential: Credential | None, role: str | None
) -> AuthenticationError:
    """Explain a 401/403: which method was used, what the server said, what is missing."""
    method = credential.method if credential is not None else "no credential"
    missing = missing_role_in(err.detail) or role
    parts = [f"{err.message}: the server refused the request (sent: {method})"]
    detail = str(err.detail or "").lower()
    if (
        isinstance(credential, ApiKeyCredential)
        and _SESSION_REFUSED[0] in detail
        and not missing_role_in(err.detail)
    ):
        # A key the service accepted elsewhere, yet "no valid key or session": this call reads
        # the user from a session (RS-Server 1.0a4's staging does), not a missing role.
        missing = None
        parts.append(
            "this call wants an OAuth2 session, an API key is not enough here: sign in "
            "(rs login) or give a session cookie (oauth2_cookie=, RSPY_OAUTH2_COOKIE)"
        )
    elif isinstance(credential, SessionCookie) and any(p in detail for p in _SESSION_REFUSED):
        parts.append(
            "the session cookie is no longer valid (expired, logged out, or signed for another "
            "server): sign in again (rs login)"
        )
    elif credential is None:
        parts.append("give an API key, a session cookie or a bearer token")
    if missing:
        parts.append(f"this call needs the role {missing}")
    auth = AuthenticationError(
        "; ".join(parts),
        method=err.method,
        url=err.url,
        status=err.status,
        detail=err.detail,
        response=err.response,
    )
    auth.auth_method = method
    auth.missing_role = missing
    return auth


class HttpClient:
    """Send requests with timeouts, a deadline, retries, the credential where it belongs, and
    typed errors.

    >>> http = HttpClient(HttpSettings(), api_key=None)
    >>> http.request("GET", "http://127.0.0.1:9/nothing")     # doctest: +SKIP
    Traceback (most recent call last):
    rs_core.errors.RsConnectionError: Cannot reach the server (GET http://127.0.0.1:9/nothing)

    ``credential`` (a :class:`~rs_core.credentials.Credential`) replaces ``api_key``.
    ``role_check``, when set, is called with the role a request needs (``role=``) before it is
    sent, and raises :class:`~rs_core.errors.AuthenticationError` naming a missing role.
    """

    def __init__(
        self,
        settings: HttpSettings,
        api_key: str | Secret | None = None,
        *,
        trusted: Iterable[str] = (),
        logger: logging.Logger | None = None,
        credential: Credential | None = None,
    ) -> None:
        self.settings = settings
        if credential is None and api_key:
            key = api_key.reveal() if isinstance(api_key, Secret) else api_key
            credential = ApiKeyCredential(key)
        if credential is not None:
            _REDACTOR.add_secret(credential.secret)
        self.session = ApiKeySession(credential, settings)
        self.logger = logger or logging.getLogger("rs_core.http")
        self._sleep = time.sleep
        self.role_check: Callable[[str], None] | None = None
        for url in trusted:
            self.session.trust(url)

    @property
    def credential(self) -> Credential | None:
        """How requests to trusted origins authenticate (``None``: they do not)."""
        return self.session.credential

    def trust(self, url: str) -> None:
        """Send the credential to ``url``'s origin."""
        self.session.trust(url)

    def close(self) -> None:
        """Close pooled connections."""
        self.session.close()

    def __repr__(self) -> str:
        return f"<HttpClient {self.session!r}>"

    def _backoff(self, attempt: int) -> float:
        base = min(self.settings.backoff_max, self.settings.backoff_factor * 2.0**attempt)
        return base * (0.5 + random.random() / 2)

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | tuple[float, float] | None = None,
        retry: bool | None = None,
        retry_on: Iterable[int] | None = None,
        ok: Iterable[int] = (),
        what: str = "Request failed",
        deadline: float | None = None,
        role: str | None = None,
    ) -> requests.Response:
        """Send one request and return the response, or raise a typed :class:`RsError`.

        ``timeout`` (read seconds, or a ``(connect, read)`` pair) overrides the settings.
        ``deadline`` (seconds) bounds the whole call, retries and waits included (default
        the settings' ``deadline``). ``retry`` forces retries on or off; by default only
        idempotent methods retry. ``retry_on`` replaces the statuses that are retried (default
        429, 502, 503, 504); connection errors are retried whenever retries are on.
        ``ok`` lists extra statuses returned instead of raised (e.g. 404 for "exists?").
        ``what`` starts the error message ("Search failed", "Staging refused"...).
        ``role`` is the role the call needs (see :mod:`rs_core.roles`): checked before sending
        when the caller's roles are known, and named in the error of a 401/403.
        """
        method = method.upper()
        if role is not None and self.role_check is not None:
            self.role_check(role)
        may_retry = (method in IDEMPOTENT) if retry is None else retry
        if timeout is None:
            timeouts = self.settings.timeouts
        elif isinstance(timeout, tuple):
            timeouts = timeout
        else:
            timeouts = (min(self.settings.connect_timeout, float(timeout)), float(timeout))
        budget = self.settings.deadline if deadline is None else float(deadline)
        end = time.monotonic() + budget
        attempts = 1 + (self.settings.retries if may_retry else 0)
        accepted = set(ok)
        retry_statuses = RETRY_STATUSES if retry_on is None else frozenset(retry_on)

        def out_of_time(attempt: int, cause: str) -> RsTimeoutError:
            return RsTimeoutError(
                f"{what}: {cause} within the {budget:g} s deadline of the call "
                f"({attempt} attempt(s))",
                method=method,
                url=url,
            )

        for attempt in range(attempts):
            last = attempt == attempts - 1
            left = end - time.monotonic()
            if left <= 0:
                raise out_of_time(attempt, "no answer")
            started = time.perf_counter()
            bounded = (min(timeouts[0], left), min(timeouts[1], left))
            try:
                response = self.session.request(
                    method,
                    url,
                    params=params,
                    json=json_body,
                    data=data,
                    headers=dict(headers) if headers else None,
                    timeout=bounded,
                    stream=True,
                )
                _read_body(response, end, timeouts[1])
            except _DeadlineExceeded as err:
                raise out_of_time(attempt + 1, "the answer did not arrive in full") from err
            except requests.exceptions.SSLError as err:
                verify = self.settings.verify
                if "CERTIFICATE_VERIFY_FAILED" in str(err):
                    reason = (
                        "TLS certificate verification failed; if the server uses a private CA, "
                        "pass its bundle: RsClient(..., verify='/path/to/ca.pem') or set "
                        "REQUESTS_CA_BUNDLE"
                        + (f" (CA bundle in use: {verify})" if isinstance(verify, str) else "")
                    )
                else:
                    reason = "the TLS handshake failed"
                raise RsConnectionError(
                    f"{what}: {reason} ({type(err).__name__})", method=method, url=url
                ) from err
            except requests.exceptions.ReadTimeout as err:
                if end - time.monotonic() <= 0.01 and bounded[1] < timeouts[1]:
                    raise out_of_time(attempt + 1, "no answer") from err
                raise RsTimeoutError(
                    f"{what}: no answer within the {timeouts[1]:g} s read timeout",
                    method=method,
                    url=url,
                ) from err
            except (
                requests.exceptions.ConnectionError,
                requests.exceptions.ChunkedEncodingError,
                requests.exceptions.ContentDecodingError,
            ) as err:
                timed_out = isinstance(err, requests.exceptions.ConnectTimeout)
                if timed_out and bounded[0] < timeouts[0] and end - time.monotonic() <= 0.01:
                    raise out_of_time(attempt + 1, "no connection") from err
                if not last:
                    delay = self._backoff(attempt)
                    if delay >= end - time.monotonic():
                        raise out_of_time(attempt + 1, "no answer") from err
                    self.logger.debug(
                        "%s %s failed (%s); retry %d/%d in %.2f s",
                        method,
                        redact_url(url),
                        type(err).__name__,
                        attempt + 1,
                        attempts - 1,
                        delay,
                    )
                    self._sleep(delay)
                    continue
                if timed_out:
                    raise RsTimeoutError(
                        f"{what}: could not connect within the {timeouts[0]:g} s connect timeout",
                        method=method,
                        url=url,
                    ) from err
                reason = "the connection broke" if _broke(err) else "cannot reach the server"
                raise RsConnectionError(
                    f"{what}: {reason} after {attempt + 1} attempt(s) ({type(err).__name__})",
                    method=method,
                    url=url,
                ) from err
            except (
                requests.exceptions.InvalidURL,
                requests.exceptions.MissingSchema,
                requests.exceptions.InvalidSchema,
            ) as err:
                raise RsConnectionError(f"{what}: invalid URL", method=method, url=url) from err
            elapsed = (time.perf_counter() - started) * 1000
            status = response.status_code
            if self.logger.isEnabledFor(logging.DEBUG):  # redact_url costs ~20 µs a call
                self.logger.debug(
                    "%s %s -> %d (%.1f ms)", method, redact_url(response.url), status, elapsed
                )
            if status < 400 or status in accepted:
                return response
            if status in retry_statuses and not last:
                hint = _retry_after(response) if status in (429, 503) else None
                delay = (
                    min(hint, self.settings.retry_after_max)
                    if hint is not None
                    else self._backoff(attempt)
                )
                left = end - time.monotonic()
                if delay >= left:
                    refusal = error_for_status(
                        status,
                        (
                            f"{what}: the server asks to wait {hint:g} s"
                            if hint is not None
                            else f"{what}: the next retry would wait {delay:.2g} s"
                        )
                        + f", more than the {max(left, 0):.2g} s left of the call's "
                        f"{budget:g} s deadline",
                        method=method,
                        url=url,
                        detail=server_detail(response),
                        response=response,
                        retry_after=hint,
                    )
                    if hint is not None and not isinstance(refusal, RateLimitedError):
                        limited = refusal.recast(RateLimitedError)
                        limited.retry_after = hint
                        raise limited
                    raise refusal
                self.logger.debug(
                    "%s %s -> %d; retry %d/%d in %.2f s",
                    method,
                    redact_url(url),
                    status,
                    attempt + 1,
                    attempts - 1,
                    delay,
                )
                response.close()
                self._sleep(delay)
                continue
            error = error_for_status(
                status,
                what,
                method=method,
                url=url,
                detail=server_detail(response),
                response=response,
                retry_after=_retry_after(response),
            )
            if status in (401, 403):
                raise _auth_error(error, self.credential, role)
            raise error
        raise AssertionError("unreachable")  # pragma: no cover

    def request_json(self, method: str, url: str, **kwargs: Any) -> Any:
        """Like :meth:`request`, then decode the JSON body (:class:`BadResponseError` if not)."""
        response = self.request(method, url, **kwargs)
        return decode_json(response, what=kwargs.get("what", "Request failed"))

    def get_json(self, url: str, **kwargs: Any) -> Any:
        """``GET`` and decode JSON."""
        return self.request_json("GET", url, **kwargs)


def decode_json(response: requests.Response, *, what: str = "Request failed") -> Any:
    """Decode a response's JSON body or raise :class:`BadResponseError` naming the request.

    The cyclic garbage collector is paused while a body is decoded (a page of a search makes
    tens of thousands of containers, all of them kept: the collector's passes over them would
    free nothing; see :func:`rs_core.items.gc_paused`)."""
    method = response.request.method if response.request is not None else None
    try:
        with gc_paused():
            return response.json()
    except ValueError as err:
        snippet = " ".join(_TAG.sub(" ", response.text[:200]).split())
        raise BadResponseError(
            f"{what}: the answer is not JSON "
            f"({response.headers.get('Content-Type', 'no content type')})",
            method=method,
            url=response.url,
            status=response.status_code,
            detail=snippet,
            response=response,
        ) from err


def require(
    body: Any,
    kind: type | tuple[type, ...],
    response: requests.Response,
    *,
    what: str,
    keys: Iterable[str] = (),
) -> Any:
    """Check a decoded JSON body's type and keys; :class:`BadResponseError` if it is off."""
    method = response.request.method if response.request is not None else None
    if not isinstance(body, kind):
        raise BadResponseError(
            f"{what}: expected a JSON {_kind_name(kind)}, got {type(body).__name__}",
            method=method,
            url=response.url,
            status=response.status_code,
            response=response,
        )
    missing = [k for k in keys if not isinstance(body, dict) or k not in body]
    if missing:
        raise BadResponseError(
            f"{what}: the answer lacks {', '.join(repr(k) for k in missing)}",
            method=method,
            url=response.url,
            status=response.status_code,
            response=response,
        )
    return body


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names: dict[type, str] = {dict: "object", list: "array", str: "string"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


__all__ += ["HttpError", "decode_json", "require"]
