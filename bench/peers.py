"""Benchmarks of issue #18 against the floor and the peers, in one process.

Scenarios (registered in ``bench/run.py``):

* ``peers``: a v2 AUXIP search of N items through paging (pages of 1,000) at N = 1k, 10k, 50k,
  against the floor (a bare ``requests.Session`` following ``next`` links with ``.json()``),
  pystac-client 0.9 and the official client ``rs-client-libraries`` 0.2; time (interleaved
  rounds, medians) and peak Python memory (tracemalloc) of holding the results;
* ``bulk``: ``add_items`` of 10,000 items against the catalog's ``bulk_items`` endpoint called
  directly with a bare session (chunks of 1,000), and one item per request (4 at a time);
* ``v2staging``: ``stage_and_wait`` of 50 files in one v2 job of 1 s and 3 s: wall time and
  status requests, against a bare client that polls ``GET /jobs/{id}`` every 0.05 s.

The official client is installed by :func:`official_client` into ``bench/.peers`` (git-ignored)
with ``pip install --no-deps --target bench/.peers rs-client-libraries==0.2 'cachetools<6'``:
its search path (``rs_client.stac``, ``rs_common.utils``, ``rs_common.logging``) needs only
pystac, pystac-client, requests and cachetools. Its package ``rs_common/__init__.py`` starts
OpenTelemetry tracing at import (opentelemetry-sdk, the OTLP gRPC exporter, AWS Lambda
instrumentation: none on its search path); the bench imports ``rs_common`` as a bare package
instead, so that only that start-up is skipped and every line of its search runs as shipped.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
import types
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
from run import (
    BENCH,
    PY,
    Row,
    Section,
    Targets,
    growth,
    growth_table,
    median,
    mib,
    ms,
    ratio,
    rounds_of,
    say,
    simulator,
    tracemalloc_peak,
)

PEERS = BENCH / ".peers"
START, STOP = "2000-01-01", "2100-01-01"
INTERVAL = "2000-01-01T00:00:00Z/2100-01-01T00:00:00Z"
PAGE = 1000


def official_client() -> Any:
    """The official client's ``AuxipClient`` class (installed on first use, see above)."""
    if not (PEERS / "rs_client").is_dir():
        say("installing rs-client-libraries 0.2 (no dependencies) into bench/.peers")
        subprocess.run(
            [PY, "-m", "pip", "install", "-q", "--no-deps", "--target", str(PEERS),
             "rs-client-libraries==0.2", "cachetools>=5.5.2,<6"],
            check=True,
        )  # fmt: skip
    if str(PEERS) not in sys.path:
        sys.path.append(str(PEERS))
    if "rs_common" not in sys.modules:
        spec = importlib.util.find_spec("rs_common")
        if spec is None or spec.submodule_search_locations is None:
            raise RuntimeError("rs_common not found in bench/.peers")
        package = types.ModuleType("rs_common")
        package.__path__ = list(spec.submodule_search_locations)
        sys.modules["rs_common"] = package
    from rs_client.stac.auxip_client import AuxipClient

    return AuxipClient


# -- search at 1k, 10k, 50k ---------------------------------------------------------------


def _floor(url: str, key: str, n: int, *, keep: bool = True) -> list[Any]:
    """What the wire gives: every page's features, decoded, nothing else; ``keep=False``:
    going through the pages one at a time, each let go for the next (their count kept)."""
    features: list[Any] = []
    seen = 0
    with requests.Session() as http:
        http.headers["x-api-key"] = key
        answer = http.get(
            f"{url}/auxip/collections/adgs/items",
            params={"datetime": INTERVAL, "limit": str(PAGE)},
            timeout=60,
        ).json()
        while True:
            seen += len(answer["features"])
            if keep:
                features.extend(answer["features"])
            link = next((k for k in answer.get("links", []) if k.get("rel") == "next"), None)
            if link is None or seen >= n:
                return features[:n] if keep else [min(seen, n)]
            answer = None  # the page is let go before the next arrives
            answer = http.get(link["href"], timeout=60).json()


