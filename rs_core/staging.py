"""Stage many files and wait for them: bounded concurrency, polling with backoff, a report.

The engine behind :meth:`rs_core.station.StationClient.stage_and_wait`. It only needs a client
with ``staging(name, ...)`` and ``staging_info(name)``, so every station plugin - and every
server generation - gets the same behaviour:

* every file ends in the report: ``DONE``, ``FAILED`` (with the server's message), refused
  (``error``), or unfinished at the deadline - nothing is silently dropped;
* resumable: a file already ``DONE`` at the server is not staged again, one in progress is
  only followed (``NOT_STARTED`` is staged: v1 servers register every file a search returns
  as ``NOT_STARTED``, so it does not mean a request is pending); a rerun after a crash picks
  up where the last one stopped;
* a status request that fails on the network is retried at the next poll, never read as
  ``FAILED``;
* Ctrl-C stops cleanly: :class:`StagingInterrupted` carries the report of what was done.

>>> report = cadip.stage_and_wait(["a.raw", "b.raw"], tmp_download_path="/data")  # doctest: +SKIP
>>> report.summary()                                                            # doctest: +SKIP
'2 files: 2 done, 0 failed, 0 refused, 0 unfinished'
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, Protocol

from attrs import define, field, frozen

from rs_core.enums import EDownloadStatus
from rs_core.errors import (
    HttpError,
    InvalidInputError,
    RsConnectionError,
    RsError,
    RsTimeoutError,
    StagingError,
)
from rs_core.ledger import LedgerEntry, LedgerScope, StagingLedger, end_run, new_run_id
from rs_core.progress import make_progress

__all__ = [
    "StagingBinding",
    "StagingInterrupted",
    "StagingOutcome",
    "StagingReport",
    "StagingStatus",
    "run_stage_and_wait",
    "staging_inputs",
]

_LOG = logging.getLogger("rs_core.staging")


@frozen
class StagingStatus:
    """One staging status as the server reports it; ``raw`` is the server's own answer."""

    name: str
    status: EDownloadStatus
    message: str = ""
    download_start: datetime | None = None
    download_stop: datetime | None = None
    raw: dict[str, Any] = field(factory=dict, eq=False, repr=False)


@define
class StagingOutcome:
    """What became of one file in :func:`run_stage_and_wait`."""

    name: str
    status: EDownloadStatus | None = None  # last status the server reported
    message: str = ""  # the server's failure message
    staged: bool = False  # this run sent a staging request
    already_done: bool = False  # found DONE at the server: not staged again
    error: str = ""  # why it could not be staged (refused), or the last polling error
    resumed: bool = False  # re-attached to a request of an earlier (or another) run
    lost: bool = False  # its request's answer was lost: being looked for at the server
    cause: BaseException | None = field(default=None, eq=False, repr=False)  # refused: the error

    @property
    def final(self) -> bool:
        """DONE, FAILED, or refused: nothing more will happen to it in this run."""
        return (self.status is not None and self.status.is_final) or (
            bool(self.error) and not self.staged and self.status is None and not self.lost
        )

    @property
    def state(self) -> str:
        """One word: ``DONE``, ``FAILED``, ``REFUSED``, ``UNFINISHED``."""
        if self.status is EDownloadStatus.DONE:
            return "DONE"
        if self.status is EDownloadStatus.FAILED:
            return "FAILED"
        if self.final:
            return "REFUSED"
        return "UNFINISHED"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict."""
        return {
            "name": self.name,
            "state": self.state,
            "status": self.status.value if self.status else None,
            "message": self.message,
            "staged": self.staged,
            "already_done": self.already_done,
            "resumed": self.resumed,
            "lost": self.lost,
            "error": self.error,
        }

    def __str__(self) -> str:
        why = self.message or self.error
        how = " (resumed)" if self.resumed else " (already done)" if self.already_done else ""
        return f"{self.name}: {self.state}{how}" + (f": {why}" if why else "")


@define
class StagingReport:
    """Every file's outcome, in the order given."""

    outcomes: dict[str, StagingOutcome] = field(factory=dict)
    interrupted: bool = False
    timed_out: bool = False
    elapsed: float = 0.0
    polls: int = 0  # status rounds: each asks once per distinct job (v2) or file (v1)

    def _with(self, state: str) -> list[StagingOutcome]:
        return [o for o in self.outcomes.values() if o.state == state]

    @property
    def done(self) -> list[StagingOutcome]:
        """Files that ended DONE (including those found DONE already)."""
        return self._with("DONE")

    @property
    def failed(self) -> list[StagingOutcome]:
        """Files the server reported FAILED."""
        return self._with("FAILED")

    @property
    def refused(self) -> list[StagingOutcome]:
        """Files whose staging request was refused or could not be sent."""
        return self._with("REFUSED")

    @property
    def unfinished(self) -> list[StagingOutcome]:
        """Files not final when the run ended (deadline or interruption)."""
        return self._with("UNFINISHED")

    @property
    def resumed(self) -> list[StagingOutcome]:
        """Files whose request of an earlier run was re-attached to, not sent again."""
        return [o for o in self.outcomes.values() if o.resumed]

    @property
    def ok(self) -> bool:
        """True when every file is DONE."""
        return bool(self.outcomes) and len(self.done) == len(self.outcomes)

    def summary(self) -> str:
        """``"N files: a done, b failed, c refused, d unfinished"``."""
        text = (
            f"{len(self.outcomes)} files: {len(self.done)} done, {len(self.failed)} failed, "
            f"{len(self.refused)} refused, {len(self.unfinished)} unfinished"
        )
        if self.resumed:
            text += f", {len(self.resumed)} resumed"
        if self.interrupted:
            text += " (interrupted)"
        elif self.timed_out:
            text += " (deadline reached)"
        return text

    def __str__(self) -> str:
        lines = [self.summary()]
        lines += [f"  {o}" for o in self.outcomes.values() if o.state != "DONE"]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<StagingReport {self.summary()}>"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict."""
        return {
            "summary": self.summary(),
            "resumed": [o.name for o in self.resumed],
            "elapsed": round(self.elapsed, 3),
            "interrupted": self.interrupted,
            "timed_out": self.timed_out,
            "polls": self.polls,
            "files": [o.to_dict() for o in self.outcomes.values()],
        }


class StagingInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`run_stage_and_wait`; ``report`` says what was done."""

    def __init__(self, report: StagingReport) -> None:
        super().__init__(report.summary())
        self.report = report


class StagingCapable(Protocol):
    """What the engine needs from a client."""

    def staging(
        self,
        filename: str,
        s3_path: str = "",
        tmp_download_path: str = "",
        timeout: float | None = None,
    ) -> Any: ...

    def staging_info(self, filename: str, timeout: float | None = None) -> StagingStatus: ...


ProgressCallback = Callable[[StagingOutcome, StagingReport], None]

SendResult = Any
"""What :meth:`StagingBinding.send` gives per name: a job id (``str``), ``None`` (accepted,
no job: v1), or the :class:`~rs_core.RsError` it met."""


class StagingBinding:
    """How the engine talks to one station: a ledger and its scope, sending and asking.

    :class:`~rs_core.station.StationClient` builds one over its persistent ledger (see
    :meth:`~rs_core.station.StationClient.staging_binding`); for any other client with
    ``staging``/``staging_info`` (and optionally ``staging_batch``), this generic one keeps an
    in-memory ledger.
    """

    def __init__(self, client: Any, ledger: StagingLedger, scope: LedgerScope) -> None:
        self.client = client
        self.ledger = ledger
        self.scope = scope

    def target(self, s3_path: str, tmp_download_path: str, options: Mapping[str, Any]) -> str:
        """What the ledger records as the request's target."""
        return str(options.get("collection") or s3_path or tmp_download_path or "")

    def precheck(self, name: str, timeout: float | None) -> StagingStatus | None:
        """The server's status of a file before it is staged (``None``: unknown)."""
        try:
            info = self.client.staging_info(name, timeout=timeout)
        except RsError:
            return None  # cannot tell (unknown name included): staging is the way forward
        return info if isinstance(info, StagingStatus) else None

    def send(
        self,
        names: list[str],
        *,
        s3_path: str,
        tmp_download_path: str,
        timeout: float | None,
        options: Mapping[str, Any],
        pool: ThreadPoolExecutor,
    ) -> dict[str, SendResult]:
        """Send the staging request(s) of ``names``."""
        batch = getattr(self.client, "staging_batch", None)
        if callable(batch):
            errors = batch(
                names,
                s3_path=s3_path,
                tmp_download_path=tmp_download_path,
                timeout=timeout,
                **options,
            )
            if errors is not None:
                return {
                    n: (StagingError(errors[n]) if errors.get(n) else self._job_of(n))
                    for n in names
                }

        def one(name: str) -> SendResult:
            try:
                answer = self.client.staging(
                    name,
                    s3_path=s3_path,
                    tmp_download_path=tmp_download_path,
                    timeout=timeout,
                    **options,
                )
            except RsError as err:
                return err
            return getattr(answer, "job_id", None)

        return dict(zip(names, pool.map(one, names), strict=True))

    def _job_of(self, name: str) -> str | None:
        finder = getattr(self.client, "staging_job", None)
        job = finder(name) if callable(finder) else None
        return getattr(job, "job_id", None)

    def find_job(self, entries: list[LedgerEntry], timeout: float | None) -> str | None:
        """The job a request whose answer was lost created, if the server shows one."""
        return None

    def file_status(self, name: str, timeout: float | None) -> StagingStatus:
        """One file's status (v1: one request answers for one file)."""
        info: StagingStatus = self.client.staging_info(name, timeout=timeout)
        return info

    def job_status(self, job_id: str, name: str, timeout: float | None) -> StagingStatus:
        """The status of job ``job_id`` (one request for every file of the job)."""
        return self.file_status(name, timeout)


