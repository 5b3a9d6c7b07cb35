"""The code blocks of docs/testing.md run (the complete test file is run as the example
plugin's tests, ``examples/rs-plugin-edrs/tests``)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "testing.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```", DOC.read_text(), re.S | re.M)
RUNNABLE = [b for b in BLOCKS if "class TestEdrsContract" not in b]


def test_the_page_has_its_examples() -> None:
    assert len(RUNNABLE) >= 4 and len(BLOCKS) == len(RUNNABLE) + 1


@pytest.mark.parametrize("block", RUNNABLE, ids=[b.splitlines()[0][:40] for b in RUNNABLE])
def test_block_runs(block: str, capsys: pytest.CaptureFixture[str]) -> None:
    exec(compile(block, str(DOC), "exec"), {"__name__": "docs_testing"})
    assert "Traceback" not in capsys.readouterr().err
