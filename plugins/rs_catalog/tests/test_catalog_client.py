"""StacClient specifics: discovery, sessions, the API key's reach, errors, ids, shapes."""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pystac
import pytest
from catalog_settings import API_KEY, FAST, OWNER
from rs_catalog import ItemResult, StacClient, quote_segment
from rs_catalog.validation import collection_problems, item_problems, validate_item

import rs_core
from rs_core.errors import (
    BadResponseError,
    ConfigurationError,
    InvalidInputError,
    NotFoundError,
    ServerError,
)
from rs_core.testing.kit.catalog import make_collection, make_item
from rs_core.testing.simulator import Fault, RsServerSimulator


@pytest.fixture
def other_host() -> Iterator[RsServerSimulator]:
    """Another origin (127.0.0.2) that records whatever reaches it."""
    with RsServerSimulator(host="127.0.0.2") as sim:
        yield sim


@pytest.fixture
def cid(sim_client: StacClient) -> Iterator[str]:
    collection_id = f"t{uuid.uuid4().hex[:10]}"
    yield collection_id
    with contextlib.suppress(NotFoundError):
        sim_client.remove_collection(collection_id)


# -- building ----------------------------------------------------------------------------


def test_discovery_builds_a_stac_client_sharing_the_parent_session(sim: RsServerSimulator) -> None:
    parent = rs_core.RsClient(sim.url, API_KEY, OWNER, http_settings=FAST)
    child = parent.get_stac_client()
    assert isinstance(child, StacClient)
    assert child.http is parent.http
    assert child.stac_io.session is parent.http.session
    assert child.href_stac_api == sim.url + "/catalog"
    assert child.href_catalog == sim.url  # the seed's: the service, like href_adgs
    assert child.owner_id == OWNER
    via_core = rs_core.get_catalog(client=parent)
    assert isinstance(via_core, StacClient) and via_core.http.session is parent.http.session
    assert "stac" in [p.kind for p in rs_core.list_plugins() if p.category == "catalog"]


def test_open_takes_the_seed_arguments(sim: RsServerSimulator) -> None:
    client = StacClient.open(sim.url, API_KEY, OWNER, headers={"X-Trace": "t1"}, timeout=5)
    assert client.full_collection_id(None, "s1_aux") == f"{OWNER}:s1_aux"
    assert client.full_collection_id("bob", "s1_aux") == "bob:s1_aux"
    assert sim.requests[-1].headers.get("X-Trace") == "t1"
    with pytest.raises(ValueError, match="x-api-key"):
        StacClient.open(sim.url, API_KEY, OWNER, headers={"X-API-Key": "other"})


