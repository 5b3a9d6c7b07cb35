"""What building one v2 AUXIP file item costs, stage by stage: CPU per file (the collector
off, features decoded from the simulator's pages, each stage over every file, min and median
of the rounds) and the Python bytecodes run per file while a search result is iterated
(counted with ``sys.settrace``: the same figure on any machine, whatever its load)::

    .venv/bin/python bench/build_cost.py --size 10000 --rounds 7
    .venv/bin/python bench/build_cost.py --size 2000 --no-stages --top 20   # the count only

The stages are those of a v2 file search's build (``_ExplodedBuilder`` with a fresh
``ItemBuilder``): ``explode`` (the plugin's ``explode``: the file's feature made from the
item), ``isolate`` (``_isolated_in_place``: defaults, copies, timestamps), ``migrate``
(pystac's migration in place), ``assemble`` (the item's objects); ``whole`` is the last
three in one call (``build_item(_isolated_in_place(...))``).
"""

from __future__ import annotations

import argparse
import collections
import gc
import json
import statistics
import sys
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from peers import PAGE, START, STOP  # bench/ is the script's folder: first on sys.path
from run import simulator


def _pages(sim: dict[str, Any], size: int) -> list[dict[str, Any]]:
    """Every v2 item the simulator holds, decoded, as the floor reads them."""
    import requests

    features: list[dict[str, Any]] = []
    url: str | None = f"{sim['url']}/auxip/collections/adgs/items?limit={PAGE}"
    with requests.Session() as session:
        while url and len(features) < size:
            answer = session.get(url, headers={"x-api-key": sim["api_key"]}, timeout=60).json()
            features += answer["features"]
            url = next((k["href"] for k in answer.get("links", []) if k["rel"] == "next"), None)
    return features[:size]


def stages(sim: dict[str, Any], size: int, rounds: int) -> dict[str, list[float]]:
    """Seconds per file of each stage, one figure per round."""
    from rs_auxip.protocol_v2 import AdgsProtocolV2

    from rs_core.items import _assembler, _made, _migrate_in_place, build_item
    from rs_core.rsserver_v1 import _isolated_in_place

    text = json.dumps(_pages(sim, size))
    explode, assemble = AdgsProtocolV2.explode, _assembler() or _made
    times: dict[str, list[float]] = collections.defaultdict(list)

    def timed(name: str, step: Callable[[Any], Any], values: list[Any]) -> list[Any]:
        started = time.perf_counter()
        made = [step(v) for v in values]
        times[name].append((time.perf_counter() - started) / len(values))
        return made

    for _ in range(rounds):
        items = json.loads(text)
        gc.collect()
        gc.disable()
        try:
            files = timed("explode", lambda i: explode(i, "adgs")[0], items)
            files = timed("isolate", lambda f: _isolated_in_place(f, None), files)
            timed("migrate", _migrate_in_place, files)
            timed("assemble", lambda f: _made(assemble, f), files)
            files = [explode(i, "adgs")[0] for i in items]
            timed("whole", lambda f: build_item(_isolated_in_place(f, None)), files)
        finally:
            gc.enable()
    return times


def bytecodes(sim: dict[str, Any], size: int) -> tuple[float, collections.Counter[str]]:
    """Bytecodes run per file while a held search result is iterated (every item built),
    and the count per function."""
    from rs_auxip import AuxipClient

    client = AuxipClient(sim["url"], sim["api_key"], sim["owner"], api_version="v2")
    for _ in client.search_stations(START, STOP, page_size=PAGE, max_items=PAGE):
        pass  # imports, caches of the first items
    found = client.search_stations(START, STOP, page_size=PAGE, max_items=size)
    per_function: collections.Counter[str] = collections.Counter()

    def trace(frame: FrameType, event: str, arg: Any) -> Any:
        frame.f_trace_opcodes = True
        if event == "opcode":
            per_function[frame.f_code.co_qualname] += 1
        return trace

    sys.settrace(trace)
    try:
        for _ in found:
            pass
    finally:
        sys.settrace(None)
    return sum(per_function.values()) / len(found), per_function


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=10_000, help="AUX products (files)")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--top", type=int, default=12, help="functions listed by bytecodes")
    parser.add_argument("--no-stages", dest="stages", action="store_false")
    args = parser.parse_args()
    with simulator(api_version="v2", products=args.size, files=10, sessions=1) as sim:
        if args.stages:
            print(f"CPU per file, {args.size:,} files, {args.rounds} rounds (min / median):")
            for name, values in stages(sim, args.size, args.rounds).items():
                low, mid = min(values) * 1e6, statistics.median(values) * 1e6
                print(f"  {name:9s} {low:6.2f} µs / {mid:6.2f} µs")
        files = min(args.size, 2_000)
        per_file, per_function = bytecodes(sim, files)
    print(f"bytecodes per file: {per_file:,.0f}")
    for name, count in per_function.most_common(args.top):
        print(f"  {count / files:7.1f}  {name}")


if __name__ == "__main__":
    main()
