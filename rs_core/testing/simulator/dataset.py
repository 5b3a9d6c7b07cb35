"""The simulator's data: named record lists, and the generic record index the fakes share.

A :class:`Dataset` holds the record lists the installed fakes serve, by name (each plugin's
:class:`~.fakes.FakeStation` declares its lists, e.g. ``adgs_products``); a list the dataset
does not hold is the fake's packaged default. The names are read as attributes
(``dataset.<list name>``). A :class:`Record` is one searchable v1 record (its STAC feature
serialised once); a :class:`RecordIndex` keeps records sorted by publication date so a search
is a ``bisect`` plus a slice, and :func:`sorted_capped` sorts and caps like RS-Server v1 does:
``sortby`` (``+field`` / ``-field``; a ``+`` decoded as a space counts as ascending) sorts on
``created``, ``datetime``, ``start_datetime``, ``end_datetime``, ``eviction_datetime`` or
``id``; ``doNotSort`` (and any unknown field) keeps the station order.

Example:
    >>> ds = Dataset(things=[{"Name": "a"}])
    >>> ds.things, ds.holds("things"), ds.holds("others")
    ([{'Name': 'a'}], True, False)
"""

from __future__ import annotations

import bisect
import contextlib
import gc
import heapq
import json
import re
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from .fakes import FakeStation, installed_fakes

__all__ = [
    "FILE_EXTENSION",
    "Dataset",
    "Record",
    "RecordIndex",
    "as_bool",
    "as_int",
    "compact_stamp",
    "epoch",
    "gc_paused",
    "odata_stamp",
    "parse_odata_date",
    "shift_times",
    "sorted_capped",
    "status_date",
]

FILE_EXTENSION = "https://stac-extensions.github.io/file/v2.1.0/schema.json"
_SORT_FIELDS = ("created", "datetime", "start_datetime", "end_datetime", "eviction_datetime")


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def parse_odata_date(value: str) -> datetime:
    """Parse an OData date (``2019-02-16T18:29:37.522Z``, any fraction) into an aware UTC datetime.

    >>> parse_odata_date("2025-10-10T18:41:42.000000Z").isoformat()
    '2025-10-10T18:41:42+00:00'
    """
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def epoch(value: Any) -> float:
    if not isinstance(value, str) or not value:
        return 0.0
    try:
        return parse_odata_date(value).timestamp()
    except ValueError:
        return 0.0


def odata_stamp(moment: datetime) -> str:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="milliseconds") + "Z"


_STAMP = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)?")


def _shift_stamp(text: str, delta: timedelta) -> str:
    match = _STAMP.fullmatch(text)
    if match is None:
        return text
    base, fraction, zone = match.groups()
    digits = (fraction or ".")[1:]
    try:
        moment = datetime.fromisoformat(f"{base}.{digits[:6].ljust(6, '0')}") + delta
    except (ValueError, OverflowError):
        return text
    out = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if fraction:
        out += "." + f"{moment.microsecond:06d}".ljust(len(digits), "0")[: len(digits)]
    return out + (zone or "")


def shift_times(value: Any, delta: timedelta) -> Any:
    """``value`` with every ISO 8601 time string in it (at any depth) moved by ``delta``, each
    written back in its own form (fraction digits, ``Z`` or offset).

    >>> shift_times({"PublicationDate": "2020-01-05T18:52:26.165Z", "Name": "a"},
    ...             timedelta(days=1))
    {'PublicationDate': '2020-01-06T18:52:26.165Z', 'Name': 'a'}
    """
    if isinstance(value, str):
        return _shift_stamp(value, delta)
    if isinstance(value, Mapping):
        return {key: shift_times(inner, delta) for key, inner in value.items()}
    if isinstance(value, list | tuple):
        return [shift_times(inner, delta) for inner in value]
    return value