def test_rspy_host_catalog_overrides_the_href(
    sim: RsServerSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RSPY_HOST_CATALOG", sim.url + "/")
    client = StacClient.open("http://127.0.0.1:9", API_KEY, OWNER, http_settings=FAST)
    assert client.href_stac_api == sim.url + "/catalog"
    assert client.href_catalog == sim.url
    assert sim.requests[-1].headers.get("x-api-key") == API_KEY


def test_no_href_and_no_override_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RSPY_HOST_CATALOG", raising=False)
    with pytest.raises(ConfigurationError, match="RSPY_HOST_CATALOG"):
        StacClient.open(None, None, OWNER)


def test_not_a_stac_api_is_a_bad_response(sim: RsServerSimulator) -> None:
    sim.add_fault(Fault(path="/catalog/", kind="wrong_shape", body={"type": "Feature"}))
    with pytest.raises(BadResponseError, match="not a STAC landing page"):
        StacClient.open(sim.url, API_KEY, OWNER, http_settings=FAST)


def test_a_wrong_key_is_an_authentication_error(sim: RsServerSimulator) -> None:
    with pytest.raises(rs_core.AuthenticationError):
        StacClient.open(sim.url, "wrong-key", OWNER, http_settings=FAST)


# -- the API key -------------------------------------------------------------------------


def test_the_key_never_follows_a_next_link_to_another_host(
    sim_client: StacClient, sim: RsServerSimulator, other_host: RsServerSimulator, cid: str
) -> None:
    sim_client.add_collection(make_collection(cid))
    foreign_next = {
        "rel": "next",
        "href": other_host.url + "/catalog/search",
        "method": "GET",
        "type": "application/geo+json",
    }
    page = {
        "type": "FeatureCollection",
        "features": [make_item("first").to_dict()],
        "links": [foreign_next],
    }
    sim.add_fault(Fault(path="/catalog/search", kind="wrong_shape", body=page, times=1))
    list(sim_client.search(collections=[cid]).items())
    assert [r.headers.get("x-api-key") for r in sim.requests] and all(
        r.headers.get("x-api-key") == API_KEY for r in sim.requests
    )
    reached = [r for r in other_host.requests if r.path == "/catalog/search"]
    assert reached, "the next link was followed"
    assert all(r.headers.get("x-api-key") is None for r in reached)


def test_the_key_never_follows_a_redirect_to_another_host(
    sim_client: StacClient, sim: RsServerSimulator, other_host: RsServerSimulator
) -> None:
    target = other_host.url + "/catalog/collections/elsewhere:c"
    sim.add_fault(
        Fault(path="/catalog/collections/kitowner:c", kind="redirect", location=target, status=307)
    )
    with pytest.raises(NotFoundError):
        sim_client.get_collection("c")
    assert sim.requests[-1].headers.get("x-api-key") == API_KEY
    assert other_host.requests and other_host.requests[-1].headers.get("x-api-key") is None


def test_the_key_is_in_no_log_line_repr_or_error(
    sim: RsServerSimulator, caplog: pytest.LogCaptureFixture, cid: str
) -> None:
    caplog.set_level(logging.DEBUG)
    client = StacClient.open(sim.url, API_KEY, OWNER, http_settings=FAST)
    client.add_collection(make_collection(cid))
    client.add_item(cid, make_item("a"))
    list(client.search(collections=[cid]).items())
    sim.add_fault(Fault(path="/catalog/search", status=500, times=1))
    with pytest.raises(ServerError) as caught:
        list(client.search(collections=[cid]).items())
    logging.getLogger("pystac_client.stac_api_io").debug("headers: %s", client.stac_io.headers)
    assert any("pystac_client" in r.name or "rs_core" in r.name for r in caplog.records)
    texts = [caplog.text, repr(client), str(client.stac_io), str(caught.value), repr(caught.value)]
    assert all(API_KEY not in text for text in texts)


# -- errors and retries ------------------------------------------------------------------


def test_gets_and_searches_retry_transient_failures(
    sim_client: StacClient, sim: RsServerSimulator, cid: str
) -> None:
    sim_client.add_collection(make_collection(cid))
    sim.add_fault(Fault(path=f"/catalog/collections/{OWNER}:{cid}", status=503, times=1))
    assert sim_client.get_collection(cid).id == f"{OWNER}:{cid}"
    sim.add_fault(Fault(path="/catalog/search", method="POST", status=502, times=1))
    assert list(sim_client.search(collections=[cid]).items()) == []
    assert len([r for r in sim.requests if r.path == "/catalog/search"]) == 2


def test_a_post_that_creates_is_never_retried(
    sim_client: StacClient, sim: RsServerSimulator, cid: str
) -> None:
    sim.add_fault(Fault(path="/catalog/collections", method="POST", status=503, times=1))
    with pytest.raises(ServerError) as caught:
        sim_client.add_collection(make_collection(cid))
    assert caught.value.status == 503 and caught.value.response is not None
    assert len([r for r in sim.requests if r.method == "POST"]) == 1


def test_an_item_post_answered_500_names_the_missing_collection(
    sim_client: StacClient, sim: RsServerSimulator, cid: str
) -> None:
    sim.add_fault(
        Fault(path=f"/catalog/collections/{OWNER}:{cid}/items", method="POST", status=500)
    )
    with pytest.raises(NotFoundError, match="does not exist") as caught:
        sim_client.add_item(cid, make_item("a"))
    assert isinstance(caught.value.__cause__, ServerError)
    sim_client.add_collection(make_collection(cid))
    with pytest.raises(ServerError):  # the collection exists: the 500 stays a 500
        sim_client.add_item(cid, make_item("a"))


def test_a_failed_add_collection_changes_nothing_locally(
    sim_client: StacClient, sim: RsServerSimulator, cid: str
) -> None:
    given = make_collection(cid)
    catalog = pystac.Catalog("local", "a local tree")
    catalog.add_child(given)
    before = (given.to_dict(transform_hrefs=False), [link.rel for link in given.links])
    sim.add_fault(Fault(path="/catalog/collections", method="POST", status=500, times=1))
    with pytest.raises(ServerError):
        sim_client.add_collection(given)
    sim_client.add_collection(given)
    assert (given.to_dict(transform_hrefs=False), [link.rel for link in given.links]) == before
    assert given.license != "public-domain" and "owner" not in given.extra_fields


# -- ids ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hostile", "segment"),
    [("a/b", "a%2Fb"), ("a?b", "a%3Fb"), ("a#b", "a%23b"), ("../x", "..%2Fx"), ("%2E", "%252E")],
)
def test_hostile_ids_stay_one_path_segment(
    sim_client: StacClient, sim: RsServerSimulator, cid: str, hostile: str, segment: str
) -> None:
    sim_client.add_collection(make_collection(cid))
    with pytest.raises(NotFoundError):
        sim_client.remove_item(cid, hostile)
    sent = sim.requests[-1]
    assert sent.method == "DELETE"
    assert sent.raw_path == f"/catalog/collections/{OWNER}:{cid}/items/{segment}"
    assert sim_client.collection_exists(cid)


