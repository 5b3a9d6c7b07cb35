"""An RS-Server simulator whose sessions and products are recent (``--since 2d`` finds them).

``rs simulate`` serves the packaged fixtures (2020-2025): a ``--since 2d`` window at the
simulator finds nothing there. The tests run this instead, as a separate process::

    python recent_simulator.py --port 9810 --api v2 --files 40 --sessions 2
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta

from rs_core.testing.simulator import Dataset, serve


def recent_dataset(files: int, sessions: int, products: int = 40, hours: float = 20.0) -> Dataset:
    """Sessions (and AUX products) that start ``hours`` ago."""
    start = datetime.now(UTC) - timedelta(hours=hours)
    return Dataset.synthetic(n_products=products, n_files=files, n_sessions=sessions, start=start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--api", choices=("v1", "v2"), default="v2")
    parser.add_argument("--files", type=int, default=40)
    parser.add_argument("--sessions", type=int, default=2)
    parser.add_argument("--staging-duration", type=float, default=0.2)
    args = parser.parse_args()
    serve(
        "127.0.0.1",
        args.port,
        dataset=recent_dataset(args.files, args.sessions),
        staging_duration=args.staging_duration,
        api_version=args.api,
    )


if __name__ == "__main__":
    main()
