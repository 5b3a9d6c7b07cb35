"""Which RS-Server generation a service speaks: the setting, the probe, and its cache.

RS-Server v1 (before 0.2) and v2 (0.2 and later) serve the same stations through different
APIs (see ``docs/stations.md``). A station client finds out which one on first use:

* the setting ``api_version`` (``RsClient(api_version=...)``, ``get_station(...,
  api_version=...)``, env ``RS_API_VERSION``, CLI ``--api-version``) is ``"v1"``, ``"v2"`` or
  ``"auto"`` (default). ``"v1"``/``"v2"`` skip the probe;
* ``"auto"`` probes the service once: ``GET <service URL><landing path>`` (``/auxip``,
  ``/cadip``...). A STAC landing page means v2; 404/405 (or anything that is not a STAC
  landing page) means v1. Other failures (network, 401/403, 5xx) raise and are not cached;
* the answer is cached per (service URL, landing path) in the root client's context, shared
  by its children, thread-safe: concurrent first calls probe once;
* a station search of an ``"auto"`` client whose generation is not known yet is sent as a v2
  search without the probe: its answer tells (a v2 answer: v2 is then known); only when it
  fails does the client probe, and search again on v1 when the probe says v1.

>>> check_api_version(" V2 ")
'v2'
>>> cache = GenerationCache()
>>> cache.resolve("http://h/auxip", lambda: "v2"), cache.resolve("http://h/auxip", lambda: "v1")
('v2', 'v2')
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rs_core.errors import ConfigurationError, RsError

__all__ = [
    "API_VERSIONS",
    "API_VERSION_ENV",
    "AUTO",
    "V1",
    "V2",
    "GenerationCache",
    "check_api_version",
    "generation_noted",
    "resolve_api_version_setting",
]

API_VERSION_ENV = "RS_API_VERSION"
V1 = "v1"
V2 = "v2"
AUTO = "auto"
API_VERSIONS = (V1, V2, AUTO)


def check_api_version(value: Any, *, source: str = "api_version") -> str:
    """``"v1"``, ``"v2"`` or ``"auto"`` (any case, spaces ignored); else a ConfigurationError.

    >>> check_api_version("auto")
    'auto'
    """
    text = str(value).strip().lower() if isinstance(value, str) else None
    if text in ("1", "2"):
        text = f"v{text}"
    if text not in API_VERSIONS:
        raise ConfigurationError(
            f"{source} must be one of {', '.join(API_VERSIONS)}, got {value!r}"
        )
    return text


def resolve_api_version_setting(value: str | None) -> str:
    """The argument if given, else env ``RS_API_VERSION``, else ``"auto"``."""
    if value is not None:
        return check_api_version(value)
    env = os.environ.get(API_VERSION_ENV, "").strip()
    if env:
        return check_api_version(env, source=f"env {API_VERSION_ENV}")
    return AUTO


class GenerationCache:
    """Detected generations per key (service URL + landing path); one probe per key.

    Thread-safe: a second thread asking for the same key while the first probes waits for
    that probe instead of sending its own. A probe that raises caches nothing.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._known: dict[str, str] = {}
        self._probing: dict[str, threading.Lock] = {}

    def get(self, key: str) -> str | None:
        """The cached generation of ``key``, or ``None``."""
        with self._lock:
            return self._known.get(key)

    def resolve(self, key: str, probe: Callable[[], str]) -> str:
        """The cached generation of ``key``, probing (once) when there is none."""
        with self._lock:
            known = self._known.get(key)
            if known is not None:
                return known
            gate = self._probing.setdefault(key, threading.Lock())
        with gate:
            with self._lock:
                known = self._known.get(key)
            if known is not None:
                return known
            found = probe()
            with self._lock:
                self._known[key] = found
            return found

    def remember(self, key: str, generation: str) -> None:
        """Note what an answer told about ``key`` (the probe is then not needed); an answer
        already known stays."""
        with self._lock:
            self._known.setdefault(key, generation)

    def forget(self, key: str | None = None) -> None:
        """Drop one cached answer (or all): the next use probes again."""
        with self._lock:
            if key is None:
                self._known.clear()
            else:
                self._known.pop(key, None)

    def __repr__(self) -> str:
        with self._lock:
            return f"<GenerationCache {dict(self._known)!r}>"


@contextmanager
def generation_noted(version: str) -> Iterator[None]:
    """Add ``[RS-Server v1]``/``[RS-Server v2]`` to the message of any RsError raised inside.

    >>> try:
    ...     with generation_noted("v2"):
    ...         raise RsError("search failed")
    ... except RsError as err:
    ...     print(err)
    search failed [RS-Server v2]
    """
    try:
        yield
    except RsError as err:
        tag = f" [RS-Server {version}]"
        if tag not in err.message:
            err.message += tag
            err.args = (err.message, *err.args[1:])
        raise
