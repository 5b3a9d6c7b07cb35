"""The staging ledger: every staging request, kept on disk so that nothing is lost.

An embedded SQLite database (stdlib :mod:`sqlite3`, WAL journal, busy timeout) that records,
for each staging request, the station (kind, station id and service URL, so two servers never
mix), the file, the target (an ``s3://`` path, a local directory or a catalog collection),
the RS-Server v2 job id or the v1 staging call, the status history with times, and the final
outcome with its reason.

A row is written **before** the request is sent and updated after every answer, so a process
killed at any point (``kill -9`` included) leaves enough behind for the next run to re-attach to
the requests in flight instead of sending them again. Several processes share one ledger
safely: every change is a transaction, and a unique index allows one *open* request per file
and station; a run holds the rows it is following (``holder``) and another run takes them over
only once that holder is gone (its process ended, or the run finished).

Where it lives: argument ``path``, else env ``RS_LEDGER``, else
``$XDG_STATE_HOME/rs-client/ledger.sqlite3`` (``~/.local/state/rs-client/ledger.sqlite3``).
``":memory:"`` keeps it in memory (tests).

>>> ledger = StagingLedger(":memory:")
>>> scope = LedgerScope("cadip", "MTI", "http://127.0.0.1:8000", "v1")
>>> [(entry, mine)] = ledger.claim(scope, ["a.raw"], target="s3://b/d")
>>> entry.state, mine
('PENDING', True)
>>> ledger.record(entry.entry_id, "IN_PROGRESS").state
'IN_PROGRESS'
>>> ledger.record(entry.entry_id, "DONE").final
True
>>> [e.state for e in ledger.entries(station="MTI")]
['DONE']
"""

from __future__ import annotations

import contextlib
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from attrs import field, frozen

from rs_core.errors import ConfigurationError, InvalidInputError

__all__ = [
    "FINAL_STATES",
    "LEDGER_ENV",
    "LEDGER_STATES",
    "LedgerEntry",
    "LedgerEvent",
    "LedgerScope",
    "StagingLedger",
    "default_ledger_path",
]

LEDGER_ENV = "RS_LEDGER"
"""Env var naming the ledger file (or ``:memory:``)."""

LEDGER_STATES = (
    "PENDING",  # written before the request is sent; the answer is not known yet
    "UNKNOWN",  # sent, but the answer was lost: the next look at the server decides
    "NOT_STARTED",
    "IN_PROGRESS",
    "DONE",
    "FAILED",
    "REFUSED",  # the server refused the request (or it could not be sent): final
)
"""Every state a ledger entry can be in."""

FINAL_STATES = frozenset({"DONE", "FAILED", "REFUSED"})
"""States after which nothing more happens to a request."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    station_kind TEXT NOT NULL,
    station TEXT NOT NULL,
    service TEXT NOT NULL,
    generation TEXT NOT NULL,
    name TEXT NOT NULL,
    target TEXT NOT NULL DEFAULT '',
    job_id TEXT,
    call TEXT NOT NULL DEFAULT '',
    batch TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    final INTEGER NOT NULL DEFAULT 0,
    holder TEXT,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    sent_at REAL
);
CREATE UNIQUE INDEX IF NOT EXISTS one_open_request
    ON requests(station_kind, station, service, name) WHERE final = 0;
CREATE INDEX IF NOT EXISTS requests_by_name ON requests(name);
CREATE INDEX IF NOT EXISTS requests_by_job ON requests(job_id);
CREATE TABLE IF NOT EXISTS events (
    request_id INTEGER NOT NULL REFERENCES requests(id) ON DELETE CASCADE,
    at REAL NOT NULL,
    state TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS events_by_request ON events(request_id);
"""

_COLUMNS = (
    "id, station_kind, station, service, generation, name, target, job_id, call, batch, "
    "state, reason, final, holder, created, updated, sent_at"
)

_HOST = socket.gethostname()
_LIVE_RUNS: set[str] = set()
_LIVE_LOCK = threading.Lock()


def default_ledger_path() -> str:
    """Env ``RS_LEDGER``, else ``$XDG_STATE_HOME/rs-client/ledger.sqlite3`` (XDG default
    ``~/.local/state``).

    >>> import os; os.environ["RS_LEDGER"] = "/tmp/x.sqlite3"; default_ledger_path()
    '/tmp/x.sqlite3'
    >>> del os.environ["RS_LEDGER"]
    """
    given = (os.environ.get(LEDGER_ENV) or "").strip()
    if given:
        return given
    state = (os.environ.get("XDG_STATE_HOME") or "").strip()
    base = Path(state) if state else Path.home() / ".local" / "state"
    return str(base / "rs-client" / "ledger.sqlite3")


