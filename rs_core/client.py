"""The shared client: where RS-Server is, who you are, and one HTTP session for all.

Cluster mode (an RS-Server URL is known) needs a credential: an API key, an OAuth2 session
cookie or a bearer token. Local mode (no URL) reads each service's URL from its env override
(``RSPY_HOST_ADGS``, ``RSPY_HOST_CADIP``, ``RSPY_HOST_CATALOG``...), sends no credential, and
takes the OS user as owner.

Every setting resolves the same way here and in the ``rs`` command line: argument > environment
variable > profile (``config.toml``, see :mod:`rs_core.config`) > default; the URL from
``rs_server_href``, else ``RS_SERVER_HREF``, else the profile; the credential from
``rs_server_api_key`` / ``oauth2_cookie`` / ``bearer_token``, else ``RSPY_APIKEY`` /
``RSPY_OAUTH2_COOKIE`` / ``RS_BEARER_TOKEN``, else the login ``rs login`` stored for that URL.

>>> client = RsClient("http://127.0.0.1:8000", "my-api-key", owner_id="alice")
>>> client
RsClient(rs_server_href='http://127.0.0.1:8000', owner_id='alice', local_mode=False)
>>> cadip = client.get_cadip_client("MTI")            # doctest: +SKIP
>>> cadip.search_sessions(platforms=["S1A"])          # doctest: +SKIP

Children (``get_cadip_client`` and friends, resolved through the plugin registry for every
installed kind as ``get_<kind>_client``) share their parent's settings and HTTP session.
"""

from __future__ import annotations

import getpass
import logging
import os
from collections.abc import Callable
from typing import Any, Self

from attrs import define, field

from rs_core.auth import ApiKeyInfo, Identity, fetch_identity, sanitize_owner_id
from rs_core.config import ResolvedSettings, resolve_settings
from rs_core.credentials import ApiKeyCredential, BearerToken, Credential, SessionCookie
from rs_core.errors import AuthenticationError, ConfigurationError, UnknownKindError
from rs_core.generations import (
    GenerationCache,
    check_api_version,
    resolve_api_version_setting,
)
from rs_core.http import APIKEY_HEADER, HttpClient, HttpSettings, Secret
from rs_core.roles import explain_role

__all__ = ["APIKEY_ENV", "OAUTH2_COOKIE_ENV", "UAC_CHECK_URL_ENV", "RsClient"]

APIKEY_ENV = "RSPY_APIKEY"
OAUTH2_COOKIE_ENV = "RSPY_OAUTH2_COOKIE"
UAC_CHECK_URL_ENV = "RSPY_UAC_CHECK_URL"
_CREDENTIALS: dict[str, type[Credential]] = {
    "api-key": ApiKeyCredential,
    "cookie": SessionCookie,
    "bearer": BearerToken,
}


@define(eq=False)
class _Context:
    """State shared by a root client and all its children."""

    href: str | None
    api_key: Secret | None
    owner_id: str | None  # None until resolved (cluster mode without owner_id argument)
    logger: logging.Logger
    http: HttpClient
    check_url: str | None
    settings: HttpSettings
    api_version: str = "auto"  # "v1", "v2" or "auto" (probe each service once)
    generations: GenerationCache = field(factory=GenerationCache)
    identity: Identity | None = None
    resolved: ResolvedSettings | None = None


