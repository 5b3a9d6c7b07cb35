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

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, Protocol

from attrs import define, field, frozen

from rs_core.enums import EDownloadStatus
from rs_core.errors import InvalidInputError, NotFoundError, RsError
from rs_core.progress import make_progress

__all__ = [
    "StagingInterrupted",
    "StagingOutcome",
    "StagingReport",
    "StagingStatus",
    "run_stage_and_wait",
]


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

    @property
    def final(self) -> bool:
        """DONE, FAILED, or refused: nothing more will happen to it in this run."""
        return (self.status is not None and self.status.is_final) or (
            bool(self.error) and not self.staged and self.status is None
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
            "error": self.error,
        }


@define
class StagingReport:
    """Every file's outcome, in the order given."""

    outcomes: dict[str, StagingOutcome] = field(factory=dict)
    interrupted: bool = False
    timed_out: bool = False
    elapsed: float = 0.0

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
    def ok(self) -> bool:
        """True when every file is DONE."""
        return bool(self.outcomes) and len(self.done) == len(self.outcomes)

    def summary(self) -> str:
        """``"N files: a done, b failed, c refused, d unfinished"``."""
        text = (
            f"{len(self.outcomes)} files: {len(self.done)} done, {len(self.failed)} failed, "
            f"{len(self.refused)} refused, {len(self.unfinished)} unfinished"
        )
        if self.interrupted:
            text += " (interrupted)"
        elif self.timed_out:
            text += " (deadline reached)"
        return text

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict."""
        return {
            "summary": self.summary(),
            "elapsed": round(self.elapsed, 3),
            "interrupted": self.interrupted,
            "timed_out": self.timed_out,
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


def run_stage_and_wait(
    client: StagingCapable,
    files: Iterable[Any],
    *,
    s3_path: str = "",
    tmp_download_path: str = "",
    concurrency: int = 4,
    poll_interval: float = 0.5,
    poll_max_interval: float = 5.0,
    timeout: float | None = None,
    request_timeout: float | None = None,
    restage: bool = False,
    progress: bool | ProgressCallback | None = None,
    stage_options: Mapping[str, Any] | None = None,
) -> StagingReport:
    """Stage ``files`` (names, or objects with an ``id``) and poll until each is final.

    A client with ``staging_batch(names, ...)`` that returns ``{name: error}`` stages the
    files in one request (RS-Server v2: one job); when it returns ``None`` (or is missing)
    each file gets its own ``staging(name, ...)``. ``stage_options`` are extra keyword
    arguments of those calls (e.g. ``{"collection": "my_coll"}``).

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
    report = StagingReport({n: StagingOutcome(n) for n in names})
    started = time.monotonic()
    deadline = None if timeout is None else started + timeout
    lock = threading.Lock()
    callback = progress if callable(progress) else None
    bar = make_progress(len(names), "staging", enabled=None if progress is True else False)
    counted: set[str] = set()

    def changed(outcome: StagingOutcome) -> None:
        with lock:
            if outcome.final and outcome.name not in counted:
                counted.add(outcome.name)
                bar.update(1)
            if callback is not None:
                callback(outcome, report)

    def needs_staging(name: str) -> bool:
        outcome = report.outcomes[name]
        if not restage:
            try:
                info = client.staging_info(name, timeout=request_timeout)
            except NotFoundError:
                info = None
            except RsError:
                info = None  # cannot tell; staging again is the safe way forward
            if info is not None and info.status is EDownloadStatus.DONE:
                outcome.status, outcome.already_done = info.status, True
                changed(outcome)
                return False
            if info is not None and info.status is EDownloadStatus.IN_PROGRESS:
                outcome.status = info.status  # a previous run's request: follow it
                changed(outcome)
                return False
        return True

    def staged(name: str, error: str | None) -> None:
        outcome = report.outcomes[name]
        if error:
            outcome.error = error
        else:
            outcome.staged = True
            outcome.status = EDownloadStatus.NOT_STARTED
        changed(outcome)

    def start(name: str) -> None:
        try:
            client.staging(
                name,
                s3_path=s3_path,
                tmp_download_path=tmp_download_path,
                timeout=request_timeout,
                **options,
            )
        except RsError as err:
            staged(name, str(err))
            return
        staged(name, None)

    def start_all(todo: list[str]) -> None:
        # One request for many files where the client can (RS-Server v2: one job).
        batch = getattr(client, "staging_batch", None)
        errors = None
        if callable(batch) and todo:
            errors = batch(
                todo,
                s3_path=s3_path,
                tmp_download_path=tmp_download_path,
                timeout=request_timeout,
                **options,
            )
        if errors is None:
            list(pool.map(start, todo))
            return
        for name in todo:
            staged(name, errors.get(name))

    def poll(name: str) -> None:
        outcome = report.outcomes[name]
        try:
            info = client.staging_info(name, timeout=request_timeout)
        except RsError as err:
            outcome.error = f"status unknown: {err}"
            return
        outcome.error = ""
        if info.status is not outcome.status:
            outcome.status, outcome.message = info.status, info.message
            changed(outcome)

    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="rs-staging")
    try:
        wanted = list(pool.map(needs_staging, names))
        start_all([n for n, want in zip(names, wanted, strict=True) if want])
        interval = poll_interval
        while True:
            pending = [n for n, o in report.outcomes.items() if not o.final]
            if not pending:
                break
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                report.timed_out = True
                break
            pause = interval if deadline is None else min(interval, max(0.0, deadline - now))
            time.sleep(pause)
            list(pool.map(poll, pending))
            interval = min(poll_max_interval, interval * 1.5)
    except KeyboardInterrupt:
        report.interrupted = True
        pool.shutdown(wait=False, cancel_futures=True)
        report.elapsed = time.monotonic() - started
        bar.close()
        raise StagingInterrupted(report) from None
    except BaseException:
        # e.g. the progress callback raised: no request of this run may follow the raise
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    bar.close()
    report.elapsed = time.monotonic() - started
    return report


def _names(files: Iterable[Any]) -> list[str]:
    if isinstance(files, str):
        files = [files]
    names: list[str] = []
    seen: set[str] = set()
    for entry in files:
        name = entry if isinstance(entry, str) else getattr(entry, "id", None)
        if not isinstance(name, str) or not name.strip():
            raise InvalidInputError(
                f"Cannot stage {entry!r}: a file name must be a non-empty "
                "string (or an item with an id)"
            )
        if name not in seen:
            seen.add(name)
            names.append(name)
    if not names:
        raise InvalidInputError("stage_and_wait needs at least one file name")
    return names
