"""rs-client benchmarks: the client's overhead over the wire, and how its cost grows.

Run on demand (not part of the test suite)::

    .venv/bin/python bench/run.py                 # every scenario, full sizes (~5 min)
    .venv/bin/python bench/run.py --quick         # smoke run, small sizes (~1 min)
    .venv/bin/python bench/run.py overhead staging --rounds 7

Scenarios: ``overhead`` (per-call cost of ``search_stations`` against a bare session),
``large`` (50,000-feature station answer, 50,000-item catalog search over pages: time and
peak memory), ``staging`` (``stage_and_wait`` of 200 files, 0.5 s each), ``startup``
(``rs --help``, ``get_station`` and plugin discovery cold, in subprocesses). Each scenario
also runs at 1/10 and 1/100 of its size and states how it grows per 10x (``--no-scaling``
skips that).

The simulator runs in a child process (``bench/_server.py``) on 127.0.0.1, so this process
holds only client code: timings are not shared with the server's threads under one GIL and
``tracemalloc``/RSS measure the client alone. Every number is a median of several rounds
with the variants interleaved; ratios are what to read on a shared machine. Results go to
``bench/results.md`` (``--output`` to change) with the command, the machine and the load.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PY = sys.executable
SCENARIOS = ("overhead", "startup", "peers", "bulk", "v2staging", "large", "staging")

# -- plumbing ------------------------------------------------------------------------------


@dataclass
class Row:
    """One line of a result table."""

    metric: str
    value: str
    compare: str = ""
    ratio: str = ""
    target: str = ""
    verdict: str = ""


@dataclass
class Section:
    """One scenario's tables and notes."""

    title: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)  # pre-rendered markdown blocks
    load: tuple[float, float, float] = (0.0, 0.0, 0.0)
    seconds: float = 0.0


@dataclass
class Targets:
    """Every target met or missed, for the summary."""

    checks: list[tuple[str, str, bool]] = field(default_factory=list)

    def check(self, name: str, shown: str, ok: bool) -> str:
        self.checks.append((name, shown, ok))
        return "met" if ok else "**missed**"


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def us(seconds: float) -> str:
    return f"{seconds * 1e6:.0f} µs"


def mib(n_bytes: float) -> str:
    return f"{n_bytes / 2**20:.1f} MiB"


def ratio(a: float, b: float) -> float:
    return a / b if b else float("inf")


@contextmanager
def simulator(**options: Any) -> Iterator[dict[str, Any]]:
    """A simulator in a child process; yields its ready line (``url``, ``api_key``...)."""
    args = [PY, str(BENCH / "_server.py")]
    for name, value in options.items():
        args += [f"--{name.replace('_', '-')}", str(value)]
    proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the simulator did not start: {' '.join(args)}")
        yield json.loads(line)
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def prepare(fn: Callable[[], Any]) -> None:
    """Run ``fn.prepare()`` if ``fn`` has one: what a variant sets up before each timed call,
    outside the timing (``bench/peers.py`` opens fresh clients there)."""
    setup = getattr(fn, "prepare", None)
    if setup is not None:
        setup()


def release(fn: Callable[[], Any]) -> None:
    """Run ``fn.release()`` if ``fn`` has one: what a variant lets go after its timed call and
    its result are done with (a peer's process-wide caches, see ``bench/peers.py``)."""
    letgo = getattr(fn, "release", None)
    if letgo is not None:
        letgo()


def rounds_of(variants: dict[str, Callable[[], Any]], rounds: int) -> dict[str, list[float]]:
    """Time each variant once per round, in a rotating order (noise hits all alike), each
    after its :func:`prepare` and a full garbage collection; what a variant returns is freed
    after its timing, then its :func:`release` runs."""
    names = list(variants)
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            prepare(variants[name])
            gc.collect()  # every variant starts without the previous one's garbage
            started = time.perf_counter()
            result = variants[name]()
            times[name].append(time.perf_counter() - started)
            del result  # freed outside the timing, whatever the variant returns
            release(variants[name])
    return times


def tracemalloc_peak(fn: Callable[[], Any]) -> tuple[int, Any]:
    """Peak bytes allocated by Python while ``fn`` ran (after its :func:`prepare`, not
    counted), and what it returned."""
    prepare(fn)
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    try:
        result = fn()
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    return peak, result


def table(rows: list[Row]) -> str:
    out = [
        "| metric | value | compared with | ratio | target | |",
        "|---|---:|---:|---:|---|---|",
    ]
    for r in rows:
        out.append(
            f"| {r.metric} | {r.value} | {r.compare} | {r.ratio} | {r.target} | {r.verdict} |"
        )
    return "\n".join(out)


