"""pystac-client's I/O, routed through rs-core's HTTP layer.

:class:`RsStacApiIO` is a :class:`pystac_client.stac_api_io.StacApiIO` whose every request goes
through the shared :class:`rs_core.http.HttpClient`, hence through its
:class:`~rs_core.http.ApiKeySession`. That gives pystac-client's own requests (landing page,
collection lists, search pages, ``next`` links) what rs-core promises everywhere:

* the ``x-api-key`` header is added by the session at send time, only for trusted origins: a
  ``next`` link or a redirect to another host never carries it; and since the key is never in
  the prepared request, pystac-client's DEBUG log of request headers cannot show it (this class
  does not use that log line at all);
* a ``(connect, read)`` timeout on every request, retries with backoff for GETs and searches;
* every page of a paged answer is checked: a page that is neither a FeatureCollection nor a
  collection list (no ``features``, ``features: null``, an error object) is a
  :class:`~rs_core.BadResponseError` naming the page, where pystac-client's paging would stop
  quietly and return a partial result;
* typed :mod:`rs_core.errors` instead of pystac-client's ``APIError``. A 404 is raised as
  :class:`StacNotFoundError`, which is both a :class:`rs_core.NotFoundError` and a pystac-client
  ``APIError`` with ``status_code`` 404, so pystac-client's own "missing means ``None``" paths
  (``CollectionClient.get_item``) keep working.

Headers and query parameters given to it stay on this object; they never leak into the shared
session (which station clients use too).

>>> from rs_core.http import HttpClient, HttpSettings
>>> http = HttpClient(HttpSettings(), api_key=None)
>>> io = RsStacApiIO(http, headers={"Accept": "application/json"})
>>> io.headers
{'Accept': 'application/json'}
"""

from __future__ import annotations

import reprlib
from collections.abc import Callable, Iterable, Iterator
from copy import deepcopy
from typing import Any
from urllib.parse import urlsplit

import requests
from pystac.link import HREF, Link
from pystac_client.exceptions import APIError
from pystac_client.stac_api_io import StacApiIO, Timeout

from rs_core.errors import BadResponseError, NotFoundError
from rs_core.http import APIKEY_HEADER, HttpClient

__all__ = ["RsStacApiIO", "StacNotFoundError", "check_page"]

_BODY_METHODS = ("POST", "PUT", "PATCH")


class StacNotFoundError(NotFoundError, APIError):
    """HTTP 404 from a catalog; also a pystac-client ``APIError`` (``status_code == 404``)."""

    status_code: int | None

    @classmethod
    def wrap(cls, err: NotFoundError) -> StacNotFoundError:
        """The same error as a :class:`StacNotFoundError`."""
        new = cls(
            err.message,
            method=err.method,
            url=err.url,
            status=err.status,
            detail=err.detail,
            response=err.response,
        )
        new.status_code = err.status
        return new


