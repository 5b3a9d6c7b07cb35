"""Run, serve and deploy the flows for ``rs workflow`` (imports Prefect)."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from rs_core.errors import ConfigurationError, RsError
from rs_workflows import flows
from rs_workflows.report import FileRow, WorkflowFailedError, markdown_table, summary
from rs_workflows.specs import FlowSpec

__all__ = ["deploy_flow", "deployment_name", "run_flow", "serve_flow"]

_USAGE = ("InvalidInputError", "UnknownStationError", "UnknownKindError", "ConfigurationError")


def deployment_name(spec: FlowSpec, params: dict[str, Any], name: str | None) -> str:
    """``name``, else ``<station or kind>-<collection>``.

    >>> from rs_workflows.specs import flow_spec
    >>> deployment_name(flow_spec("stage-sessions"), {"station": "MTI",
    ...                 "collection": "s1_cadu"}, None)
    'mti-s1_cadu'
    """
    if name:
        return name
    where = params.get("station") or params.get("kind") or spec.name
    return f"{where}-{params.get('collection', '')}".strip("-").lower()


def run_flow(spec: FlowSpec, params: dict[str, Any], *, output: str = "table") -> int:
    """Run one flow in this process; print its per-file report; the exit code."""
    function = getattr(flows, spec.function)
    state = function(**params, return_state=True)
    result = state.result(raise_on_failure=False)
    rows: list[FileRow]
    if isinstance(result, dict):
        rows = [FileRow.from_dict(r) for r in result.get("files", [])]
        report: dict[str, Any] = result
        code = 0
    elif isinstance(result, WorkflowFailedError):
        rows = result.rows
        report = {
            "flow": spec.name,
            "summary": summary(rows),
            "error": str(result),
            "files": [r.to_dict() for r in rows],
        }
        code = 1
    else:
        error = result if isinstance(result, BaseException) else RuntimeError(str(result))
        name = type(error).__name__
        print(f"rs: error: {spec.name}: {error}", file=sys.stderr)
        if isinstance(error, RsError):
            usage = any(cls.__name__ in _USAGE for cls in type(error).__mro__)
            return 2 if usage else 1
        print(f"rs: the flow ended {state.type.value} ({name})", file=sys.stderr)
        return 1
    if output == "table":
        if rows:
            print(markdown_table(rows))
        print(f"{spec.name}: {report['summary']}", file=sys.stderr)
        if code:
            print(f"rs: error: {report['error']}", file=sys.stderr)
    elif output == "ndjson":
        for row in rows:
            print(json.dumps(row.to_dict()))
    else:
        print(json.dumps(report, indent=2, default=str))
    return code


def serve_flow(
    spec: FlowSpec,
    params: dict[str, Any],
    *,
    name: str | None,
    cron: str | None,
    interval: float | None,
) -> int:
    """Serve one flow as a deployment (with its schedule) until Ctrl-C."""
    from prefect import serve

    function = getattr(flows, spec.function)
    deployment = function.to_deployment(
        name=deployment_name(spec, params, name),
        parameters=params,
        cron=cron,
        interval=interval,
    )
    serve(deployment)
    return 0


def deploy_flow(
    spec: FlowSpec,
    params: dict[str, Any],
    *,
    name: str | None,
    cron: str | None,
    interval: float | None,
    pool: str,
) -> int:
    """Register a deployment on the server of ``PREFECT_API_URL`` for the workers of ``pool``.

    The workers import the flow from their installed rs-workflows (no code upload) and
    connect to RS-Server with their own environment or profile.
    """
    if not os.environ.get("PREFECT_API_URL"):
        raise ConfigurationError(
            "rs workflow deploy needs a Prefect server: set PREFECT_API_URL "
            "(e.g. http://127.0.0.1:4200/api)"
        )
    from prefect.deployments.runner import EntrypointType  # type: ignore[attr-defined]

    function = getattr(flows, spec.function)
    deployment_id = function.deploy(
        name=deployment_name(spec, params, name),
        work_pool_name=pool,
        build=False,
        push=False,
        parameters=params,
        cron=cron,
        interval=interval,
        entrypoint_type=EntrypointType.MODULE_PATH,
        ignore_warnings=True,
        print_next_steps=False,
    )
    print(f"{spec.name}/{deployment_name(spec, params, name)} {deployment_id}")
    return 0