def _ledger_state(status: EDownloadStatus) -> str:
    return status.value


def _is_lost_answer(err: BaseException) -> bool:
    """A failure after which the server may have acted (the answer, not the request, was lost)."""
    return isinstance(err, RsConnectionError | RsTimeoutError) or (
        isinstance(err, HttpError) and err.status in (502, 504)
    )


@define
class _Follow:
    """What the engine follows for one poll key (a job, or a file)."""

    names: list[str]
    job_id: str | None
    first: tuple[float, int] | None = None  # (monotonic time, progress) first seen
    eta: float | None = None  # predicted seconds until the end, from the progress rate


def run_stage_and_wait(
    client: StagingCapable,
    files: Iterable[Any],
    *,
    s3_path: str = "",
    tmp_download_path: str = "",
    concurrency: int = 4,
    poll_interval: float = 0.1,
    poll_max_interval: float = 2.0,
    timeout: float | None = None,
    request_timeout: float | None = None,
    restage: bool = False,
    progress: bool | ProgressCallback | None = None,
    stage_options: Mapping[str, Any] | None = None,
    resume: bool = True,
    binding: StagingBinding | None = None,
) -> StagingReport:
    """Stage ``files`` (names, or objects with an ``id``) and poll until each is final.

    Every request goes through a :class:`~rs_core.ledger.StagingLedger` (``binding``'s; a
    generic client gets an in-memory one): written before it is sent and after every answer.
    With ``resume`` (the default) a request of an earlier run that is still open is
    re-attached to, never sent again: a v2 job is followed, a request whose answer was lost is
    looked for at the server first (v1: the file's status; v2: the staging service's jobs).
    A request another live run follows is only watched.

    A client with ``staging_batch(names, ...)`` that returns ``{name: error}`` stages the
    files in one request (RS-Server v2: one job); when it returns ``None`` (or is missing)
    each file gets its own ``staging(name, ...)``. ``stage_options`` are extra keyword
    arguments of those calls (e.g. ``{"collection": "my_coll"}``).

    Polling sends one status request per distinct job (v2) or file (v1) per poll, first after
    ``poll_interval`` seconds, then at intervals growing 1.5x up to ``poll_max_interval``
    (with 10 % jitter), sooner when a job's progress predicts its end, later when the server
    asks (``Retry-After``).

    ``timeout`` bounds the whole run (seconds; ``None`` waits as long as it takes);
    ``restage=True`` stages again files that are already DONE or in progress.
    ``progress`` is ``True`` (a bar on a terminal), ``False``/``None`` (silent) or a
    callable ``(outcome, report)`` called whenever a file's state changes.
    """
    names = _names(files)
    options = dict(stage_options or {})
    if concurrency < 1:
        raise InvalidInputError(f"concurrency must be >= 1, got {concurrency}")
    if poll_interval <= 0:
        raise InvalidInputError(f"poll_interval must be > 0, got {poll_interval}")
    poll_max_interval = max(poll_max_interval, poll_interval)
    report = StagingReport({n: StagingOutcome(n) for n in names})
    started = time.monotonic()
    deadline = None if timeout is None else started + timeout
    lock = threading.Lock()
    callback = progress if callable(progress) else None
    bar = make_progress(len(names), "staging", enabled=None if progress is True else False)
    counted: set[str] = set()
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="rs-staging")
    run = new_run_id()
    if binding is None:
        binding = _generic_binding(client)
    ledger = binding.ledger
    entry_of: dict[str, LedgerEntry] = {}
    lost_names: dict[str, float] = {}  # answer lost, not found at the server yet: since when

    def changed(outcome: StagingOutcome) -> None:
        with lock:
            if outcome.final and outcome.name not in counted:
                counted.add(outcome.name)
                bar.update(1)
            if callback is not None:
                callback(outcome, report)

    def set_status(name: str, status: EDownloadStatus, message: str = "") -> None:
        outcome = report.outcomes[name]
        outcome.error = ""
        if status is not outcome.status or message != outcome.message:
            outcome.status, outcome.message = status, message
            changed(outcome)

    def write(names_: list[str], state: str, reason: str = "", job_id: str | None = None) -> None:
        ids = [
            entry_of[n].entry_id
            for n in names_
            if n in entry_of
            and (
                entry_of[n].state != state
                or entry_of[n].reason != reason
                or (job_id is not None and entry_of[n].job_id != job_id)
            )
        ]
        if ids:
            for entry in ledger.record_many(ids, state, reason, job_id=job_id):
                entry_of[entry.name] = entry

    def refuse(name: str, err: BaseException | str) -> None:
        text = str(err)
        write([name], "REFUSED", text)
        outcome = report.outcomes[name]
        outcome.error = text
        outcome.cause = err if isinstance(err, BaseException) else None
        changed(outcome)

    try:
        target = binding.target(s3_path, tmp_download_path, options)
        # 1. what earlier runs left: a file DONE in the ledger is not staged again (v1: if
        #    the server still says DONE); no new ledger row for it
        todo: list[str] = []
        confirm: list[str] = []
        for name in names:
            last = None if restage else ledger.latest(binding.scope, name)
            if last is None or not last.final or last.state != "DONE":
                todo.append(name)
            elif last.job_id:
                report.outcomes[name].status = EDownloadStatus.DONE
                report.outcomes[name].already_done = True
                changed(report.outcomes[name])
            else:
                confirm.append(name)
        checks = list(pool.map(lambda n: binding.precheck(n, request_timeout), confirm))
        for name, info in zip(confirm, checks, strict=True):
            if info is not None and info.status is EDownloadStatus.DONE:
                report.outcomes[name].status = EDownloadStatus.DONE
                report.outcomes[name].already_done = True
                changed(report.outcomes[name])
            else:
                todo.append(name)
        order = {name: index for index, name in enumerate(names)}
        todo.sort(key=order.__getitem__)
        # 2. claim: an open request of a live run is watched, one of an ended run taken over
        claims = ledger.claim(binding.scope, todo, target=target, holder=run)
        fresh: list[str] = []  # never sent: check the server, then send
        lost: list[LedgerEntry] = []  # sent by an earlier run, answer unknown
        for entry, mine in claims:
            entry_of[entry.name] = entry
            outcome = report.outcomes[entry.name]
            sent_before = entry.sent_at is not None or entry.state not in ("PENDING",)
            if not mine or (resume and sent_before and entry.state in _FOLLOWED):
                outcome.resumed = True
                if entry.state in _FOLLOWED:
                    outcome.status = EDownloadStatus(entry.state)
                    changed(outcome)
            elif resume and sent_before and entry.state in ("PENDING", "UNKNOWN"):
                outcome.resumed = True
                lost.append(entry)
            else:
                fresh.append(entry.name)
        # 3. requests whose answer was lost: look at the server before sending again
        resend, unsure = _recover(
            binding, lost, timeout=request_timeout, write=write, set_status=set_status
        )
        for name in unsure:  # asked again at each poll round, until the grace ends
            lost_names[name] = time.monotonic()
            report.outcomes[name].lost = True
        # 4. files never sent: a server that knows better (v1 status) is believed
        send: list[str] = list(resend)
        if fresh and not restage:
            checks = list(pool.map(lambda n: binding.precheck(n, request_timeout), fresh))
            for name, info in zip(fresh, checks, strict=True):
                if info is not None and info.status is EDownloadStatus.DONE:
                    write([name], "DONE", detail_of(info))
                    report.outcomes[name].already_done = True
                    set_status(name, info.status, info.message)
                elif info is not None and info.status is EDownloadStatus.IN_PROGRESS:
                    write([name], "IN_PROGRESS", "")  # a request made elsewhere: follow it
                    report.outcomes[name].resumed = True
                    set_status(name, info.status, info.message)
                else:
                    send.append(name)
        else:
            send.extend(fresh)
        # 5. send (written before, recorded after)
        if send:
            batch = uuid.uuid4().hex
            ledger.sending([entry_of[n].entry_id for n in send], batch=batch)
            results = binding.send(
                send,
                s3_path=s3_path,
                tmp_download_path=tmp_download_path,
                timeout=request_timeout,
                options=options,
                pool=pool,
            )
            unknown: list[LedgerEntry] = []
            for name in send:
                result = results.get(name)
                if isinstance(result, BaseException):
                    if _is_lost_answer(result):
                        write([name], "UNKNOWN", str(result))
                        unknown.append(entry_of[name])
                    else:
                        refuse(name, result)
                    continue
                report.outcomes[name].staged = True
                write([name], "NOT_STARTED", "", job_id=result if isinstance(result, str) else None)
                set_status(name, EDownloadStatus.NOT_STARTED)
            for entry in unknown:  # looked for at each poll round (the server may be slow)
                lost_names[entry.name] = time.monotonic()
                report.outcomes[entry.name].lost = True
        # 6. poll: one request per job (v2) or file (v1) per poll
        interval = poll_interval
        follows: dict[str, _Follow] = {}
        while True:
            pending = [n for n, o in report.outcomes.items() if not o.final]
            if not pending:
                break
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                report.timed_out = True
                break
            if lost_names:
                _look_for_lost(
                    binding,
                    lost_names,
                    entry_of,
                    report,
                    timeout=request_timeout,
                    write=write,
                    set_status=set_status,
                    changed=changed,
                )
                pending = [
                    n for n in pending if n not in lost_names and not report.outcomes[n].final
                ]
                if not pending and not lost_names:
                    continue
            _regroup(follows, pending, entry_of, ledger, binding)
            etas = [f.eta for f in follows.values() if f.eta is not None]
            pause = min([interval, *[max(0.02, e) for e in etas]])
            pause *= random.uniform(0.9, 1.1)
            if deadline is not None:
                pause = min(pause, max(0.0, deadline - now))
            time.sleep(pause)
            waits = list(
                pool.map(
                    lambda key: _poll(
                        follows[key],
                        binding,
                        timeout=request_timeout,
                        write=write,
                        set_status=set_status,
                        report=report,
                    ),
                    list(follows),
                )
            )
            report.polls += 1
            interval = min(poll_max_interval, interval * 1.5)
            asked = [w for w in waits if w is not None]
            if asked:
                interval = max(interval, *asked)
    except KeyboardInterrupt:
        report.interrupted = True
        pool.shutdown(wait=False, cancel_futures=True)
        report.elapsed = time.monotonic() - started
        bar.close()
        _release(ledger, run)
        raise StagingInterrupted(report) from None
    except BaseException:
        # e.g. the progress callback raised: no request of this run may follow the raise
        pool.shutdown(wait=True, cancel_futures=True)
        _release(ledger, run)
        raise
    pool.shutdown(wait=True)
    _release(ledger, run)
    bar.close()
    report.elapsed = time.monotonic() - started
    return report


