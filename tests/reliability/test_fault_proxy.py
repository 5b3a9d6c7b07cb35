"""The fault proxy itself, in front of the simulator: what it forwards, what it keeps back,
and that paging comes back through it (``test_fault_proxy_real.py`` puts it in front of the
real RS-Server 1.0 services)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests
from reliability_support import FAST
from rs_auxip import AuxipClient
from rs_catalog import StacClient

from rs_core.errors import RsConnectionError, ServerError
from rs_core.testing.fault_proxy import FaultProxy
from rs_core.testing.kit.catalog import make_collection, make_item
from rs_core.testing.simulator import (
    Dataset,
    Fault,
    RecordedRequest,
    Response,
    RsServerSimulator,
)

ITEMS = "/auxip/collections/adgs/items"


@pytest.fixture
def sim() -> Iterator[RsServerSimulator]:
    dataset = Dataset.synthetic(n_products=6, n_files=0, n_sessions=0, seed=3)
    with RsServerSimulator(api_version="v2", dataset=dataset) as server:
        yield server


@pytest.fixture
def proxy(sim: RsServerSimulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultProxy]:
    with FaultProxy(sim.url) as running:
        monkeypatch.setenv("RSPY_HOST_ADGS", running.url)
        monkeypatch.setenv("RSPY_HOST_CATALOG", running.url)
        yield running


def test_page_two_comes_back_through_the_proxy(sim: RsServerSimulator, proxy: FaultProxy) -> None:
    fault = proxy.add_fault(Fault(path=ITEMS, kind="status", status=503, times=1, skip=1))
    with AuxipClient(None, None, "owner", http_settings=FAST, api_version="v2") as client:
        found = client.search_stations("2000-01-01", "2100-01-01", page_size=2, max_items=4)
    assert len(found) == 4 and found.extra_fields["pages"] == 2
    pages = [r for r in proxy.requests if r.path == ITEMS]
    assert len(pages) == 3, "page 1, page 2 (503), page 2 again"
    assert "token" not in pages[0].query and all("token" in p.query for p in pages[1:])
    assert fault not in proxy.faults, "used up"
    assert len([r for r in sim.requests if r.path == ITEMS]) == 2, "the 503 was never forwarded"


@pytest.mark.parametrize(
    ("kind", "forwarded"), [("status", False), ("reset", False), ("truncate", True)]
)
def test_what_reaches_the_server(
    sim: RsServerSimulator, proxy: FaultProxy, kind: str, forwarded: bool
) -> None:
    catalog = StacClient.open(None, None, "owner", http_settings=FAST)
    catalog.add_collection(make_collection("proxied"))
    path = r"^/catalog/collections/[^/]+/items$"
    proxy.add_fault(Fault(path_regex=path, method="POST", kind=kind, times=1))
    error = ServerError if kind == "status" else RsConnectionError
    with pytest.raises(error) as caught:
        catalog.add_item("proxied", make_item("through"))
    assert caught.value.url and caught.value.url.startswith(proxy.url)
    posts = [r for r in sim.requests if r.method == "POST" and re.match(path, r.path)]
    assert len(posts) == (1 if forwarded else 0)
    answer = requests.get(f"{sim.url}/catalog/collections/owner:proxied/items", timeout=10)
    stored = [f["id"] for f in answer.json()["features"]]
    assert stored == (["through"] if forwarded else []), "the server has it iff it was forwarded"
    catalog.close()


def test_an_unreachable_upstream_is_a_502() -> None:
    with (
        FaultProxy("http://127.0.0.1:9") as proxy,
        AuxipClient(proxy.url, "k", "owner", http_settings=FAST, api_version="v2") as client,
        pytest.raises(ServerError, match="502"),
    ):
        client.search_stations("2000-01-01", "2100-01-01", limit=1)


class _FirstIdOnly(FaultProxy):
    """Forwards a search by several ids with the first only: what RS-Server 1.0a4 answers."""

    def _route(self, request: RecordedRequest) -> Response:
        ids = request.param("ids")
        if request.path.endswith("/search") and ids:
            query = {name: values[-1] for name, values in request.query.items()}
            query["ids"] = ids.split(",")[0]
            request = RecordedRequest(
                request.method, request.raw_path, urlencode(query), request.headers, request.body
            )
        return super()._route(request)


def test_files_found_by_id_on_a_server_that_answers_the_first_id_only(
    sim: RsServerSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new process stages files it never searched: their items are found by id, one at a
    time when the server answers a search of several ids with the first one only."""
    monkeypatch.setenv("RSPY_HOST_ADGS", sim.url)
    with AuxipClient(None, None, "owner", http_settings=FAST, api_version="v2") as seen:
        names = sorted(i.id for i in seen.search_stations("2000-01-01", "2100-01-01"))
    assert len(names) == 6
    with _FirstIdOnly(sim.url) as proxy:
        monkeypatch.setenv("RSPY_HOST_ADGS", proxy.url)
        with AuxipClient(None, None, "owner", http_settings=FAST, api_version="v2") as fresh:
            report = fresh.stage_and_wait(names, poll_interval=0.05, timeout=60)
        searches = [r for r in proxy.requests if r.path == "/auxip/search"]
    assert report.ok, report.summary()
    assert len(searches) == 1 + 5, "one search of six ids, then the five it missed one by one"
    (job,) = sim.jobs
    assert sorted(job["items"]) == sorted(n.rsplit(".", 1)[0] for n in names)


def test_docs_show_the_real_server_table() -> None:
    """docs/reliability.md holds the table ``test_fault_proxy_real`` asserts, as rendered."""
    from test_fault_proxy_real import render_real

    doc = (Path(__file__).resolve().parents[2] / "docs" / "reliability.md").read_text()
    assert "\n".join(render_real()) in doc, "regenerate the table: render_real()"