def test_dot_segments_are_refused_before_sending(
    sim_client: StacClient, sim: RsServerSimulator, cid: str
) -> None:
    sim_client.add_collection(make_collection(cid))
    sim.clear_requests()
    for dots in (".", ".."):
        with pytest.raises(InvalidInputError, match="path segment"):
            sim_client.remove_item(cid, dots)
        with pytest.raises(InvalidInputError):
            sim_client.get_item(dots, collection_id=cid)
    assert sim.requests == []
    assert sim_client.collection_exists(cid)


def test_quote_segment() -> None:
    assert quote_segment("S1A_IW.SAFE") == "S1A_IW.SAFE"
    assert quote_segment("a b%") == "a%20b%25"


def test_bad_arguments_are_typed_errors(sim_client: StacClient) -> None:
    with pytest.raises(InvalidInputError):
        sim_client.add_collection({"id": "x"})  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        sim_client.get_item("", collection_id="c")
    with pytest.raises(InvalidInputError):
        sim_client.get_collection("kitowner:")
    with pytest.raises(InvalidInputError):
        sim_client.full_collection_id("", "c")
    with pytest.raises(InvalidInputError):
        list(sim_client.get_items(collection_id="c", max_items=0))


# -- one shape ---------------------------------------------------------------------------


def test_one_collection_shape_despite_the_listing_quirk(
    sim_client: StacClient, sim: RsServerSimulator, cid: str
) -> None:
    sim_client.add_collection(make_collection(cid))
    raw = sim_client.stac_io.read_json(sim_client.href_stac_api + "/collections")
    assert f"{OWNER}_{cid}" in [c["id"] for c in raw["collections"]]  # the server's quirk
    listed = [c for c in sim_client.get_collections() if c.id.endswith(cid)]
    single = sim_client.get_collection(cid)
    assert [c.id for c in listed] == [single.id] == [f"{OWNER}:{cid}"]
    assert listed[0].extra_fields["owner"] == single.extra_fields["owner"] == OWNER
    assert [c.id for c in sim_client.get_collections(owner_id="nobody")] == []


