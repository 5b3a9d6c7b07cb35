"""A mkdocs hook: the CLI reference page is generated from the ``rs`` parser, so it never drifts.

``docs/cli-reference.md`` holds the marker ``<!-- rs-cli-reference -->``; this hook replaces it
with ``rs --help`` and the help of every sub-command (the catalog's actions included, and the
commands of the plugins installed when the site is built).
"""

from __future__ import annotations

import argparse
import os
from typing import Any

MARKER = "<!-- rs-cli-reference -->"


def _sub_parsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:  # argparse has no public accessor for sub-parsers
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _walk(parser: argparse.ArgumentParser, depth: int = 2) -> list[str]:
    out: list[str] = []
    for sub in _sub_parsers(parser).values():
        out += [f"{'#' * depth} `{sub.prog}`", "", "```text", sub.format_help().rstrip(), "```", ""]
        out += _walk(sub, depth + 1)
    return out


def reference() -> str:
    """The whole reference as Markdown."""
    from rs_core.cli.main import _plugin_commands, build_parser

    os.environ["COLUMNS"] = "96"  # argparse wraps help to the terminal width: fix it
    parser = build_parser(_plugin_commands(["--help"]))
    lines = ["```text", parser.format_help().rstrip(), "```", "", *_walk(parser)]
    return "\n".join(lines)


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    """Replace the marker with the generated reference."""
    return markdown.replace(MARKER, reference()) if MARKER in markdown else markdown
