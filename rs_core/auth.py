"""Who you are: API-key introspection, ``/auth/me``, the console login, owner ids.

``apikey_security`` asks RS-Server's key manager what a key may do; :func:`fetch_identity`
asks ``/auth/me`` for a session or token (and for a key where no key manager is configured).
Answers are cached for 120 s per (URL, credential), so a notebook that builds many clients
asks once. :func:`console_login` signs in through RS-Server's ``/auth/login_from_console``.

>>> sanitize_owner_id("test_user")
'testuser'
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Callable, Iterable
from html.parser import HTMLParser
from typing import Any, overload
from urllib.parse import urljoin, urlsplit

import requests
from attrs import frozen

from rs_core.credentials import SESSION_COOKIE_NAME, ApiKeyCredential
from rs_core.errors import (
    AuthenticationError,
    BadResponseError,
    ConfigurationError,
    HttpError,
    RsConnectionError,
)
from rs_core.http import HttpClient, decode_json, origin_of, require
from rs_core.roles import RoleGrant, explain_roles, has_role

__all__ = [
    "APIKEY_CACHE_SECONDS",
    "ApiKeyInfo",
    "Identity",
    "check_api_key",
    "clear_apikey_cache",
    "console_login",
    "fetch_identity",
    "sanitize_owner_id",
]

UAC_CHECK_URL_ENV = "RSPY_UAC_CHECK_URL"

APIKEY_CACHE_SECONDS = 120.0
_OUTSIDE_OWNER = re.compile(r"[^a-zA-Z0-9]+")


@frozen
class ApiKeyInfo:
    """What the key manager says about an API key."""

    iam_roles: tuple[str, ...]
    config: dict[str, Any]
    user_login: str

    def as_tuple(self) -> tuple[list[str], dict[str, Any], str]:
        """The seed's ``(iam_roles, config, user_login)`` shape."""
        return list(self.iam_roles), dict(self.config), self.user_login


_cache: dict[tuple[str, str], tuple[float, ApiKeyInfo]] = {}
_cache_lock = threading.Lock()


def clear_apikey_cache() -> None:
    """Forget every cached key check."""
    with _cache_lock:
        _cache.clear()
        _me_cache.clear()


@overload
def check_api_key(
    http: HttpClient, check_url: str, api_key: str, *, timeout: float | None = None
) -> ApiKeyInfo: ...


@overload
def check_api_key(
    http: HttpClient,
    check_url: str,
    api_key: str,
    *,
    timeout: float | None = None,
    absent: Iterable[int],
) -> ApiKeyInfo | None: ...


def check_api_key(
    http: HttpClient,
    check_url: str,
    api_key: str,
    *,
    timeout: float | None = None,
    absent: Iterable[int] = (),
) -> ApiKeyInfo | None:
    """Ask ``check_url`` about ``api_key`` (cached 120 s). Raises :class:`AuthenticationError`.

    ``absent`` lists statuses meaning "no key manager here": then ``None`` is returned.
    """
    fingerprint = hashlib.sha256(api_key.encode()).hexdigest()
    key = (check_url, fingerprint)
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None and now - hit[0] < APIKEY_CACHE_SECONDS:
            return hit[1]
    http.trust(check_url)
    missing = tuple(absent)
    try:
        response = http.request(
            "GET", check_url, timeout=timeout, ok=missing, what="API key check failed"
        )
    except AuthenticationError:
        raise
    except HttpError as err:
        raise err.recast(
            AuthenticationError,
            "API key check failed",
        ) from err
    if response.status_code in missing:
        return None
    info = _key_info(response)
    with _cache_lock:
        _cache[key] = (time.monotonic(), info)
    return info


def _key_info(
    response: requests.Response, *, what: str = "API key check", keys: tuple[str, ...] = ()
) -> ApiKeyInfo:
    """Read a ``{"iam_roles", "config", "user_login"}`` answer (key manager, ``/auth/me``)."""
    body = require(
        decode_json(response, what=what),
        dict,
        response,
        what=what,
        keys=keys or ("iam_roles",),
    )
    roles = body.get("iam_roles") or []
    if not isinstance(roles, list):
        roles = [roles]
    config = body.get("config") if isinstance(body.get("config"), dict) else {}
    return ApiKeyInfo(
        tuple(str(r) for r in roles), dict(config or {}), str(body.get("user_login") or "")
    )


