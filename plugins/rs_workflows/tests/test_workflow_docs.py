"""docs/workflows.md says what the code does: every option of every flow is in its table, and
every ``rs workflow`` command line of the page parses with the real ``rs`` parser.

The page's shell blocks need a live RS-Server or Prefect server (they are parsed here, not
run); its Python block is run by the flow tests in spirit (``stage_products(...)`` with a
window, a collection and a report) and imported here.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from rs_workflows.specs import FLOWS

PAGE = Path(__file__).resolve().parents[3] / "docs" / "workflows.md"
BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.MULTILINE)


def _section(text: str, flow: str) -> str:
    start = text.index(f"### `{flow}`")
    end = text.find("\n## ", start)
    nxt = text.find("\n### ", start + 1)
    stops = [i for i in (end, nxt) if i != -1]
    return text[start : min(stops) if stops else len(text)]


@pytest.mark.parametrize("flow", FLOWS, ids=lambda f: f.name)
def test_every_option_is_in_the_flows_table(flow: object) -> None:
    section = _section(PAGE.read_text(), flow.name)  # type: ignore[attr-defined]
    for option in flow.options:  # type: ignore[attr-defined]
        assert f"| `{option.flag}` | `{option.dest}` |" in section, option.flag


def _command_lines() -> list[list[str]]:
    lines: list[list[str]] = []
    for lang, body in BLOCK.findall(PAGE.read_text()):
        if lang != "bash":
            continue
        for line in body.replace("\\\n", " ").splitlines():
            command = line.split("#", 1)[0].strip()
            if command.startswith("rs workflow"):
                lines.append(shlex.split(command)[1:])
    return lines


def test_the_page_shows_commands() -> None:
    assert len(_command_lines()) >= 4


@pytest.mark.parametrize("argv", _command_lines(), ids=lambda a: " ".join(a[:3]))
def test_every_command_line_of_the_page_parses(argv: list[str]) -> None:
    from rs_core.cli.main import _plugin_commands, build_parser

    parser = build_parser(_plugin_commands(argv))
    args = parser.parse_args(argv)
    assert args.command == "workflow"


def test_the_python_example_names_a_real_flow_and_report_fields() -> None:
    from rs_workflows import flows
    from rs_workflows.report import FileRow

    python = [body for lang, body in BLOCK.findall(PAGE.read_text()) if lang == "python"]
    assert python
    for name in re.findall(r"from rs_workflows.flows import (\w+)", "\n".join(python)):
        assert callable(getattr(flows, name))
    for field in re.findall(r'row\["(\w+)"\]', "\n".join(python)):
        assert field in FileRow.__annotations__


def test_the_page_shows_the_done_when_command_the_cli_test_runs() -> None:
    from test_workflow_cli import DONE_WHEN

    text = PAGE.read_text()
    assert "rs " + " ".join(DONE_WHEN) in text
    assert "rs simulate --recent" in text
