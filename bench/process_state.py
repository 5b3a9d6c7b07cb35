"""How what a process already holds moves the ``peers`` search rows: the floor and "ours: items"
timed in pairs in a fresh process, with pystac-client's search result kept, then with the
official client's kept as well (what a reused peer client keeps in its item cache, and what
``bench/peers.py`` timed next to before its variants let their clients go), then once they are
let go; with the cyclic collector's time and passes (``gc.callbacks``) and the number of
objects it tracks before each variant (after a full collection, as ``bench/run.py`` does)::

    .venv/bin/python bench/process_state.py --size 50000

The collector runs a full pass only once the objects that survived since the last one are a
quarter of those it already holds: the more a process holds, the rarer the floor's full passes
(each over everything held), while a variant that keeps most of what it makes, as building
50,000 items does, still pays its pass, over everything held.
"""

from __future__ import annotations

import argparse
import gc
import time
from typing import Any

from peers import PAGE, _search_variants  # bench/ is the script's folder: first on sys.path
from run import prepare, release, simulator


class _Collector:
    """Time spent in the cyclic collector and passes per generation, while installed."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.passes = [0, 0, 0]
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started
            self.passes[info["generation"]] += 1


def _timed(variant: Any, keep: list[Any] | None = None) -> tuple[float, _Collector, int]:
    prepare(variant)
    gc.collect()
    tracked = len(gc.get_objects())
    collector = _Collector()
    gc.callbacks.append(collector)
    try:
        started = time.perf_counter()
        result = variant()
        wall = time.perf_counter() - started
    finally:
        gc.callbacks.remove(collector)
    if keep is not None:
        keep.append(result)
    del result
    return wall, collector, tracked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=50_000, help="AUX products (files)")
    parser.add_argument("--pairs", type=int, default=2, help="floor/ours pairs per phase")
    args = parser.parse_args()
    with simulator(api_version="v2", products=args.size, files=10, sessions=1) as sim:
        variants = _search_variants(sim, args.size)
        for warm in _search_variants(sim, min(args.size, PAGE)).values():
            warm()  # imports, first requests
        print(f"{args.size:,} items; wall s, collector s, passes per generation, tracked before")
        kept: list[Any] = []
        for phase, before in (
            ("fresh", None),
            ("kept", "pystac-client"),
            ("kept", "official 0.2"),
            ("let go", ""),
        ):
            if before == "":
                kept.clear()
                release(variants["pystac-client"])
            elif before is not None:
                wall, collector, tracked = _timed(variants[before], kept)
                print(f"  {before:14s} {wall:6.2f} {collector.seconds:5.2f} "
                      f"{collector.passes} {tracked:,}")  # fmt: skip
            ratios = []
            for _ in range(args.pairs):
                pair = {}
                for name in ("floor", "ours: items"):
                    wall, collector, tracked = _timed(variants[name])
                    pair[name] = wall
                    print(f"  {name:14s} {wall:6.2f} {collector.seconds:5.2f} "
                          f"{collector.passes} {tracked:,}")  # fmt: skip
                ratios.append(pair["ours: items"] / pair["floor"])
            where = phase if not before else f"{phase}: {before}"
            print(f"{where}: ours / floor " + ", ".join(f"{r:.2f}x" for r in ratios))


if __name__ == "__main__":
    main()
