"""Issue 16, the Python side of the operator's day: publish staged files, relative dates,
short reprs of searches, typed accessors, the seed's ``href_catalog``."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import rs_core
from rs_core.testing.simulator import ApiKey, RsServerSimulator

KEY = "py-day-key-77aa"
ROOT = Path(__file__).resolve().parents[2]
PLUGIN_SOURCES = [str(ROOT / "plugins" / p) for p in ("rs_cadip", "rs_catalog")]


@pytest.fixture(scope="module")
def sim() -> Iterator[RsServerSimulator]:
    with RsServerSimulator(
        api_keys={KEY: ApiKey.full_access("py_user")}, staging_duration=0.05
    ) as server:
        yield server


def test_publish_posts_done_files_with_their_s3_href(sim: RsServerSimulator) -> None:
    auxip = rs_core.get_station("auxip", rs_server_href=sim.url, rs_server_api_key=KEY)
    files = list(auxip.search_stations("2016-01-01", "now", limit=3))
    report = auxip.stage_and_wait(files[:2], s3_path="s3://b/aux", poll_interval=0.05)
    catalog = rs_core.get_catalog(client=auxip)
    results = catalog.publish("py_aux", files, s3_path="s3://b/aux", report=report)
    assert [r.ok for r in results] == [True, True, False]  # the third was never staged
    assert isinstance(results[2].error, rs_core.StagingError)
    assert "not in the staging report" in str(results[2].error)
    stored = catalog.get_item(files[0].id, collection_id="py_aux")
    assert list(stored.assets) == [files[0].id]


def test_publish_without_href_is_refused_before_any_request(sim: RsServerSimulator) -> None:
    auxip = rs_core.get_station("auxip", rs_server_href=sim.url, rs_server_api_key=KEY)
    files = list(auxip.search_stations("2016-01-01", "now", limit=1))
    catalog = rs_core.get_catalog(client=auxip)
    before = len(sim.requests)
    with pytest.raises(rs_core.InvalidInputError, match="s3_path"):
        catalog.publish("py_aux2", files)
    assert len(sim.requests) == before


def test_catalog_item_keeps_the_station_metadata() -> None:
    import pystac
    from rs_catalog.publish import catalog_item

    source = pystac.Item("f.raw", None, None, None, {
        "start_datetime": "2024-01-01T00:00:00Z", "end_datetime": "2024-01-01T00:10:00Z",
        "platform": "S1A"})  # fmt: skip
    source.add_asset("file", pystac.Asset("http://station/f.raw", extra_fields={"file:size": 7}))
    item = catalog_item(source, "s3://bucket/dir/f.raw", "coll")
    assert item.properties["platform"] == "S1A" and item.datetime is None
    assert item.assets["f.raw"].extra_fields["file:size"] == 7
    with pytest.raises(rs_core.InvalidInputError, match="s3://"):
        catalog_item(source, "/local/f.raw")


def test_relative_dates_in_python(sim: RsServerSimulator) -> None:
    auxip = rs_core.get_station("auxip", rs_server_href=sim.url, rs_server_api_key=KEY)
    assert len(auxip.search_stations("-5000d", "now", limit=2)) == 2
    with pytest.raises(rs_core.InvalidInputError, match="yesterday"):
        auxip.search_stations("the day before", "now")


def test_catalog_search_repr_is_short_and_useful(sim: RsServerSimulator) -> None:
    catalog = rs_core.get_catalog(rs_server_href=sim.url, rs_server_api_key=KEY)
    text = repr(catalog.search(collections=["s1"], max_items=3))
    assert text.startswith("<catalog search http://127.0.0.1:")
    assert "collections=['pyuser_s1']" in text and "max_items=3" in text
    assert "object at" not in text and str(catalog.search(max_items=1)).startswith("<catalog")


def test_typed_accessors_return_the_plugin_class(sim: RsServerSimulator) -> None:
    from rs_cadip import CadipClient
    from rs_catalog import StacClient

    mti = rs_core.get_station(CadipClient, station="MTI", rs_server_href=sim.url,
                              rs_server_api_key=KEY)  # fmt: skip
    assert isinstance(mti, CadipClient) and mti.station_name == "MTI"
    assert isinstance(rs_core.get_catalog(StacClient, client=mti), StacClient)


def test_typed_accessors_type_check(tmp_path: Path) -> None:
    snippet = tmp_path / "typed.py"
    snippet.write_text(
        "from typing import assert_type\n"
        "import rs_core\n"
        "from rs_cadip import CadipClient\n"
        "from rs_catalog import StacClient\n"
        "mti = rs_core.get_station(CadipClient, station='MTI')\n"
        "assert_type(mti, CadipClient)\n"
        "assert_type(rs_core.get_catalog(StacClient, client=mti), StacClient)\n"
    )
    out = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(snippet)],
        cwd=ROOT,
        env={**os.environ, "MYPYPATH": os.pathsep.join(PLUGIN_SOURCES)},
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_href_catalog_is_the_service_url_as_in_the_seed(sim: RsServerSimulator) -> None:
    catalog = rs_core.get_catalog(rs_server_href=sim.url, rs_server_api_key=KEY)
    assert catalog.href_catalog == sim.url
    assert catalog.href_stac_api == sim.url + "/catalog"
    assert "href_stac_api=" in repr(catalog) and KEY not in repr(catalog)
