"""Every code block of README.md and docs/ runs, or is marked as not runnable on purpose.

The marker is an HTML comment on the line just before the fence (invisible on the site)::

    <!-- not-run: needs a live RS-Server -->

Python blocks of one page run in order in one interpreter (a page is one session); bash blocks
run one by one with ``bash -euo pipefail``. Both run in a temporary folder against a fresh
RS-Server simulator in cluster mode, with ``RS_SERVER_HREF`` and ``RSPY_APIKEY`` set, as a
reader who ran ``rs simulate --with-api-key ...`` and pasted its exports. Blocks in data
languages (toml, json, yaml, text, output) are not code and are not run.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from rs_core.testing.simulator import ApiKey, RsServerSimulator

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
KEY = "docs-blocks-key-51e0"
RUNNABLE = {"python": "python", "py": "python", "bash": "bash", "sh": "bash", "console": "bash"}
FENCE = re.compile(
    r"^(?P<indent>[ \t]*)```(?P<lang>[\w+-]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$",
    re.MULTILINE | re.DOTALL,
)
MARKER = re.compile(r"<!--\s*not-run:\s*(?P<reason>[^>]*?)\s*-->\s*$")


def blocks(page: Path) -> Iterator[tuple[int, str, str, str | None]]:
    """(line, language, code, not-run reason) of each fenced block of ``page``."""
    text = page.read_text(encoding="utf-8")
    for match in FENCE.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = MARKER.search(before)
        indent = match["indent"]
        body = "\n".join(
            x[len(indent) :] if x.startswith(indent) else x for x in match["body"].splitlines()
        )
        yield line, match["lang"].lower(), body, marker["reason"] if marker else None


def _name(page: Path) -> str:
    return str(page.relative_to(ROOT))


PYTHON_PAGES = [
    p for p in PAGES if any(RUNNABLE.get(b[1]) == "python" and b[3] is None for b in blocks(p))
]
BASH_BLOCKS = [
    pytest.param(p, line, code, id=f"{_name(p)}:{line}")
    for p in PAGES
    for line, lang, code, reason in blocks(p)
    if RUNNABLE.get(lang) == "bash" and reason is None
]


@pytest.fixture
def sim() -> Iterator[RsServerSimulator]:
    with RsServerSimulator(
        api_keys={KEY: ApiKey.full_access("docs_reader")}, staging_duration=0.05
    ) as server:
        yield server


def _env(sim: RsServerSimulator) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("RSPY_", "RS_SERVER", "RS_OWNER"))
    }
    env.update(
        RS_SERVER_HREF=sim.url,
        RSPY_APIKEY=KEY,
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    )
    return env


def _run(
    command: list[str], sim: RsServerSimulator, folder: Path
) -> subprocess.CompletedProcess[str]:
    """Run a block in its own process group: a block that leaves a server behind (or hangs)
    has the whole group ended, so nothing outlives the test."""
    with subprocess.Popen(
        command,
        cwd=folder,
        env=_env(sim),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as proc:
        try:
            out, err = proc.communicate(timeout=110)
        except subprocess.TimeoutExpired:
            out, err = "", "timed out after 110 s"
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
    return subprocess.CompletedProcess(command, proc.returncode, out, err)


def test_markers_give_a_reason() -> None:
    for page in PAGES:
        for line, _lang, _code, reason in blocks(page):
            assert reason != "", f"{_name(page)}:{line}: say why the block is not run"


def test_the_readme_day_of_work_runs() -> None:
    """The README's example is among the blocks run (not marked away)."""
    readme = [b for b in blocks(ROOT / "README.md") if b[3] is None]
    assert any(lang == "python" and "catalog.publish(" in code for _, lang, code, _ in readme)
    assert any(lang == "bash" and "| rs publish" in code for _, lang, code, _ in readme)


@pytest.mark.parametrize("page", PYTHON_PAGES, ids=_name)
def test_python_blocks_run(page: Path, sim: RsServerSimulator, tmp_path: Path) -> None:
    parts = [
        f"# --- {_name(page)}:{line}\n{code}"
        for line, lang, code, reason in blocks(page)
        if RUNNABLE.get(lang) == "python" and reason is None
    ]
    script = tmp_path / "page.py"
    script.write_text("\n".join(parts), encoding="utf-8")
    out = _run([sys.executable, str(script)], sim, tmp_path)
    assert out.returncode == 0, (
        f"a python block of {_name(page)} failed (mark it <!-- not-run: why --> if it cannot "
        f"run):\n{out.stderr[-3000:]}"
    )
    assert KEY not in out.stdout + out.stderr


@pytest.mark.parametrize(("page", "line", "code"), BASH_BLOCKS)
def test_bash_blocks_run(
    page: Path, line: int, code: str, sim: RsServerSimulator, tmp_path: Path
) -> None:
    out = _run(["bash", "-euo", "pipefail", "-c", code], sim, tmp_path)
    assert out.returncode == 0, (
        f"the bash block at {_name(page)}:{line} failed (mark it <!-- not-run: why --> if it "
        f"cannot run):\n{out.stdout[-1500:]}\n{out.stderr[-1500:]}"
    )
