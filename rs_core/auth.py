"""API-key introspection and owner ids.

``apikey_security`` asks RS-Server's key manager what a key may do; answers are cached for
120 s per (check URL, key), so a notebook that builds many clients asks once.

>>> sanitize_owner_id("test_user")
'testuser'
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from typing import Any

from attrs import frozen

from rs_core.errors import AuthenticationError, ConfigurationError, HttpError
from rs_core.http import HttpClient, decode_json, require

__all__ = [
    "APIKEY_CACHE_SECONDS",
    "ApiKeyInfo",
    "check_api_key",
    "clear_apikey_cache",
    "sanitize_owner_id",
]

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


def check_api_key(
    http: HttpClient, check_url: str, api_key: str, *, timeout: float | None = None
) -> ApiKeyInfo:
    """Ask ``check_url`` about ``api_key`` (cached 120 s). Raises :class:`AuthenticationError`."""
    fingerprint = hashlib.sha256(api_key.encode()).hexdigest()
    key = (check_url, fingerprint)
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None and now - hit[0] < APIKEY_CACHE_SECONDS:
            return hit[1]
    http.trust(check_url)
    try:
        response = http.request("GET", check_url, timeout=timeout, what="API key check failed")
    except AuthenticationError:
        raise
    except HttpError as err:
        raise err.recast(
            AuthenticationError,
            "API key check failed",
        ) from err
    body = require(
        decode_json(response, what="API key check"),
        dict,
        response,
        what="API key check",
        keys=("iam_roles",),
    )
    roles = body.get("iam_roles") or []
    if not isinstance(roles, list):
        roles = [roles]
    config = body.get("config") if isinstance(body.get("config"), dict) else {}
    info = ApiKeyInfo(
        tuple(str(r) for r in roles), dict(config or {}), str(body.get("user_login") or "")
    )
    with _cache_lock:
        _cache[key] = (time.monotonic(), info)
    return info


def sanitize_owner_id(owner_id: str, *, source: str = "owner_id") -> str:
    """Remove every run of characters outside ``[a-zA-Z0-9]``; empty is an error."""
    cleaned = _OUTSIDE_OWNER.sub("", owner_id or "")
    if not cleaned:
        raise ConfigurationError(
            f"The owner id from {source} ({owner_id!r}) has no letters or digits; "
            "give owner_id= with at least one of [a-zA-Z0-9]"
        )
    return cleaned
