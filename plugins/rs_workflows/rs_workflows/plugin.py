"""rs-core plugin module of rs-workflows (entry point ``workflows = "rs_workflows.plugin"``).

It adds the ``rs workflow`` command; nothing here imports Prefect.
"""

from __future__ import annotations

from collections.abc import Iterator

from rs_core.hookspecs import hookimpl
from rs_core.records import CommandType

__all__ = ["rs_register_commands"]


@hookimpl
def rs_register_commands() -> Iterator[CommandType]:
    """Register ``rs workflow``."""
    from rs_workflows import cli

    yield CommandType(
        name="workflow",
        help="run, serve or deploy the Prefect flows (stage sessions, products; publish; check)",
        configure=cli.configure,
        run=cli.run,
    )
