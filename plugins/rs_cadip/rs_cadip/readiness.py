"""When is a CADIP session complete? Every channel's final block arrived, downlink and delivery OK.

A session's files are its assets (both RS-Server generations): each carries
``cadip:channel``, ``cadip:block_number``, ``cadip:final_block`` and ``cadip:retransfer``;
the session says how many channels it has (``cadip:num_channels``) and whether the downlink
and the delivery push went well (``cadip:downlink_status_ok``, ``cadip:delivery_push_ok``).
A session is **ready** when each channel ``1..num_channels`` has a file with
``cadip:final_block`` true and both flags are true. Retransferred files are counted (a
retransfer replaces a block; it does not make a session incomplete).

>>> session = {"id": "S1A_1", "properties": {"cadip:num_channels": 2,
...     "cadip:downlink_status_ok": True, "cadip:delivery_push_ok": True},
...     "assets": {"a": {"cadip:channel": 1, "cadip:final_block": True},
...                "b": {"cadip:channel": 2, "cadip:final_block": False}}}
>>> r = session_readiness(session)
>>> r.ready, r.missing_channels, r.reason
(False, (2,), 'no final block yet on channel 2')
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from attrs import frozen

__all__ = ["READY_PROPERTY", "SessionReadiness", "session_readiness"]

READY_PROPERTY = "ready"
"""The property :meth:`~rs_cadip.CadipClient.search_sessions` sets on each session item."""


@frozen
class SessionReadiness:
    """Whether a session is complete, and if not, why."""

    session_id: str
    ready: bool
    num_channels: int | None
    complete_channels: tuple[int, ...]
    missing_channels: tuple[int, ...]
    downlink_ok: bool | None
    delivery_ok: bool | None
    files: int
    retransfers: int
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict."""
        return {
            "session_id": self.session_id,
            "ready": self.ready,
            "num_channels": self.num_channels,
            "complete_channels": list(self.complete_channels),
            "missing_channels": list(self.missing_channels),
            "downlink_ok": self.downlink_ok,
            "delivery_ok": self.delivery_ok,
            "files": self.files,
            "retransfers": self.retransfers,
            "reason": self.reason,
        }

    def __str__(self) -> str:
        state = "ready" if self.ready else f"not ready: {self.reason}"
        return f"{self.session_id}: {state} ({self.files} files, {self.retransfers} retransfers)"


def _flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def _as_mapping(session: Any) -> tuple[str, Mapping[str, Any], Mapping[str, Any]]:
    if isinstance(session, Mapping):
        properties = session.get("properties") or {}
        assets = session.get("assets") or {}
        if isinstance(assets, list):  # v1's list-form assets
            merged: dict[str, Any] = {}
            for entry in assets:
                if isinstance(entry, Mapping):
                    merged.update(entry)
            assets = merged
        return str(session.get("id")), properties, assets
    properties = getattr(session, "properties", {}) or {}
    assets = {k: a.to_dict() for k, a in (getattr(session, "assets", {}) or {}).items()}
    return str(getattr(session, "id", "")), properties, assets


def session_readiness(session: Any) -> SessionReadiness:
    """The readiness of one session (a :class:`pystac.Item` or a session feature dict)."""
    session_id, properties, assets = _as_mapping(session)
    raw_channels = properties.get("cadip:num_channels")
    num_channels = (
        raw_channels
        if isinstance(raw_channels, int) and not isinstance(raw_channels, bool)
        else None
    )
    complete: set[int] = set()
    seen: set[int] = set()
    retransfers = 0
    for asset in assets.values():
        if not isinstance(asset, Mapping):
            continue
        channel = asset.get("cadip:channel")
        if isinstance(channel, int) and not isinstance(channel, bool):
            seen.add(channel)
            if _flag(asset.get("cadip:final_block")):
                complete.add(channel)
        if _flag(asset.get("cadip:retransfer")):
            retransfers += 1
    expected = set(range(1, num_channels + 1)) if num_channels else seen
    missing = tuple(sorted(expected - complete))
    downlink = _flag(properties.get("cadip:downlink_status_ok"))
    delivery = _flag(properties.get("cadip:delivery_push_ok"))
    reasons = []
    if num_channels is None:
        reasons.append("the session does not say how many channels it has")
    if missing:
        listed = ", ".join(str(c) for c in missing)
        reasons.append(f"no final block yet on channel{'s' if len(missing) > 1 else ''} {listed}")
    if downlink is not True:
        reasons.append("downlink status not OK" if downlink is False else "no downlink status")
    if delivery is not True:
        reasons.append("delivery push not OK" if delivery is False else "no delivery status")
    return SessionReadiness(
        session_id=session_id,
        ready=not reasons,
        num_channels=num_channels,
        complete_channels=tuple(sorted(complete)),
        missing_channels=missing,
        downlink_ok=downlink,
        delivery_ok=delivery,
        files=len(assets),
        retransfers=retransfers,
        reason="; ".join(reasons),
    )