def sanitize_owner_id(owner_id: str, *, source: str = "owner_id") -> str:
    """Remove every run of characters outside ``[a-zA-Z0-9]``; empty is an error."""
    cleaned = _OUTSIDE_OWNER.sub("", owner_id or "")
    if not cleaned:
        raise ConfigurationError(
            f"The owner id from {source} ({owner_id!r}) has no letters or digits; "
            "give owner_id= with at least one of [a-zA-Z0-9]"
        )
    return cleaned


# -- identity -------------------------------------------------------------------------------

LEGACY_CHECK_PATH = "/apikeymanager/check/api_key"
"""Where v1-era deployments served the API-key manager under the RS-Server URL."""
ME_PATH = "/auth/me"


@frozen
class Identity:
    """Who the client is for the server: login, IAM roles, and how that was learnt.

    ``method`` is the credential used ("API key", "session cookie", "bearer token" or
    "none"); ``source`` the URL that answered (empty in local mode).
    """

    user_login: str
    iam_roles: tuple[str, ...]
    config: dict[str, Any]
    method: str
    source: str

    def grants(self) -> list[RoleGrant]:
        """The roles, each explained (see :mod:`rs_core.roles`)."""
        return explain_roles(self.iam_roles)

    def allows(self, role: str) -> bool:
        """Whether the roles include ``role`` (case-insensitive, catalog ``*`` honoured)."""
        return has_role(self.iam_roles, role)


_LOCAL = Identity("", (), {}, "none", "")


def fetch_identity(
    http: HttpClient,
    href: str | None,
    *,
    check_url: str | None = None,
    timeout: float | None = None,
) -> Identity:
    """Ask the server who ``http``'s credential belongs to.

    An API key goes to the key manager: ``check_url`` when one is configured, else the
    v1-era ``{href}/apikeymanager/check/api_key``; where that does not exist, ``/auth/me`` is
    tried, and if it does not know the key either, a :class:`ConfigurationError` asks for
    ``RSPY_UAC_CHECK_URL`` (no silent guess). A session cookie or a token asks
    ``{href}/auth/me`` (RS-Server 1.0).
    """
    credential = http.credential
    if href is None or credential is None:
        return _LOCAL
    is_key = isinstance(credential, ApiKeyCredential)
    if is_key:
        url = check_url or f"{href}{LEGACY_CHECK_PATH}"
        info = check_api_key(
            http,
            url,
            credential.secret.reveal(),
            timeout=timeout,
            absent=() if check_url else (404, 405),
        )
        if info is not None:
            return Identity(info.user_login, info.iam_roles, info.config, credential.method, url)
    me_url = f"{href}{ME_PATH}"
    fingerprint = hashlib.sha256(credential.header_value().encode()).hexdigest()
    key = (me_url, fingerprint)
    with _cache_lock:
        hit = _me_cache.get(key)
        if hit is not None and time.monotonic() - hit[0] < APIKEY_CACHE_SECONDS:
            return hit[1]
    response = http.request(
        "GET", me_url, timeout=timeout, ok=(401, 403, 404) if is_key else (), what="Who am I"
    )
    if response.status_code >= 400:  # an API key that /auth/me does not take
        raise ConfigurationError(
            f"Cannot learn who this API key belongs to: there is no API-key manager at "
            f"{href}{LEGACY_CHECK_PATH} and {me_url} answered {response.status_code} "
            f"(RS-Server 1.0 serves it for OAuth2 sessions only). Set {UAC_CHECK_URL_ENV} (or "
            "apikey_check_url=, or the profile's apikey_check_url) to the check URL of the "
            "cluster's API-key manager, the value RS-Server itself is configured with"
        )
    info = _key_info(response, what="Who am I", keys=("user_login",))
    identity = Identity(info.user_login, info.iam_roles, {}, credential.method, me_url)
    with _cache_lock:
        _me_cache[key] = (time.monotonic(), identity)
    return identity


