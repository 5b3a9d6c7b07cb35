"""API keys, roles and OAuth2 sessions of the simulated RS-Server (cluster mode).

:class:`OAuth2Provider` adds RS-Server 1.0's OAuth2 side: ``/auth/me``, the console login
(``/auth/login_from_console`` with an identity provider's login form served under
``/realms/rspy``), ``/auth/logout``, and session cookies signed like RS-Server's
(:class:`SessionSigner`, keyed by the secret a test gives). :func:`rs_server_1_roles` names
the roles as RS-Server 1.0 does (``RS_CADIP_MTI_READ``...).

Station roles are RS-Server's ``rs_<service>[_<station>]_read|download``, compared
case-insensitively; each plugin's fake station declares its own (``FakeStation.roles``) and a
:meth:`ApiKey.full_access` key holds those of every installed fake.

Catalog roles (the simulator's choice, close to rs-server-catalog's): a user always reads and
writes the collections it owns (``owner == user_login``). Another owner's collection needs
``rs_catalog_<owner>:<collection>_read`` to read it and ``rs_catalog_<owner>:<collection>_write``
to change it or its items; ``<collection>`` may be ``*`` for all of that owner's collections.

Example:
    >>> key = ApiKey("alice", ["rs_things_read"])
    >>> key.has_role("RS_THINGS_READ"), key.has_station_role("rs_things_download")
    (True, False)
    >>> ApiKey.full_access("alice").has_station_role("rs_things_download")
    True
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode

from attrs import define, field, frozen

from .messages import RecordedRequest, Response, detail_response, json_response

if TYPE_CHECKING:
    from .fakes import FakeStation

__all__ = [
    "SESSION_COOKIE",
    "TEST_COOKIE_SECRET",
    "ApiKey",
    "OAuth2Provider",
    "SessionSigner",
    "authenticate",
    "catalog_role",
    "cookie_of",
    "identity_service",
    "rs_server_1_roles",
    "station_role",
    "test_users",
]


def _roles(value: Any) -> tuple[str, ...]:
    return tuple(str(role) for role in value)


@frozen
class ApiKey:
    """What the API-key manager knows about one key.

    Example:
        >>> ApiKey(user_login="alice", iam_roles=["rs_adgs_read"]).iam_roles
        ('rs_adgs_read',)
    """

    user_login: str
    iam_roles: tuple[str, ...] = field(factory=tuple, converter=_roles)
    config: dict[str, Any] = field(factory=dict, eq=False, hash=False)
    all_stations: bool = False

    @classmethod
    def full_access(cls, user_login: str = "rsuser") -> ApiKey:
        """A key with every station role (read and download; the roles of plugins' fakes too,
        see :meth:`has_station_role`); catalog access to its own collections.

        >>> ApiKey.full_access().all_stations
        True
        """
        from .fakes import installed_fakes

        roles = [role for fake in installed_fakes() for role in fake.roles]
        return cls(user_login=user_login, iam_roles=roles, all_stations=True)

    def has_role(self, role: str) -> bool:
        """Whether the key holds ``role`` (case-insensitive)."""
        wanted = role.upper()
        return any(held.upper() == wanted for held in self.iam_roles)

    def has_station_role(self, role: str) -> bool:
        """Whether the key may use a station with ``role``: it holds the role, or it is a
        :meth:`full_access` key (every station role, plugins' fakes included).

        >>> ApiKey.full_access().has_station_role("rs_edrs_read")
        True
        """
        return self.all_stations or self.has_role(role)

    def can_access_collection(self, owner: str, collection: str, access: str) -> bool:
        """Catalog rule: own collections always; others need ``rs_catalog_<owner>:<coll>_<access>``
        (or ``<owner>:*``) where ``access`` is ``read`` or ``write``.

        >>> ApiKey("bob", ["rs_catalog_alice:*_read"]).can_access_collection("alice", "s1", "read")
        True
        """
        if owner in (self.user_login, re.sub(r"[^a-zA-Z0-9]+", "", self.user_login)):
            return True  # clients send the login with non-alphanumerics removed as owner id
        return self.has_role(catalog_role(owner, collection, access)) or self.has_role(
            catalog_role(owner, "*", access)
        )

    def to_json(self) -> dict[str, Any]:
        """The API-key manager's answer for this key."""
        return {
            "iam_roles": list(self.iam_roles),
            "config": dict(self.config),
            "user_login": self.user_login,
        }


def station_role(kind: str, station: str, access: str) -> str:
    """The role a station call needs: ``rs_<kind>_<station>_<access>`` (station lower case),
    or ``rs_<kind>_<access>`` when the station is the kind itself.

    >>> station_role("things", "MAIN", "read")
    'rs_things_main_read'
    >>> station_role("things", "things", "download")
    'rs_things_download'
    """
    if station.lower() == kind.lower():
        return f"rs_{kind}_{access}"
    return f"rs_{kind}_{station.lower()}_{access}"


def __getattr__(name: str) -> object:
    """``TEST_USERS`` (:func:`test_users`, computed when first asked: it reads the installed
    fakes); ``CADIP_STATIONS`` moved to the CADIP plugin's fake (a deprecated alias)."""
    if name == "TEST_USERS":
        return test_users()
    if name == "CADIP_STATIONS":
        import warnings

        warnings.warn(
            "rs_core.testing.simulator.auth.CADIP_STATIONS is deprecated: use "
            "rs_cadip.fake.CADIP_STATIONS (the CADIP plugin's fake station)",
            DeprecationWarning,
            stacklevel=2,
        )
        import importlib

        return importlib.import_module("rs_cadip.fake").CADIP_STATIONS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def catalog_role(owner: str, collection: str, access: str) -> str:
    """The role to reach another owner's collection.

    >>> catalog_role("alice", "s1_aux", "write")
    'rs_catalog_alice:s1_aux_write'
    """
    return f"rs_catalog_{owner}:{collection}_{access}"


# -- RS-Server 1.0 role names ---------------------------------------------------------------


def rs_server_1_roles(
    fakes: Iterable[FakeStation] | None = None,
    *,
    staging: tuple[str, ...] = ("read", "execute", "dismiss"),
    with_v1_names: bool = True,
) -> list[str]:
    """Every station, landing-page and staging role as RS-Server 1.0 names them.

    The station roles are those the ``fakes`` declare (:attr:`.fakes.FakeStation.
    rs_server_1_roles`; default: every installed plugin's fake); ``with_v1_names`` adds the
    v1 forms the simulator's own v1/0.2 routes check.

    >>> from rs_core.testing.simulator.fakes import FakeStation
    >>> things = FakeStation("things", build=print,
    ...                      rs_server_1_roles=["RS_THINGS_LANDING_PAGE", "RS_THINGS_A_READ"])
    >>> rs_server_1_roles([things], with_v1_names=False)
    ['RS_THINGS_LANDING_PAGE', 'RS_THINGS_A_READ', 'RS_PROCESSES_STAGING_READ', \
'RS_PROCESSES_STAGING_EXECUTE', 'RS_PROCESSES_STAGING_DISMISS']
    """
    from .fakes import installed_fakes

    chosen = list(installed_fakes() if fakes is None else fakes)
    roles = [role for fake in chosen for role in fake.rs_server_1_roles]
    roles += [f"RS_PROCESSES_STAGING_{action.upper()}" for action in staging]
    if with_v1_names:
        roles += [role for fake in chosen for role in fake.roles]
    return list(dict.fromkeys(roles))


# -- OAuth2 sessions, as RS-Server's session middleware signs them ---------------------------

SESSION_COOKIE = "session"
_SIGNER_SALT = b"itsdangerous.Signer"


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _unb64(data: bytes) -> bytes:
    return base64.urlsafe_b64decode(data + b"=" * (-len(data) % 4))


@define
class SessionSigner:
    """Signs session cookies the way RS-Server's (Starlette's) session middleware does.

    The value is ``base64(json)``, a timestamp and an HMAC-SHA1 signature (itsdangerous'
    ``TimestampSigner`` format) keyed by the secret RS-Server knows as ``RSPY_COOKIE_SECRET``;
    so a cookie made here is accepted by a real RS-Server that shares the secret.

    >>> signer = SessionSigner("test-secret")
    >>> value = signer.sign({"user": {"preferred_username": "alice"}})
    >>> signer.unsign(value)
    {'user': {'preferred_username': 'alice'}}
    >>> SessionSigner("other").unsign(value) is None
    True
    """

    secret: str
    max_age: float = 14 * 24 * 3600.0
    clock: Any = field(default=time.time, repr=False)

    def _signature(self, value: bytes) -> bytes:
        key = hashlib.sha1(_SIGNER_SALT + b"signer" + self.secret.encode()).digest()
        return _b64(hmac.new(key, value, hashlib.sha1).digest())

    def sign(self, session: dict[str, Any], *, at: float | None = None) -> str:
        """The cookie value for ``session`` (signed now, or at ``at``)."""
        data = base64.b64encode(json.dumps(session).encode())
        stamp = int(self.clock() if at is None else at)
        value = data + b"." + _b64(stamp.to_bytes((stamp.bit_length() + 7) // 8 or 1, "big"))
        return (value + b"." + self._signature(value)).decode()

    def unsign(self, cookie: str) -> dict[str, Any] | None:
        """The session in ``cookie``, or None if it is forged, damaged or older than max_age."""
        try:
            value, _, signature = cookie.encode().rpartition(b".")
            if not hmac.compare_digest(signature, self._signature(value)):
                return None
            data, _, stamp = value.rpartition(b".")
            age = self.clock() - int.from_bytes(_unb64(stamp), "big")
            if age > self.max_age:
                return None
            session = json.loads(base64.b64decode(data))
        except (ValueError, TypeError):
            return None
        return session if isinstance(session, dict) else None


def cookie_of(request: RecordedRequest, name: str = SESSION_COOKIE) -> str | None:
    """The value of cookie ``name`` in a request, or None."""
    for header in request.headers.get_all("cookie"):
        for part in header.split(";"):
            key, _, value = part.strip().partition("=")
            if key == name and value:
                return value
    return None


@define
class OAuth2Provider:
    """The OAuth2 side of a simulated RS-Server: users, the console login, ``/auth/me``.

    ``users`` maps a user name to ``(password, ApiKey)`` (the :class:`ApiKey` holds the login
    and roles Keycloak would give). The identity provider's login page is served by the
    simulator itself under ``/realms/rspy``. ``tokens`` maps bearer tokens to principals.

    Example:
        >>> provider = OAuth2Provider.with_user("alice", "pw", rs_server_1_roles())
        >>> cookie = provider.cookie_for("alice")
        >>> provider.signer.unsign(cookie)["user"]["preferred_username"]
        'alice'
    """

    signer: SessionSigner = field(factory=lambda: SessionSigner("rs-simulator-cookie-secret"))
    users: dict[str, tuple[str, ApiKey]] = field(factory=dict)
    tokens: dict[str, ApiKey] = field(factory=dict)
    _codes: dict[str, str] = field(factory=dict, repr=False)
    _lock: threading.Lock = field(factory=threading.Lock, repr=False)

    @classmethod
    def with_user(
        cls, username: str, password: str, roles: Any = (), *, secret: str | None = None
    ) -> OAuth2Provider:
        """A provider with one user."""
        provider = cls(SessionSigner(secret)) if secret else cls()
        provider.add_user(username, password, roles)
        return provider

    def add_user(self, username: str, password: str, roles: Any = ()) -> ApiKey:
        """Register a user (its login is ``username``); returns its principal."""
        principal = ApiKey(user_login=username, iam_roles=roles)
        self.users[username] = (password, principal)
        return principal

    def cookie_for(self, username: str, *, at: float | None = None) -> str:
        """A session cookie value for ``username``, as after a successful login."""
        return self.signer.sign(
            {"user": {"sub": f"id-{username}", "preferred_username": username}}, at=at
        )

    # -- authentication ---------------------------------------------------------------

    def principal(self, request: RecordedRequest) -> ApiKey | None:
        """The user of the request's session cookie or bearer token, or None."""
        auth = request.headers.get("authorization", "")
        if auth[:7].lower() == "bearer ":
            return self.tokens.get(auth[7:].strip())
        cookie = cookie_of(request)
        session = self.signer.unsign(cookie) if cookie else None
        user = session.get("user") if session else None
        if not isinstance(user, dict):
            return None
        found = self.users.get(str(user.get("preferred_username")))
        return found[1] if found else None

    # -- routes -----------------------------------------------------------------------

    def handle(self, request: RecordedRequest, base_url: str) -> Response | None:
        """Answer ``/auth/...`` and the identity provider's pages; None for other paths."""
        path = request.path.rstrip("/")
        if path == "/auth/me":
            return self._me(request)
        if path == "/auth/login_from_console":
            return self._login_from_console(request, base_url)
        if path == "/auth/logout":
            expired = f"{SESSION_COOKIE}=null; path=/; expires=Thu, 01 Jan 1970 00:00:00 GMT"
            return Response(200, b'"logged out"', "application/json", (("set-cookie", expired),))
        if path == _IDP_AUTH:
            return self._login_page(request, error="")
        if path == _IDP_AUTHENTICATE and request.method == "POST":
            return self._authenticate(request)
        found = _KC_METADATA.fullmatch(path)
        if found is not None and request.method == "GET":
            return json_response(200, _oidc_metadata(base_url, found["realm"]))
        return self._keycloak_admin(request, path)

    def _keycloak_admin(self, request: RecordedRequest, path: str) -> Response | None:
        """The three Keycloak calls a real RS-Server makes to read a session's user
        (python-keycloak's client-credentials token, the user, its composite realm roles), so
        a real RS-Server pointed here (``OIDC_ENDPOINT``) accepts this provider's cookies."""
        if _KC_TOKEN.fullmatch(path) and request.method == "POST":
            return json_response(
                200,
                {
                    "access_token": "simulated-admin-token",
                    "expires_in": 300,
                    "refresh_expires_in": 0,
                    "token_type": "Bearer",
                    "scope": "profile email",
                },
            )
        found = _KC_USER.fullmatch(path)
        if found is None or request.method != "GET":
            return None
        user_id, roles = found["id"], found["roles"]
        entry = self.users.get(user_id.removeprefix("id-"))
        if entry is None:
            return json_response(404, {"error": "User not found"})
        principal = entry[1]
        if roles:
            return json_response(200, [{"id": f"role-{r}", "name": r} for r in principal.iam_roles])
        return json_response(
            200, {"id": user_id, "username": principal.user_login, "enabled": True}
        )

    def _me(self, request: RecordedRequest) -> Response:
        principal = self.principal(request)
        if principal is None:
            return _not_signed_in(request)
        body = {"user_login": principal.user_login, "iam_roles": sorted(principal.iam_roles)}
        return json_response(200, body)

    def _session_cookie(self, session: dict[str, Any]) -> tuple[str, str]:
        value = self.signer.sign(session)
        return ("set-cookie", f"{SESSION_COOKIE}={value}; path=/; Max-Age=1209600; httponly")

    def _login_from_console(self, request: RecordedRequest, base_url: str) -> Response:
        if self.principal(request) is not None:
            return Response(200, b"You are logged in.", "text/html; charset=utf-8")
        code, state = request.param("code"), request.param("state")
        cookie = cookie_of(request)
        session = (self.signer.unsign(cookie) if cookie else None) or {}
        if code and state:
            with self._lock:
                username = self._codes.pop(code, None)
            if username is None or session.get("_state_keycloak_" + state) is None:
                return detail_response(400, "mismatching_state: CSRF Warning!")
            user = {"sub": f"id-{username}", "preferred_username": username}
            headers = (
                self._session_cookie({"user": user}),
                ("location", "/auth/login_from_console"),
            )
            return Response(307, b"", "", headers)
        state = secrets.token_urlsafe(12)
        redirect = f"{base_url}/auth/login_from_console"
        login_url = f"{base_url}{_IDP_AUTH}?" + urlencode(
            {
                "client_id": "rs-server",
                "response_type": "code",
                "state": state,
                "redirect_uri": redirect,
            }
        )
        cookie_header = self._session_cookie({"_state_keycloak_" + state: {"data": {}}})
        return json_response(200, login_url, headers=(cookie_header,))

    def _login_page(self, request: RecordedRequest, *, error: str) -> Response:
        query = urlencode(
            {
                "state": request.param("state") or "",
                "redirect_uri": request.param("redirect_uri") or "",
            }
        )
        message = f'<span id="input-error" class="kc-feedback-text">{error}</span>' if error else ""
        page = (
            "<html><body><h1>Sign in to rspy</h1>"
            + message
            + f'<form id="kc-form-login" action="{_IDP_AUTHENTICATE}?{query}" method="post">'
            '<input name="username" type="text"><input name="password" type="password">'
            '<input type="hidden" name="credentialId" value=""></form></body></html>'
        )
        return Response(200, page.encode(), "text/html; charset=utf-8")

    def _authenticate(self, request: RecordedRequest) -> Response:
        form = {
            k: v[-1] for k, v in parse_qs(request.body.decode(), keep_blank_values=True).items()
        }
        username, password = form.get("username", ""), form.get("password", "")
        found = self.users.get(username)
        if found is None or not hmac.compare_digest(found[0], password):
            return self._login_page(request, error="Invalid username or password.")
        code = secrets.token_urlsafe(12)
        with self._lock:
            self._codes[code] = username
        target = (
            (request.param("redirect_uri") or "")
            + "?"
            + urlencode({"state": request.param("state") or "", "code": code})
        )
        return Response(302, b"", "", (("location", target),))


_KC_TOKEN = re.compile(r"/realms/[^/]+/protocol/openid-connect/token")
_KC_USER = re.compile(
    r"/admin/realms/[^/]+/users/(?P<id>[^/]+)(?P<roles>/role-mappings/realm/composite)?"
)
_KC_METADATA = re.compile(r"/realms/(?P<realm>[^/]+)/\.well-known/openid-configuration")
_IDP_AUTH = "/realms/rspy/protocol/openid-connect/auth"
_IDP_AUTHENTICATE = "/realms/rspy/login-actions/authenticate"


def _oidc_metadata(base_url: str, realm: str) -> dict[str, Any]:
    """Keycloak's OpenID discovery document for ``realm``: a real RS-Server 1.0 catalog in
    cluster mode reads it (authorization and token endpoints) for every answer it decorates with
    the STAC authentication extension.

    >>> _oidc_metadata("http://kc", "rspython")["token_endpoint"]
    'http://kc/realms/rspython/protocol/openid-connect/token'
    """
    issuer = f"{base_url}/realms/{realm}"
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{base_url}{_IDP_AUTH}",
        "token_endpoint": f"{issuer}/protocol/openid-connect/token",
        "userinfo_endpoint": f"{issuer}/protocol/openid-connect/userinfo",
        "jwks_uri": f"{issuer}/protocol/openid-connect/certs",
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "code_challenge_methods_supported": ["S256"],
    }


def _not_signed_in(request: RecordedRequest) -> Response:
    return detail_response(
        401,
        f"Error connecting to {request.path!r} without a valid API key or OAuth2 session cookie.",
    )


def authenticate(
    request: RecordedRequest,
    api_keys: dict[str, ApiKey],
    oauth2: OAuth2Provider | None,
) -> ApiKey | Response:
    """RS-Server 1.0's order: ``x-api-key`` (checked by the key manager), else the session
    cookie, else a bearer token; none of them valid: 401 (403 for a wrong key)."""
    key = request.headers.get("x-api-key")
    if key:
        found = api_keys.get(key)
        return found if found is not None else detail_response(403, "UAC manager: Invalid API key")
    principal = oauth2.principal(request) if oauth2 is not None else None
    return principal if principal is not None else _not_signed_in(request)


# -- a stand-alone identity service for a real RS-Server in cluster mode ---------------------

TEST_COOKIE_SECRET = "rs-test-cookie-secret"
"""The cookie secret scripts give a real RS-Server (``RSPY_COOKIE_SECRET``) in tests."""


def test_users() -> dict[str, tuple[str, str, tuple[str, ...]]]:
    """The users of :func:`identity_service` (also :data:`TEST_USERS`), as
    ``{user: (password, API key, roles)}``: ``alice`` holds every RS-Server 1.0 role of the
    installed fakes (:func:`rs_server_1_roles`), ``bob`` only their landing pages (searches and
    staging are refused for him, naming the role). Alice's station read roles are also given
    in lower case, as Keycloak holds them: RS-Server 1.0a4 in cluster mode checks a route's
    role in any case, but lists (``/collections``) and searches only the collections whose
    ``rs_<service>_<station>_read`` is among the roles exactly, in lower case.

    >>> sorted(test_users())
    ['alice', 'bob']
    >>> "rs_auxip_adgs_read" in test_users()["alice"][2]
    True
    """
    every = tuple(rs_server_1_roles())
    lower = (r.lower() for r in every if r.endswith("_READ") and "_PROCESSES_" not in r)
    every = tuple(dict.fromkeys((*every, *lower)))
    pages = tuple(r for r in every if r.endswith("_LANDING_PAGE"))
    return {
        "alice": ("alice-password", "rs-test-key-alice", every),
        "bob": ("bob-password", "rs-test-key-bob", pages),
    }


def identity_service(
    host: str = "127.0.0.1", port: int = 0, *, secret: str = TEST_COOKIE_SECRET
) -> Any:
    """A simulator serving only what a real RS-Server in cluster mode asks of its
    surroundings: the API-key manager (``/apikeymanager/check/api_key``, RS-Server's
    ``RSPY_UAC_CHECK_URL``) and Keycloak (``OIDC_ENDPOINT``: the token and admin-user calls),
    with :func:`test_users`; its session cookies are signed with ``secret``
    (``RSPY_COOKIE_SECRET``). Not started.

    >>> service = identity_service()
    >>> sorted(service.oauth2.users)
    ['alice', 'bob']
    """
    from .server import RsServerSimulator

    provider = OAuth2Provider(SessionSigner(secret))
    keys = {}
    for user, (password, key, roles) in test_users().items():
        keys[key] = provider.add_user(user, password, roles)
    return RsServerSimulator(host, port, api_keys=keys, oauth2=provider)