def compact_stamp(moment: datetime) -> str:
    """``20240101T000000`` (the form product names use)."""
    return moment.isoformat(timespec="seconds").replace("-", "").replace(":", "")


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while building many small containers (it dominates big loads)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def as_int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


class Record:
    """One searchable station record (its source ``odata`` mapping) and its v1 feature.

    ``feature`` is the mapped STAC dict, ``feature_json`` its serialised bytes (computed once);
    sort keys other than the publication date are parsed on first use.
    """

    __slots__ = (
        "_sort_cache",
        "_status_source",
        "feature",
        "feature_json",
        "name",
        "odata",
        "order",
        "product_id",
        "published",
        "session_id",
        "size",
    )

    def __init__(
        self,
        odata: Mapping[str, Any],
        feature: dict[str, Any],
        order: int,
        status_source: str | None,
    ) -> None:
        self.odata = odata
        self.feature = feature
        self.feature_json = _ENCODER.encode(feature).encode("utf-8")
        self.name: str = str(odata.get("Name", ""))
        self.product_id: str = str(odata.get("Id", ""))
        self.session_id: str = str(odata.get("SessionId", ""))
        self.size: int = as_int(odata.get("ContentLength", odata.get("Size", 0)))
        self.published: float = epoch(odata.get("PublicationDate"))
        self.order = order
        self._status_source = status_source
        self._sort_cache: dict[str, float | str] = {}

    @property
    def available_at_station(self) -> str:
        """The status table's ``available_at_station`` (``%Y-%m-%dT%H:%M:%S.%f``)."""
        return status_date(self._status_source)

    def sort_value(self, field: str) -> float | str:
        """The value ``sortby=field`` orders on (epoch seconds for dates, the name for ``id``)."""
        if field == "created":
            return self.published
        if field == "id":
            return self.name
        cached = self._sort_cache.get(field)
        if cached is None:
            cached = self._sort_cache[field] = epoch(self.feature["properties"].get(field))
        return cached


def status_date(value: str | None) -> str:
    if not value:
        return ""
    try:
        return parse_odata_date(value).replace(tzinfo=None).strftime("%Y-%m-%dT%H:%M:%S.%f")
    except ValueError:
        return ""


def _parse_sortby(sortby: str) -> tuple[str, bool]:
    """Return (field, descending)."""
    text = sortby.strip("\t\r\n")
    if text.startswith("-"):
        return text[1:].strip(), True
    if text.startswith(("+", " ")):
        return text[1:].strip(), False
    return text.strip(), False


def sorted_capped(records: Sequence[Record], sortby: str, limit: int) -> list[Record]:
    """Sort ``records`` (given in ascending publication order) like the station, then cap."""
    field, descending = _parse_sortby(sortby)
    if limit <= 0:
        return []
    if field == "created":
        if descending:
            return list(reversed(records[-limit:]))
        return list(records[:limit])
    if field not in _SORT_FIELDS and field != "id":
        return heapq.nsmallest(limit, records, key=lambda rec: rec.order)
    ordered = sorted(records, key=lambda rec: rec.order)  # stable base: station order
    ordered.sort(key=lambda rec: rec.sort_value(field), reverse=descending)
    return ordered[:limit]


class RecordIndex:
    """Records sorted by publication date, for bisect range queries."""

    def __init__(self, records: list[Record]) -> None:
        self.records = sorted(records, key=lambda rec: (rec.published, rec.order))
        self.keys = [rec.published for rec in self.records]
        self.by_name = {rec.name: rec for rec in records}

    def between(self, start: float, stop: float) -> list[Record]:
        low = bisect.bisect_left(self.keys, start)
        high = bisect.bisect_right(self.keys, stop)
        return self.records[low:high]


def _fakes(fakes: Sequence[FakeStation] | None) -> Sequence[FakeStation]:
    return installed_fakes() if fakes is None else fakes


