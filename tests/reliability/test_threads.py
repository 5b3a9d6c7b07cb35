"""One client, many threads: searches, staging and status requests at once give right answers.

16 threads x 50 operations share one :class:`~rs_core.RsClient` (hence one session and one
connection pool): each thread checks every answer against what that operation alone returns.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from reliability_support import API_KEY, USER
from rs_catalog import StacClient

from rs_core.client import RsClient
from rs_core.enums import EDownloadStatus
from rs_core.http import HttpSettings
from rs_core.testing.kit.catalog import make_collection, make_item
from rs_core.testing.simulator import ApiKey, RsServerSimulator

THREADS = 16
OPS_PER_THREAD = 50
SETTINGS = HttpSettings(timeout=30.0, retries=3, backoff_factor=0.01, pool_size=THREADS)


@pytest.fixture(scope="module")
def sim() -> Iterator[RsServerSimulator]:
    with RsServerSimulator(
        api_keys={API_KEY: ApiKey.full_access(USER)}, staging_duration=0.02
    ) as server:
        yield server


def test_one_client_many_threads(sim: RsServerSimulator) -> None:
    rs = RsClient(sim.url, API_KEY, http_settings=SETTINGS)
    auxip, cadip = rs.get_auxip_client(), rs.get_cadip_client("CADIP")
    catalog: StacClient = rs.get_stac_client()
    catalog.add_collection(make_collection("threads"))
    # what each operation returns when run alone
    aux_ids = [i.id for i in auxip.search_stations("2016-01-01", "2030-01-01", limit=20)]
    cadu = [i.id for i in cadip.search_files("2019-01-01", "2030-01-01", limit=400)]
    sessions = sorted(i.id for i in cadip.search_sessions(platforms=["S1A"]))
    assert len(aux_ids) == 20 and len(cadu) >= 300 and sessions
    staged: dict[str, set[str]] = {}
    lock = threading.Lock()

    def worker(n: int) -> int:
        rng = random.Random(n)
        mine = cadu[n::THREADS]  # each thread stages its own files
        done = 0
        for k in range(OPS_PER_THREAD):
            op = rng.randrange(6)
            if op == 0:
                got = [i.id for i in auxip.search_stations("2016-01-01", "2030-01-01", limit=20)]
                assert got == aux_ids
            elif op == 1:
                got = sorted(i.id for i in cadip.search_sessions(platforms=["S1A"]))
                assert got == sessions
            elif op == 2:
                name = mine[k % len(mine)]
                cadip.staging(name, tmp_download_path=f"/tmp/t{n}")
                with lock:
                    staged.setdefault(name, set()).add(f"/tmp/t{n}")
            elif op == 3:
                name = mine[k % len(mine)]
                try:
                    status = cadip.staging_status(name)
                except Exception as err:  # never staged: NotFoundError only
                    assert type(err).__name__ == "NotFoundError", err
                else:
                    assert status in EDownloadStatus
            elif op == 4:
                item = catalog.add_item("threads", make_item(f"t{n}-{k}"))
                assert item.id == f"t{n}-{k}" and item.collection_id.endswith(":threads")
            else:
                found = catalog.search(collections=["threads"], ids=[f"t{n}-{k - 1}"])
                ids = [i.id for i in found.items()]
                assert ids in ([], [f"t{n}-{k - 1}"])
            done += 1
        return done

    with ThreadPoolExecutor(THREADS) as pool:
        counts = list(pool.map(worker, range(THREADS)))
    assert counts == [OPS_PER_THREAD] * THREADS
    # every staging request reached the server with its own thread's target folder
    for name, folders in staged.items():
        state = sim.staging_state(name)
        assert state is not None and state["local"] in folders, (name, state)
    added = [i.id for i in catalog.get_items(collection_id="threads")]
    assert len(added) == len(set(added))
    assert all(r.headers.get("x-api-key") == API_KEY for r in sim.requests)
    rs.close()
