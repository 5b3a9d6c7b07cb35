"""StacClient.add_items: the bulk endpoint where the server has it, bounded concurrency where
not, and one outcome per item either way (simulator; stac-fastapi-pgstac when running)."""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

import pystac
import pytest
from rs_catalog import StacClient

from rs_core.errors import ConflictError, InvalidInputError
from rs_core.testing.kit.catalog import make_collection, make_item
from rs_core.testing.simulator import RsServerSimulator


def _fresh(client: StacClient) -> str:
    name = f"bulk_{uuid.uuid4().hex[:8]}"
    client.add_collection(make_collection(name))
    return name


def _bulk_posts(sim: RsServerSimulator) -> list[Any]:
    return [r for r in sim.requests if r.path.endswith("/bulk_items")]


def _item_posts(sim: RsServerSimulator) -> list[Any]:
    return [r for r in sim.requests if r.method == "POST" and r.path.endswith("/items")]


def test_add_items_uses_the_bulk_endpoint(sim: RsServerSimulator, sim_client: StacClient) -> None:
    coll = _fresh(sim_client)
    items = [make_item(f"b-{k:04d}") for k in range(250)]
    sim.clear_requests()
    results = sim_client.add_items(coll, items, chunk_size=100)
    assert [r.item_id for r in results] == [i.id for i in items]
    assert all(r.ok and isinstance(r.item, pystac.Item) for r in results)
    assert results[0].item is not None and results[0].item.collection_id.endswith(f":{coll}")
    assert len(_bulk_posts(sim)) == 3 and not _item_posts(sim), "chunks of 100, no single POST"
    stored = {i.id for i in sim_client.get_items(collection_id=coll)}
    assert stored == {i.id for i in items}


