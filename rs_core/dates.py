"""Datetimes on the wire and from people.

RS-Server wants ``%Y-%m-%dT%H:%M:%SZ`` in UTC. Aware datetimes are converted to UTC first;
naive ones are taken as UTC. People may also write relative forms, in Python as in the CLI:
every date parameter that takes a string (``start_date="yesterday"``, ``stop_date="now"``,
``"-2h"``) reads it with :func:`parse_when`.

>>> from datetime import datetime, timezone, timedelta
>>> to_wire(datetime(2024, 1, 2, 3, 4, 5))
'2024-01-02T03:04:05Z'
>>> to_wire(datetime(2024, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=2))))
'2024-01-02T03:04:05Z'
>>> parse_datetime("2024-01-02T03:04:05Z").isoformat()
'2024-01-02T03:04:05+00:00'
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

from rs_core.errors import InvalidInputError

__all__ = ["WIRE_FORMAT", "as_utc", "check_interval", "parse_datetime", "parse_when", "to_wire"]

WIRE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

_RELATIVE = re.compile(r"^\s*([+-])\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def as_utc(value: datetime) -> datetime:
    """Return ``value`` as an aware UTC datetime (naive input is taken as UTC)."""
    if value.tzinfo is None or value.utcoffset() is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def to_wire(value: datetime | date | str, *, name: str = "datetime") -> str:
    """Format a datetime (or date, or ISO string) as RS-Server wants it.

    Raises :class:`InvalidInputError` naming ``name`` for anything else.
    """
    return as_utc(_coerce(value, name)).strftime(WIRE_FORMAT)


def _coerce(value: datetime | date | str, name: str) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime.combine(value, time(0), tzinfo=UTC)
    if isinstance(value, str):
        return parse_when(value, name=name)
    raise InvalidInputError(
        f"{name} must be a datetime, a date, an ISO 8601 string or a relative date "
        f"(now, today, yesterday, -2h), not {type(value).__name__}"
    )


def parse_datetime(text: str, *, name: str = "datetime") -> datetime:
    """Parse an ISO 8601 timestamp as the servers write them (``Z``, fractions, offsets).

    Naive results are taken as UTC; the result is always aware.
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidInputError(f"{name} is empty or not a string: {text!r}")
    raw = text.strip()
    candidate = raw[:-1] + "+00:00" if raw[-1:] in "zZ" else raw
    # Python < 3.11 cannot parse more than 6 fraction digits; servers sometimes send 7-9.
    candidate = re.sub(r"(\.\d{6})\d+", r"\1", candidate)
    try:
        parsed = datetime.fromisoformat(candidate)
    except ValueError as err:
        raise InvalidInputError(f"{name} is not an ISO 8601 date or datetime: {text!r}") from err
    return as_utc(parsed)


def parse_when(text: str, *, now: datetime | None = None, name: str = "date") -> datetime:
    """Parse what a person types: ISO 8601, ``now``, ``today``, ``yesterday``, ``-2h``, ``+1d``.

    >>> ref = datetime(2024, 5, 10, 12, 0, tzinfo=UTC)
    >>> parse_when("-2h", now=ref).isoformat()
    '2024-05-10T10:00:00+00:00'
    >>> parse_when("yesterday", now=ref).isoformat()
    '2024-05-09T00:00:00+00:00'
    """
    ref = as_utc(now) if now is not None else datetime.now(UTC)
    word = text.strip().lower()
    midnight = ref.replace(hour=0, minute=0, second=0, microsecond=0)
    if word == "now":
        return ref
    if word == "today":
        return midnight
    if word == "yesterday":
        return midnight - timedelta(days=1)
    if word == "tomorrow":
        return midnight + timedelta(days=1)
    match = _RELATIVE.match(word)
    if match:
        sign, amount, unit = match.groups()
        delta = timedelta(seconds=float(amount) * _UNIT_SECONDS[unit])
        return ref - delta if sign == "-" else ref + delta
    try:
        return parse_datetime(text, name=name)
    except InvalidInputError as err:
        raise InvalidInputError(
            f"{name} {text!r} is neither ISO 8601 nor one of now, today, yesterday, "
            "tomorrow, -2h, +30m, -1d, -1w"
        ) from err


def check_interval(
    start: datetime | date | str, stop: datetime | date | str
) -> tuple[datetime, datetime]:
    """Validate a time range: both parseable, start not after stop. Returns aware UTC values.

    Strings may be relative (:func:`parse_when`):

    >>> begin, end = check_interval("-1d", "now")
    >>> round((end - begin).total_seconds() / 3600)
    24
    """
    begin = as_utc(_coerce(start, "start_date"))
    end = as_utc(_coerce(stop, "stop_date"))
    if begin > end:
        raise InvalidInputError(
            f"start_date {begin.strftime(WIRE_FORMAT)} is after stop_date "
            f"{end.strftime(WIRE_FORMAT)}"
        )
    return begin, end