_FOLLOWED = ("NOT_STARTED", "IN_PROGRESS")

LOST_ANSWER_GRACE = 10.0
"""Seconds a request whose answer was lost is looked for at the server (its job, its status)
before the run gives up on it; it is never sent again by that run, and stays open (UNKNOWN)
in the ledger for a later run to look again."""


def _look_for_lost(
    binding: StagingBinding,
    lost_names: dict[str, float],
    entry_of: dict[str, LedgerEntry],
    report: StagingReport,
    *,
    timeout: float | None,
    write: Callable[..., None],
    set_status: Callable[..., None],
    changed: Callable[[StagingOutcome], None],
) -> None:
    """One more look at the server for the requests whose answer was lost."""
    entries = [entry_of[n] for n in lost_names if n in entry_of]
    resend, unsure = _recover(binding, entries, timeout=timeout, write=write, set_status=set_status)
    still = set(resend) | set(unsure)
    now = time.monotonic()
    for name in list(lost_names):
        outcome = report.outcomes[name]
        if name not in still:
            del lost_names[name]  # found: followed from now on
            outcome.lost, outcome.error = False, ""
            continue
        waited = now - lost_names[name]
        outcome.lost = True
        outcome.error = "the staging request's answer was lost; looking for it at the server"
        if waited >= LOST_ANSWER_GRACE:
            del lost_names[name]
            outcome.lost = False
            outcome.error = (
                f"the staging request's answer was lost and the server showed nothing of it "
                f"for {waited:.0f} s; not sent again (a later run looks again): "
                f"{entry_of[name].reason}"
            )
            changed(outcome)  # final now (REFUSED); the ledger keeps it UNKNOWN