def growth(label: str, sizes: Sequence[int], values: Sequence[float], unit: str) -> str:
    """A scaling line: the values at each size and the factor per 10x."""
    shown = ", ".join(f"{s:,}: {v:.3g} {unit}" for s, v in zip(sizes, values, strict=True))
    factors = [f"{ratio(values[i], values[i - 1]):.2f}x" for i in range(1, len(sizes))]
    per10 = " then ".join(factors) if factors else "n/a"
    return f"| {label} | {shown} | {per10} |"


def growth_table(lines: list[str]) -> str:
    return "\n".join(["| what | size: value | per 10x |", "|---|---|---|", *lines])


# -- 1. per-call overhead ------------------------------------------------------------------


def bench_overhead(args: argparse.Namespace, targets: Targets) -> Section:
    import rs_core
    from rs_core.http import APIKEY_HEADER, decode_json
    from rs_core.rsserver_v1 import feature_collection_to_items, search_params

    section = Section("1. Per-call overhead: `search_stations` (CADIP MTI, limit=1)")
    n = 200 if args.quick else 1000
    rounds = args.rounds or (3 if args.quick else 5)
    block = 50  # calls per timed block: short blocks, interleaved, resist load bursts
    start, stop = "2024-01-01", "2024-02-01"
    with simulator(products=100, files=2000, sessions=20) as sim:
        key = sim["api_key"]
        cadip = rs_core.get_station(
            "cadip", "MTI", rs_server_href=sim["url"], rs_server_api_key=key, owner_id="bench"
        )
        params = search_params(start, stop, limit=1)
        url = requests.Request("GET", cadip.href_search, params=params).prepare().url
        assert url is not None
        headers = {APIKEY_HEADER: key}
        session = requests.Session()
        for _ in range(20):  # warm: connections, the generation probe, caches
            assert len(cadip.search_stations(start, stop, limit=1)) == 1
            session.get(url, headers=headers, timeout=30).json()

        def client() -> None:
            for _ in range(block):
                cadip.search_stations(start, stop, limit=1)

        def raw_json() -> None:
            for _ in range(block):
                cadip.http.get_json(cadip.href_search, params=params)

        def floor() -> None:
            for _ in range(block):
                session.get(url, headers=headers, timeout=30).json()

        def per_call() -> None:
            for _ in range(block):
                requests.get(url, headers=headers, timeout=30).json()

        say(f"overhead: {rounds} rounds x {n} calls x 4 variants, in blocks of {block}")
        times = rounds_of(
            {"client": client, "raw": raw_json, "floor": floor, "per_call": per_call},
            rounds * (n // block),
        )
        per = {k: median(v) / block for k, v in times.items()}

        # pystac conversion alone, on an answer already decoded (1 feature, and 1000)
        response = cadip.http.request("GET", cadip.href_search, params=params)
        body = decode_json(response)
        convert_n = 2000 if not args.quick else 500
        started = time.perf_counter()
        for _ in range(convert_n):
            list(feature_collection_to_items(body, response, what="bench"))  # items built
        convert_one = (time.perf_counter() - started) / convert_n
        big_params = search_params(start, stop, limit=1000)
        big_response = cadip.http.request("GET", cadip.href_search, params=big_params)
        big_body = decode_json(big_response)
        n_big = len(big_body["features"])
        convert_big = median(
            [
                _timed(lambda: list(feature_collection_to_items(big_body, big_response, what="x")))
                for _ in range(3)
            ]
        )
        # scaling: the client loop at n/10, n, 10n calls (per-call cost should stay flat)
        scaling_lines: list[str] = []
        if args.scaling:
            sizes = [n // 10, n, n * 10] if not args.quick else [n // 10, n]
            totals = []
            for size in sizes:
                started = time.perf_counter()
                for _ in range(size):
                    cadip.search_stations(start, stop, limit=1)
                totals.append(time.perf_counter() - started)
            scaling_lines.append(growth("client: total time of N calls", sizes, totals, "s"))
            scaling_lines.append(
                growth(
                    "client: time per call",
                    sizes,
                    [t / s * 1e6 for t, s in zip(totals, sizes, strict=True)],
                    "µs",
                )
            )
        cadip.close()
        session.close()

    over_floor = ratio(per["client"], per["floor"])
    speedup = ratio(per["per_call"], per["client"])
    section.rows += [
        Row("bare `requests.Session().get(url).json()` (the floor)", us(per["floor"])),
        Row(
            "our client `search_stations(limit=1)`",
            us(per["client"]),
            "floor",
            f"{over_floor:.2f}x",
            "<= 1.05x floor",
            targets.check(
                "per-call overhead <= 1.05x floor", f"{over_floor:.2f}x", over_floor <= 1.05
            ),
        ),
        Row(
            "per-call `requests.get(url).json()` (no session: the original client)",
            us(per["per_call"]),
            "our client",
            f"{speedup:.2f}x slower",
            ">= 1.5x slower than ours",
            targets.check(
                "requests.get per call >= 1.5x slower", f"{speedup:.2f}x", speedup >= 1.5
            ),
        ),
        Row(
            "our `http.get_json` (raw dict, no pystac)",
            us(per["raw"]),
            "floor",
            f"{ratio(per['raw'], per['floor']):.2f}x",
        ),
        Row(
            "pystac conversion of a 1-feature answer",
            us(convert_one),
            "client call",
            f"{ratio(convert_one, per['client']):.0%} of it",
        ),
        Row(
            f"pystac conversion of a {n_big}-feature answer",
            ms(convert_big),
            "per feature",
            us(convert_big / max(1, n_big)),
        ),
    ]
    section.notes.append(
        f"{n} calls per variant per round, {rounds} rounds, timed in blocks of {block} calls "
        "with the variants interleaved block by block; per-call medians over the blocks. Every "
        "variant sends the same URL with the API key header and decodes the JSON."
    )
    if scaling_lines:
        section.extra.append(growth_table(scaling_lines))
    return section


def _timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


# -- 2. large results ----------------------------------------------------------------------


def _large_once(n: int, args: argparse.Namespace, detail: bool) -> dict[str, float]:
    import rs_core
    from rs_core.http import APIKEY_HEADER

    out: dict[str, float] = {}
    reps = 1 if args.quick else 3
    say(f"large: simulator with {n:,} products and {n:,} catalog items (loading...)")
    with simulator(products=n, files=0, sessions=0, catalog_items=n) as sim:
        say(f"large: loaded in {sim['load_seconds']} s")
        key, url = sim["api_key"], sim["url"]
        headers = {APIKEY_HEADER: key}
        auxip = rs_core.get_station(
            "auxip", rs_server_href=url, rs_server_api_key=key, owner_id=sim["owner"]
        )
        start, stop = "2024-01-01", "2030-01-01"
        found = auxip.search_stations(start, stop, limit=n)
        assert len(found) == n, (len(found), n)
        del found
        search_url = auxip.href_search
        session = requests.Session()

        def station_client() -> int:
            found = auxip.search_stations(start, stop, limit=n)
            return sum(1 for _item in found)  # every pystac item built

        def station_floor() -> int:
            params = {"datetime": f"{start}T00:00:00Z/{stop}T00:00:00Z", "limit": str(n)}
            r = session.get(search_url, params=params, headers=headers, timeout=120)
            return len(r.json()["features"])

        t = rounds_of({"client": station_client, "floor": station_floor}, reps)
        out["station_client"] = median(t["client"])
        out["station_floor"] = median(t["floor"])
        if detail:
            out["station_mem_client"], _ = tracemalloc_peak(station_client)
            out["station_mem_floor"], _ = tracemalloc_peak(station_floor)

        catalog = rs_core.get_catalog(rs_server_href=url, rs_server_api_key=key, owner_id="bench")
        page = 1000
        coll = f"{sim['owner']}_{sim['collection']}"

        def search() -> Any:
            return catalog.search(collections=[sim["collection"]], limit=page)

        def iterate_items() -> int:
            count = 0
            for _item in search().items():
                count += 1
            assert count == n, (count, n)
            return count

        def iterate_pages() -> int:
            return sum(len(p) for p in search().pages())

        def materialise() -> int:
            items = list(search().items())
            return len(items)

        def catalog_floor() -> int:
            body: dict[str, Any] | None = {"collections": [coll], "limit": page}
            count = 0
            href = f"{catalog.href_stac_api}/search"
            while body is not None:
                r = session.post(href, json=body, headers=headers, timeout=120)
                answer = r.json()
                count += len(answer["features"])
                body = next((ln["body"] for ln in answer["links"] if ln.get("rel") == "next"), None)
            return count

        cat_reps = 1 if n >= 50_000 else reps  # ~20 s per pass at 50,000 items
        out["cat_reps"] = cat_reps
        t = rounds_of(
            {"items": iterate_items, "materialise": materialise, "floor": catalog_floor},
            cat_reps,
        )
        out["cat_items"] = median(t["items"])
        out["cat_list"] = median(t["materialise"])
        out["cat_floor"] = median(t["floor"])
        mem_items, _ = tracemalloc_peak(iterate_items)
        mem_list, _ = tracemalloc_peak(materialise)
        out["cat_mem_items"], out["cat_mem_list"] = mem_items, mem_list
        if detail:
            out["cat_pages"] = median([_timed(iterate_pages) for _ in range(cat_reps)])
            out["cat_mem_pages"], _ = tracemalloc_peak(iterate_pages)
            out["cat_mem_floor"], _ = tracemalloc_peak(catalog_floor)
        catalog.close()
        auxip.close()
        session.close()
    return out


def bench_large(args: argparse.Namespace, targets: Targets) -> Section:
    n = 5_000 if args.quick else 50_000
    section = Section(f"2. Large results: {n:,} features in one answer, {n:,} catalog items")
    main = _large_once(n, args, detail=True)
    sc = main["station_client"]
    section.rows += [
        Row(f"station search, {n:,} features: bare session + `.json()`", ms(main["station_floor"])),
        Row(
            "station search: our `search_stations` (pystac items + raw kept)",
            ms(sc),
            "floor",
            f"{ratio(sc, main['station_floor']):.2f}x",
            "",
            "",
        ),
        Row(
            "station search: peak Python memory (tracemalloc), ours",
            mib(main["station_mem_client"]),
            "floor",
            f"{ratio(main['station_mem_client'], main['station_mem_floor']):.2f}x",
        ),
        Row(
            f"catalog search, {n:,} items in pages of 1000: bare session POSTs",
            ms(main["cat_floor"]),
        ),
        Row(
            "catalog: iterate `search().items()` (lazy)",
            ms(main["cat_items"]),
            "floor",
            f"{ratio(main['cat_items'], main['cat_floor']):.2f}x",
        ),
        Row(
            "catalog: iterate `search().pages()` (lazy)",
            ms(main["cat_pages"]),
            "floor",
            f"{ratio(main['cat_pages'], main['cat_floor']):.2f}x",
        ),
        Row(
            "catalog: `list(search().items())` (materialised)",
            ms(main["cat_list"]),
            "floor",
            f"{ratio(main['cat_list'], main['cat_floor']):.2f}x",
        ),
        Row(
            "catalog: peak memory iterating items (tracemalloc)",
            mib(main["cat_mem_items"]),
            "materialised",
            f"{ratio(main['cat_mem_items'], main['cat_mem_list']):.2f}x",
            "flat (<< materialised)",
            targets.check(
                "catalog iteration is lazy (peak < 20% of materialised)",
                f"{ratio(main['cat_mem_items'], main['cat_mem_list']):.2f}x",
                main["cat_mem_items"] < 0.2 * main["cat_mem_list"],
            ),
        ),
        Row("catalog: peak memory iterating pages", mib(main["cat_mem_pages"])),
        Row("catalog: peak memory materialised", mib(main["cat_mem_list"])),
        Row("catalog: peak memory, bare session (one page at a time)", mib(main["cat_mem_floor"])),
        Row(
            "catalog: peak memory iterating items, in pages' worth",
            mib(main["cat_mem_items"]),
            "bare session, a page at a time",
            f"{ratio(main['cat_mem_items'], main['cat_mem_floor']):.2f}x",
            "<= 2 pages' worth",
            targets.check(
                "catalog: iterating N items <= 2 pages' worth of memory",
                f"{ratio(main['cat_mem_items'], main['cat_mem_floor']):.2f}x",
                main["cat_mem_items"] <= 2 * main["cat_mem_floor"],
            ),
        ),
    ]
    if args.scaling:
        sizes = [n // 100, n // 10, n] if not args.quick else [n // 10, n]
        runs = [_large_once(s, args, detail=False) for s in sizes[:-1]] + [main]
        lines = [
            growth("station search, ours", sizes, [r["station_client"] for r in runs], "s"),
            growth("station search, floor", sizes, [r["station_floor"] for r in runs], "s"),
            growth("catalog items(), ours", sizes, [r["cat_items"] for r in runs], "s"),
            growth("catalog, floor", sizes, [r["cat_floor"] for r in runs], "s"),
            growth(
                "catalog peak memory, iterating",
                sizes,
                [r["cat_mem_items"] / 2**20 for r in runs],
                "MiB",
            ),
            growth(
                "catalog peak memory, materialised",
                sizes,
                [r["cat_mem_list"] / 2**20 for r in runs],
                "MiB",
            ),
        ]
        section.extra.append(growth_table(lines))
    section.notes.append(
        f"Station search: {1 if args.quick else 3} rounds; catalog: {int(main['cat_reps'])} "
        "round(s) at full size (each pass takes tens of seconds), 3 at the smaller sizes. "
        "Peak memory is tracemalloc's peak of Python allocations during the call, in this "
        "process only (the simulator is another process)."
    )
    section.notes.append(
        "The simulator selects a search's matches once per query and serves later pages as "
        "slices (O(N) in all, bench/README.md); compare ours with the floor at the same size."
    )
    return section


# -- 3. bulk staging -----------------------------------------------------------------------


def _staging_run(auxip: Any, names: list[str]) -> float:
    started = time.perf_counter()
    report = auxip.stage_and_wait(names)
    elapsed = time.perf_counter() - started
    if not report.ok:
        raise RuntimeError(f"staging did not finish: {report.summary()}")
    return elapsed


def _staging_floor(session: requests.Session, base: str, key: str, names: list[str]) -> float:
    """Send one stage and one status request per file, 4 at a time, as bare as it gets."""
    from rs_core.http import APIKEY_HEADER

    headers = {APIKEY_HEADER: key}

    def one(name: str) -> None:
        session.get(f"{base}/adgs/aux", params={"name": name}, headers=headers, timeout=30)
        session.get(f"{base}/adgs/aux/status", params={"name": name}, headers=headers, timeout=30)

    started = time.perf_counter()
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(one, names))
    return time.perf_counter() - started


def bench_staging(args: argparse.Namespace, targets: Targets) -> Section:
    import rs_core

    n = 50 if args.quick else 200
    duration = 0.5
    reps = args.rounds or (2 if args.quick else 3)
    sample = 3 if args.quick else 10
    sizes = ([n // 10, n] if args.quick else [n // 10, n, n * 10]) if args.scaling else [n]
    total = n * reps * 2 + sample + sum(sizes) * 2 + 100
    section = Section(f"3. Bulk staging: `stage_and_wait` of {n} files, {duration} s each")
    with simulator(products=total, files=0, sessions=0, staging_duration=duration) as sim:
        key, url = sim["api_key"], sim["url"]
        auxip = rs_core.get_station(
            "auxip", rs_server_href=url, rs_server_api_key=key, owner_id=sim["owner"]
        )
        found = auxip.search_stations("2024-01-01", "2030-01-01", limit=total)
        pool = [item.id for item in found]  # every name is now known to the status table
        del found

        def take(k: int) -> list[str]:
            names, pool[:] = pool[:k], pool[k:]
            return names

        session = requests.Session()
        ours, floors = [], []
        for r in range(reps):
            say(f"staging: round {r + 1}/{reps}, {n} files")
            floors.append(_staging_floor(session, url, key, take(n)))
            ours.append(_staging_run(auxip, take(n)))
        wall = median(ours)
        requests_floor = median(floors)
        ideal = duration + requests_floor
        say(f"staging: one by one, sample of {sample}")
        seq = [_staging_run(auxip, take(1)) for _ in range(sample)]
        one_by_one = sum(seq) / sample * n
        lines: list[str] = []
        if args.scaling:
            walls = []
            for size in sizes:
                say(f"staging: scaling, {size} files")
                walls.append(wall if size == n else _staging_run(auxip, take(size)))
            lines.append(growth("stage_and_wait wall time", sizes, walls, "s"))
            lines.append(
                growth(
                    "wall time minus the 0.5 s staging",
                    sizes,
                    [w - duration for w in walls],
                    "s",
                )
            )
        auxip.close()
        session.close()
    # the same at another per-file time: the polling schedule (0.5 s, x1.5 per round) meets
    # 0.5 s jobs right on time; 0.8 s jobs show what a less lucky duration costs
    other = 0.8
    with simulator(products=n * 2 + 10, files=0, sessions=0, staging_duration=other) as sim:
        auxip = rs_core.get_station(
            "auxip", rs_server_href=sim["url"], rs_server_api_key=sim["api_key"], owner_id="b"
        )
        names = [i.id for i in auxip.search_stations("2024-01-01", "2030-01-01", limit=n * 2)]
        session = requests.Session()
        other_ideal = other + _staging_floor(session, sim["url"], sim["api_key"], names[:n])
        other_wall = _staging_run(auxip, names[n : 2 * n])
        auxip.close()
        session.close()
    vs_ideal = ratio(wall, ideal)
    section.rows += [
        Row(
            f"ideal: {duration} s + bare stage+status requests for {n} files",
            f"{ideal:.2f} s",
            "requests part",
            f"{requests_floor:.2f} s",
        ),
        Row(
            f"`stage_and_wait({n} files)`, defaults",
            f"{wall:.2f} s",
            "ideal",
            f"{vs_ideal:.2f}x",
            "<= 1.3x ideal",
            targets.check("stage_and_wait <= 1.3x ideal", f"{vs_ideal:.2f}x", vs_ideal <= 1.3),
        ),
        Row(
            f"same with {other} s per file (1 round): `stage_and_wait` vs its ideal",
            f"{other_wall:.2f} s",
            f"{other_ideal:.2f} s",
            f"{ratio(other_wall, other_ideal):.2f}x",
        ),
        Row(
            f"one by one (`stage_and_wait([f])` x {n}), extrapolated from {sample}",
            f"{one_by_one:.1f} s",
            "ours",
            f"{ratio(one_by_one, wall):.0f}x slower",
        ),
    ]
    section.notes.append(
        f"{reps} rounds, fresh files each round (a DONE file is not staged again). 'One by one' "
        f"is measured on {sample} files ({median(seq):.2f} s median each) and multiplied by "
        f"{n}: running it in full would take minutes."
    )
    if lines:
        section.extra.append(growth_table(lines))
    return section


# -- 4. start-up ---------------------------------------------------------------------------

_DUMMY_MODULE = """\
from rs_core.hookspecs import hookimpl
from rs_core.records import StationType


@hookimpl
def rs_register_stations():
    yield StationType(kind="{kind}", client_class="{module}:Client", stations=("X",))
"""


def make_dummy_plugins(folder: Path, count: int) -> None:
    """``count`` tiny installed distributions (dist-info + module), no pip needed."""
    for i in range(count):
        module = f"rs_bench_dummy_{i:03d}"
        (folder / f"{module}.py").write_text(
            _DUMMY_MODULE.format(kind=f"dummy{i:03d}", module=module)
        )
        info = folder / f"{module}-0.0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 0.0.1\n")
        (info / "entry_points.txt").write_text(f"[rs_core.plugins]\ndummy{i:03d} = {module}\n")
        (info / "RECORD").write_text("")


PYCACHE = Path(tempfile.gettempdir()) / "rs-bench-pycache"


def startup_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of the start-up runs: bytecode cached (in :data:`PYCACHE`), as for an
    installed package (pip compiles it), even where ``PYTHONDONTWRITEBYTECODE`` is set (each
    run would compile every module of rs_core from source: 50-100 ms more)."""
    env = {**os.environ, **(extra or {})}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.setdefault("PYTHONPYCACHEPREFIX", str(PYCACHE))
    return env


def cold(argv: list[str], n: int, env: dict[str, str] | None = None) -> float:
    """Median wall time of ``argv`` run ``n`` times (after one warm-up run for the disk)."""
    full_env = startup_env(env)
    subprocess.run(argv, capture_output=True, env=full_env, check=True)
    times = []
    for _ in range(n):
        started = time.perf_counter()
        subprocess.run(argv, capture_output=True, env=full_env, check=True)
        times.append(time.perf_counter() - started)
    return median(times)


_DISCOVERY = """\
import json, time
t0 = time.perf_counter()
import rs_core.plugins as p
t1 = time.perf_counter()
reg = p.get_registry()
t2 = time.perf_counter()
names = sorted({i.name for i in reg.infos if i.distribution.startswith("rs-plugin")})
print(json.dumps({"import": t1 - t0, "discovery": t2 - t1, "plugins": names}))
"""


def discovery(n_runs: int, dummies: int) -> dict[str, Any]:
    """Median cold import of ``rs_core.plugins`` and ``get_registry()`` with ``dummies``."""
    with tempfile.TemporaryDirectory(prefix="rs-bench-plugins-") as tmp:
        env = startup_env()
        if dummies:
            make_dummy_plugins(Path(tmp), dummies)
            env["PYTHONPATH"] = tmp + os.pathsep + env.get("PYTHONPATH", "")
        found = []
        for _ in range(n_runs + 1):
            out = subprocess.run(
                [PY, "-c", _DISCOVERY], capture_output=True, text=True, env=env, check=True
            )
            found.append(json.loads(out.stdout))
        found = found[1:]
    return {
        "import": median([f["import"] for f in found]),
        "discovery": median([f["discovery"] for f in found]),
        "plugins": found[0]["plugins"],
    }


def importtime(code: str, top: int = 8) -> tuple[list[tuple[int, int, str]], int]:
    """The ``-X importtime`` lines with the largest self time, and the total (µs)."""
    for _ in range(2):  # the first run fills the bytecode cache
        out = subprocess.run(
            [PY, "-X", "importtime", "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env=startup_env(),
        )
    rows = []
    for line in out.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cumulative, name = (part.strip() for part in line[12:].split("|"))
        rows.append((int(self_us), int(cumulative), name.strip()))
    total = sum(r[0] for r in rows)
    return sorted(rows, reverse=True)[:top], total


GET_STATION = "import rs_core; rs_core.get_station('cadip', station='MTI')"
RS_HELP = "import sys; sys.argv = ['rs', '--help']; from rs_core.cli.main import main; main()"


def bench_startup(args: argparse.Namespace, targets: Targets) -> Section:
    section = Section("4. Start-up (cold subprocesses)")
    n = 5 if args.quick else 15
    rs = str(Path(PY).with_name("rs"))
    say(f"startup: {n} runs each")
    bare = cold([PY, "-c", "pass"], n)
    helps = cold([rs, "--help"], n)  # the warm-up run writes the plugin command cache
    helps_discovering = cold([rs, "--help"], n, {"RS_NO_CACHE": "1"})
    station = cold([PY, "-c", GET_STATION], n)
    imp_req = cold([PY, "-c", "import requests"], n)
    d3 = discovery(n, 0)
    d50 = discovery(n, 50)
    section.rows += [
        Row("`python -c pass` (interpreter floor)", ms(bare)),
        Row("`python -c 'import requests'`", ms(imp_req)),
        Row(
            "`rs --help`",
            ms(helps),
            "interpreter",
            f"+{ms(helps - bare)}",
            "<= 100 ms",
            targets.check("rs --help <= 100 ms", ms(helps), helps <= 0.1),
        ),
        Row(
            "`rs --help`, no plugin command cache (`RS_NO_CACHE=1`: a discovery each run)",
            ms(helps_discovering),
            "interpreter",
            f"+{ms(helps_discovering - bare)}",
        ),
        Row(f'`python -c "{GET_STATION}"`', ms(station), "interpreter", f"+{ms(station - bare)}"),
        Row("`import rs_core.plugins` (pluggy, attrs, records)", ms(d3["import"])),
        Row(
            f"plugin discovery `get_registry()`, installed plugins: {', '.join(d3['plugins'])}",
            ms(d3["discovery"]),
            "",
            "",
            "< 50 ms",
            targets.check(
                "discovery < 50 ms (installed plugins)", ms(d3["discovery"]), d3["discovery"] < 0.05
            ),
        ),
        Row(
            "plugin discovery, installed + 50 dummy plugins",
            ms(d50["discovery"]),
            "3 plugins",
            f"{ratio(d50['discovery'], d3['discovery']):.2f}x",
        ),
    ]
    top, total = importtime(GET_STATION)
    lines = [
        f'`python -X importtime -c "{GET_STATION}"`: {total / 1000:.0f} ms of imports; '
        "largest self times:",
        "",
        "| module | self | cumulative |",
        "|---|---:|---:|",
        *(f"| {name} | {s / 1000:.1f} ms | {c / 1000:.1f} ms |" for s, c, name in top),
    ]
    section.extra.append("\n".join(lines))
    top, total = importtime(RS_HELP)
    lines = [
        f"`rs --help` (as `{RS_HELP}`): {total / 1000:.0f} ms of imports; largest self times:",
        "",
        "| module | self | cumulative |",
        "|---|---:|---:|",
        *(f"| {name} | {s / 1000:.1f} ms | {c / 1000:.1f} ms |" for s, c, name in top),
    ]
    section.extra.append("\n".join(lines))
    if args.scaling:
        sizes = [5, 50, 500] if not args.quick else [5, 50]
        runs = [d50 if s == 50 else discovery(n, s) for s in sizes]
        section.extra.append(
            growth_table(
                [
                    growth(
                        "discovery with N dummy plugins (+ the installed ones)",
                        sizes,
                        [r["discovery"] * 1000 for r in runs],
                        "ms",
                    ),
                    growth(
                        "discovery per plugin",
                        sizes,
                        [r["discovery"] * 1000 / (s + 3) for r, s in zip(runs, sizes, strict=True)],
                        "ms",
                    ),
                ]
            )
        )
    section.notes.append(
        f"Median of {n} runs each after one warm-up run (page cache). Discovery is timed "
        "inside a fresh interpreter: the entry point scan, loading every plugin module, the "
        "hook calls and the checks. The dummy plugins are dist-info folders plus a module in "
        "a temporary directory put on PYTHONPATH. Bytecode is cached (`PYTHONPYCACHEPREFIX`, "
        "`PYTHONDONTWRITEBYTECODE` unset for these runs), as for an installed package. "
        "`rs --help` lists the plugin commands from the cache its warm-up run wrote "
        "(docs/cli.md, 'Start-up: the plugin command cache')."
    )
    return section


# -- report --------------------------------------------------------------------------------


def machine_notes() -> list[str]:
    try:
        rev = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        rev += " + uncommitted changes" if dirty else ""
    except (OSError, subprocess.CalledProcessError):
        rev = "unknown"
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as handle:
            cpu = next(ln.split(":", 1)[1].strip() for ln in handle if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem = "?"
    try:
        with open("/proc/meminfo") as handle:
            mem = f"{int(handle.readline().split()[1]) / 2**20:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    import pystac
    import pystac_client

    return [
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; code: {rev}",
        f"- machine: {platform.system()} {platform.release()}, {os.cpu_count()} CPUs ({cpu}), "
        f"{mem} RAM; shared with other jobs (see the load per scenario)",
        f"- Python {platform.python_version()}, requests {requests.__version__}, "
        f"pystac {pystac.__version__}, pystac-client {pystac_client.__version__}",
        "- simulator: `bench/_server.py` in a child process on 127.0.0.1 (cluster mode, API key)",
    ]


def render(sections: list[Section], targets: Targets, command: str, seconds: float) -> str:
    out = [
        "# rs-client benchmark results",
        "",
        "Produced by:",
        "",
        "```",
        command,
        "```",
        "",
        *machine_notes(),
        f"- total run time: {seconds:.0f} s",
        "",
        "Medians throughout. The machine is shared and noisy: read the ratios, not the "
        "absolute times. Fixes made after profiling, with before/after numbers, and the "
        "open findings: `bench/README.md`.",
        "",
        "## Targets",
        "",
        "| target | measured | |",
        "|---|---:|---|",
        *(
            f"| {name} | {shown} | {'met' if ok else '**missed**'} |"
            for name, shown, ok in targets.checks
        ),
        "",
    ]
    for s in sections:
        load = ", ".join(f"{x:.2f}" for x in s.load)
        out += [f"## {s.title}", "", f"Load average at start: {load}; took {s.seconds:.0f} s.", ""]
        out += [table(s.rows), ""]
        for block in s.extra:
            out += [block, ""]
        out += [f"- {note}" for note in s.notes]
        out.append("")
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="bench/run.py",
        description=textwrap.dedent(__doc__ or "").split("\n\n")[0],
    )
    parser.add_argument(
        "scenarios", nargs="*", metavar="SCENARIO", help=f"any of {', '.join(SCENARIOS)}"
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: small sizes, few rounds")
    parser.add_argument("--rounds", type=int, default=0, help="rounds per measurement")
    parser.add_argument(
        "--sizes",
        default="",
        help="item counts of the 'peers' search, comma-separated (default 1000,10000,50000)",
    )
    parser.add_argument(
        "--no-scaling", dest="scaling", action="store_false", help="skip the 10x/100x runs"
    )
    parser.add_argument(
        "--output",
        default=str(BENCH / "results.md"),
        help="where to write the Markdown results ('-': stdout only)",
    )
    args = parser.parse_args(argv)
    unknown = sorted(set(args.scenarios) - set(SCENARIOS))
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(unknown)}; pick from {', '.join(SCENARIOS)}")
    chosen = args.scenarios or list(SCENARIOS)
    os.environ.pop("RSPY_APIKEY", None)
    command = ".venv/bin/python bench/run.py " + " ".join(
        shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv)
    )
    from peers import bench_bulk, bench_peers, bench_v2staging  # imports this module

    runners = {
        "overhead": bench_overhead,
        "large": bench_large,
        "staging": bench_staging,
        "startup": bench_startup,
        "peers": bench_peers,
        "bulk": bench_bulk,
        "v2staging": bench_v2staging,
    }
    targets = Targets()
    sections = []
    started = time.perf_counter()
    for name in SCENARIOS:
        if name not in chosen:
            continue
        load = os.getloadavg()
        say(f"== {name} (load {load[0]:.2f})")
        t0 = time.perf_counter()
        section = runners[name](args, targets)
        section.load, section.seconds = load, time.perf_counter() - t0
        sections.append(section)
        print(f"\n## {section.title}\n\n{table(section.rows)}\n", flush=True)
        for block in section.extra:
            print(block + "\n", flush=True)
        text = render(sections, targets, command.strip(), time.perf_counter() - started)
        if args.output != "-":  # after every scenario: a long run stopped early keeps its part
            Path(args.output).write_text(text + "\n", encoding="utf-8")
            say(f"wrote {args.output}")
    missed = [name for name, _shown, ok in targets.checks if not ok]
    say("targets: " + ("all met" if not missed else "missed: " + "; ".join(missed)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
