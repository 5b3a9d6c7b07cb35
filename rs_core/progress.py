"""Optional progress display: tqdm when installed, a plain line on a TTY, else nothing.

>>> bar = make_progress(10, "staging", enabled=False)
>>> bar.update(3); bar.close()
"""

from __future__ import annotations

import sys
import time
from typing import Protocol, TextIO

__all__ = ["Progress", "make_progress"]


class Progress(Protocol):
    """What long operations call; all methods are cheap and safe to call often."""

    def update(self, n: int = 1) -> None: ...
    def set_postfix_str(self, text: str) -> None: ...
    def close(self) -> None: ...


class _Silent:
    def update(self, n: int = 1) -> None:
        pass

    def set_postfix_str(self, text: str) -> None:
        pass

    def close(self) -> None:
        pass


class _Line:
    """A one-line ``\\r`` counter on a terminal, redrawn at most 10 times a second."""

    def __init__(self, total: int, desc: str, stream: TextIO) -> None:
        self.total, self.desc, self.stream = total, desc, stream
        self.count, self.postfix, self._last = 0, "", 0.0

    def update(self, n: int = 1) -> None:
        self.count += n
        self._draw(force=self.count >= self.total)

    def set_postfix_str(self, text: str) -> None:
        self.postfix = text
        self._draw()

    def _draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < 0.1:
            return
        self._last = now
        extra = f" {self.postfix}" if self.postfix else ""
        self.stream.write(f"\r{self.desc}: {self.count}/{self.total}{extra}\x1b[K")
        self.stream.flush()

    def close(self) -> None:
        self._draw(force=True)
        self.stream.write("\n")
        self.stream.flush()


def make_progress(
    total: int, desc: str, *, enabled: bool | None = None, stream: TextIO | None = None
) -> Progress:
    """A progress display for ``total`` steps.

    ``enabled=None`` shows it only when ``stream`` (default stderr) is a terminal.
    """
    out = stream or sys.stderr
    if enabled is None:
        enabled = bool(getattr(out, "isatty", lambda: False)())
    if not enabled:
        return _Silent()
    try:
        from tqdm import tqdm  # type: ignore[import-untyped, unused-ignore]
    except ImportError:
        return _Line(total, desc, out)
    bar: Progress = tqdm(total=total, desc=desc, file=out, leave=True)
    return bar
