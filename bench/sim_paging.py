"""How long the simulator takes to serve a paged search: a bare ``requests.Session`` follows
the ``next`` links of ``GET /auxip/collections/adgs/items`` (pages of 1,000) to the end, against
``bench/_server.py --products N --api-version v2`` in a child process; ``--catalog`` pages
``GET /catalog/collections/bench:big/items`` of ``--catalog-items N`` the same way.

Nothing of the client is measured: the time is the simulator's (plus ``.json()``), which is
what the ``peers`` scenario's floor waits for. Issue #18 findings in ``bench/README.md``::

    .venv/bin/python bench/sim_paging.py --sizes 10000,50000
    .venv/bin/python bench/sim_paging.py --sizes 10000 --catalog
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import requests
from run import simulator  # bench/ is the script's folder: first on sys.path

INTERVAL = "2000-01-01T00:00:00Z/2100-01-01T00:00:00Z"
PAGE = 1000


def page_through(url: str, key: str, path: str, params: dict[str, str]) -> tuple[int, int]:
    """Follow ``next`` links from ``url + path`` to the end: (features, pages)."""
    count = pages = 0
    with requests.Session() as http:
        http.headers["x-api-key"] = key
        answer: Any = http.get(f"{url}{path}", params=params, timeout=600).json()
        while True:
            count += len(answer["features"])
            pages += 1
            link = next((k for k in answer.get("links", []) if k.get("rel") == "next"), None)
            if link is None:
                return count, pages
            answer = http.get(link["href"], timeout=600).json()


def measure(n: int, catalog: bool, rounds: int) -> list[float]:
    """Seconds to page through ``n`` items, once per round, against one simulator."""
    if catalog:
        options: dict[str, Any] = {"catalog_items": n, "products": 10}
    else:
        options = {"products": n, "api_version": "v2"}
    times: list[float] = []
    with simulator(**options) as sim:
        if catalog:
            path = f"/catalog/collections/{sim['owner']}:{sim['collection']}/items"
            params = {"limit": str(PAGE)}
        else:
            path = "/auxip/collections/adgs/items"
            params = {"datetime": INTERVAL, "limit": str(PAGE)}
        for _ in range(rounds):
            started = time.perf_counter()
            count, pages = page_through(sim["url"], sim["api_key"], path, params)
            times.append(time.perf_counter() - started)
            if count != n:
                raise SystemExit(f"paged {count} items of {n}")
        print(f"  {n} items, {pages} pages: " + ", ".join(f"{t:.2f} s" for t in times))
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--sizes", default="10000,50000", help="item counts, comma-separated")
    parser.add_argument("--rounds", type=int, default=2, help="page-throughs per size")
    parser.add_argument("--catalog", action="store_true", help="the catalog, not /auxip")
    args = parser.parse_args()
    load = os.getloadavg()
    where = "catalog" if args.catalog else "auxip v2"
    print(f"{where}, load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    for size in (int(s) for s in args.sizes.split(",") if s):
        measure(size, args.catalog, args.rounds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
