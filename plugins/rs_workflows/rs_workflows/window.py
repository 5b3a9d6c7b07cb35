"""The time window of a flow run: ``since`` (``2d``, ``12h``, ``last``) or ``start``/``stop``.

No Prefect import at module level: the command line checks windows before Prefect starts.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from rs_core.dates import parse_datetime, parse_when, to_wire
from rs_core.errors import InvalidInputError
from rs_workflows.connect import StationRef

__all__ = ["FIRST_RUN_SINCE", "check_window", "resolve_window", "watermark_name"]

FIRST_RUN_SINCE = "1d"
"""The window of a ``since="last"`` run that finds no previous run."""


def watermark_name(flow_name: str, ref: StationRef, collection: str) -> str:
    """The Prefect variable holding where the last run of a flow stopped.

    >>> watermark_name("stage-sessions", StationRef("cadip", "MTI"), "s1_cadu")
    'rs-stage-sessions-cadip-mti-s1_cadu'
    """
    raw = f"rs-{flow_name}-{ref.kind}-{ref.station}-{collection}".lower()
    return re.sub(r"[^a-z0-9_-]", "-", raw)[:250]


def resolve_window(
    since: str | None, start: str | None, stop: str | None, watermark: str | None
) -> tuple[datetime, datetime]:
    """``(start, stop)`` from ``since`` (``2d``, ``12h``, ``last``) or ``start``/``stop``.

    >>> a, b = resolve_window("2d", None, None, None)
    >>> round((b - a).total_seconds())
    172800
    """
    now = datetime.now(UTC)
    if since and start:
        raise InvalidInputError("give since or start, not both")
    end = parse_when(stop, now=now, name="stop") if stop else now
    if since:
        word = since.strip().lower()
        if word == "last":
            from prefect.variables import Variable

            stored = Variable.get(watermark) if watermark else None
            if isinstance(stored, str) and stored:
                return parse_datetime(stored, name="last run"), end
            word = FIRST_RUN_SINCE
        relative = word if word[:1] in "+-" else "-" + word
        try:
            begin = parse_when(relative, now=end, name="since")
        except InvalidInputError as err:
            raise InvalidInputError(
                f"since {since!r} is not a duration (2d, 12h, 30m, 1w) nor 'last'"
            ) from err
        return begin, end
    if not start:
        raise InvalidInputError("give since (2d, 12h, last) or start")
    begin = parse_when(start, now=now, name="start")
    if begin > end:
        raise InvalidInputError(f"start {to_wire(begin)} is after stop {to_wire(end)}")
    return begin, end


def check_window(since: str | None, start: str | None, stop: str | None) -> None:
    """Raise :class:`~rs_core.InvalidInputError` for a window that cannot be resolved."""
    if since and since.strip().lower() == "last":
        if start:
            raise InvalidInputError("give since or start, not both")
        if stop:
            parse_when(stop, name="stop")
        return
    resolve_window(since, start, stop, None)