def detail_of(info: StagingStatus) -> str:
    """The ledger reason of a status (the server's message)."""
    return info.message


def _release(ledger: StagingLedger, run: str) -> None:
    end_run(run)
    with contextlib.suppress(Exception):  # a closed ledger: the run is over either way
        ledger.release(run)


def _recover(
    binding: StagingBinding,
    lost: list[LedgerEntry],
    *,
    timeout: float | None,
    write: Callable[..., None],
    set_status: Callable[..., None],
) -> tuple[list[str], list[str]]:
    """Find at the server what became of requests whose answer was lost: the names the server
    shows no trace of (send again), and those it could not be asked about."""
    resend: list[str] = []
    unsure: list[str] = []
    batches: dict[str, list[LedgerEntry]] = {}
    for entry in lost:
        if entry.job_id:
            write([entry.name], "NOT_STARTED", "", job_id=entry.job_id)
            set_status(entry.name, EDownloadStatus.NOT_STARTED)
        elif entry.generation == "v2":
            batches.setdefault(entry.batch or f"#{entry.entry_id}", []).append(entry)
        else:
            batches.setdefault(f"#{entry.entry_id}", []).append(entry)
    for group in batches.values():
        names = [e.name for e in group]
        if group[0].generation == "v2":
            try:
                job_id = binding.find_job(group, timeout)
            except RsError as err:
                _LOG.warning("cannot look for the lost staging job of %s: %s", names, err)
                job_id = None
                resend_ok = False
            else:
                resend_ok = True
            if job_id:
                _LOG.info("re-attached to staging job %s (its answer was lost)", job_id)
                write(names, "NOT_STARTED", "", job_id=job_id)
                for name in names:
                    set_status(name, EDownloadStatus.NOT_STARTED)
            elif resend_ok:
                resend.extend(names)
            else:
                unsure.extend(names)
            continue
        name = names[0]
        info = binding.precheck(name, timeout)
        if info is not None and info.status is not EDownloadStatus.NOT_STARTED:
            write([name], _ledger_state(info.status), info.message)
            set_status(name, info.status, info.message)
        elif info is None:
            unsure.append(name)
        else:
            resend.append(name)
    return resend, unsure


