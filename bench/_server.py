"""Run one RS-Server simulator for the benchmarks in its own process.

The benchmark process measures only the client: the simulator's CPU time, threads, GIL and
memory (a 50,000-item catalog) stay here. Prints one JSON line ``{"url": ..., ...}`` when it
is ready and serves until its stdin closes (the parent exits or closes the pipe).

    python bench/_server.py --products 50000 --catalog-items 50000 --staging-duration 0.5
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from rs_core.testing.simulator import ApiKey, Dataset, RsServerSimulator
from rs_core.testing.simulator.messages import Headers, RecordedRequest

API_KEY = "bench-key"
OWNER = "bench"
COLLECTION = "big"


def _post(sim: RsServerSimulator, path: str, body: object) -> int:
    request = RecordedRequest(
        "POST",
        path,
        "",
        Headers([("x-api-key", API_KEY), ("content-type", "application/json")]),
        json.dumps(body).encode(),
    )
    return sim._route(request).status  # the in-process entry: no HTTP


def load_catalog(sim: RsServerSimulator, n_items: int) -> None:
    """Create ``bench:big`` with ``n_items`` items, in process (no HTTP)."""
    collection = {
        "type": "Collection",
        "id": COLLECTION,
        "owner": OWNER,
        "stac_version": "1.0.0",
        "description": "benchmark collection",
        "license": "proprietary",
        "extent": {
            "spatial": {"bbox": [[-180, -90, 180, 90]]},
            "temporal": {"interval": [["2024-01-01T00:00:00Z", None]]},
        },
        "links": [],
    }
    status = _post(sim, "/catalog/collections", collection)
    if status != 201:
        raise SystemExit(f"cannot create the benchmark collection: HTTP {status}")
    path = f"/catalog/collections/{OWNER}:{COLLECTION}/items"
    for i in range(n_items):
        name = f"S1A_IW_RAW__0SDV_{i:08d}.SAFE.zip"
        item = {
            "type": "Feature",
            "stac_version": "1.0.0",
            "stac_extensions": [],
            "id": f"item-{i:08d}",
            "collection": COLLECTION,
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]],
            },
            "bbox": [0, 0, 1, 1],
            "properties": {
                "datetime": f"2024-01-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00Z",
                "platform": "sentinel-1a",
                "instrument": "sar",
            },
            "assets": {name: {"href": f"s3://bench-bucket/data/{name}", "roles": ["data"]}},
            "links": [],
        }
        status = _post(sim, path, item)
        if status != 201:
            raise SystemExit(f"cannot add item {i}: HTTP {status}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--products", type=int, default=100)
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--sessions", type=int, default=5)
    parser.add_argument("--staging-duration", type=float, default=0.2)
    parser.add_argument("--catalog-items", type=int, default=0)
    parser.add_argument("--api-version", default="v1", choices=("v1", "v2"))
    args = parser.parse_args()
    dataset = Dataset.synthetic(
        n_products=args.products, n_files=args.files, n_sessions=args.sessions
    )
    sim = RsServerSimulator(
        api_keys={API_KEY: ApiKey.full_access(OWNER)},
        dataset=dataset,
        staging_duration=args.staging_duration,
        api_version=args.api_version,
    )
    sim.start()
    started = time.perf_counter()
    if args.catalog_items:
        load_catalog(sim, args.catalog_items)
    ready = {
        "url": sim.url,
        "api_key": API_KEY,
        "owner": OWNER,
        "collection": COLLECTION,
        "load_seconds": round(time.perf_counter() - started, 2),
    }
    print(json.dumps(ready), flush=True)
    try:
        while sys.stdin.read(4096):  # serve until the parent closes the pipe
            pass
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