def test_search_results_carry_the_public_collection_id(sim_client: StacClient, cid: str) -> None:
    sim_client.add_collection(make_collection(cid))
    sim_client.add_item(cid, make_item("a"))
    pages = list(sim_client.search(collections=[cid]).pages_as_dicts())
    assert pages[0]["features"][0]["collection"] == f"{OWNER}:{cid}"
    item = next(iter(sim_client.search(collections=[cid]).items()))
    assert item.collection_id == f"{OWNER}:{cid}" and item.properties["owner"] == OWNER
    assert sim_client.get_item("a").collection_id == f"{OWNER}:{cid}"


def test_a_user_modifier_runs_after_normalisation(sim: RsServerSimulator, cid: str) -> None:
    seen: list[str] = []

    def modifier(obj: Any) -> None:
        if isinstance(obj, pystac.Collection):
            seen.append(obj.id)

    client = StacClient.open(sim.url, API_KEY, OWNER, modifier=modifier, http_settings=FAST)
    client.add_collection(make_collection(cid))
    list(client.get_collections())
    assert f"{OWNER}:{cid}" in seen


def test_an_owner_without_collections_searches_nothing(sim: RsServerSimulator) -> None:
    client = StacClient.open(sim.url, API_KEY, "nobodyhere", http_settings=FAST)
    sim.clear_requests()
    search = client.search()
    assert list(search.items()) == [] and search.matched() == 0
    assert [r.path for r in sim.requests] == ["/catalog/collections"]


def test_add_items_returns_records(sim_client: StacClient, cid: str) -> None:
    sim_client.add_collection(make_collection(cid))
    results = sim_client.add_items(cid, [make_item("a"), make_item("a")])
    assert all(isinstance(r, ItemResult) for r in results)
    assert [r.ok for r in results] == [True, False]
    assert "ConflictError" in repr(results[1])


# -- validation (pure functions) ---------------------------------------------------------


def test_collection_problems_name_each_field() -> None:
    problems = collection_problems({"type": "Collection", "id": "", "extent": {}})
    text = " ".join(problems)
    for field in ("stac_version", "id", "description", "license", "bbox", "interval"):
        assert field in text


def test_item_problems_with_rs_server_rules() -> None:
    item = make_item("x").to_dict()
    assert item_problems(item, rs_server_rules=True) == []
    item["assets"]["x.bin"]["href"] = "s3://bucket/other.bin"
    item["assets"]["y.bin"] = {"href": "https://h/y.bin"}
    problems = item_problems(item, rs_server_rules=True)
    assert any("must equal the asset key" in p for p in problems)
    assert any("s3://" in p and "y.bin" in p for p in problems)
    assert item_problems(item) == []
    with pytest.raises(InvalidInputError) as caught:
        validate_item({"type": "Feature", "id": "z", "properties": {"datetime": "yesterday"}})
    assert isinstance(caught.value.detail, list) and len(caught.value.detail) >= 2


# -- the real servers' quirks ------------------------------------------------------------


def test_pgstac_500_for_a_missing_collection_becomes_not_found(pgstac_client: StacClient) -> None:
    missing = f"missing{uuid.uuid4().hex[:8]}"
    with pytest.raises(NotFoundError) as caught:
        pgstac_client.add_item(missing, make_item("a"))
    assert isinstance(caught.value.__cause__, ServerError) and caught.value.__cause__.status == 500
    assert pgstac_client.get_conforms_to()  # the connection pool still works afterwards


def test_rscatalog_search_has_no_number_matched(rscatalog_client: StacClient) -> None:
    cid = f"t{uuid.uuid4().hex[:10]}"
    rscatalog_client.add_collection(make_collection(cid))
    try:
        rscatalog_client.add_item(cid, make_item("a"))
        with pytest.warns(UserWarning, match="numberMatched"):
            assert rscatalog_client.search(collections=[cid]).matched() is None
        got = rscatalog_client.get_item("a", collection_id=cid)
        assert got.assets["a.bin"].href.startswith("s3://")
    finally:
        rscatalog_client.remove_collection(cid)