def _stamp(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")


@frozen
class LedgerScope:
    """Which station a ledger entry belongs to: kind, station id, service URL, generation.

    The service URL keeps two servers apart: a file staged at one RS-Server is unknown at
    another.
    """

    station_kind: str
    station: str
    service: str
    generation: str


@frozen
class LedgerEvent:
    """One step of an entry's history: when, the state, and what was said."""

    at: float
    state: str
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict (``at`` as an ISO 8601 UTC time)."""
        return {"at": _stamp(self.at), "state": self.state, "detail": self.detail}


@frozen
class LedgerEntry:
    """One staging request as the ledger knows it.

    ``state`` is one of :data:`LEDGER_STATES`; ``final`` is true once it is DONE, FAILED or
    REFUSED (``reason`` then says why for the last two). ``job_id`` is the RS-Server v2 job,
    ``call`` what was asked (v1: the staging URL without the key; v2: the staging service's
    execution URL), ``batch`` groups the files sent in one request, ``holder`` is the run
    following it (``None``: nobody). ``history`` is filled by :meth:`StagingLedger.get`.
    """

    entry_id: int
    station_kind: str
    station: str
    service: str
    generation: str
    name: str
    target: str
    job_id: str | None
    call: str
    batch: str
    state: str
    reason: str
    final: bool
    holder: str | None
    created: float
    updated: float
    sent_at: float | None
    history: tuple[LedgerEvent, ...] = field(default=(), eq=False)

    @property
    def scope(self) -> LedgerScope:
        """The station this entry belongs to."""
        return LedgerScope(self.station_kind, self.station, self.service, self.generation)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict (times as ISO 8601 UTC)."""
        out: dict[str, Any] = {
            "id": self.entry_id,
            "station_kind": self.station_kind,
            "station": self.station,
            "service": self.service,
            "generation": self.generation,
            "name": self.name,
            "target": self.target,
            "job_id": self.job_id,
            "call": self.call,
            "state": self.state,
            "reason": self.reason,
            "final": self.final,
            "created": _stamp(self.created),
            "updated": _stamp(self.updated),
            "sent_at": _stamp(self.sent_at),
        }
        if self.history:
            out["history"] = [event.to_dict() for event in self.history]
        return out

    def __str__(self) -> str:
        job = f" job {self.job_id}" if self.job_id else ""
        why = f": {self.reason}" if self.reason else ""
        return f"#{self.entry_id} {self.station} {self.name} {self.state}{job}{why}"


def _entry(row: Sequence[Any]) -> LedgerEntry:
    return LedgerEntry(
        entry_id=int(row[0]),
        station_kind=row[1],
        station=row[2],
        service=row[3],
        generation=row[4],
        name=row[5],
        target=row[6],
        job_id=row[7],
        call=row[8],
        batch=row[9],
        state=row[10],
        reason=row[11],
        final=bool(row[12]),
        holder=row[13],
        created=float(row[14]),
        updated=float(row[15]),
        sent_at=None if row[16] is None else float(row[16]),
    )


def new_run_id() -> str:
    """A holder id for one run of this process (``host:pid:random``), registered as live
    until :func:`end_run`."""
    run = f"{_HOST}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
    with _LIVE_LOCK:
        _LIVE_RUNS.add(run)
    return run


def end_run(run: str) -> None:
    """Mark ``run`` as ended (its rows may be taken over)."""
    with _LIVE_LOCK:
        _LIVE_RUNS.discard(run)


def holder_alive(holder: str | None) -> bool:
    """Whether the run ``holder`` may still be following its rows.

    A run of this process is alive until it ended; a run of another process on this host is
    alive while that process exists; a run on another host is taken as alive.
    """
    if not holder:
        return False
    host, _, rest = holder.partition(":")
    pid_text, _, _ = rest.partition(":")
    if host != _HOST:
        return True
    try:
        pid = int(pid_text)
    except ValueError:
        return False
    if pid == os.getpid():
        with _LIVE_LOCK:
            return holder in _LIVE_RUNS
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return _not_zombie(pid)


def _not_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True


__all__ += ["end_run", "holder_alive", "new_run_id"]


class StagingLedger:
    """The staging ledger (see the module docs). Thread-safe; one connection per instance.

    :param path: a file path, ``":memory:"``, or ``None`` for :func:`default_ledger_path`.
    :param busy_timeout: seconds to wait for another process's transaction.

    >>> ledger = StagingLedger(":memory:")
    >>> ledger.path
    ':memory:'
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *, busy_timeout: float = 30.0):
        text = str(path) if path is not None else default_ledger_path()
        self._path = text
        self._lock = threading.RLock()
        try:
            if text != ":memory:":
                Path(text).expanduser().parent.mkdir(parents=True, exist_ok=True)
                text = str(Path(text).expanduser())
            self._db = sqlite3.connect(
                text, timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
            self._db.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            if text != ":memory:":
                self._db.execute("PRAGMA journal_mode = WAL")
                self._db.execute("PRAGMA synchronous = NORMAL")
            self._db.execute("PRAGMA foreign_keys = ON")
            with self._transaction() as db:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)
        except (sqlite3.Error, OSError) as err:
            raise ConfigurationError(
                f"Cannot open the staging ledger {self._path!r} ({err}); set {LEDGER_ENV} to a "
                "writable file (or ':memory:')"
            ) from err

    @property
    def path(self) -> str:
        """Where the ledger lives (as given)."""
        return self._path

    def __repr__(self) -> str:
        return f"StagingLedger({self._path!r})"

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._db.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT`` (rolled back on error), under the thread lock."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # -- writing -------------------------------------------------------------------------

    def claim(
        self,
        scope: LedgerScope,
        names: Iterable[str],
        *,
        target: str = "",
        call: str = "",
        holder: str | None = None,
        batch: str = "",
    ) -> list[tuple[LedgerEntry, bool]]:
        """For each name, its open entry, or a new ``PENDING`` one; in one transaction.

        The flag says whether ``holder`` now holds the entry: ``True`` for a new entry and for
        an open one whose holder is gone (taken over); ``False`` when a live run follows it.
        """
        now = time.time()
        out: list[tuple[LedgerEntry, bool]] = []
        with self._transaction() as db:
            for name in names:
                found = self._open(db, scope, name)
                if found is not None:
                    if holder_alive(found.holder) and found.holder != holder:
                        out.append((found, False))
                        continue
                    db.execute(
                        "UPDATE requests SET holder=?, updated=? WHERE id=?",
                        (holder, now, found.entry_id),
                    )
                    self._event(db, found.entry_id, now, found.state, "taken over")
                    out.append((self._load(db, found.entry_id), True))
                    continue
                made = self._insert(db, scope, name, now, target, call, batch, holder, None)
                out.append((made, True))
        return out

    def begin(
        self,
        scope: LedgerScope,
        names: Iterable[str],
        *,
        target: str = "",
        call: str = "",
        batch: str = "",
    ) -> list[LedgerEntry]:
        """New ``PENDING`` entries for a request about to be sent outside any run (a direct
        ``staging()`` call): an open entry no live run holds is closed first (``REFUSED``,
        "superseded"), one a live run holds is kept and returned as is."""
        now = time.time()
        out: list[LedgerEntry] = []
        with self._transaction() as db:
            for name in names:
                found = self._open(db, scope, name)
                if found is not None:
                    if holder_alive(found.holder):
                        out.append(found)
                        continue
                    self._set(db, found.entry_id, now, "REFUSED", "superseded by a new request")
                out.append(self._insert(db, scope, name, now, target, call, batch, None, now))
        return out

    def sending(self, entry_ids: Iterable[int], *, batch: str = "", call: str = "") -> None:
        """Note that the request of ``entry_ids`` is being sent now (``sent_at``, ``batch``)."""
        now = time.time()
        with self._transaction() as db:
            for entry_id in entry_ids:
                db.execute(
                    "UPDATE requests SET sent_at=?, updated=?, batch=CASE WHEN ?='' THEN batch "
                    "ELSE ? END, call=CASE WHEN ?='' THEN call ELSE ? END WHERE id=?",
                    (now, now, batch, batch, call, call, entry_id),
                )
                self._event(db, entry_id, now, "PENDING", "sending")

    def record(
        self,
        entry_id: int,
        state: str,
        reason: str = "",
        *,
        job_id: str | None = None,
        detail: str = "",
    ) -> LedgerEntry:
        """Set the state of one entry (and its job id); a history event is added when the
        state, the reason or the job changes. Returns the entry."""
        return self.record_many([entry_id], state, reason, job_id=job_id, detail=detail)[0]

    def record_many(
        self,
        entry_ids: Iterable[int],
        state: str,
        reason: str = "",
        *,
        job_id: str | None = None,
        detail: str = "",
    ) -> list[LedgerEntry]:
        """:meth:`record` for several entries in one transaction."""
        if state not in LEDGER_STATES:
            raise InvalidInputError(f"unknown ledger state {state!r}")
        now = time.time()
        out = []
        with self._transaction() as db:
            for entry_id in entry_ids:
                out.append(
                    self._set(db, entry_id, now, state, reason, job_id=job_id, detail=detail)
                )
        return out

    def release(self, holder: str) -> int:
        """Let go of every open entry ``holder`` holds; how many."""
        with self._transaction() as db:
            cursor = db.execute(
                "UPDATE requests SET holder=NULL WHERE holder=? AND final=0", (holder,)
            )
            return cursor.rowcount

    def forget(
        self,
        *,
        entry_ids: Iterable[int] | None = None,
        station: str | None = None,
        name: str | None = None,
        final_only: bool = True,
    ) -> int:
        """Delete entries (and their history): by id, or by station and/or name; by default
        only final ones. Returns how many."""
        clauses, args = self._filters(station=station, name=name)
        if entry_ids is not None:
            ids = list(entry_ids)
            if not ids:
                return 0
            clauses.append(f"id IN ({','.join('?' * len(ids))})")
            args.extend(ids)
        if final_only:
            clauses.append("final=1")
        where = " AND ".join(clauses) or "1"
        with self._transaction() as db:
            db.execute(
                f"DELETE FROM events WHERE request_id IN (SELECT id FROM requests WHERE {where})",
                args,
            )
            return db.execute(f"DELETE FROM requests WHERE {where}", args).rowcount

    # -- reading ---------------------------------------------------------------------------

    def get(self, entry_id: int) -> LedgerEntry | None:
        """One entry with its :attr:`~LedgerEntry.history`, or ``None``."""
        with self._lock:
            row = self._db.execute(
                f"SELECT {_COLUMNS} FROM requests WHERE id=?", (entry_id,)
            ).fetchone()
            if row is None:
                return None
            return self._with_history(_entry(row))

    def latest(self, scope: LedgerScope, name: str) -> LedgerEntry | None:
        """The open entry of ``name`` at this station, else its most recent one."""
        with self._lock:
            row = self._db.execute(
                f"SELECT {_COLUMNS} FROM requests WHERE station_kind=? AND station=? AND "
                "service=? AND name=? ORDER BY final ASC, id DESC LIMIT 1",
                (scope.station_kind, scope.station, scope.service, name),
            ).fetchone()
        return None if row is None else _entry(row)

    def job_entries(self, scope: LedgerScope, job_id: str) -> list[LedgerEntry]:
        """Every entry of one v2 job at this station."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM requests WHERE station_kind=? AND station=? AND "
                "service=? AND job_id=? ORDER BY id",
                (scope.station_kind, scope.station, scope.service, job_id),
            ).fetchall()
        return [_entry(row) for row in rows]

    def known_jobs(self, service: str) -> set[str]:
        """Every job id the ledger knows at ``service``."""
        with self._lock:
            rows = self._db.execute(
                "SELECT DISTINCT job_id FROM requests WHERE service=? AND job_id IS NOT NULL",
                (service,),
            ).fetchall()
        return {str(row[0]) for row in rows}

    def lost_sends(self, service: str, *, exclude_names: Iterable[str] = ()) -> list[float]:
        """When each request at ``service`` whose job is unknown was sent, one time per
        batch, oldest first (the jobs a server made for them are claimed in that order):
        the open ones whose answer was lost, and the closed ones that ended without their job
        being learnt (found DONE elsewhere: their job exists, unnamed); requests of
        ``exclude_names`` left out, and refused ones (no job was made)."""
        names = list(exclude_names)
        skip = f"AND name NOT IN ({','.join('?' * len(names))}) " if names else ""
        with self._lock:
            rows = self._db.execute(
                "SELECT MIN(sent_at) FROM requests WHERE service=? AND job_id IS NULL "
                "AND sent_at IS NOT NULL AND (state IN ('PENDING','UNKNOWN') OR "
                f"(final=1 AND state != 'REFUSED')) {skip}"
                "GROUP BY CASE WHEN batch='' THEN CAST(id AS TEXT) ELSE batch END "
                "ORDER BY 1",
                (service, *names),
            ).fetchall()
        return [float(row[0]) for row in rows]

    def entries(
        self,
        *,
        station_kind: str | None = None,
        station: str | None = None,
        name: str | None = None,
        state: str | None = None,
        open_only: bool = False,
        limit: int | None = None,
    ) -> list[LedgerEntry]:
        """Entries, newest first, filtered by station kind, station, name (``*`` and ``?``
        wildcards), state or openness."""
        clauses, args = self._filters(station_kind=station_kind, station=station, name=name)
        if state is not None:
            clauses.append("state=?")
            args.append(state.upper())
        if open_only:
            clauses.append("final=0")
        where = " AND ".join(clauses) or "1"
        sql = f"SELECT {_COLUMNS} FROM requests WHERE {where} ORDER BY id DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [_entry(row) for row in rows]

    # -- internals -------------------------------------------------------------------------

    @staticmethod
    def _filters(
        *, station_kind: str | None = None, station: str | None = None, name: str | None = None
    ) -> tuple[list[str], list[Any]]:
        clauses: list[str] = []
        args: list[Any] = []
        if station_kind is not None:
            clauses.append("station_kind=?")
            args.append(station_kind.lower())
        if station is not None:
            clauses.append("station=?")
            args.append(station.upper())
        if name is not None:
            if "*" in name or "?" in name:
                clauses.append("name GLOB ?")
            else:
                clauses.append("name=?")
            args.append(name)
        return clauses, args

    def _with_history(self, entry: LedgerEntry) -> LedgerEntry:
        rows = self._db.execute(
            "SELECT at, state, detail FROM events WHERE request_id=? ORDER BY rowid",
            (entry.entry_id,),
        ).fetchall()
        events = tuple(LedgerEvent(float(r[0]), r[1], r[2]) for r in rows)
        return LedgerEntry(
            **{k: getattr(entry, k) for k in _FIELDS if k != "history"}, history=events
        )

    @staticmethod
    def _load(db: sqlite3.Connection, entry_id: int) -> LedgerEntry:
        row = db.execute(f"SELECT {_COLUMNS} FROM requests WHERE id=?", (entry_id,)).fetchone()
        if row is None:
            raise InvalidInputError(f"no ledger entry #{entry_id}")
        return _entry(row)

    @staticmethod
    def _open(db: sqlite3.Connection, scope: LedgerScope, name: str) -> LedgerEntry | None:
        row = db.execute(
            f"SELECT {_COLUMNS} FROM requests WHERE station_kind=? AND station=? AND "
            "service=? AND name=? AND final=0",
            (scope.station_kind, scope.station, scope.service, name),
        ).fetchone()
        return None if row is None else _entry(row)

    def _insert(
        self,
        db: sqlite3.Connection,
        scope: LedgerScope,
        name: str,
        now: float,
        *fields: Any,
    ) -> LedgerEntry:
        """A new PENDING entry; ``fields``: target, call, batch, holder, sent_at."""
        target, call, batch, holder, sent_at = fields
        cursor = db.execute(
            "INSERT INTO requests (station_kind, station, service, generation, name, target, "
            "call, batch, state, holder, created, updated, sent_at) "
            "VALUES (?,?,?,?,?,?,?,?,'PENDING',?,?,?,?)",
            (*_scope_row(scope), name, target, call, batch, holder, now, now, sent_at),
        )
        entry_id = int(cursor.lastrowid or 0)
        self._event(db, entry_id, now, "PENDING", f"to {target}" if target else "")
        return self._load(db, entry_id)

    @staticmethod
    def _event(db: sqlite3.Connection, entry_id: int, at: float, state: str, detail: str) -> None:
        db.execute(
            "INSERT INTO events (request_id, at, state, detail) VALUES (?,?,?,?)",
            (entry_id, at, state, detail),
        )

    def _set(
        self,
        db: sqlite3.Connection,
        entry_id: int,
        now: float,
        state: str,
        reason: str,
        *,
        job_id: str | None = None,
        detail: str = "",
    ) -> LedgerEntry:
        before = self._load(db, entry_id)
        final = state in FINAL_STATES
        if before.final and not final:
            return before  # a finished request does not reopen (another may be open now)
        db.execute(
            "UPDATE requests SET state=?, reason=?, final=?, updated=?, "
            "job_id=COALESCE(?, job_id), holder=CASE WHEN ? THEN NULL ELSE holder END "
            "WHERE id=?",
            (state, reason, int(final), now, job_id, int(final), entry_id),
        )
        changed = (
            before.state != state
            or before.reason != reason
            or (job_id is not None and job_id != before.job_id)
        )
        if changed:
            text = detail or reason or (f"job {job_id}" if job_id else "")
            self._event(db, entry_id, now, state, text)
        return self._load(db, entry_id)


def _scope_row(scope: LedgerScope) -> tuple[str, str, str, str]:
    return (scope.station_kind, scope.station, scope.service, scope.generation)


_FIELDS = tuple(a.name for a in LedgerEntry.__attrs_attrs__)