class RsClient:
    """Settings and HTTP session shared by every station and catalog client.

    :param rs_server_href: RS-Server base URL; else env ``RS_SERVER_HREF``, else the profile's
        ``href``; none of them: local mode (``""`` forces local mode).
    :param rs_server_api_key: API key; else env ``RSPY_APIKEY``.
    :param owner_id: catalog owner; else env ``RS_OWNER_ID``, the profile's ``owner``, the OS
        user (local) or the login the server knows you by.
    :param logger: where to log (default ``logging.getLogger("rs_core")``).
    :param timeout: read timeout in seconds for every request (default 30; env
        ``RS_TIMEOUT``).
    :param retries: extra attempts for idempotent requests on transient failures (default 3).
    :param verify: TLS verification: ``True``, ``False`` or a CA bundle path.
    :param apikey_check_url: the API-key manager's check URL; else env ``RSPY_UAC_CHECK_URL``,
        else the profile's. Without one, an API key is checked at the v1-era
        ``{href}/apikeymanager/check/api_key`` where it exists, else at ``{href}/auth/me``; a
        session or a token always at ``{href}/auth/me``.
    :param http_settings: full :class:`~rs_core.http.HttpSettings` (overrides the three above).
    :param api_version: RS-Server generation of the station services: ``"v1"``, ``"v2"`` or
        ``"auto"`` (probe each service once, cached); else env ``RS_API_VERSION``; default
        ``"auto"``. See :mod:`rs_core.generations`.
    :param oauth2_cookie: an RS-Server OAuth2 session cookie (value of ``session``); else env
        ``RSPY_OAUTH2_COOKIE``.
    :param bearer_token: an OAuth2 access token; else env ``RS_BEARER_TOKEN``.
    :param profile: a profile of ``config.toml``; else env ``RS_PROFILE``, else the file's
        ``default_profile``; ``""`` uses none.
    :param deadline: seconds one call may take in all, retries and waits included (default
        300; env ``RS_DEADLINE``).
    """

    _ctx: _Context

    def __init__(
        self,
        rs_server_href: str | None = None,
        rs_server_api_key: str | None = None,
        owner_id: str | None = None,
        logger: logging.Logger | None = None,
        *,
        timeout: float | None = None,
        retries: int = 3,
        verify: bool | str | None = None,
        apikey_check_url: str | None = None,
        http_settings: HttpSettings | None = None,
        api_version: str | None = None,
        oauth2_cookie: str | None = None,
        bearer_token: str | None = None,
        profile: str | None = None,
        deadline: float | None = None,
    ) -> None:
        resolved = resolve_settings(
            href=rs_server_href,
            api_key=rs_server_api_key,
            oauth2_cookie=oauth2_cookie,
            bearer_token=bearer_token,
            owner=owner_id,
            timeout=timeout,
            deadline=deadline,
            api_version=api_version,
            apikey_check_url=apikey_check_url,
            verify=verify,
            profile=profile,
        )
        source = resolved.api_version.source
        version = (
            check_api_version(resolved.api_version.value, source=source)
            if api_version is None and source.startswith("profile")
            else resolve_api_version_setting(api_version)
        )
        href = resolved.href.value
        if href is not None and not href.lower().startswith(("http://", "https://")):
            raise ConfigurationError(
                f"rs_server_href must start with http:// or https://, got {href!r} "
                f"(from {resolved.href.source})"
            )
        credential: Credential | None = None
        if href is not None:
            if resolved.auth.value is None:
                raise ConfigurationError(
                    f"A credential is required in cluster mode (rs_server_href={href}): pass "
                    f"rs_server_api_key= (or set {APIKEY_ENV}), oauth2_cookie= (or set "
                    f"{OAUTH2_COOKIE_ENV}), bearer_token=, or sign in once with 'rs login'"
                )
            try:
                credential = _CREDENTIALS[resolved.auth.value](
                    resolved.credential_value.value.reveal()
                )
            except ValueError as err:
                raise ConfigurationError(
                    f"Bad {resolved.auth.value} from {resolved.credential_value.source}: {err}"
                ) from err
        try:
            settings = http_settings or HttpSettings(
                timeout=float(resolved.timeout.value),
                retries=retries,
                verify=resolved.verify.value,
                deadline=float(resolved.deadline.value),
            )
        except ValueError as err:
            raise ConfigurationError(f"Bad HTTP setting: {err}") from err
        secret = credential.secret if isinstance(credential, ApiKeyCredential) else None
        log = logger or logging.getLogger("rs_core")
        http = HttpClient(settings, credential=credential, logger=log.getChild("http"))
        if href is not None:
            http.trust(href)
        check_url = resolved.apikey_check_url.value if href is not None else None
        if check_url:
            check_url = str(check_url).strip()
        owner_setting = resolved.owner.value
        if owner_setting:
            owner: str | None = sanitize_owner_id(str(owner_setting))
        elif href is None:
            owner = sanitize_owner_id(_os_user(), source="the OS user name")
        else:
            owner = None  # resolved from the server on first use
        self._ctx = _Context(href, secret, owner, log, http, check_url or None, settings, version)
        self._ctx.resolved = resolved
        http.role_check = self._check_role
        self._setup()

    # -- children ------------------------------------------------------------------------

    @classmethod
    def from_rs_client(cls, parent: RsClient, **options: Any) -> Self:
        """Build a ``cls`` that shares ``parent``'s settings and HTTP session.

        Plugins' client classes get this for free; they put their own initialisation in
        :meth:`_setup`, which receives ``options``.
        """
        obj = cls.__new__(cls)
        obj._ctx = parent._ctx
        obj._setup(**options)
        return obj

    def _setup(self, **options: Any) -> None:
        """Per-class initialisation, run by ``__init__`` and :meth:`from_rs_client`."""
        if options:
            raise TypeError(f"{type(self).__name__} takes no options: {sorted(options)}")

    def get_station_client(self, kind: str, station: str | None = None) -> Any:
        """A client for a station kind served by an installed plugin.

        >>> RsClient("http://h", "k", "me").get_station_client("cadip", "MTI")  # doctest: +SKIP
        CadipClient(station='MTI', ...)
        """
        from rs_core.plugins import get_registry

        record = get_registry().station_type(kind)
        return record.load_client_class().from_rs_client(self, station=station)

    def get_catalog_client(self, kind: str | None = None, **options: Any) -> Any:
        """A client for a catalog kind (default: the only installed one)."""
        from rs_core.plugins import get_registry

        record = get_registry().catalog_type(kind)
        return record.load_client_class().from_rs_client(self, **options)

    def __getattr__(self, name: str) -> Callable[..., Any]:
        # get_<kind>_client for every installed kind: get_auxip_client(), get_cadip_client(
        # "MTI"), get_stac_client(), get_prip_client()... without the core naming any of them.
        if name.startswith("get_") and name.endswith("_client") and len(name) > 11:
            kind = name[4:-7]
            from rs_core.plugins import get_registry

            registry = get_registry()
            if kind in registry.stations:
                return lambda station=None: self.get_station_client(kind, station)
            if kind in registry.catalogs:
                return lambda **options: self.get_catalog_client(kind, **options)
            known = sorted(registry.stations) + sorted(registry.catalogs)
            raise UnknownKindError(
                f"{name}(): no installed plugin serves the kind {kind!r} "
                f"(installed: {', '.join(known) or 'none'})"
            )
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    # -- seed attributes -----------------------------------------------------------------

    @property
    def rs_server_href(self) -> str | None:
        """RS-Server base URL without trailing ``/``; ``None`` in local mode."""
        return self._ctx.href

    @property
    def rs_server_api_key(self) -> str | None:
        """The API key (``None`` in local mode). Never printed by this library."""
        return self._ctx.api_key.reveal() if self._ctx.api_key else None

    @property
    def local_mode(self) -> bool:
        """True when no RS-Server URL was given: services come from env overrides."""
        return self._ctx.href is None

    @property
    def api_version(self) -> str:
        """The generation setting: ``"v1"``, ``"v2"`` or ``"auto"`` (detected per service)."""
        return self._ctx.api_version

    @property
    def logger(self) -> logging.Logger:
        """The logger this client writes to."""
        return self._ctx.logger

    @property
    def http(self) -> HttpClient:
        """The shared HTTP layer (one session for this client and all its children)."""
        return self._ctx.http

    @property
    def apikey_headers(self) -> dict[str, dict[str, str]]:
        """The seed's ``{"headers": {"x-api-key": ...}}`` (``{}`` without a key).

        Prefer :attr:`http`, which sends the key only where it belongs.
        """
        if self._ctx.api_key is None:
            return {}
        return {"headers": {APIKEY_HEADER: self._ctx.api_key.reveal()}}

    @property
    def apikey_check_url(self) -> str | None:
        """The API-key manager's check URL, when configured (else identity comes from
        ``/auth/me``)."""
        return self._ctx.check_url

    @property
    def owner_id(self) -> str:
        """Catalog owner: argument, else OS user (local), else the login the server knows."""
        if self._ctx.owner_id is None:
            identity = self.whoami()
            self._ctx.owner_id = sanitize_owner_id(
                identity.user_login, source=f"the user_login of your {identity.method}"
            )
        return self._ctx.owner_id

    @property
    def credential(self) -> Credential | None:
        """How requests authenticate (``None`` in local mode); its value is never shown."""
        return self._ctx.http.credential

    @property
    def settings_sources(self) -> dict[str, str]:
        """Where each setting came from (``argument``, ``env RS_SERVER_HREF``, ``profile
        ops``, ``stored login (...)``, ``default``)."""
        resolved = self._ctx.resolved
        return resolved.sources() if resolved is not None else {}

    @property
    def profile(self) -> str | None:
        """The profile in use, if any."""
        resolved = self._ctx.resolved
        return resolved.profile if resolved is not None else None

    def whoami(self, timeout: float | None = None) -> Identity:
        """Who the server says you are: login and IAM roles (cached 120 s).

        With an API key and a key-manager URL, the key manager answers; otherwise
        ``/auth/me``. In local mode: an empty :class:`~rs_core.auth.Identity`.

        >>> RsClient("", owner_id="me").whoami().user_login
        ''
        """
        identity = fetch_identity(
            self.http, self._ctx.href, check_url=self._ctx.check_url, timeout=timeout
        )
        self._ctx.identity = identity
        return identity

    def _check_role(self, role: str) -> None:
        """Refuse a call before it is sent when the roles are known and lack ``role``.

        Only when the roles name that service at all (``RS_PROCESSES_...`` for staging,
        ``RS_CADIP_...`` for CADIP): a v1-era key holding none of them is left to the server.
        """
        identity = self._ctx.identity
        if identity is None or not identity.source or identity.allows(role):
            return
        service = explain_role(role).service
        if not any(grant.service == service for grant in identity.grants()):
            return  # no role of that service at all: its roles may be named otherwise (v1)
        who = identity.user_login or "you"
        err = AuthenticationError(
            f"This call needs the role {role}, which the {identity.method} of {who} lacks "
            f"(roles: {', '.join(identity.iam_roles) or 'none'}); ask your RS-Server "
            "administrator for it"
        )
        err.auth_method = identity.method
        err.missing_role = role
        raise err

    def apikey_security(
        self, timeout: float | None = None
    ) -> tuple[list[str], dict[str, Any], str]:
        """``(iam_roles, config, user_login)`` of the credential; ``([], {}, "")`` in local
        mode. Cached 120 s. Raises :class:`~rs_core.AuthenticationError`.
        """
        return self.apikey_info(timeout=timeout).as_tuple()

    def apikey_info(self, timeout: float | None = None) -> ApiKeyInfo:
        """Like :meth:`apikey_security`, as an :class:`~rs_core.auth.ApiKeyInfo` record."""
        if self.local_mode:
            return ApiKeyInfo((), {}, "")
        identity = self.whoami(timeout=timeout)
        return ApiKeyInfo(identity.iam_roles, dict(identity.config), identity.user_login)

    @property
    def apikey_iam_roles(self) -> list[str]:
        """Roles of the API key."""
        return self.apikey_security()[0]

    @property
    def apikey_config(self) -> dict[str, Any]:
        """Config attached to the API key."""
        return self.apikey_security()[1]

    @property
    def apikey_user_login(self) -> str:
        """Login of the API key's user."""
        return self.apikey_security()[2]

    # -- services ------------------------------------------------------------------------

    def service_href(self, env_var: str, service: str = "") -> str:
        """Base URL of one service: env ``env_var`` if set, else ``rs_server_href``.

        Raises :class:`~rs_core.ConfigurationError` when neither is set.
        """
        override = (os.environ.get(env_var) or "").strip().rstrip("/")
        if override:
            if self.http.credential is not None:
                self.http.trust(override)
            return override
        if self._ctx.href:
            return self._ctx.href
        what = f"the {service} service" if service else "this service"
        raise ConfigurationError(
            f"No URL for {what}: give rs_server_href= (cluster mode) or set {env_var} (local mode)"
        )

    def close(self) -> None:
        """Close the shared HTTP session (children share it: close the root once)."""
        self.http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _repr_fields(self) -> dict[str, Any]:
        return {
            "rs_server_href": self._ctx.href,
            "owner_id": self._ctx.owner_id if self._ctx.owner_id is not None else "<from key>",
            "local_mode": self.local_mode,
        }

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self._repr_fields().items())
        return f"{type(self).__name__}({fields})"


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in the environment (some containers)
        return ""
