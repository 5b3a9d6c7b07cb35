"""Fixtures of the rs-plugin-catalog tests: the simulator's catalog and the real STAC servers.

Real servers come from ``scripts/stac-servers start`` and ``eval "$(scripts/stac-servers env)"``
(``RS_TEST_PGSTAC_URL``, ``RS_TEST_RSCATALOG_URL``). Without them the ``stac_server`` tests
skip, unless ``RS_REQUIRE_STAC_SERVERS=1`` (CI), which makes them fail loudly instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from catalog_settings import API_KEY, FAST, OWNER
from rs_catalog import StacClient

import rs_core
from rs_core.testing.simulator import ApiKey, RsServerSimulator


@pytest.fixture(scope="module")
def _catalog_sim() -> Iterator[RsServerSimulator]:
    with RsServerSimulator(api_keys={API_KEY: ApiKey(user_login=OWNER, iam_roles=[])}) as sim:
        yield sim


@pytest.fixture
def sim(_catalog_sim: RsServerSimulator) -> RsServerSimulator:
    """The module's simulator (cluster mode, key :data:`API_KEY`), with a clean log and faults."""
    _catalog_sim.clear_requests()
    _catalog_sim.clear_faults()
    return _catalog_sim


@pytest.fixture
def sim_client(sim: RsServerSimulator) -> Iterator[StacClient]:
    """A StacClient on the simulator, built through discovery."""
    client = rs_core.get_catalog(
        "stac",
        rs_server_href=sim.url,
        rs_server_api_key=API_KEY,
        owner_id=OWNER,
        http_settings=FAST,
    )
    yield client
    client.close()


def _server_url(var: str) -> str:
    url = os.environ.get(var, "").strip().rstrip("/")
    if url:
        return url
    if os.environ.get("RS_REQUIRE_STAC_SERVERS") == "1":
        pytest.fail(
            f"{var} is not set but RS_REQUIRE_STAC_SERVERS=1: run 'scripts/stac-servers start' "
            "and 'eval \"$(scripts/stac-servers env)\"'"
        )
    pytest.skip(f"{var} not set: the real STAC servers are not running (scripts/stac-servers)")


@pytest.fixture(scope="session")
def pgstac_url() -> str:
    """Root URL of stac-fastapi-pgstac (a plain STAC API with transactions)."""
    return _server_url("RS_TEST_PGSTAC_URL")


@pytest.fixture(scope="session")
def rscatalog_url() -> str:
    """Base URL of the real rs-server-catalog (local mode; its API is under /catalog)."""
    return _server_url("RS_TEST_RSCATALOG_URL")


@pytest.fixture
def pgstac_client(pgstac_url: str) -> Iterator[StacClient]:
    """StacClient on pgstac: API at the root, collection ids used as ``owner:coll`` literally."""
    client = StacClient.open(
        pgstac_url,
        "unused-by-pgstac",
        OWNER,
        catalog_path="",
        owner_mapping=False,
        http_settings=FAST,
    )
    yield client
    client.close()


@pytest.fixture
def rscatalog_client(rscatalog_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[StacClient]:
    """StacClient on the real rs-server-catalog in local mode (``RSPY_HOST_CATALOG``)."""
    monkeypatch.setenv("RSPY_HOST_CATALOG", rscatalog_url)
    client = StacClient.open(None, None, OWNER, http_settings=FAST)
    yield client
    client.close()


def pytest_collection_modifyitems(items: list[Any]) -> None:
    for item in items:
        if "pgstac" in item.nodeid.lower() or "rscatalog" in item.nodeid.lower():
            item.add_marker(pytest.mark.stac_server)
