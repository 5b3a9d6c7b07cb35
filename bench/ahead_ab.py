"""The v2 search with and without asking for the next page ahead (``ahead`` in
``StationProtocolV2.iter_features``), in one process, interleaved with the floor: the search
alone (held, no item built) and every item consumed, medians::

    .venv/bin/python bench/ahead_ab.py --size 50000 --rounds 5
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from typing import Any

from peers import PAGE, START, STOP, _floor  # bench/ is the script's folder: first on sys.path
from run import simulator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=50_000, help="AUX products (files)")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    from rs_auxip import AuxipClient

    import rs_core.rsserver_v2 as v2

    with_ahead = v2.StationProtocolV2.iter_features

    def without_ahead(self: Any, *pos: Any, **named: Any) -> Any:
        return with_ahead(self, *pos, **{**named, "ahead": None})

    times: dict[str, list[float]] = {}
    with simulator(api_version="v2", products=args.size, files=10, sessions=1) as sim:
        url, key, owner = sim["url"], sim["api_key"], sim["owner"]

        def ours(ahead: bool, build: bool) -> float:
            v2.StationProtocolV2.iter_features = with_ahead if ahead else without_ahead  # type: ignore[method-assign]
            client = AuxipClient(url, key, owner, api_version="v2")
            gc.collect()
            started = time.perf_counter()
            found = client.search_stations(START, STOP, page_size=PAGE, max_items=args.size)
            if build:
                for item in found:
                    item.id  # noqa: B018 - every item built
            return time.perf_counter() - started

        def floor() -> float:
            gc.collect()
            started = time.perf_counter()
            _floor(url, key, args.size)
            return time.perf_counter() - started

        ours(True, True)  # warm-up
        try:
            for _ in range(args.rounds):
                times.setdefault("floor", []).append(floor())
                for ahead in (True, False):
                    for build in (False, True):
                        name = f"{'ahead' if ahead else 'no ahead'}, {'items' if build else 'held'}"
                        times.setdefault(name, []).append(ours(ahead, build))
        finally:
            v2.StationProtocolV2.iter_features = with_ahead  # type: ignore[method-assign]
    floor_median = statistics.median(times["floor"])
    print(f"{args.size:,} items, {args.rounds} rounds (medians)")
    for name, values in times.items():
        value = statistics.median(values)
        print(f"  {name:18s} {value:6.2f} s  {value / floor_median:5.2f}x the floor")


if __name__ == "__main__":
    main()
