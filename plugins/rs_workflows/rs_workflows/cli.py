"""``rs workflow``: run a flow here, serve flows, or deploy them to a Prefect server.

::

    rs workflow list
    rs workflow run stage-sessions --station MTI --since 2d --collection s1_cadu
    rs workflow serve stage-sessions --station MTI --since last --collection s1_cadu \\
        --interval 600
    rs workflow deploy stage-sessions --station MTI --since last --collection s1_cadu \\
        --pool rs-workers --cron "*/10 * * * *"

``run`` uses the Prefect server of ``PREFECT_API_URL`` when set, else Prefect's temporary
local one (SQLite under ``PREFECT_HOME``). ``serve`` and ``deploy`` need ``PREFECT_API_URL``
for a lasting server (``serve`` works without it, for a try). This module imports Prefect
only when a workflow command runs: ``rs --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from typing import Any

from rs_core.errors import ConfigurationError, InvalidInputError
from rs_workflows.specs import FLOWS, FlowSpec, Option, flow_spec

__all__ = ["configure", "run"]

PORTS_ENV = "RS_WORKFLOWS_SERVER_PORTS"
"""``first-last``: the ports Prefect's temporary local server may take (default Prefect's)."""


def _add_option(parser: argparse.ArgumentParser, option: Option) -> None:
    kwargs: dict[str, Any] = {"dest": option.dest, "help": option.help}
    if option.switch:
        kwargs["action"] = "store_true" if option.default is False else "store_false"
        kwargs["default"] = option.default
    elif option.multiple:
        kwargs.update(action="append", type=option.type, default=None)
    else:
        kwargs.update(type=option.type, default=option.default, required=option.required)
    parser.add_argument(option.flag, **kwargs)


def _flow_parsers(
    action: argparse.ArgumentParser, extra: Callable[[argparse.ArgumentParser], None] | None
) -> None:
    flows = action.add_subparsers(dest="flow", metavar="FLOW", required=True)
    for spec in FLOWS:
        p = flows.add_parser(spec.name, help=spec.help, description=spec.help)
        for option in spec.options:
            _add_option(p, option)
        if extra is not None:
            extra(p)


def _schedule_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("deployment")
    group.add_argument(
        "--name",
        dest="deployment_name",
        help="deployment name (default: the flow's name and station)",
    )
    when = group.add_mutually_exclusive_group()
    when.add_argument("--cron", help="schedule: a cron expression (UTC)")
    when.add_argument("--interval", type=float, help="schedule: every N seconds")


def _deploy_options(parser: argparse.ArgumentParser) -> None:
    _schedule_options(parser)
    parser.add_argument("--pool", required=True, help="work pool (type process) of the workers")


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``list``, ``run``, ``serve`` and ``deploy`` to ``rs workflow``."""
    actions = parser.add_subparsers(dest="workflow_action", metavar="ACTION", required=True)
    actions.add_parser("list", help="the flows and their parameters")
    _flow_parsers(actions.add_parser("run", help="run a flow now, in this process"), None)
    _flow_parsers(
        actions.add_parser("serve", help="serve flows with a schedule until Ctrl-C"),
        _schedule_options,
    )
    _flow_parsers(
        actions.add_parser("deploy", help="register a deployment on the Prefect server"),
        _deploy_options,
    )


def flow_parameters(spec: FlowSpec, args: argparse.Namespace) -> dict[str, Any]:
    """The flow's parameters from parsed arguments (only those given or with a default)."""
    params: dict[str, Any] = {}
    for option in spec.options:
        value = getattr(args, option.dest, None)
        if value is not None:
            params[option.dest] = value
    return params


def _export_connection(args: argparse.Namespace) -> None:
    """The global options reach the flow's clients through this process's environment."""
    for attr, env in (
        ("href", "RS_SERVER_HREF"),
        ("api_key", "RSPY_APIKEY"),
        ("owner", "RS_OWNER_ID"),
        ("api_version", "RS_API_VERSION"),
    ):
        value = getattr(args, attr, None)
        if value:
            os.environ[env] = str(value)
    if getattr(args, "timeout", None):
        os.environ["RS_TIMEOUT"] = str(args.timeout)


def prepare_prefect(quiet: bool = False) -> None:
    """Prefect settings for a run from ``rs``: no telemetry, the port range, the log level."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    # One line per task run is too much for hundreds of files; the flow's own lines stay.
    os.environ.setdefault("PREFECT_LOGGING_LOGGERS_PREFECT_TASK_RUNS_LEVEL", "WARNING")
    if not os.environ.get("PREFECT_API_URL"):
        # The temporary server's shutdown races its event flush and logs tracebacks for it.
        os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "CRITICAL")
    if quiet:
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    ports = os.environ.get(PORTS_ENV, "").strip()
    if ports:
        try:
            first, last = (int(p) for p in ports.split("-", 1))
        except ValueError as err:
            raise ConfigurationError(f"{PORTS_ENV} must be FIRST-LAST, got {ports!r}") from err
        from prefect.server.api.server import SubprocessASGIServer

        SubprocessASGIServer._port_range = range(first, last + 1)


def precheck(spec: FlowSpec, params: dict[str, Any]) -> None:
    """Fail on a bad station or window before Prefect starts (usage errors, exit 2)."""
    from rs_workflows.connect import resolve_station
    from rs_workflows.window import check_window

    capability = {"stage-sessions": "sessions", "stage-products": "staging"}.get(spec.name)
    resolve_station(params.get("kind"), params.get("station"), capability=capability)
    if not params.get("files"):
        check_window(params.get("since"), params.get("start"), params.get("stop"))
    for name in ("concurrency", "max_items"):
        if name in params and params[name] < 1:
            raise InvalidInputError(f"--{name.replace('_', '-')} must be >= 1, got {params[name]}")
    for name in ("timeout", "poll_interval"):
        if name in params and params[name] <= 0:
            raise InvalidInputError(f"--{name.replace('_', '-')} must be > 0, got {params[name]}")


def run(args: argparse.Namespace, make_client: Callable[[], Any]) -> int:
    """``rs workflow ...``: dispatch the action."""
    action = args.workflow_action
    if action == "list":
        return _list(args)
    spec = flow_spec(args.flow)
    params = flow_parameters(spec, args)
    precheck(spec, params)
    _export_connection(args)
    prepare_prefect(quiet=bool(getattr(args, "quiet", False)))
    from rs_workflows import runner

    if action == "run":
        return runner.run_flow(spec, params, output=getattr(args, "output", "table"))
    if action == "serve":
        return runner.serve_flow(
            spec, params, name=args.deployment_name, cron=args.cron, interval=args.interval
        )
    return runner.deploy_flow(
        spec,
        params,
        name=args.deployment_name,
        cron=args.cron,
        interval=args.interval,
        pool=args.pool,
    )


def _list(args: argparse.Namespace) -> int:
    if getattr(args, "output", "table") != "table":
        listed = [
            {
                "name": s.name,
                "help": s.help,
                "parameters": [
                    {"option": o.flag, "name": o.dest, "help": o.help, "required": o.required}
                    for o in s.options
                ],
            }
            for s in FLOWS
        ]
        print(json.dumps(listed, indent=2))
        return 0
    for spec in FLOWS:
        print(f"{spec.name}: {spec.help}")
        for option in spec.options:
            mark = " (required)" if option.required else ""
            print(f"    {option.flag:<20} {option.help}{mark}")
    sys.stdout.flush()
    return 0
