"""Fault injection: make chosen requests fail the way real networks and servers fail.

A :class:`Fault` matches requests by path prefix (or ``path_regex``) and method; faults are
tried in insertion order and the first match applies. A fault with ``times=N`` applies to the
next N matching requests, then expires; ``times=None`` applies forever.

Kinds:

- ``latency``: sleep ``delay`` seconds, then answer normally.
- ``status``: answer ``status`` (default 503) with ``{"detail": "Injected fault"}`` or ``body``;
  ``Retry-After`` when ``retry_after`` is set.
- ``rate_limit``: 429 with ``Retry-After`` (``retry_after``, default 1).
- ``reset``: abort the connection with a TCP RST, no response.
- ``truncate``: send the head of the real answer with its full ``Content-Length`` but only half
  of the body, then close.
- ``nonjson``: 200 ``text/plain`` garbage.
- ``html``: ``status`` (default 502) with an HTML error page.
- ``hang``: never answer until ``delay`` (default 3600 s) elapses or the simulator stops, then
  close the connection.
- ``wrong_shape``: 200 JSON of a plausible but wrong structure (``body`` if given).
- ``redirect``: ``status`` (default 302; 301/302/303/307/308 accepted) to ``location``.

Example:
    >>> fault = Fault(path="/adgs/aux/search", kind="rate_limit", times=2)
    >>> fault.effective_status, fault.matches("GET", "/adgs/aux/search")
    (429, True)
"""

from __future__ import annotations

import re
import threading
from typing import Any, Literal, get_args

from attrs import define, field

__all__ = ["FAULT_KINDS", "Fault", "FaultKind", "FaultList"]

FaultKind = Literal[
    "latency",
    "status",
    "rate_limit",
    "reset",
    "truncate",
    "nonjson",
    "html",
    "hang",
    "wrong_shape",
    "redirect",
]
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)
_DEFAULT_STATUS = {"status": 503, "rate_limit": 429, "html": 502, "redirect": 302}
_DEFAULT_DELAY = {"hang": 3600.0}


def _check_kind(_instance: Any, _attribute: Any, value: str) -> None:
    if value not in FAULT_KINDS:
        raise ValueError(f"unknown fault kind {value!r}; expected one of {', '.join(FAULT_KINDS)}")


@define
class Fault:
    """One injected failure. See the module docstring for the kinds.

    Example:
        >>> fault = Fault(path_regex=r"^/cadip/\\w+/cadu$", kind="reset", times=1)
        >>> fault.matches("GET", "/cadip/MTI/cadu")
        True
    """

    path: str | None = None
    method: str | None = None
    kind: str = field(default="status", validator=_check_kind)
    times: int | None = None
    status: int | None = None
    delay: float | None = None
    retry_after: float | int | str | None = None
    body: Any = None
    path_regex: str | None = None
    location: str | None = None
    skip: int = 0
    """Let this many matching requests through untouched first (e.g. ``skip=1``: page 2)."""
    _pattern: re.Pattern[str] | None = field(init=False, default=None, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        if self.path_regex is not None:
            self._pattern = re.compile(self.path_regex)
        if self.kind == "redirect" and not self.location:
            raise ValueError("a 'redirect' fault needs location=")
        if self.times is not None and self.times < 1:
            raise ValueError("times must be None or >= 1")
        if self.skip < 0:
            raise ValueError("skip must be >= 0")

    @property
    def effective_status(self) -> int:
        """The status this fault answers with (its own, else the kind's default)."""
        if self.kind == "redirect" and self.status not in (301, 302, 303, 307, 308):
            return 302
        if self.status is not None:
            return self.status
        return _DEFAULT_STATUS.get(self.kind, 503)

    @property
    def effective_delay(self) -> float:
        """Seconds to wait (``latency``, ``hang``)."""
        if self.delay is not None:
            return float(self.delay)
        return _DEFAULT_DELAY.get(self.kind, 0.0)

    def matches(self, method: str, path: str) -> bool:
        """Whether this fault applies to ``method path`` (path without query)."""
        if self.method is not None and self.method.upper() != method.upper():
            return False
        if self._pattern is not None and not self._pattern.search(path):
            return False
        return self.path is None or path.startswith(self.path)


class FaultList:
    """Thread-safe ordered faults with use counting."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[list[Any]] = []  # [fault, remaining uses or None, to skip]

    def add(self, fault: Fault) -> None:
        """Append ``fault`` (tried after those already there)."""
        with self._lock:
            self._faults.append([fault, fault.times, fault.skip])

    def clear(self) -> None:
        """Remove every fault."""
        with self._lock:
            self._faults.clear()

    def snapshot(self) -> list[Fault]:
        """The active faults, in order."""
        with self._lock:
            return [entry[0] for entry in self._faults]

    def take(self, method: str, path: str) -> Fault | None:
        """The first fault matching the request, consuming one of its uses."""
        with self._lock:
            for index, entry in enumerate(self._faults):
                fault: Fault = entry[0]
                if not fault.matches(method, path):
                    continue
                if entry[2] > 0:
                    entry[2] -= 1
                    continue
                if entry[1] is not None:
                    entry[1] -= 1
                    if entry[1] <= 0:
                        del self._faults[index]
                return fault
        return None