def test_the_next_chunk_is_checked_while_one_is_on_the_wire(
    sim: RsServerSimulator, sim_client: StacClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    coll = _fresh(sim_client)
    sim_client.add_items(coll, [make_item("known")])  # the endpoint is known to be there
    items = [make_item(f"w-{k:02d}") for k in range(30)]
    second_checked, first_built = threading.Event(), threading.Event()
    sending, most, order = [0], [0], []
    lock = threading.Lock()
    post, body, built = sim_client._post_bulk, sim_client._item_body, sim_client._item_from_dict

    def slow_post(owner: str, short: str, chunk: list[Any], timeout: float | None) -> bool:
        with lock:
            sending[0] += 1
            most[0] = max(most[0], sending[0])
        order.append(chunk[0][1].id)
        if len(order) == 1:  # the first chunk waits until the main thread checked the second
            assert second_checked.wait(10), "the next chunk was not checked during the first"
        if len(order) == 2:  # the second waits until the first chunk's results are built
            assert first_built.wait(10), "the results were not built during the next chunk"
        try:
            return post(owner, short, chunk, timeout)
        finally:
            with lock:
                sending[0] -= 1

    def seen_body(item: pystac.Item, owner: str, short: str) -> dict[str, Any]:
        if item.id == "w-10":
            second_checked.set()
        return body(item, owner, short)

    def seen_result(d: dict[str, Any], public: str | None = None) -> pystac.Item:
        if d["id"] == "w-00":
            first_built.set()
        return built(d, public)

    monkeypatch.setattr(sim_client, "_post_bulk", slow_post)
    monkeypatch.setattr(sim_client, "_item_from_dict", seen_result)
    monkeypatch.setattr(sim_client, "_item_body", seen_body)
    results = sim_client.add_items(coll, items, chunk_size=10)
    assert [r.item_id for r in results] == [i.id for i in items] and all(r.ok for r in results)
    assert order == ["w-00", "w-10", "w-20"], "the chunks go in order"
    assert most[0] == 1, "one bulk request at a time"
    stored = {i.id for i in sim_client.get_items(collection_id=coll)}
    assert {i.id for i in items} <= stored


class _OwnItem(pystac.Item):
    """An item class of the caller's own whose ``to_dict`` is its own (it could share
    anything)."""

    def to_dict(self, include_self_link: bool = True, transform_hrefs: bool = True) -> Any:
        return super().to_dict(include_self_link, transform_hrefs)


@pytest.mark.parametrize("kind", [pystac.Item, _OwnItem])
def test_a_body_sent_shares_nothing_with_the_item(
    sim_client: StacClient, kind: type[pystac.Item]
) -> None:
    base = make_item("deep", nested={"a": [1, {"b": 2}]}, tags=["x"])
    item = kind.from_dict(base.to_dict())
    item.assets["deep.bin"].extra_fields["file:values"] = [{"v": 1}]
    item.add_link(pystac.Link("related", "s3://b/x", extra_fields={"meta": {"k": [1]}}))
    before = json.dumps(item.to_dict(transform_hrefs=False), sort_keys=True)
    body = sim_client._item_body(item, "owner", "c")
    body["properties"]["nested"]["a"][1]["b"] = 3
    body["properties"]["tags"].append("y")
    body["geometry"]["coordinates"][0] = 0.0
    body["bbox"][0] = 0.0
    body["stac_extensions"].append("z")
    body["assets"]["deep.bin"]["roles"].append("z")
    body["assets"]["deep.bin"]["file:values"][0]["v"] = 2
    related = next(link for link in body["links"] if link["rel"] == "related")
    related["meta"]["k"].append(2)
    assert json.dumps(item.to_dict(transform_hrefs=False), sort_keys=True) == before


def test_a_refused_chunk_goes_item_by_item(sim: RsServerSimulator, sim_client: StacClient) -> None:
    coll = _fresh(sim_client)
    sim_client.add_item(coll, make_item("dup"))
    items = [make_item("a1"), make_item("dup"), make_item("a2"), make_item("a3")]
    bad = make_item("bad")
    bad.assets["bad.bin"].href = "https://not-s3/bad.bin"  # refused offline (RS-Server rules)
    sim.clear_requests()
    results = sim_client.add_items(coll, [*items, bad], chunk_size=2)
    outcome = {r.item_id: r for r in results}
    assert [r.item_id for r in results] == ["a1", "dup", "a2", "a3", "bad"]
    assert isinstance(outcome["dup"].error, ConflictError)
    assert isinstance(outcome["bad"].error, InvalidInputError)
    assert all(outcome[k].ok for k in ("a1", "a2", "a3"))
    # chunk [a1, dup] refused (409, nothing stored) then item by item; [a2, a3] in bulk
    assert len(_bulk_posts(sim)) == 2 and len(_item_posts(sim)) == 2


def test_without_the_endpoint_items_go_concurrently(
    sim: RsServerSimulator, sim_client: StacClient
) -> None:
    coll = _fresh(sim_client)
    sim.catalog.bulk_items = False
    try:
        sim.clear_requests()
        first = sim_client.add_items(coll, [make_item(f"c-{k}") for k in range(30)], max_workers=4)
        second = sim_client.add_items(coll, [make_item(f"d-{k}") for k in range(5)])
    finally:
        sim.catalog.bulk_items = True
    assert all(r.ok for r in first + second) and len(first) == 30
    assert [r.item_id for r in first] == [f"c-{k}" for k in range(30)], "in order"
    assert len(_bulk_posts(sim)) == 1, "the missing endpoint is detected once per client"
    assert len(_item_posts(sim)) == 35


def test_bulk_false_and_bad_arguments(sim: RsServerSimulator, sim_client: StacClient) -> None:
    coll = _fresh(sim_client)
    sim.clear_requests()
    assert all(r.ok for r in sim_client.add_items(coll, [make_item("x1")], bulk=False))
    assert not _bulk_posts(sim)
    for bad in ({"chunk_size": 0}, {"max_workers": 0}, {"chunk_size": True}):
        with pytest.raises(InvalidInputError):
            sim_client.add_items(coll, [make_item("x2")], **bad)


def test_pgstac_bulk_items(pgstac_client: StacClient) -> None:
    coll = _fresh(pgstac_client)
    items = [make_item(f"p-{k:03d}") for k in range(120)]
    results = pgstac_client.add_items(coll, items, chunk_size=50)
    assert all(r.ok for r in results) and pgstac_client._bulk_items is True
    again = pgstac_client.add_items(coll, [make_item("p-000"), make_item("p-new")])
    assert isinstance(again[0].error, ConflictError) and again[1].ok
    stored = {i.id for i in pgstac_client.get_items(collection_id=coll)}
    assert {i.id for i in items} | {"p-new"} <= stored
