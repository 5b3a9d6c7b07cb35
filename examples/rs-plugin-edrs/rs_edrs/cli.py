"""``rs edrs-types``: the product types the EDRS station serves, one per line (or JSON)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # keep `rs --help` fast: the client is imported when used
    from rs_core import RsClient


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the sub-command's arguments (the global options are already there)."""
    parser.add_argument("--station", default=None, help="station id (default EDRS)")


def run(args: argparse.Namespace, make_client: Callable[[], RsClient]) -> int:
    """List the types; errors are raised as ``rs_core`` errors: ``rs`` reports them."""
    with make_client().get_station_client("edrs", args.station) as edrs:
        types = edrs.product_types(timeout=args.timeout)
    print(json.dumps(types) if args.output == "json" else "\n".join(types))
    return 0