def _regroup(
    follows: dict[str, _Follow],
    pending: list[str],
    entry_of: dict[str, LedgerEntry],
    ledger: StagingLedger,
    binding: StagingBinding,
) -> None:
    """One poll key per distinct job (v2) or file (v1) among the pending files."""
    keys: dict[str, tuple[list[str], str | None]] = {}
    for name in pending:
        entry = entry_of.get(name)
        if entry is not None and not entry.job_id and binding.scope.generation == "v2":
            fresh = ledger.latest(binding.scope, name)  # another run may have learnt the job
            if fresh is not None:
                entry_of[name] = entry = fresh
        job_id = entry.job_id if entry is not None else None
        if not job_id and binding.scope.generation == "v2" and entry is not None:
            continue  # another run is sending it: nothing to ask until the ledger has its job
        key = f"job:{job_id}" if job_id else f"file:{name}"
        keys.setdefault(key, ([], job_id))[0].append(name)
    for key in list(follows):
        if key not in keys:
            del follows[key]
    for key, (members, job_id) in keys.items():
        if key in follows:
            follows[key].names = members
        else:
            follows[key] = _Follow(members, job_id)


def _poll(
    follow: _Follow,
    binding: StagingBinding,
    *,
    timeout: float | None,
    write: Callable[..., None],
    set_status: Callable[..., None],
    report: StagingReport,
) -> float | None:
    """One status request for ``follow``; the server's ``Retry-After`` if it sent one."""
    try:
        if follow.job_id:
            info = binding.job_status(follow.job_id, follow.names[0], timeout)
        else:
            info = binding.file_status(follow.names[0], timeout)
    except RsError as err:
        for name in follow.names:
            report.outcomes[name].error = f"status unknown: {err}"
        wait = getattr(err, "retry_after", None)
        return float(wait) if isinstance(wait, int | float) else None
    progress = info.raw.get("progress") if isinstance(info.raw, Mapping) else None
    now = time.monotonic()
    if isinstance(progress, int) and not isinstance(progress, bool) and 0 < progress < 100:
        if follow.first is None:
            follow.first = (now, progress)
        elif progress > follow.first[1]:
            rate = (progress - follow.first[1]) / max(1e-6, now - follow.first[0])
            follow.eta = (100 - progress) / rate
    else:
        follow.eta = None
    state = _ledger_state(info.status)
    write(follow.names, state, info.message if info.status.is_final else "")
    for name in follow.names:
        set_status(name, info.status, info.message)
    return None


