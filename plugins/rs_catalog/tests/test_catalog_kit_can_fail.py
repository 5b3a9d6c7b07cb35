"""The catalog kit must be able to fail: run it against a deliberately broken client."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

BROKEN = '''
import pytest
import rs_core
from catalog_settings import API_KEY, FAST, OWNER
from rs_catalog import StacClient
from rs_core.testing.kit.catalog import CatalogContract


class SloppyClient(StacClient):
    """Forgets the license and sends ids unquoted."""

    def _collection_body(self, collection, owner, short, add_public_license):
        return super()._collection_body(collection, owner, short, False)

    def _item_url(self, owner, short, item_id):
        return f"{self._collection_url(owner, short)}/items/{item_id}"


class TestBroken(CatalogContract):
    @pytest.fixture
    def catalog_client(self, sim):
        parent = rs_core.RsClient(sim.url, API_KEY, OWNER, http_settings=FAST)
        return SloppyClient.from_rs_client(parent)
'''


def test_the_kit_catches_a_broken_client(pytester: pytest.Pytester) -> None:
    pytester.makeconftest((Path(__file__).parent / "conftest.py").read_text())
    pytester.makepyfile(test_broken=BROKEN)
    result = pytester.runpytest_inprocess("-q", "-p", "no:cacheprovider")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) >= 2, result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "*FAILED*test_collection_lifecycle*",
            "*FAILED*test_hostile_item_ids_never_change_the_path*",
        ]
    )