class _Fresh:
    """A search variant whose client is opened anew for each call: ``prepare()`` (run by
    ``rounds_of`` and ``tracemalloc_peak`` before the call, outside the timing) opens it, the
    call searches with it and lets it go with the result (a call without ``prepare()`` opens
    its own, timed); ``release()`` (run by ``rounds_of`` once the result is freed) empties
    what the peers keep process-wide.

    What a variant keeps after its call moves the timings of every variant after it: the
    collector's full passes walk all that a process holds. The peers keep much. pystac's
    ``Client`` caches every item it hands out (``root._resolved_objects``), so a reused
    pystac-client or official client keeps every item of every search; and pystac-client's
    ``ItemSearch.item_collection`` is an ``lru_cache(1)`` on the class, which keeps the last
    search, its client and all its items (about 1.2 million objects after a 50,000-item
    search) until the next search replaces it."""

    def __init__(self, open_client: Callable[[], Any], search: Callable[[Any], Any]) -> None:
        self._open = open_client
        self._search = search
        self._client: Any = None

    def prepare(self) -> None:
        self._client = self._open()

    def release(self) -> None:
        from pystac_client.item_search import ItemSearch

        for cached in (ItemSearch.item_collection, ItemSearch.item_collection_as_dict):
            cached.cache_clear()

    def __call__(self) -> Any:
        client, self._client = self._client, None
        return self._search(self._open() if client is None else client)


def _search_variants(sim: dict[str, Any], n: int) -> dict[str, Callable[[], Any]]:
    from pystac_client import Client
    from rs_auxip import AuxipClient

    url, key = sim["url"], sim["api_key"]
    official = official_client()

    def ours(search: Callable[[Any], Any]) -> _Fresh:
        return _Fresh(lambda: AuxipClient(url, key, sim["owner"], api_version="v2"), search)

    def found(client: Any) -> Any:
        return client.search_stations(START, STOP, page_size=PAGE, max_items=n)

    def items(client: Any) -> Any:
        result = found(client)
        for item in result:
            item.id  # noqa: B018 - every item built
        return result

    def ids(client: Any) -> Any:
        result = found(client)
        return result, result.ids  # the result freed outside the timing, like the floor's

    return {
        "floor": lambda: _floor(url, key, n),
        "ours: items": ours(items),
        "ours: ids": ours(ids),
        "ours: held, untouched": ours(found),
        "floor, a page at a time": lambda: _floor(url, key, n, keep=False),
        "ours: iterated": ours(
            lambda client: sum(
                1 for _ in client.iter_stations(START, STOP, page_size=PAGE, max_items=n)
            )
        ),
        "pystac-client": _Fresh(
            lambda: Client.open(f"{url}/auxip", headers={"x-api-key": key}),
            lambda peer: peer.search(
                collections=["adgs"], datetime=INTERVAL, limit=PAGE, max_items=n, method="GET"
            ).item_collection(),
        ),
        "official 0.2": _Fresh(
            lambda: official(url, key),
            lambda peer: peer.search(
                collections=["adgs"], timestamp=INTERVAL, limit=PAGE, max_items=n, method="GET"
            ),
        ),
    }