_me_cache: dict[tuple[str, str], tuple[float, Identity]] = {}


# -- the console login ----------------------------------------------------------------------


class _LoginForm(HTMLParser):
    """Finds the first form with a password field: its action and hidden inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self.has_password = False
        self.error = ""
        self._in_form = False
        self._done = False
        self._in_error = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        if tag == "form" and not self._done:
            self._in_form = True
            self.action = attributes.get("action")
            self.fields = {}
        elif tag == "input" and self._in_form:
            name = attributes.get("name")
            if attributes.get("type") == "password":
                self.has_password = True
            elif name and attributes.get("type") == "hidden":
                self.fields[name] = attributes.get("value", "")
        elif "error" in attributes.get("class", "") or attributes.get("id") == "input-error":
            self._in_error = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self._in_form:
            self._in_form = False
            self._done = self.has_password
        self._in_error = False

    def handle_data(self, data: str) -> None:
        if self._in_error and data.strip() and not self.error:
            self.error = " ".join(data.split())


def console_login(
    href: str,
    username: str,
    password: str,
    *,
    timeout: float = 30.0,
    verify: bool | str = True,
    on_login_page: Callable[[str], None] | None = None,
) -> str:
    """Sign in like RS-Server's console login and return the session cookie's value.

    ``GET {href}/auth/login_from_console`` answers the identity provider's (Keycloak's) login
    page URL and sets a session cookie holding the login state; the login form is filled with
    ``username`` and ``password`` and posted; the provider sends the browser back to RS-Server,
    which puts the signed-in user into the ``session`` cookie. ``on_login_page`` is told the
    login page's origin (to show the user where the password goes). The password goes only to
    the form's own URL; nothing here is logged.
    """
    root = href.rstrip("/")
    session = requests.Session()
    session.headers["User-Agent"] = "rs-client"
    session.verify = verify
    start = f"{root}/auth/login_from_console"
    what = "Console login failed"
    try:
        first = session.get(start, timeout=timeout)
        if first.status_code == 404:
            raise ConfigurationError(
                f"{what}: {root} has no console login (GET {start} -> 404); paste a session "
                "cookie instead (rs login --cookie)"
            )
        if first.status_code >= 400:
            raise AuthenticationError(
                what, method="GET", url=start, status=first.status_code, detail=first.text[:300]
            )
        try:
            login_url = first.json()
        except ValueError:
            login_url = None
        if not isinstance(login_url, str) or not login_url.startswith(("http://", "https://")):
            raise BadResponseError(
                f"{what}: expected the login page URL as a JSON string",
                method="GET",
                url=start,
                status=first.status_code,
            )
        if on_login_page is not None:
            on_login_page(origin_of(login_url))
        page = session.get(login_url, timeout=timeout)
        form = _LoginForm()
        form.feed(page.text)
        if not form.has_password or not form.action:
            raise BadResponseError(
                f"{what}: the login page has no user name/password form",
                method="GET",
                url=origin_of(login_url),
                status=page.status_code,
            )
        action = urljoin(page.url, form.action)
        answer = session.post(
            action,
            data={**form.fields, "username": username, "password": password},
            timeout=timeout,
        )
    except requests.exceptions.RequestException as err:
        raise RsConnectionError(f"{what}: {type(err).__name__}", url=start) from err
    finally:
        password = ""
    cookie = _session_cookie(session, root)
    session.close()
    if cookie is None or "logged in" not in answer.text.lower():
        retry = _LoginForm()
        retry.feed(answer.text)
        reason = retry.error or (
            "the user name or password was refused" if retry.has_password else answer.text[:200]
        )
        raise AuthenticationError(
            f"{what}: {reason}",
            method="POST",
            url=origin_of(action),
            status=answer.status_code,
        )
    return cookie


def _session_cookie(session: requests.Session, href: str) -> str | None:
    host = urlsplit(href).hostname or ""
    for cookie in session.cookies:
        if cookie.name != SESSION_COOKIE_NAME:
            continue
        domain = (cookie.domain or "").lstrip(".")
        if domain in (host, f"{host}.local", "") or host.endswith(f".{domain}"):
            return cookie.value
    return None
