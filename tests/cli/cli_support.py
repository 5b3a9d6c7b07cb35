"""Running ``rs`` as a subprocess, as a user would, with a clean environment."""

from __future__ import annotations

import os
import subprocess
import sys

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