def bench_peers(args: argparse.Namespace, targets: Targets) -> Section:
    section = Section("5. Search through v2 paging against the floor and the peers")
    sizes = [500, 2000] if args.quick else [1000, 10_000, 50_000]
    if args.sizes:
        sizes = sorted(int(n) for n in args.sizes.split(","))
    rounds = args.rounds or (2 if args.quick else 3)
    times: dict[int, dict[str, float]] = {}
    peaks: dict[int, dict[str, float]] = {}
    for n in sizes:
        say(f"peers: v2 simulator with {n:,} AUX products")
        with simulator(api_version="v2", products=n, files=10, sessions=1) as sim:
            variants = _search_variants(sim, n)
            for fn in _search_variants(sim, min(n, PAGE)).values():  # warm-up: imports, probes
                fn()
            measured = rounds_of(variants, rounds)
            times[n] = {name: median(values) for name, values in measured.items()}
            peaks[n] = {}
            for name, fn in variants.items():
                if name == "ours: ids":
                    continue
                peak, result = tracemalloc_peak(fn)
                peaks[n][name] = peak
                del result
            say("peers: " + ", ".join(f"{k} {v:.2f} s" for k, v in times[n].items()))
    top = sizes[-1]
    t, p = times[top], peaks[top]
    floor = t["floor"]
    for name in t:
        row = Row(f"{top:,} items: {name}", ms(t[name]))
        if name != "floor":
            row.compare, row.ratio = "floor", f"{ratio(t[name], floor):.2f}x"
        if name == "ours: items":
            ok = ratio(t[name], floor) <= 2.0
            row.target = "<= 2x floor"
            row.verdict = targets.check("search, items consumed <= 2x floor", row.ratio, ok)
        if name == "ours: ids":
            ok = ratio(t[name], floor) <= 1.3
            row.target = "<= 1.3x floor"
            row.verdict = targets.check("search, ids only <= 1.3x floor", row.ratio, ok)
        section.rows.append(row)
    for peer in ("pystac-client", "official 0.2"):
        lead = ratio(t[peer], t["ours: items"])
        section.rows.append(
            Row(
                f"{top:,} items: {peer} vs ours (items)",
                f"{lead:.2f}x slower",
                target=">= 2x slower",
                verdict=targets.check(f"ahead of {peer} by >= 2x", f"{lead:.2f}x", lead >= 2.0),
            )
        )
    for name, peak in p.items():
        row = Row(f"{top:,} items: peak memory, {name}", mib(peak))
        if name != "floor":
            row.compare, row.ratio = "floor", f"{ratio(peak, p['floor']):.2f}x"
        if name == "ours: held, untouched":
            ok = ratio(peak, p["floor"]) <= 1.2
            row.target = "<= 1.2x floor"
            row.verdict = targets.check("holding N results <= 1.2x floor memory", row.ratio, ok)
        if name == "ours: iterated":
            pages = ratio(peak, p["floor, a page at a time"])
            row.compare, row.ratio = "floor, a page at a time", f"{pages:.2f}x"
            row.target = "<= 2 pages' worth"
            row.verdict = targets.check(
                "iterating N items <= 2 pages' worth of memory", f"{pages:.2f}x", pages <= 2.0
            )
        section.rows.append(row)
    lines = []
    for name in times[top]:
        over = [ratio(times[n][name], times[n]["floor"]) for n in sizes]
        lines.append(growth(f"{name} / floor", sizes, over, "x"))
    for name in ("floor", "ours: items", "pystac-client", "official 0.2"):
        lines.append(growth(f"time, {name}", sizes, [times[n][name] for n in sizes], "s"))
    floor_mib = [peaks[n]["floor"] / 2**20 for n in sizes]
    lines.append(growth("peak memory, floor", sizes, floor_mib, "MiB"))
    lines.append(
        growth(
            "peak memory, ours held",
            sizes,
            [peaks[n]["ours: held, untouched"] / 2**20 for n in sizes],
            "MiB",
        )
    )
    lines.append(
        growth(
            "peak memory, ours iterated",
            sizes,
            [peaks[n]["ours: iterated"] / 2**20 for n in sizes],
            "MiB",
        )
    )
    section.extra.append(growth_table(lines))
    section.notes += [
        f"{rounds} rounds, variants interleaved (rotating order), medians; one warm-up call each. "
        "The simulator (v2 face) runs in a child process; each size has its own simulator "
        "holding exactly N products, so every variant pages through the same N items.",
        "floor: `requests.Session().get(...).json()` following `next` links of "
        "`/auxip/collections/adgs/items` (what ours requests); pystac-client and the official "
        "client page through `/auxip/search` (GET, the same server code). ours: items = "
        "`search_stations(...)` then every item touched; ids = `.ids` (no item built); held = "
        "the result kept, no item touched (memory); iterated = `iter_stations(...)`, each item "
        "built and let go (a page held at a time), against the floor going through the pages "
        "one at a time.",
        "Peak memory: tracemalloc's peak of Python allocations during the call, result held.",
        "The official client is rs-client-libraries 0.2 from PyPI, installed without its heavy "
        "extras (see bench/peers.py).",
    ]
    return section


