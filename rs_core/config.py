"""Profiles, stored logins and how every setting is resolved, the same in Python and the CLI.

One TOML file, ``config.toml`` in the user's config directory (``RS_CONFIG_DIR`` overrides the
directory; else ``$XDG_CONFIG_HOME/rs-client``, ``~/.config/rs-client``, ``%APPDATA%\\rs-client``
on Windows), holds named profiles::

    default_profile = "ops"

    [profiles.ops]
    href = "https://rs-server.example.eu"
    auth = "login"            # api-key | cookie | bearer | login | none
    owner = "alice"
    timeout = 60
    deadline = 600
    api_version = "v2"
    apikey_check_url = "https://apikeys.example.eu/auth/check_key"

Secrets never go in that file: ``rs login`` keeps them in ``logins.json`` next to it, readable by
its owner only (0600), one entry per RS-Server URL.

Every setting resolves in this order: argument (``--option``) > environment variable >
profile > default. :func:`resolve_settings` does it and says where each value came from.

>>> resolve_settings(href="http://127.0.0.1:8000", profile="", environ={}).href.value
'http://127.0.0.1:8000'
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import tomllib
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from attrs import define, field, frozen

from rs_core.errors import ConfigurationError

__all__ = [
    "AUTH_CHOICES",
    "CONFIG_DIR_ENV",
    "PROFILE_ENV",
    "LoginStore",
    "Profile",
    "ResolvedSettings",
    "Setting",
    "StoredLogin",
    "config_dir",
    "config_path",
    "load_profiles",
    "resolve_settings",
]

CONFIG_DIR_ENV = "RS_CONFIG_DIR"
PROFILE_ENV = "RS_PROFILE"
CONFIG_FILE = "config.toml"
LOGINS_FILE = "logins.json"
AUTH_CHOICES = ("api-key", "cookie", "bearer", "login", "none")

ENV = {
    "href": "RS_SERVER_HREF",
    "api_key": "RSPY_APIKEY",
    "oauth2_cookie": "RSPY_OAUTH2_COOKIE",
    "bearer_token": "RS_BEARER_TOKEN",
    "owner": "RS_OWNER_ID",
    "timeout": "RS_TIMEOUT",
    "deadline": "RS_DEADLINE",
    "api_version": "RS_API_VERSION",
    "apikey_check_url": "RSPY_UAC_CHECK_URL",
}
"""The environment variable of each setting (the seed's ``RSPY_*`` ones included)."""

DEFAULTS: dict[str, Any] = {"timeout": 30.0, "deadline": 300.0, "api_version": "auto"}


def config_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The user's rs-client config directory (not created here)."""
    env = os.environ if environ is None else environ
    override = (env.get(CONFIG_DIR_ENV) or "").strip()
    if override:
        return Path(override).expanduser()
    if sys.platform == "win32" and env.get("APPDATA"):  # pragma: no cover - not on CI
        return Path(env["APPDATA"]) / "rs-client"
    base = (env.get("XDG_CONFIG_HOME") or "").strip()
    return (Path(base) if base else Path.home() / ".config") / "rs-client"


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    """``config.toml`` in :func:`config_dir`."""
    return config_dir(environ) / CONFIG_FILE


def _number(name: str, value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ConfigurationError(f"{where}: {name} must be a positive number, got {value!r}")
    return float(value)


def _text(name: str, value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"{where}: {name} must be a non-empty string, got {value!r}")
    return value.strip()


@frozen
class Profile:
    """One named profile of ``config.toml``; every field is optional."""

    name: str
    href: str | None = None
    auth: str | None = None
    owner: str | None = None
    timeout: float | None = None
    deadline: float | None = None
    api_version: str | None = None
    apikey_check_url: str | None = None
    verify: bool | str | None = None

    @classmethod
    def from_toml(cls, name: str, table: Any, source: Path) -> Profile:
        """Validate one ``[profiles.NAME]`` table; errors name the file and the key."""
        where = f"{source} [profiles.{name}]"
        if not isinstance(table, dict):
            raise ConfigurationError(f"{where} must be a table")
        known = {f.name for f in cls.__attrs_attrs__} - {"name"}
        unknown = sorted(set(table) - known)
        if unknown:
            raise ConfigurationError(
                f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
                + (" (secrets go in 'rs login', not in this file)" if "api_key" in unknown else "")
            )
        values: dict[str, Any] = {}
        for key in ("href", "owner", "api_version", "apikey_check_url"):
            if key in table:
                values[key] = _text(key, table[key], where)
        for key in ("timeout", "deadline"):
            if key in table:
                values[key] = _number(key, table[key], where)
        if "auth" in table:
            auth = _text("auth", table["auth"], where).lower()
            if auth not in AUTH_CHOICES:
                raise ConfigurationError(
                    f"{where}: auth must be one of {', '.join(AUTH_CHOICES)}, got {auth!r}"
                )
            values["auth"] = auth
        if "verify" in table:
            verify = table["verify"]
            if not isinstance(verify, (bool, str)):
                raise ConfigurationError(f"{where}: verify must be true, false or a CA path")
            values["verify"] = verify
        return cls(name=name, **values)


@frozen
class ConfigFile:
    """The parsed ``config.toml``: its profiles and the default profile's name."""

    path: Path
    profiles: dict[str, Profile]
    default_profile: str | None = None


def load_profiles(path: Path | None = None) -> ConfigFile:
    """Read ``config.toml`` (a missing file is an empty config)."""
    path = path or config_path()
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        return ConfigFile(path, {})
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise ConfigurationError(f"Cannot read the config file {path}: {err}") from err
    tables = data.get("profiles", {})
    if not isinstance(tables, dict):
        raise ConfigurationError(f"{path}: 'profiles' must be a table of [profiles.NAME]")
    profiles = {name: Profile.from_toml(name, table, path) for name, table in tables.items()}
    default = data.get("default_profile")
    if default is not None and default not in profiles:
        raise ConfigurationError(
            f"{path}: default_profile {default!r} is not a profile "
            f"(profiles: {', '.join(sorted(profiles)) or 'none'})"
        )
    return ConfigFile(path, profiles, default)


# -- stored logins --------------------------------------------------------------------------


@frozen
class StoredLogin:
    """One saved sign-in: the method (``cookie``, ``api-key``, ``bearer``) and its value."""

    href: str
    method: str
    value: str = field(repr=False)
    user_login: str = ""
    saved_at: str = ""

    def __repr__(self) -> str:
        return f"StoredLogin(href={self.href!r}, method={self.method!r}, value=***)"


def _login_key(href: str) -> str:
    return href.strip().rstrip("/")


@define
class LoginStore:
    """The logins ``rs login`` saved, in ``logins.json`` (mode 0600) in the config directory.

    >>> import tempfile, pathlib
    >>> store = LoginStore(pathlib.Path(tempfile.mkdtemp()) / "logins.json")
    >>> _ = store.save("https://rs.example.eu/", "cookie", "abc", user_login="alice")
    >>> store.get("https://rs.example.eu").user_login, oct(store.path.stat().st_mode & 0o777)
    ('alice', '0o600')
    """

    path: Path

    @classmethod
    def default(cls, environ: Mapping[str, str] | None = None) -> LoginStore:
        """The store in the user's config directory."""
        return cls(config_dir(environ) / LOGINS_FILE)

    def _read(self) -> dict[str, Any]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as err:
            raise ConfigurationError(f"Cannot read the stored logins {self.path}: {err}") from err
        try:
            data = json.loads(text)
        except ValueError as err:
            raise ConfigurationError(
                f"The stored logins file {self.path} is damaged; remove it and sign in again"
            ) from err
        logins = data.get("logins") if isinstance(data, dict) else None
        return logins if isinstance(logins, dict) else {}

    def _write(self, logins: dict[str, Any]) -> None:
        directory = self.path.parent
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(prefix=".logins-", dir=directory)  # created 0600
        try:
            os.chmod(tmp, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump({"logins": logins}, handle, indent=2)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, href: str) -> StoredLogin | None:
        """The login saved for ``href``, or None."""
        entry = self._read().get(_login_key(href))
        if not isinstance(entry, dict) or not entry.get("value") or not entry.get("method"):
            return None
        return StoredLogin(
            _login_key(href),
            str(entry["method"]),
            str(entry["value"]),
            str(entry.get("user_login") or ""),
            str(entry.get("saved_at") or ""),
        )

    def save(self, href: str, method: str, value: str, *, user_login: str = "") -> StoredLogin:
        """Save (or replace) the login for ``href``."""
        if method not in ("cookie", "api-key", "bearer"):
            raise ConfigurationError(f"Cannot store a login of method {method!r}")
        logins = self._read()
        saved = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        logins[_login_key(href)] = {
            "method": method,
            "value": value,
            "user_login": user_login,
            "saved_at": saved,
        }
        self._write(logins)
        return StoredLogin(_login_key(href), method, value, user_login, saved)

    def remove(self, href: str) -> bool:
        """Forget the login for ``href``; True if there was one."""
        logins = self._read()
        if logins.pop(_login_key(href), None) is None:
            return False
        self._write(logins)
        return True

    def hrefs(self) -> list[str]:
        """The URLs with a saved login."""
        return sorted(self._read())


# -- resolution -----------------------------------------------------------------------------


@frozen
class Setting:
    """A resolved value and where it came from (``argument``, ``env NAME``, ``profile X``,
    ``stored login``, ``default``)."""

    value: Any
    source: str


_UNSET = Setting(None, "unset")


@frozen
class ResolvedSettings:
    """Every client setting with its source; the credential's value is a
    :class:`~rs_core.http.Secret` in :attr:`credential_value`."""

    profile: str | None
    href: Setting
    auth: Setting
    credential_value: Setting = field(repr=False)
    owner: Setting
    timeout: Setting
    deadline: Setting
    api_version: Setting
    apikey_check_url: Setting
    verify: Setting

    def sources(self) -> dict[str, str]:
        """``{setting: source}`` for display (``rs whoami``), without any secret."""
        names = ("href", "auth", "owner", "timeout", "deadline", "api_version", "apikey_check_url")
        return {name: getattr(self, name).source for name in names}


def _pick(name: str, argument: Any, env: Mapping[str, str], profile: Profile | None) -> Setting:
    if argument is not None and argument != "":
        return Setting(argument, "argument")
    var = ENV.get(name)
    if var and (env.get(var) or "").strip():
        return Setting(env[var].strip(), f"env {var}")
    value = getattr(profile, name, None) if profile is not None else None
    if value is not None:
        return Setting(value, f"profile {profile.name}")  # type: ignore[union-attr]
    if name in DEFAULTS:
        return Setting(DEFAULTS[name], "default")
    return _UNSET


def _secret(value: str | None) -> Any:
    from rs_core.http import Secret

    return Secret((value or "").strip())


def _credential(
    arguments: Mapping[str, str | None],
    env: Mapping[str, str],
    profile: Profile | None,
    href: str | None,
    store: LoginStore | None,
) -> tuple[Setting, Setting]:
    """``(auth method, value)``: arguments, then env, then the profile's method / stored login."""
    methods = (("api_key", "api-key"), ("oauth2_cookie", "cookie"), ("bearer_token", "bearer"))
    for name, method in methods:
        if arguments.get(name):
            return Setting(method, "argument"), Setting(_secret(arguments[name]), "argument")
    wanted = profile.auth if profile is not None else None
    for name, method in methods:
        var = ENV[name]
        if (env.get(var) or "").strip() and wanted in (None, "login", method):
            return Setting(method, f"env {var}"), Setting(_secret(env[var]), f"env {var}")
    if wanted == "none" or href is None or store is None:
        return _UNSET, _UNSET
    stored = store.get(href)
    if stored is not None and wanted in (None, "login", stored.method):
        where = f"stored login ({store.path})"
        return Setting(stored.method, where), Setting(_secret(stored.value), where)
    return _UNSET, _UNSET


def resolve_settings(
    *,
    href: str | None = None,
    api_key: str | None = None,
    oauth2_cookie: str | None = None,
    bearer_token: str | None = None,
    owner: str | None = None,
    timeout: float | None = None,
    deadline: float | None = None,
    api_version: str | None = None,
    apikey_check_url: str | None = None,
    verify: bool | str | None = None,
    profile: str | None = None,
    environ: Mapping[str, str] | None = None,
    config: ConfigFile | None = None,
    store: LoginStore | None = None,
) -> ResolvedSettings:
    """Resolve every setting: argument > environment > profile > default.

    ``profile`` names the profile (else env ``RS_PROFILE``, else the file's
    ``default_profile``); ``""`` uses none. ``href=""`` forces local mode even when
    ``RS_SERVER_HREF`` or the profile name a server.
    """
    env = os.environ if environ is None else environ
    chosen: str | None = profile
    if chosen is None:
        chosen = (env.get(PROFILE_ENV) or "").strip() or None
        if chosen is None and (config is not None or _config_exists(env)):
            config = config or load_profiles(config_path(env))
            chosen = config.default_profile
    selected: Profile | None = None
    if chosen:
        config = config or load_profiles(config_path(env))
        selected = config.profiles.get(chosen)
        if selected is None:
            known = ", ".join(sorted(config.profiles)) or "none"
            raise ConfigurationError(
                f"Unknown profile {chosen!r} (profiles in {config.path}: {known})"
            )
    if href == "":
        href_setting = Setting(None, "argument (local mode)")
    else:
        href_setting = _pick("href", href, env, selected)
        if isinstance(href_setting.value, str):
            href_setting = Setting(
                href_setting.value.strip().rstrip("/") or None, href_setting.source
            )
    if store is None and href_setting.value is not None:
        store = LoginStore.default(env)
    auth, value = _credential(
        {"api_key": api_key, "oauth2_cookie": oauth2_cookie, "bearer_token": bearer_token},
        env,
        selected,
        href_setting.value,
        store,
    )
    verify_setting = (
        Setting(verify, "argument")
        if verify is not None
        else Setting(selected.verify, f"profile {selected.name}")
        if selected is not None and selected.verify is not None
        else Setting(True, "default")
    )
    resolved = ResolvedSettings(
        profile=selected.name if selected is not None else None,
        href=href_setting,
        auth=auth,
        credential_value=value,
        owner=_pick("owner", owner, env, selected),
        timeout=_pick("timeout", timeout, env, selected),
        deadline=_pick("deadline", deadline, env, selected),
        api_version=_pick("api_version", api_version, env, selected),
        apikey_check_url=_pick("apikey_check_url", apikey_check_url, env, selected),
        verify=verify_setting,
    )
    for name in ("timeout", "deadline"):
        setting = getattr(resolved, name)
        try:
            number = float(setting.value)
        except (TypeError, ValueError) as err:
            raise ConfigurationError(
                f"{name} from {setting.source} must be a number of seconds, got {setting.value!r}"
            ) from err
        if number <= 0:
            raise ConfigurationError(
                f"{name} from {setting.source} must be positive, got {setting.value!r}"
            )
    return resolved


def _config_exists(env: Mapping[str, str]) -> bool:
    return config_path(env).is_file()
