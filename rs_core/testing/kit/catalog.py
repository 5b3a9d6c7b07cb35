"""The catalog contract: what every catalog plugin's client must do against a live STAC API.

A plugin author subclasses :class:`CatalogContract` and overrides one fixture::

    # test_contract.py
    import pytest
    from rs_core.testing.kit.catalog import CatalogContract

    class TestMyCatalog(CatalogContract):
        @pytest.fixture
        def catalog_client(self, my_server_url):
            client = rs_core.get_catalog("stac", rs_server_href=my_server_url,
                                         rs_server_api_key="key", owner_id="kitowner")
            yield client
            client.close()

The client is used through the catalog API of ``rs_core`` (``add_collection``,
``get_collection``, ``update_collection``, ``remove_collection``, ``add_item``, ``get_item``,
``update_item``, ``remove_item``, ``add_items``, ``get_items``, ``search``) and must answer
with pystac objects and typed :mod:`rs_core.errors`. Collections come back with their public id
``owner:collection`` and an ``owner`` field; items with ``collection_id == "owner:collection"``.

Each test uses its own collection (a fresh uuid-based id) and removes it afterwards, so the
contract can run against a shared server. Capabilities gate tests and **skip loudly**:
``transactions`` (create/update/delete) and ``item_search`` (``/search``). The kit knows no
plugin by name.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pystac
import pytest

from rs_core.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    RequestRejectedError,
    RsError,
)

__all__ = ["PUBLIC_LICENSE_URL", "CatalogContract", "make_collection", "make_item"]

PUBLIC_LICENSE_URL = "https://creativecommons.org/licenses/publicdomain/"
HOSTILE_IDS = ("a/b", "a?b=1", "a#b", ".", "..", "../x", "..%2f", "%2e%2e", "a b")
_T0 = datetime(2024, 3, 1, tzinfo=UTC)


def make_collection(collection_id: str, description: str = "") -> pystac.Collection:
    """A minimal valid collection (world extent, open interval)."""
    extent = pystac.Extent(
        pystac.SpatialExtent([[-180.0, -90.0, 180.0, 90.0]]),
        pystac.TemporalExtent([[_T0, None]]),
    )
    return pystac.Collection(collection_id, description, extent)


def make_item(item_id: str, when: datetime = _T0, **properties: Any) -> pystac.Item:
    """A valid item by RS-Server's rules too: ``stac_extensions``, an ``s3://`` asset whose
    file name equals its key, a geometry."""
    item = pystac.Item(
        item_id,
        {"type": "Point", "coordinates": [10.0, 45.0]},
        [10.0, 45.0, 10.0, 45.0],
        when,
        dict(properties),
        stac_extensions=[],
    )
    key = f"{item_id}.bin" if "/" not in item_id else "file.bin"
    item.add_asset(key, pystac.Asset(f"s3://rs-kit-bucket/kit/{key}", roles=["data"]))
    return item


class CatalogContract:
    """Contract tests of a catalog client. Override the ``catalog_client`` fixture.

    Class attributes:

    ``transactions``
        The catalog creates, updates and deletes collections and items (else those tests
        skip, loudly).
    ``item_search``
        The catalog serves ``/search`` (else the search tests skip, loudly).
    ``collection_prefix``
        Start of the per-test collection ids (a uuid follows).
    """

    transactions: ClassVar[bool] = True
    item_search: ClassVar[bool] = True
    collection_prefix: ClassVar[str] = "kit"

    # -- fixtures ------------------------------------------------------------------------

    @pytest.fixture
    def catalog_client(self) -> Any:
        """The client under test: override this fixture."""
        pytest.fail(f"{type(self).__name__} must override the 'catalog_client' fixture")

    @pytest.fixture
    def collection_id(self, catalog_client: Any) -> Iterator[str]:
        """A fresh collection id, removed (if it exists) after the test."""
        cid = f"{self.collection_prefix}{uuid.uuid4().hex[:12]}"
        yield cid
        if self.transactions:
            with contextlib.suppress(NotFoundError):
                catalog_client.remove_collection(cid)

    @pytest.fixture
    def collection(self, catalog_client: Any, collection_id: str) -> Any:
        """A created collection (needs ``transactions``)."""
        self._need("transactions")
        return catalog_client.add_collection(make_collection(collection_id))

    def _need(self, capability: str) -> None:
        if not getattr(self, capability):
            pytest.skip(
                f"SKIPPED BY CAPABILITY: {type(self).__name__} declares no {capability!r}; "
                "the contract tests that need it did not run"
            )

    @staticmethod
    def _public(client: Any, collection_id: str) -> str:
        return f"{client.owner_id}:{collection_id}"

    # -- landing -------------------------------------------------------------------------

    def test_landing_and_conformance(self, catalog_client: Any) -> None:
        assert isinstance(catalog_client.id, str) and catalog_client.id
        conforms = catalog_client.get_conforms_to()
        assert any("/core" in uri for uri in conforms), conforms
        if self.item_search:
            assert any("item-search" in uri for uri in conforms), conforms
        if self.transactions:
            assert any("transaction" in uri for uri in conforms), conforms

    # -- collections ---------------------------------------------------------------------

    def test_collection_lifecycle(self, catalog_client: Any, collection_id: str) -> None:
        self._need("transactions")
        public = self._public(catalog_client, collection_id)
        created = catalog_client.add_collection(make_collection(collection_id))
        assert created.id == public
        got = catalog_client.get_collection(collection_id)
        assert got.id == public
        assert got.extra_fields.get("owner") == catalog_client.owner_id
        assert got.license == "public-domain"
        assert PUBLIC_LICENSE_URL in [link.href for link in got.links if link.rel == "license"]
        owner = catalog_client.owner_id
        assert got.description == f"This is the collection {collection_id} from user {owner}."
        assert public in [c.id for c in catalog_client.get_collections()]

        got.title = "Updated by the kit"
        catalog_client.update_collection(got)
        assert catalog_client.get_collection(collection_id).title == "Updated by the kit"

        catalog_client.remove_collection(collection_id)
        with pytest.raises(NotFoundError):
            catalog_client.get_collection(collection_id)
        assert public not in [c.id for c in catalog_client.get_collections()]

    def test_public_id_is_accepted(self, catalog_client: Any, collection: Any) -> None:
        assert catalog_client.get_collection(collection.id).id == collection.id

    def test_add_collection_does_not_modify_its_argument(
        self, catalog_client: Any, collection_id: str
    ) -> None:
        self._need("transactions")
        original = make_collection(collection_id)
        before = original.to_dict(include_self_link=False, transform_hrefs=False)
        catalog_client.add_collection(original)
        with pytest.raises(ConflictError):
            catalog_client.add_collection(original)
        assert original.to_dict(include_self_link=False, transform_hrefs=False) == before
        assert original.id == collection_id

    def test_no_public_license_when_told(self, catalog_client: Any, collection_id: str) -> None:
        self._need("transactions")
        given = make_collection(collection_id, description="mine")
        given.license = "proprietary"
        catalog_client.add_collection(given, add_public_license=False)
        got = catalog_client.get_collection(collection_id)
        assert got.license == "proprietary"
        assert got.description == "mine"
        assert PUBLIC_LICENSE_URL not in [link.href for link in got.links]

    def test_duplicate_collection_is_a_conflict(self, catalog_client: Any, collection: Any) -> None:
        with pytest.raises(ConflictError) as caught:
            catalog_client.add_collection(make_collection(collection.id.split(":", 1)[1]))
        assert caught.value.status == 409
        assert caught.value.response is not None

    def test_missing_collection_is_not_found(self, catalog_client: Any, collection_id: str) -> None:
        with pytest.raises(NotFoundError) as caught:
            catalog_client.get_collection(collection_id)
        assert caught.value.status == 404
        if self.transactions:
            with pytest.raises(NotFoundError):
                catalog_client.remove_collection(collection_id)
            with pytest.raises(NotFoundError):
                catalog_client.update_collection(make_collection(collection_id))

    def test_invalid_collection_is_rejected(self, catalog_client: Any, collection_id: str) -> None:
        self._need("transactions")
        bad = make_collection(collection_id)
        bad.extent.spatial.bboxes = [[0.0, 1.0]]
        with pytest.raises((InvalidInputError, RequestRejectedError)):
            catalog_client.add_collection(bad)
        with pytest.raises(NotFoundError):
            catalog_client.get_collection(collection_id)

    def test_bad_collection_ids_are_typed_errors(self, catalog_client: Any) -> None:
        for bad in ("", "   ", None, 42):
            with pytest.raises(InvalidInputError):
                catalog_client.get_collection(bad)

    # -- items ---------------------------------------------------------------------------

    def test_item_lifecycle(self, catalog_client: Any, collection: Any) -> None:
        public = collection.id
        stored = catalog_client.add_item(collection.id, make_item("kit_item_1"))
        assert stored.id == "kit_item_1"
        assert stored.collection_id == public
        assert stored.properties.get("owner") == catalog_client.owner_id

        got = catalog_client.get_item("kit_item_1", collection_id=collection.id)
        assert got.id == "kit_item_1" and got.collection_id == public
        got.properties["kit:note"] = "updated"
        catalog_client.update_item(collection.id, got)
        again = catalog_client.get_item("kit_item_1", collection_id=collection.id)
        assert again.properties.get("kit:note") == "updated"

        catalog_client.remove_item(collection.id, "kit_item_1")
        with pytest.raises(NotFoundError):
            catalog_client.get_item("kit_item_1", collection_id=collection.id)

    def test_add_item_does_not_modify_its_argument(
        self, catalog_client: Any, collection: Any
    ) -> None:
        item = make_item("kit_item_copy")
        before = item.to_dict(include_self_link=False, transform_hrefs=False)
        catalog_client.add_item(collection.id, item)
        assert item.to_dict(include_self_link=False, transform_hrefs=False) == before

    def test_duplicate_item_is_a_conflict(self, catalog_client: Any, collection: Any) -> None:
        catalog_client.add_item(collection.id, make_item("kit_dup"))
        with pytest.raises(ConflictError):
            catalog_client.add_item(collection.id, make_item("kit_dup"))

    def test_item_in_missing_collection_is_not_found(
        self, catalog_client: Any, collection_id: str
    ) -> None:
        self._need("transactions")
        with pytest.raises(NotFoundError):
            catalog_client.add_item(collection_id, make_item("kit_orphan"))
        with pytest.raises(NotFoundError):
            catalog_client.get_item("kit_orphan", collection_id=collection_id)

    def test_missing_item_is_not_found(self, catalog_client: Any, collection: Any) -> None:
        with pytest.raises(NotFoundError):
            catalog_client.get_item("kit_nothing", collection_id=collection.id)
        with pytest.raises(NotFoundError):
            catalog_client.remove_item(collection.id, "kit_nothing")
        with pytest.raises(NotFoundError):
            catalog_client.update_item(collection.id, make_item("kit_nothing"))

    def test_invalid_item_is_rejected(self, catalog_client: Any, collection: Any) -> None:
        bad = make_item("kit_bad")
        bad.datetime = None  # and no start/end datetime
        with pytest.raises((InvalidInputError, RequestRejectedError)):
            catalog_client.add_item(collection.id, bad)
        with pytest.raises((InvalidInputError, RsError)):
            catalog_client.add_item(collection.id, "not an item")
        with pytest.raises(NotFoundError):
            catalog_client.get_item("kit_bad", collection_id=collection.id)

    def test_hostile_item_ids_never_change_the_path(
        self, catalog_client: Any, collection: Any
    ) -> None:
        catalog_client.add_item(collection.id, make_item("kit_keep"))
        for hostile in HOSTILE_IDS:
            # Not found, or refused before sending (".." cannot be a path segment).
            with pytest.raises((NotFoundError, InvalidInputError)):
                catalog_client.get_item(hostile, collection_id=collection.id)
            with pytest.raises((NotFoundError, InvalidInputError)):
                catalog_client.remove_item(collection.id, hostile)
        # ".." must not have reached the collection, nor another item.
        assert catalog_client.get_collection(collection.id).id == collection.id
        assert catalog_client.get_item("kit_keep", collection_id=collection.id).id == "kit_keep"

    def test_bulk_add_reports_each_item(self, catalog_client: Any, collection: Any) -> None:
        catalog_client.add_item(collection.id, make_item("kit_b2"))
        broken = make_item("kit_b3")
        broken.datetime = None
        results = catalog_client.add_items(
            collection.id, [make_item("kit_b1"), make_item("kit_b2"), broken]
        )
        assert [r.item_id for r in results] == ["kit_b1", "kit_b2", "kit_b3"]
        assert [r.ok for r in results] == [True, False, False]
        assert isinstance(results[1].error, ConflictError)
        assert isinstance(results[2].error, (InvalidInputError, RequestRejectedError))
        assert results[0].item is not None and results[0].item.collection_id == collection.id

    # -- reading and searching -----------------------------------------------------------

    @pytest.fixture
    def five_items(self, catalog_client: Any, collection: Any) -> list[str]:
        ids = [f"kit_s{n}" for n in range(5)]
        for n, item_id in enumerate(ids):
            catalog_client.add_item(collection.id, make_item(item_id, _T0 + timedelta(days=n)))
        return ids

    def test_get_items_pages_through_a_collection(
        self, catalog_client: Any, collection: Any, five_items: list[str]
    ) -> None:
        got = list(catalog_client.get_items(collection_id=collection.id))
        assert sorted(i.id for i in got) == five_items
        assert {i.collection_id for i in got} == {collection.id}
        assert len(list(catalog_client.get_items(collection_id=collection.id, max_items=2))) == 2
        picked = catalog_client.get_items("kit_s1", "kit_s3", collection_id=collection.id)
        assert sorted(i.id for i in picked) == ["kit_s1", "kit_s3"]

    def test_search_by_collection_with_paging(
        self, catalog_client: Any, collection: Any, five_items: list[str]
    ) -> None:
        self._need("item_search")
        search = catalog_client.search(collections=[collection.id], limit=2)
        pages = list(search.pages())
        assert len(pages) >= 3, "5 items by pages of 2 need 3 pages (next links)"
        found = [item for page in pages for item in page.items]
        assert sorted(i.id for i in found) == five_items
        assert {i.collection_id for i in found} == {collection.id}
        capped = list(
            catalog_client.search(collections=[collection.id], limit=2, max_items=3).items()
        )
        assert len(capped) == 3

    def test_search_by_ids_and_datetime(
        self, catalog_client: Any, collection: Any, five_items: list[str]
    ) -> None:
        self._need("item_search")
        by_ids = catalog_client.search(collections=[collection.id], ids=["kit_s0", "kit_s4"])
        assert sorted(i.id for i in by_ids.items()) == ["kit_s0", "kit_s4"]
        start, end = _T0 + timedelta(days=1), _T0 + timedelta(days=2, hours=1)
        window = f"{start.isoformat()}/{end.isoformat()}"
        by_time = catalog_client.search(collections=[collection.id], datetime=window)
        assert sorted(i.id for i in by_time.items()) == ["kit_s1", "kit_s2"]

    def test_search_defaults_to_the_owners_collections(
        self, catalog_client: Any, collection: Any, five_items: list[str]
    ) -> None:
        self._need("item_search")
        found = list(catalog_client.search(ids=five_items[:2]).items())
        assert sorted(i.id for i in found if i.collection_id == collection.id) == five_items[:2]

    def test_bad_search_arguments_are_typed_errors(self, catalog_client: Any) -> None:
        self._need("item_search")
        for bad in (0, -1, "3"):
            with pytest.raises(InvalidInputError):
                catalog_client.search(collections=["x"], max_items=bad)
        with pytest.raises(InvalidInputError):
            catalog_client.search(collections=["x"], limit=0)

    # -- cleanup -------------------------------------------------------------------------

    def test_removing_a_collection_removes_its_items(
        self, catalog_client: Any, collection: Any, five_items: list[str]
    ) -> None:
        catalog_client.remove_collection(collection.id)
        with pytest.raises(NotFoundError):
            catalog_client.get_item(five_items[0], collection_id=collection.id)
        with pytest.raises(NotFoundError):
            catalog_client.get_collection(collection.id)
