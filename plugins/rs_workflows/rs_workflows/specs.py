"""What each flow takes: one table that the ``rs workflow`` command line and the docs share.

Light on purpose (no Prefect import): ``rs --help`` builds its parser from it.

>>> [f.name for f in FLOWS]
['stage-sessions', 'stage-products', 'publish-staged', 'check-collection']
>>> flow_spec("stage-sessions").function
'stage_sessions'
"""

from __future__ import annotations

from attrs import field, frozen

from rs_core.errors import InvalidInputError

__all__ = ["FLOWS", "FlowSpec", "Option", "flow_spec"]


@frozen
class Option:
    """One flow parameter: its ``--flag``, Python name, type and help."""

    flag: str
    dest: str
    help: str
    type: type = str
    default: object = None
    multiple: bool = False
    required: bool = False
    switch: bool = False  # a boolean flag: present means True (or False for --no-...)


_CONNECTION = (
    Option(
        "--profile",
        "profile",
        "rs-client profile to connect with (credentials come from it or the environment "
        "of the process running the flow, never from a flow parameter)",
    ),
    Option(
        "--api-key-block",
        "api_key_block",
        "name of a Prefect Secret block holding the API key (instead of RSPY_APIKEY)",
    ),
)
_WINDOW = (
    Option("--since", "since", "window up to now: 2d, 12h, 30m, or 'last' (since the last run)"),
    Option("--start", "start", "window start (ISO 8601, or -2h, yesterday...)"),
    Option("--stop", "stop", "window stop (default: now)"),
)
_STAGING = (
    Option(
        "--s3-path",
        "s3_path",
        "where RS-Server v1 stages the files (default s3://rs-workflows/<collection>); "
        "v2 stages into the collection",
    ),
    Option("--concurrency", "concurrency", "staging requests at once per station", int, 4),
    Option("--timeout", "timeout", "seconds to wait for the staging to end", float, 3600.0),
    Option("--poll-interval", "poll_interval", "first pause between status polls", float, 1.0),
    Option("--restage", "restage", "stage again files staged before", bool, False, switch=True),
    Option("--no-publish", "publish", "stage only, do not publish", bool, True, switch=True),
)
_STATION = (
    Option("--kind", "kind", "station kind (a plugin's kind: cadip, auxip, prip...)"),
    Option("--station", "station", "station id (default: the kind's first)"),
)


@frozen
class FlowSpec:
    """A flow: its command-line name, its function in :mod:`rs_workflows.flows`, options."""

    name: str
    function: str
    help: str
    options: tuple[Option, ...] = field(factory=tuple)


FLOWS: tuple[FlowSpec, ...] = (
    FlowSpec(
        "stage-sessions",
        "stage_sessions",
        "stage every file of the sessions of a window (waiting for their readiness) and "
        "publish them",
        (
            Option(
                "--station",
                "station",
                "station id (a station of a kind with sessions)",
                required=True,
            ),
            Option(
                "--kind", "kind", "station kind (default: the kind with sessions serving --station)"
            ),
            *_WINDOW,
            Option(
                "--platform",
                "platforms",
                "keep sessions of this platform (repeatable)",
                multiple=True,
            ),
            Option(
                "--collection", "collection", "catalog collection to publish into", required=True
            ),
            Option(
                "--allow-incomplete",
                "require_complete",
                "stage sessions not complete at the end of the wait too",
                bool,
                True,
                switch=True,
            ),
            Option(
                "--ready-timeout",
                "ready_timeout",
                "seconds to wait for sessions to be complete (0: do not wait)",
                float,
                600.0,
            ),
            *_STAGING,
            *_CONNECTION,
        ),
    ),
    FlowSpec(
        "stage-products",
        "stage_products",
        "stage the files of any station kind matching a search and publish them",
        (
            Option("--kind", "kind", "station kind (auxip, prip...)", required=True),
            Option("--station", "station", "station id (default: the kind's first)"),
            *_WINDOW,
            Option(
                "--source-collection",
                "source_collection",
                "the station's collection to search (RS-Server v2)",
            ),
            Option("--filter", "filter", "CQL2 text filter (RS-Server v2)"),
            Option("--max-items", "max_items", "stage at most this many files", int),
            Option(
                "--collection", "collection", "catalog collection to publish into", required=True
            ),
            *_STAGING,
            *_CONNECTION,
        ),
    ),
    FlowSpec(
        "publish-staged",
        "publish_staged",
        "publish into a collection the files of a window (or named) that are staged",
        (
            *_STATION,
            *_WINDOW,
            Option(
                "--file", "files", "a file name (repeatable; instead of a window)", multiple=True
            ),
            Option(
                "--collection", "collection", "catalog collection to publish into", required=True
            ),
            Option(
                "--s3-path",
                "s3_path",
                "where the files were staged (default s3://rs-workflows/<collection>)",
            ),
            *_CONNECTION,
        ),
    ),
    FlowSpec(
        "check-collection",
        "check_collection",
        "compare a catalog collection with what the station holds: missing and extra files",
        (
            *_STATION,
            *_WINDOW,
            Option("--collection", "collection", "catalog collection to check", required=True),
            *_CONNECTION,
        ),
    ),
)


def flow_spec(name: str) -> FlowSpec:
    """The flow called ``name`` (its command-line name, or its function name)."""
    for spec in FLOWS:
        if name in (spec.name, spec.function):
            return spec
    raise InvalidInputError(
        f"unknown flow {name!r}; flows: {', '.join(spec.name for spec in FLOWS)}"
    )
