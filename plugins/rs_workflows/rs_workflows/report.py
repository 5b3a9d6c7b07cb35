"""The per-file report of a flow run: records, a summary, a markdown table, typed errors.

Every file a flow touched ends in one row: its station, what the flow did (``staged``,
``already staged``, ``followed``...), its final state (``DONE``, ``FAILED``, ``REFUSED``,
``UNFINISHED``, ``NOT_READY``, ``UNKNOWN``), whether it is published, and for anything that
went wrong the error type and the reason.

>>> rows = [FileRow("a.raw", "cadip:MTI", state="DONE", action="staged", published="yes"),
...         FileRow("b.raw", "cadip:MTI", state="FAILED", error="StagingError",
...                 reason="disk full")]
>>> summary(rows)
'2 files: 1 done, 1 failed; 1 published'
>>> print(markdown_table(rows).splitlines()[2])
| a.raw | cadip:MTI | staged | DONE | yes |  |
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from attrs import asdict, define

from rs_core.errors import RsError

__all__ = [
    "FileRow",
    "WorkflowError",
    "WorkflowFailedError",
    "markdown_table",
    "summary",
]

FINAL_OK = "DONE"


@define
class FileRow:
    """One file of a flow run."""

    name: str
    station: str
    state: str = "UNFINISHED"
    action: str = ""
    published: str = ""  # "yes", "already", "by staging", "" (not asked) or "no"
    error: str = ""  # the error type (a class name under RsError)
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FileRow:
        """The inverse of :meth:`to_dict`."""
        return cls(**data)

    @property
    def ok(self) -> bool:
        """DONE, and published when publishing was asked."""
        return self.state == FINAL_OK and self.published != "no"


class WorkflowError(RsError):
    """A flow could not do its job; the message says why."""


class WorkflowFailedError(WorkflowError):
    """Some files did not end staged and published; ``rows`` has every file's reason."""

    def __init__(self, message: str, rows: Sequence[FileRow] = ()) -> None:
        super().__init__(message)
        self.rows = list(rows)


def summary(rows: Iterable[FileRow]) -> str:
    """``"N files: a done, b failed...; p published"``."""
    rows = list(rows)
    states = Counter(r.state for r in rows)
    parts = [f"{states.pop(FINAL_OK, 0)} done"]
    parts += [f"{n} {state.lower().replace('_', ' ')}" for state, n in sorted(states.items())]
    published = sum(1 for r in rows if r.published in ("yes", "already", "by staging"))
    return f"{len(rows)} files: {', '.join(parts)}; {published} published"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(rows: Iterable[FileRow], *, limit: int = 1000) -> str:
    """The per-file report as a markdown table (problems first, at most ``limit`` rows)."""
    ordered = sorted(rows, key=lambda r: (r.ok, r.name))
    lines = [
        "| file | station | action | state | published | reason |",
        "|---|---|---|---|---|---|",
    ]
    for row in ordered[:limit]:
        reason = f"{row.error}: {row.reason}" if row.error else row.reason
        lines.append(
            f"| {_cell(row.name)} | {row.station} | {row.action} | {row.state} | "
            f"{row.published} | {_cell(reason)} |"
        )
    if len(ordered) > limit:
        lines.append(f"| ... {len(ordered) - limit} more | | | | | |")
    return "\n".join(lines)


def failure(rows: Sequence[FileRow], flow: str) -> WorkflowFailedError | None:
    """The error a run ends with when a file is not OK, else ``None``."""
    bad = [r for r in rows if not r.ok]
    if not bad:
        return None
    first = "; ".join(
        f"{r.name}: {r.state}{' ' + r.error if r.error else ''} {r.reason}".strip() for r in bad[:3]
    )
    more = f" (+{len(bad) - 3} more)" if len(bad) > 3 else ""
    return WorkflowFailedError(
        f"{flow}: {len(bad)} of {len(rows)} file(s) not staged and published: {first}{more}",
        rows,
    )
