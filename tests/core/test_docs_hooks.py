"""The plugin author's guide (``docs/plugins.md``) documents every hook and shows the example
plugin (``examples/rs-plugin-edrs``) as it is, and that plugin stays under 100 lines."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import pytest

from rs_core import hookspecs

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "plugins.md"
EXAMPLE = ROOT / "examples" / "rs-plugin-edrs"
HOOK_HEADING = re.compile(r"^### `(rs_\w+)\(\)`\s*$", re.MULTILINE)


def hook_specs() -> set[str]:
    marker = f"{hookspecs.PROJECT_NAME}_spec"
    return {name for name, obj in vars(hookspecs).items() if hasattr(obj, marker)}


def test_there_are_hooks() -> None:
    assert {"rs_register_stations", "rs_register_catalogs", "rs_register_commands"} <= (
        hook_specs()
    )


@pytest.mark.parametrize("hook", sorted(hook_specs()))
def test_every_hook_is_documented(hook: str) -> None:
    text = GUIDE.read_text()
    assert hook in HOOK_HEADING.findall(text), (
        f"docs/plugins.md has no section '### `{hook}()`': document the hook (what it "
        "yields, the record's fields, an example)"
    )
    assert f"| `{hook}()` |" in text, f"the hooks table of docs/plugins.md lacks {hook}"


def test_no_documented_hook_is_stale() -> None:
    documented = set(HOOK_HEADING.findall(GUIDE.read_text()))
    assert documented <= hook_specs(), (
        f"documented but not in hookspecs: {documented - hook_specs()}"
    )


SHOWN = (
    "pyproject.toml",
    "rs_edrs/__init__.py",
    "rs_edrs/plugin.py",
    "rs_edrs/client.py",
    "rs_edrs/cli.py",
    "tests/conftest.py",
    "tests/test_edrs_contract.py",
)
CODE_BLOCK = re.compile(r"^```\w*\n(.*?)^```", re.S | re.MULTILINE)


@pytest.mark.parametrize("path", SHOWN)
def test_guide_shows_the_example_file_as_it_is(path: str) -> None:
    blocks = CODE_BLOCK.findall(GUIDE.read_text())
    assert (EXAMPLE / path).read_text() in blocks, (
        f"docs/plugins.md does not show examples/rs-plugin-edrs/{path} as it is: copy it "
        "into the guide (the whole file, in one code block)"
    )


def code_lines(source: str) -> int:
    """Lines holding code: not blank, not only a comment, not part of a docstring."""
    docstrings: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                docstrings.update(range(first.lineno, (first.end_lineno or first.lineno) + 1))
    lines: set[int] = set()
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type not in skip and token.type != tokenize.ENDMARKER:
            lines.update(range(token.start[0], token.end[0] + 1))
    return len(lines - docstrings)


def test_code_lines_counts_only_code() -> None:
    source = (
        '"""Doc."""\n\n# a comment\nimport os  # why\n\n\n'
        'def f():\n    """Doc\n    more."""\n    return (\n        1\n    )\n'
    )
    assert code_lines(source) == 5


def test_example_plugin_is_under_100_lines_as_the_guide_says() -> None:
    count = sum(code_lines(p.read_text()) for p in sorted((EXAMPLE / "rs_edrs").glob("*.py")))
    assert count < 100, f"the example plugin grew to {count} lines of code; the guide promises <100"
    said = re.search(r"\*\*(\d+) lines of Python\*\*", GUIDE.read_text())
    assert said is not None and int(said[1]) == count, (
        f"docs/plugins.md states {said[1] if said else 'no'} lines; the example has {count}"
    )
