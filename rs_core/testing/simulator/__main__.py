"""``python -m rs_core.testing.simulator [--port N] [--api-key KEY] [--api v1|v2|both]``: run
the simulator (every installed station plugin's fake; ``--api v2``: the RS-Server 0.2/1.0
face, STAC stations and OGC API - Processes staging; ``both``: each fake on every generation
it speaks)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from .auth import ApiKey
from .dataset import Dataset
from .server import serve


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and serve until Ctrl-C / SIGTERM."""
    parser = argparse.ArgumentParser(
        prog="python -m rs_core.testing.simulator",
        description="Run an RS-Server simulator (every installed station plugin's fake, "
        "the catalog) on this machine.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    parser.add_argument(
        "--api-key",
        action="append",
        default=[],
        help="accept this key with every station role (repeatable); none: local mode",
    )
    parser.add_argument("--user-login", default="rsuser", help="user_login of the --api-key keys")
    parser.add_argument("--data", help="folder with <list name>.json files (the fakes' lists)")
    parser.add_argument(
        "--synthetic",
        type=int,
        metavar="N",
        help="serve about N synthetic records per station fake instead of their fixtures",
    )
    parser.add_argument(
        "--api",
        choices=("v1", "v2", "both"),
        default="v1",
        help="v1: RS-Server v1 routes; v2: RS-Server 0.2/1.0 (STAC stations, /processes, "
        "/jobs); both: each fake on every generation it speaks",
    )
    parser.add_argument("--staging-duration", type=float, default=0.2)
    parser.add_argument("--staging-failure-rate", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--relaxed-staging",
        action="store_true",
        help="stage any name of the dataset, even if no search returned it",
    )
    args = parser.parse_args(argv)
    if args.synthetic is not None:
        dataset = Dataset.scaled(args.synthetic, seed=args.seed)
    elif args.data:
        dataset = Dataset.from_folder(args.data)
    else:
        dataset = Dataset.default()
    api_keys = (
        {key: ApiKey.full_access(args.user_login) for key in args.api_key} if args.api_key else None
    )
    serve(
        args.host,
        args.port,
        api_keys=api_keys,
        dataset=dataset,
        staging_duration=args.staging_duration,
        staging_failure_rate=args.staging_failure_rate,
        seed=args.seed,
        require_search_before_staging=not args.relaxed_staging,
        api_version=args.api,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