class RsStacApiIO(StacApiIO):
    """A pystac-client ``StacApiIO`` that sends through rs-core's shared HTTP layer.

    :param http: the shared :class:`~rs_core.http.HttpClient` (``RsClient.http``).
    :param headers: extra headers for every request of this client (``x-api-key`` is refused:
        the session adds the key itself, only where it belongs).
    :param parameters: extra query parameters for every GET.
    :param request_modifier: pystac-client's hook: gets each :class:`requests.Request`, may
        modify it in place or return a new one.
    :param timeout: read timeout in seconds or a ``(connect, read)`` pair; ``None``: the
        client's settings.
    """

    def __init__(
        self,
        http: HttpClient,
        headers: dict[str, str] | None = None,
        parameters: dict[str, Any] | None = None,
        request_modifier: Callable[[requests.Request], requests.Request | None] | None = None,
        timeout: Timeout | None = None,
    ) -> None:
        # StacApiIO.__init__ would build a private Session; we use the shared one instead.
        self.http = http
        self.session = http.session
        self.headers: dict[str, str] = {}
        self.parameters: dict[str, Any] = {}
        self._req_modifier = None
        self.timeout = None
        self.update(
            headers=headers,
            parameters=parameters,
            request_modifier=request_modifier,
            timeout=timeout,
        )

    def update(
        self,
        headers: dict[str, str] | None = None,
        parameters: dict[str, Any] | None = None,
        request_modifier: Callable[[requests.Request], requests.Request | None] | None = None,
        timeout: Timeout | None = None,
    ) -> None:
        """Add headers and parameters, set the request modifier and timeout (this client only)."""
        for name in headers or {}:
            if name.lower() == APIKEY_HEADER:
                raise ValueError(
                    f"Do not pass the {APIKEY_HEADER} header: the client adds the API key "
                    "itself, and only for the catalog's origin"
                )
        self.headers.update(headers or {})
        self.parameters.update(parameters or {})
        if request_modifier is not None:
            self._req_modifier = request_modifier
        if timeout is not None:
            self.timeout = timeout

    def __repr__(self) -> str:
        return f"<RsStacApiIO {self.session!r}>"

    def _timeout(self) -> float | tuple[float, float] | None:
        value = self.timeout
        if value is None:
            return None
        if isinstance(value, tuple):
            connect, read = value
            return (float(connect), float(read if read is not None else connect))
        return float(value)

    def send(
        self,
        method: str,
        href: str,
        *,
        json_body: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        timeout: float | tuple[float, float] | None = None,
        retry: bool | None = None,
        ok: Iterable[int] = (),
        what: str = "STAC request failed",
    ) -> requests.Response:
        """Send one request with this client's headers, parameters and request modifier.

        Returns the response or raises a typed :class:`rs_core.RsError` (404:
        :class:`StacNotFoundError`). GETs and searches are retried on transient failures;
        other methods follow ``retry`` (default: only idempotent ones).
        """
        method = method.upper()
        all_headers = {**self.headers, **(headers or {})}
        if method in _BODY_METHODS:
            request = requests.Request(method, href, headers=all_headers, json=json_body)
        else:
            request = requests.Request(
                method, href, headers=all_headers, params={**self.parameters, **(params or {})}
            )
        if self._req_modifier is not None:
            request = self._req_modifier(request) or request
        if retry is None and urlsplit(request.url).path.rstrip("/").endswith("/search"):
            retry = True  # a search is safe to repeat, even as a POST
        try:
            return self.http.request(
                request.method or method,
                request.url,
                params=request.params or None,
                json_body=request.json,
                data=request.data or None,
                headers=request.headers or None,
                timeout=timeout if timeout is not None else self._timeout(),
                retry=retry,
                ok=ok,
                what=what,
            )
        except NotFoundError as err:
            raise StacNotFoundError.wrap(err) from err

    def request(
        self,
        href: str,
        method: str | None = None,
        headers: dict[str, str] | None = None,
        parameters: dict[str, Any] | None = None,
    ) -> str:
        """Send one request for pystac-client and return the body text.

        ``parameters`` is the JSON body of a POST/PUT/PATCH, else the query string. Raises
        typed :class:`rs_core.RsError` subclasses (never a bare ``APIError``).
        """
        method = (method or "GET").upper()
        if method in _BODY_METHODS:
            response = self.send(method, href, json_body=parameters, headers=headers)
        else:
            response = self.send(method, href, params=deepcopy(parameters), headers=headers)
        try:
            return response.content.decode("utf-8")
        except UnicodeDecodeError as err:
            raise BadResponseError(
                "STAC request failed: the answer is not UTF-8 text",
                method=method,
                url=response.url,
                status=response.status_code,
                response=response,
            ) from err

    def read_json(self, source: HREF, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Read a JSON object (a page, a collection, an item) for pystac-client.

        A body that is not JSON, or JSON that is not an object, is a
        :class:`~rs_core.BadResponseError` naming the URL (pystac-client would raise a bare
        ``JSONDecodeError`` or fail later with an ``AttributeError``).
        """
        if isinstance(source, Link):
            href = source.get_absolute_href()
            method = str(source.extra_fields.get("method") or "GET")
        else:
            href, method = str(source), str(kwargs.get("method") or "GET")
        text = self.read_text(source, *args, **kwargs)
        try:
            body = self.json_loads(text)
        except ValueError as err:
            raise BadResponseError(
                "STAC request failed: the answer is not JSON",
                method=method,
                url=href,
                detail=text[:200],
            ) from err
        if not isinstance(body, dict):
            raise BadResponseError(
                f"STAC request failed: expected a JSON object, got {type(body).__name__}",
                method=method,
                url=href,
            )
        links = body.get("links", [])
        if not isinstance(links, list) or not all(
            isinstance(link, dict)
            and isinstance(link.get("rel"), str)
            and (link["rel"] != "next" or isinstance(link.get("href"), str))
            for link in links
        ):
            raise BadResponseError(
                "STAC request failed: 'links' is not a list of link objects",
                method=method,
                url=href,
            )
        return body

    def get_pages(
        self,
        url: str,
        method: str | None = None,
        parameters: dict[str, Any] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every page of a paged endpoint (``/search``, ``.../items``, ``/collections``),
        following ``next`` links, each page checked (:func:`check_page`).

        The paging ends at a page without ``next`` link or with no features (as
        pystac-client's); a page that is not a FeatureCollection or a collection list raises.
        """
        page = self.read_json(url, method=method, parameters=parameters)
        number = 1
        while True:
            if not check_page(page, url=url, number=number, method=method or "GET"):
                return
            yield page
            next_link = next(
                (link for link in page.get("links", []) if link.get("rel") == "next"), None
            )
            if next_link is None:
                return
            link = Link.from_dict(next_link)
            url, number = link.href, number + 1
            method = str(link.extra_fields.get("method") or "GET")
            page = self.read_json(link, parameters=parameters)


def check_page(page: dict[str, Any], *, url: str, number: int, method: str = "GET") -> bool:
    """True for a page with features or collections, False for an empty one (the end);
    anything else is a :class:`~rs_core.BadResponseError` naming page ``number`` and ``url``.

    >>> check_page({"type": "FeatureCollection", "features": []}, url="u", number=2)
    False
    >>> try:
    ...     check_page({"code": "X"}, url="u", number=2)
    ... except BadResponseError as err:
    ...     print(err.message)
    The catalog's page 2 of a paged answer is not a FeatureCollection: no 'features' (keys: 'code')
    """
    for key in ("features", "collections"):
        if key in page:
            values = page[key]
            if isinstance(values, list) and all(isinstance(v, dict) for v in values):
                return bool(values)
            shown = "null" if values is None else f"a {type(values).__name__}"
            if isinstance(values, list):
                shown = "a list with an entry that is not an object"
            problem = f"{key!r} is {shown}"
            break
    else:
        keys = ", ".join(reprlib.repr(k) for k in list(page)[:5])
        problem = f"no 'features' (keys: {keys})" if keys else "an empty object"
    raise BadResponseError(
        f"The catalog's page {number} of a paged answer is not a FeatureCollection: {problem}",
        method=method,
        url=url,
    )