# -- bulk writes ------------------------------------------------------------------------


def _bench_items(n: int, tag: str) -> list[Any]:
    from rs_core.testing.kit.catalog import make_item

    return [make_item(f"{tag}-{i:06d}") for i in range(n)]


def bench_bulk(args: argparse.Namespace, targets: Targets) -> Section:
    import rs_core
    from rs_core.testing.kit.catalog import make_collection

    section = Section("6. Bulk catalog writes: `add_items` against the bulk endpoint")
    n = 1000 if args.quick else 10_000
    rounds = args.rounds or (2 if args.quick else 3)
    with simulator(products=10, files=10, sessions=1) as sim:
        url, key, owner = sim["url"], sim["api_key"], sim["owner"]
        catalog = rs_core.get_catalog(rs_server_href=url, rs_server_api_key=key, owner_id=owner)
        http = requests.Session()
        http.headers["x-api-key"] = key

        def fresh() -> str:
            name = f"b{uuid.uuid4().hex[:8]}"
            catalog.add_collection(make_collection(name))
            return name

        def direct() -> None:
            coll = fresh()
            items = _bench_items(n, "d")
            bodies = [i.to_dict(include_self_link=False, transform_hrefs=False) for i in items]
            for body in bodies:
                body["collection"] = coll
            for start in range(0, n, 1000):
                chunk = {b["id"]: b for b in bodies[start : start + 1000]}
                answer = http.post(
                    f"{url}/catalog/collections/{owner}:{coll}/bulk_items",
                    json={"items": chunk, "method": "insert"},
                    timeout=120,
                )
                answer.raise_for_status()

        def ours() -> None:
            coll = fresh()
            results = catalog.add_items(coll, _bench_items(n, "o"))
            assert all(r.ok for r in results)

        one_n = max(200, n // 20)

        def one_by_one() -> None:
            coll = fresh()
            results = catalog.add_items(coll, _bench_items(one_n, "s"), bulk=False)
            assert all(r.ok for r in results)

        measured = rounds_of({"direct": direct, "ours": ours, "single": one_by_one}, rounds)
        http.close()
        catalog.close()
    t_direct, t_ours = median(measured["direct"]), median(measured["ours"])
    t_single = median(measured["single"]) * n / one_n
    shown = f"{ratio(t_ours, t_direct):.2f}x"
    section.rows += [
        Row(f"bulk endpoint called directly, {n:,} items (chunks of 1,000)", ms(t_direct)),
        Row(
            f"`add_items` of {n:,} items",
            ms(t_ours),
            "direct",
            shown,
            "<= 1.5x direct",
            targets.check(
                "add_items(10k) <= 1.5x the bulk endpoint", shown, t_ours <= 1.5 * t_direct
            ),
        ),
        Row(
            f"one request per item, 4 at a time (`bulk=False`), from {one_n:,}",
            ms(t_single),
            "ours",
            f"{ratio(t_single, t_ours):.1f}x slower",
        ),
    ]
    section.notes += [
        f"{rounds} rounds, interleaved, medians; a fresh collection each run. 'direct' posts "
        "ready-made bodies (`Item.to_dict()`), ours builds and checks each item offline first.",
        "The simulator's catalog (RS-Server 1.0's bulk_items, all or nothing per chunk) runs "
        "in a child process.",
    ]
    return section


# -- v2 staging of 50 files ----------------------------------------------------------------


def _bare_staging(url: str, key: str, features: list[dict[str, Any]]) -> tuple[float, int]:
    """POST one job with ``features``, poll ``GET /jobs/{id}`` every 0.05 s: (time, polls)."""
    started = time.perf_counter()
    polls = 0
    with requests.Session() as http:
        http.headers["x-api-key"] = key
        job = http.post(
            f"{url}/processes/staging/execution",
            json={
                "inputs": {
                    "collection": "auxip_staged",  # created by ours, which runs first
                    "items": {"value": {"type": "FeatureCollection", "features": features}},
                }
            },
            timeout=60,
        ).json()
        while job.get("status") not in ("successful", "failed", "dismissed"):
            time.sleep(0.05)
            job = http.get(f"{url}/jobs/{job['jobID']}", timeout=60).json()
            polls += 1
    return time.perf_counter() - started, polls


def bench_v2staging(args: argparse.Namespace, targets: Targets) -> Section:
    from rs_auxip import AuxipClient

    section = Section("7. v2 staging: `stage_and_wait` of 50 files in one job")
    rounds = args.rounds or (1 if args.quick else 3)
    for duration in (1.0, 3.0):
        with simulator(api_version="v2", products=400, staging_duration=duration) as sim:
            url, key = sim["url"], sim["api_key"]
            ledger = Path(tempfile.mkdtemp(prefix="rs-bench-ledger-")) / "ledger.sqlite3"
            client = AuxipClient(url, key, sim["owner"], api_version="v2", ledger=str(ledger))
            found = client.search_stations(START, STOP, page_size=PAGE, max_items=400)
            names = iter(found.ids)
            raw = iter(found.raw["features"])
            counted: list[str] = []
            client.http.session.hooks["response"].append(
                lambda r, *a, seen=counted, **k: seen.append(f"{r.request.method} {r.url}")
            )
            ours_t, bare_t, ours_req, bare_polls = [], [], [], []
            polled_ok: list[bool] = []  # status requests <= polls x jobs (one job)
            for _ in range(rounds):
                batch = [next(names) for _ in range(50)]
                counted.clear()
                started = time.perf_counter()
                report = client.stage_and_wait(batch, timeout=60)
                ours_t.append(time.perf_counter() - started)
                assert report.ok, report.summary()
                ours_req.append(sum(1 for c in counted if "/jobs/" in c))
                gets = sum(1 for c in counted if c.startswith("GET ") and "/jobs/" in c)
                polled_ok.append(gets <= report.polls)
                spent, polls = _bare_staging(url, key, [next(raw) for _ in range(50)])
                bare_t.append(spent)
                bare_polls.append(polls)
            client.close()
        t_ours, t_bare = median(ours_t), median(bare_t)
        shown = f"{ratio(t_ours, t_bare):.2f}x"
        section.rows += [
            Row(f"job of {duration:g} s: bare client polling every 0.05 s", ms(t_bare)),
            Row(
                f"job of {duration:g} s: `stage_and_wait(50 files)`",
                ms(t_ours),
                "bare",
                shown,
                "<= 1.1x bare",
                targets.check(
                    f"stage_and_wait 50 files, {duration:g} s job <= 1.1x bare",
                    shown,
                    t_ours <= 1.1 * t_bare,
                ),
            ),
            Row(
                f"job of {duration:g} s: status requests, ours (median)",
                f"{median(ours_req):.0f}",
                "bare polls",
                f"{median(bare_polls):.0f}",
                "<= polls x jobs",
                targets.check(
                    f"stage_and_wait, {duration:g} s job: status requests <= polls x jobs",
                    f"{sum(polled_ok)}/{len(polled_ok)} runs",
                    all(polled_ok),
                ),
            ),
        ]
    section.notes += [
        f"{rounds} round(s) per job length, fresh files each round; requests counted on the "
        "client's session (`GET|DELETE .../jobs/...`); `<= polls x jobs` checks, in every run, "
        "the `GET .../jobs/...` requests against the report's poll rounds (one job). The "
        "client writes a staging ledger (SQLite) in a temporary directory, as it does by "
        "default in the user's state directory.",
    ]
    return section
