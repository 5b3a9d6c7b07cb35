"""A plugin written against the API documented before the plugin API module still works.

``legacy_example_plugin/`` is the out-of-tree example as it was before issue 17 (the
PRIP-like example, its kind renamed ``oldprip`` so that it can coexist with the first-party
PRIP plugin): a client on ``rs_core`` and ``rs_core.rsserver_v1``, a 200-line fake service
installed with ``add_route`` over the kit's fixtures. It is installed as a user would (pip,
non-editable, into a throw-away folder) and its own test suite runs in a subprocess.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

LEGACY = Path(__file__).resolve().parent / "legacy_example_plugin"


def test_the_old_example_plugin_still_passes_its_tests(tmp_path: Path) -> None:
    source = tmp_path / "src"
    shutil.copytree(LEGACY, source)
    site = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(site),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])
    )
    env.pop("RS_API_VERSION", None)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        check=False,
        cwd=source,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    tail = (result.stdout + result.stderr)[-3000:]
    assert result.returncode == 0, f"the old example plugin fails its own tests:\n{tail}"
    assert " passed" in result.stdout and " failed" not in result.stdout, tail
