"""The error hierarchy of rs-client.

Every error raised on purpose by rs-core or a plugin is an :class:`RsError`. The subclasses say
*what kind* of thing went wrong, so callers can react without parsing messages::

    try:
        files = cadip.search_stations(start, stop)
    except rs_core.AuthenticationError:
        ...  # the API key is wrong or lacks the role
    except rs_core.RsError as err:
        print(err)  # "GET http://.../cadip/MTI/cadu/search -> 503: Station ... connection error"

Errors raised for an HTTP exchange carry ``method``, ``url`` (never with secrets), ``status``
and the server's own ``detail``; ``response`` keeps the :class:`requests.Response` reachable.
They are always chained to their cause (``raise ... from err``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

if TYPE_CHECKING:
    import requests

__all__ = [
    "AuthenticationError",
    "BadResponseError",
    "ConfigurationError",
    "ConflictError",
    "HttpError",
    "InvalidInputError",
    "NotFoundError",
    "PluginError",
    "RateLimitedError",
    "RequestRejectedError",
    "RsConnectionError",
    "RsError",
    "RsTimeoutError",
    "ServerError",
    "StagingError",
    "UnknownCollectionError",
    "UnknownKindError",
    "UnknownStationError",
    "UnsortableFieldError",
    "UnsupportedOperationError",
    "error_for_status",
    "redact_url",
]

E = TypeVar("E", bound="RsError")

_SECRET_PARAM = re.compile(r"(api[-_]?key|token|secret|password|passwd|signature|credential)", re.I)


def redact_url(url: str | None) -> str | None:
    """Return ``url`` without user info and with secret-looking query values masked.

    >>> redact_url("https://bob:pw@host/x?apikey=abc&limit=3")
    'https://host/x?apikey=***&limit=3'
    """
    if not url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    netloc = parts.netloc.rsplit("@", 1)[-1]
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(_SECRET_PARAM.search(k) for k, _ in pairs):
            query = urlencode(
                [(k, "***" if _SECRET_PARAM.search(k) else v) for k, v in pairs], safe="/:,*"
            )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


class RsError(Exception):
    """Root of every error rs-client raises on purpose.

    >>> err = RsError("it broke", method="GET", url="http://h/x", status=500, detail="boom")
    >>> str(err)
    'it broke (GET http://h/x -> HTTP 500: boom)'
    """

    def __init__(
        self,
        message: str,
        *,
        method: str | None = None,
        url: str | None = None,
        status: int | None = None,
        detail: Any = None,
        response: requests.Response | None = None,
    ) -> None:
        self.message = message
        self.method = method
        self.url = redact_url(url)
        self.status = status
        self.detail = detail
        self.response = response
        super().__init__(message)

    def __str__(self) -> str:
        where = []
        if self.method or self.url:
            where.append(" ".join(p for p in (self.method, self.url) if p))
        if self.status is not None:
            where.append(f"HTTP {self.status}")
        suffix = " -> ".join(where)
        if self.detail not in (None, "", [], {}):
            suffix = f"{suffix}: {_short(self.detail)}" if suffix else _short(self.detail)
        return f"{self.message} ({suffix})" if suffix else self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"

    def recast(self, cls: type[E], message: str | None = None) -> E:
        """The same exchange (method, URL, status, detail, response) as another error type.

        Raise the result ``from`` this error to keep the chain::

            except ServerError as err:
                raise err.recast(NotFoundError, "the collection does not exist") from err
        """
        return cls(
            self.message if message is None else message,
            method=self.method,
            url=self.url,
            status=self.status,
            detail=self.detail,
            response=self.response,
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # Keep errors picklable (multiprocessing, pytest-xdist) without the response object.
        return (
            _rebuild,
            (type(self), self.message, self.method, self.url, self.status, self.detail),
        )


def _rebuild(  # noqa: PLR0917 - the pickle protocol passes positional arguments
    cls: type[RsError], message: str, method: Any, url: Any, status: Any, detail: Any
) -> RsError:
    err = cls.__new__(cls)
    RsError.__init__(err, message, method=method, url=url, status=status, detail=detail)
    return err


def _short(detail: Any, limit: int = 500) -> str:
    if isinstance(detail, list) and detail and all(isinstance(d, dict) for d in detail):
        # FastAPI validation errors: [{"loc": [...], "msg": ...}, ...]
        parts = []
        for d in detail:
            loc = ".".join(str(x) for x in d.get("loc", []) if x not in ("query", "body"))
            msg = d.get("msg", d)
            parts.append(f"{loc}: {msg}" if loc else str(msg))
        text = "; ".join(parts)
    else:
        text = str(detail)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class ConfigurationError(RsError):
    """The client is set up wrongly: no URL, no API key in cluster mode, bad owner id..."""


class InvalidInputError(RsError, ValueError):
    """An argument was rejected before any request was sent (dates, limits, names...)."""


class UnknownStationError(InvalidInputError, LookupError):
    """A station id that the plugin does not serve. The message lists the valid ones."""


class UnknownCollectionError(InvalidInputError, LookupError):
    """A collection the station service does not offer (or a station that has none).

    ``valid`` holds the collections the service lists; the message names them.
    """

    valid: tuple[str, ...] = ()


class UnsortableFieldError(InvalidInputError):
    """A ``sortby`` field the server cannot sort on; ``sortable`` holds the ones it can."""

    sortable: tuple[str, ...] = ()


class PluginError(RsError):
    """A plugin could not be loaded, or two plugins claim the same kind."""


class UnknownKindError(PluginError, LookupError):
    """No installed plugin serves this kind. The message lists the installed kinds."""


class RsConnectionError(RsError):
    """The server could not be reached, or the connection broke during the exchange."""


class RsTimeoutError(RsConnectionError):
    """The server did not answer within the configured timeout (named in the message)."""


class BadResponseError(RsError):
    """The server answered, but not with what the protocol promises (non-JSON, missing keys)."""


class HttpError(RsError):
    """The server answered with an error status. ``status`` and ``detail`` say which."""


class RequestRejectedError(HttpError):
    """The server refused the request as invalid (HTTP 400, 405, 422 and other 4xx)."""


class AuthenticationError(HttpError):
    """The API key is missing, wrong, or lacks the role for this operation (HTTP 401/403).

    ``auth_method`` says how the request authenticated ("API key", "session cookie", "bearer
    token", "no credential"); ``missing_role`` names the role it lacked, when known.
    """

    auth_method: str | None = None
    missing_role: str | None = None


class NotFoundError(HttpError, LookupError):
    """The thing asked for does not exist (HTTP 404)."""


class ConflictError(HttpError):
    """The thing to create exists already (HTTP 409)."""


class RateLimitedError(HttpError):
    """Too many requests (HTTP 429). ``retry_after`` holds the server's hint in seconds."""

    retry_after: float | None = None


class ServerError(HttpError):
    """The server failed (HTTP 5xx), e.g. a station behind RS-Server is unreachable."""


class StagingError(RsError):
    """A staging request was refused or a staged file ended FAILED."""


class UnsupportedOperationError(RsError, NotImplementedError):
    """The server generation in use lacks this operation (e.g. ``list_collections`` on v1).

    >>> str(UnsupportedOperationError("list_collections() needs RS-Server v2"))
    'list_collections() needs RS-Server v2'
    """


def error_for_status(
    status: int,
    message: str,
    *,
    method: str | None = None,
    url: str | None = None,
    detail: Any = None,
    response: requests.Response | None = None,
    retry_after: float | None = None,
) -> HttpError:
    """Build the :class:`HttpError` subclass that matches an HTTP error status.

    >>> type(error_for_status(404, "no such file")).__name__
    'NotFoundError'
    """
    cls: type[HttpError]
    if status in (401, 403):
        cls = AuthenticationError
    elif status == 404:
        cls = NotFoundError
    elif status == 409:
        cls = ConflictError
    elif status == 429:
        cls = RateLimitedError
    elif status >= 500:
        cls = ServerError
    elif status >= 400:
        cls = RequestRejectedError
    else:
        cls = HttpError
    err = cls(message, method=method, url=url, status=status, detail=detail, response=response)
    if isinstance(err, RateLimitedError):
        err.retry_after = retry_after
    return err