def _generic_binding(client: Any) -> StagingBinding:
    maker = getattr(client, "staging_binding", None)
    if callable(maker):
        made = maker()
        if isinstance(made, StagingBinding):
            return made
    scope = LedgerScope(type(client).__name__.lower(), "", f"memory:{id(client)}", "v1")
    return StagingBinding(client, StagingLedger(":memory:"), scope)


def _names(files: Iterable[Any]) -> list[str]:
    names = staging_inputs(files)
    if not names:
        raise InvalidInputError("stage_and_wait needs at least one file name")
    return names


def staging_inputs(files: Any) -> list[str]:
    """The names to stage in anything a user holds, without repeats, in order.

    Accepted: a file name; a :class:`pystac.Item` (or any object with an ``id``); a
    :class:`pystac.ItemCollection` or any iterable of these; a GeoJSON ``Feature`` or
    ``FeatureCollection`` dict; the path of a saved FeatureCollection (a
    :class:`~pathlib.Path`, or a string naming an existing ``.json``/``.geojson`` file); a
    search URL as ``{"href": "https://..."}`` (kept as the URL: RS-Server v2 stages what it
    returns, in one job).

    >>> staging_inputs(["a.raw", {"type": "Feature", "id": "b.raw"}, {"href": "http://h/s"}])
    ['a.raw', 'b.raw', 'http://h/s']
    """
    names: list[str] = []
    seen: set[str] = set()
    for name in _flatten(files):
        if name not in seen:
            seen.add(name)
            names.append(name)
    return names


def _flatten(entry: Any) -> Iterator[str]:
    if isinstance(entry, os.PathLike) or (
        isinstance(entry, str)
        and entry.lower().endswith((".json", ".geojson"))
        and os.path.isfile(entry)
    ):
        yield from _flatten(_load_features(os.fspath(entry)))
        return
    if isinstance(entry, str):
        if not entry.strip():
            raise InvalidInputError("Cannot stage '': a file name must be a non-empty string")
        yield entry
        return
    if isinstance(entry, Mapping):
        if isinstance(entry.get("href"), str) and "type" not in entry:
            href = entry["href"].strip()
            if not href.lower().startswith(("http://", "https://")):
                raise InvalidInputError(f"a search href must be an http(s) URL, got {href!r}")
            yield href
        elif entry.get("type") == "FeatureCollection" and isinstance(entry.get("features"), list):
            for feature in entry["features"]:
                yield from _flatten(feature)
        elif isinstance(entry.get("id"), str) and entry["id"].strip():
            yield entry["id"]
        else:
            raise InvalidInputError(
                f"Cannot stage {_short(entry)}: a dict must be a GeoJSON Feature or "
                "FeatureCollection, or {'href': <search URL>}"
            )
        return
    ident = getattr(entry, "id", None)
    if isinstance(ident, str) and ident.strip():
        yield ident
        return
    if isinstance(entry, Iterable):
        for inner in entry:
            yield from _flatten(inner)
        return
    raise InvalidInputError(
        f"Cannot stage {_short(entry)}: give file names, items with an id, an ItemCollection, "
        "a FeatureCollection (or its file) or {'href': <search URL>}"
    )


def _load_features(path: str) -> Any:
    try:
        with open(path, encoding="utf-8") as stream:
            body = json.load(stream)
    except (OSError, ValueError) as err:
        raise InvalidInputError(f"Cannot read the FeatureCollection file {path!r}: {err}") from err
    if not isinstance(body, Mapping) or body.get("type") not in ("FeatureCollection", "Feature"):
        raise InvalidInputError(f"{path!r} is not a GeoJSON FeatureCollection")
    return body


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
