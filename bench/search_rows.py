"""Some rows of the ``peers`` scenario alone, with more rounds: the chosen variants of
``bench/peers.py``'s v2 AUXIP search (the floor always among them), interleaved, each after a
full garbage collection, medians and ratios to the floor. The full ``peers`` run also times
both peers and the memory peaks, so it affords two rounds, which leaves its rows about ±0.2x
apart from run to run; this gives a row the rounds it needs::

    .venv/bin/python bench/search_rows.py --size 50000 --rounds 6
    .venv/bin/python bench/search_rows.py --size 10000 --rounds 5 --variants "ours: ids"
"""

from __future__ import annotations

import argparse

from peers import PAGE, _search_variants  # bench/ is the script's folder: first on sys.path
from run import median, rounds_of, simulator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=50_000, help="AUX products (files)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--variants", default="ours: items", help="comma-separated names from bench/peers.py"
    )
    args = parser.parse_args()
    wanted = ["floor", *(v.strip() for v in args.variants.split(",") if v.strip() != "floor")]
    with simulator(api_version="v2", products=args.size, files=10, sessions=1) as sim:
        every = _search_variants(sim, args.size)
        unknown = [name for name in wanted if name not in every]
        if unknown:
            parser.error(f"--variants: unknown {unknown}; known: {sorted(every)}")
        for warm in _search_variants(sim, min(args.size, PAGE)).values():
            warm()  # imports, first requests
        times = rounds_of({name: every[name] for name in wanted}, args.rounds)
    floor = median(times["floor"])
    print(f"{args.size:,} items, {args.rounds} rounds (medians)")
    for name in wanted:
        value = median(times[name])
        rounds = ", ".join(f"{t / f:.2f}" for t, f in zip(times[name], times["floor"], strict=True))
        print(f"  {name:24s} {value * 1000:9.1f} ms  {value / floor:5.2f}x the floor"
              f"  (each round: {rounds})")  # fmt: skip


if __name__ == "__main__":
    main()