class Dataset:
    """Named record lists (``Dataset(adgs_products=[...])`` or ``Dataset({name: [...]})``).

    Build one with :meth:`default` (every installed fake's packaged records),
    :meth:`from_folder` or :meth:`synthetic`. Read a list as an attribute; a list some
    installed fake declares but the dataset does not hold reads as ``[]``.
    """

    def __init__(
        self,
        lists: Mapping[str, Iterable[Mapping[str, Any]]] | None = None,
        *legacy: Iterable[Mapping[str, Any]],
        **named: Any,
    ) -> None:
        merged: dict[str, Iterable[Mapping[str, Any]]] = {}
        if lists is not None and not isinstance(lists, Mapping):  # the positional lists
            legacy = (lists, *legacy)
            lists = None
        if legacy:
            names = [name for fake in installed_fakes() for name in fake.lists]
            warnings.warn(
                "Dataset(<lists>...) with positional lists is deprecated: name them, "
                f"Dataset({', '.join(f'{n}=[...]' for n in names[: len(legacy)])})",
                DeprecationWarning,
                stacklevel=2,
            )
            if len(legacy) > len(names):
                raise TypeError(f"Dataset() takes at most {len(names)} positional lists")
            merged.update(zip(names, legacy, strict=False))
        merged.update(lists or {})
        merged.update(named)
        self._lists: dict[str, list[Mapping[str, Any]]] = {
            name: list(values) for name, values in merged.items()
        }

    def __getattr__(self, name: str) -> list[Mapping[str, Any]]:
        if name.startswith("_"):
            raise AttributeError(name)
        lists = self.__dict__.get("_lists", {})
        if name in lists:
            return lists[name]  # type: ignore[no-any-return]
        if any(name in fake.lists for fake in installed_fakes()):
            return lists.setdefault(name, [])  # type: ignore[no-any-return]
        raise AttributeError(f"the dataset holds no list {name!r} (lists: {sorted(lists)})")

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={len(values)}" for name, values in sorted(self._lists.items()))
        return f"Dataset({shown})"

    @property
    def names(self) -> list[str]:
        """The names of the lists held."""
        return sorted(self._lists)

    def holds(self, name: str) -> bool:
        """Whether the dataset holds a list named ``name``."""
        return name in self._lists

    def setdefault(self, name: str, values: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        """The list named ``name``, set to ``values`` first when the dataset does not hold it."""
        if name not in self._lists:
            self._lists[name] = list(values)
        return self._lists[name]

    def get(self, name: str) -> list[Mapping[str, Any]] | None:
        """The list named ``name``, or None when the dataset does not hold it."""
        return self._lists.get(name)

    def recent(
        self,
        now: datetime | None = None,
        *,
        lead: timedelta = timedelta(minutes=5),
        fakes: Sequence[FakeStation] | None = None,
    ) -> Dataset:
        """A copy moved in time so that each fake's newest record was published ``lead``
        before ``now`` (default: now): for windows like "the last 2 days".

        Each fake's lists (its packaged records for a list this dataset does not hold) move
        together, by one offset, so their records keep their order and gaps; every time
        string of a record moves (:func:`shift_times`), names stay as they are. The offset
        comes from the newest ``PublicationDate`` (the OData publication date every
        :class:`Record` is indexed on); a fake without one is left as it is.

        >>> ds = Dataset(things=[{"PublicationDate": "2020-01-01T00:00:00Z"}])
        >>> ds.recent(datetime(2030, 1, 1, tzinfo=UTC), lead=timedelta(0), fakes=[]).things
        [{'PublicationDate': '2020-01-01T00:00:00Z'}]
        """
        moment = (now or datetime.now(UTC)).timestamp() - lead.total_seconds()
        lists: dict[str, list[Mapping[str, Any]]] = dict(self._lists)
        for fake in _fakes(fakes):
            packaged = {} if all(n in self._lists for n in fake.lists) else fake.default_lists()
            own = {n: self._lists.get(n, packaged.get(n, [])) for n in fake.lists}
            newest = max(
                (epoch(r.get("PublicationDate")) for rs in own.values() for r in rs), default=0.0
            )
            if not newest:
                continue
            delta = timedelta(seconds=moment - newest)
            for name, records in own.items():
                lists[name] = [shift_times(record, delta) for record in records]
        return type(self)(lists)

    # -- constructors ---------------------------------------------------------------------

    @classmethod
    def default(cls, fakes: Sequence[FakeStation] | None = None) -> Dataset:
        """Every fake's packaged records (default: the installed plugins' fakes)."""
        lists: dict[str, list[Any]] = {}
        for fake in _fakes(fakes):
            lists.update(fake.default_lists())
        return cls(lists)

    @classmethod
    def from_folder(cls, path: str | Path, fakes: Sequence[FakeStation] | None = None) -> Dataset:
        """Load ``<list name>.json`` (``{"Data": [...]}`` or a list) for every list the fakes
        declare; a missing file means no records.

        >>> Dataset.from_folder("/nonexistent-folder", fakes=[]).names
        []
        """
        folder = Path(path)
        lists: dict[str, list[Any]] = {}
        for fake in _fakes(fakes):
            for name in fake.lists:
                file = folder / f"{name}.json"
                content: Any = json.loads(file.read_text("utf-8")) if file.is_file() else []
                lists[name] = list(content["Data"] if isinstance(content, dict) else content)
        return cls(lists)

    @classmethod
    def scaled(
        cls, scale: int, *, seed: int = 0, fakes: Sequence[FakeStation] | None = None
    ) -> Dataset:
        """A synthetic dataset of about ``scale`` records per fake (each size is its share of
        ``scale``, see :attr:`FakeStation.sizes`, at least 1).

        >>> Dataset.scaled(10, fakes=[]).names
        []
        """
        chosen = _fakes(fakes)
        sizes = {
            name: max(1, int(scale * share))
            for fake in chosen
            for name, share in fake.sizes.items()
        }
        return cls.synthetic(seed=seed, fakes=chosen, **sizes)  # type: ignore[arg-type]

    @classmethod
    def synthetic(
        cls,
        *legacy: Any,
        start: datetime | None = None,
        seed: int = 0,
        fakes: Sequence[FakeStation] | None = None,
        **sizes: int,
    ) -> Dataset:
        """Generate a deterministic dataset: each fake generates its lists, given the
        ``sizes`` it declares (:attr:`FakeStation.sizes`, e.g. ``n_products``) and its own
        defaults for the others. ``start`` may be naive (taken as UTC). A size no fake
        declares is a ``TypeError``.

        >>> Dataset.synthetic(fakes=[], n_things=1)
        Traceback (most recent call last):
        ...
        TypeError: no installed fake generates n_things (known sizes: none)
        """
        if legacy:
            positional = ("n_products", "n_files", "n_sessions", "start", "seed")
            warnings.warn(
                "Dataset.synthetic() with positional sizes is deprecated: name them, "
                "Dataset.synthetic(n_products=..., n_files=..., n_sessions=...)",
                DeprecationWarning,
                stacklevel=2,
            )
            given = dict(zip(positional, legacy, strict=False))
            start = given.pop("start", start)
            seed = given.pop("seed", seed)
            sizes = {**given, **sizes}
        chosen = _fakes(fakes)
        known = {size for fake in chosen for size in fake.sizes}
        unknown = sorted(set(sizes) - known)
        if unknown:
            raise TypeError(
                f"no installed fake generates {', '.join(unknown)} "
                f"(known sizes: {', '.join(sorted(known)) or 'none'})"
            )
        lists: dict[str, list[Any]] = {}
        with gc_paused():
            for fake in chosen:
                mine = {name: value for name, value in sizes.items() if name in fake.sizes}
                lists.update(fake.synthetic(start=start, seed=seed, **mine))
        return cls(lists)
