"""Running ``rs`` as a subprocess, as a user would, with a clean environment."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator

RS = [sys.executable, "-m", "rs_core"]


def rs(
    *args: str,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    timeout: float = 90,
) -> subprocess.CompletedProcess[str]:
    """Run ``rs ARGS`` without the caller's RS-Server settings (only ``env``'s)."""
    full_env = {
        k: v for k, v in os.environ.items() if not k.startswith(("RSPY_", "RS_SERVER", "RS_OWNER"))
    }
    full_env.update(env or {})
    return subprocess.run(
        [*RS, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        check=False,
    )


def completion_env(line: str, answer: str) -> dict[str, str]:
    """The environment argcomplete's shell hook gives ``rs`` to complete ``line``; the
    completions go to the file ``answer``, one a line."""
    return {
        "_ARGCOMPLETE": "1",
        "_ARGCOMPLETE_STDOUT_FILENAME": answer,
        "_ARGCOMPLETE_IFS": "\n",
        "COMP_LINE": line,
        "COMP_POINT": str(len(line)),
    }


@contextlib.contextmanager
def simulate(*args: str, stop: int = signal.SIGINT) -> Iterator[list[str]]:
    """Run ``rs simulate ARGS`` in the background and yield the lines it printed up to its
    ``RS_API_VERSION`` export line (stripped); on leaving, stop it with ``stop`` and assert it
    exits 0 (killed if it does not stop)."""
    proc = subprocess.Popen(
        [*RS, "simulate", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        while not lines or "RS_API_VERSION" not in lines[-1]:
            line = proc.stdout.readline()
            assert line, "rs simulate stopped printing before its export lines"
            lines.append(line.strip())
        yield lines
        proc.send_signal(stop)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
