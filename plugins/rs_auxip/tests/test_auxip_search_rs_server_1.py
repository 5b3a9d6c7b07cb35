"""AUXIP search, complete, against the REAL RS-Server 1.0 ADGS service (``scripts/rs-server-1``;
``RS_TEST_V10_AUXIP_URL``, skipped loudly when unset, failed with RS_REQUIRE_RS_SERVER_1=1):
the station holds 97 products, 19 of them AUX_PP2 and 1 OPER_AUX_OBMEMC."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from rs_auxip import AuxipClient

from rs_core import UnknownCollectionError, UnsortableFieldError

pytestmark = pytest.mark.rs_server_1
START, STOP = "2000-01-01", "2100-01-01"


@pytest.fixture
def auxip(monkeypatch: pytest.MonkeyPatch) -> Iterator[AuxipClient]:
    url = os.environ.get("RS_TEST_V10_AUXIP_URL", "").rstrip("/")
    if not url:
        message = "RS_TEST_V10_AUXIP_URL is not set: the real RS-Server 1.0 AUXIP search is skipped"
        if os.environ.get("RS_REQUIRE_RS_SERVER_1") == "1":
            pytest.fail(f"{message}, but RS_REQUIRE_RS_SERVER_1=1 requires it", pytrace=False)
        pytest.skip(message)
    monkeypatch.setenv("RSPY_HOST_ADGS", url)
    monkeypatch.delenv("RSPY_APIKEY", raising=False)
    with AuxipClient(None, None, "kitowner") as client:
        yield client


def test_a_filter_with_spaces_selects_the_right_subset(auxip: AuxipClient) -> None:
    everything = auxip.search_stations(START, STOP)
    spaced = auxip.search_stations(START, STOP, filter="product:type = 'AUX_PP2'")
    expected = {i.id for i in everything if i.properties.get("product:type") == "AUX_PP2"}
    assert len(everything) == 97 and len(expected) == 19
    assert {i.id for i in spaced} == expected


def test_collections_one_or_several(auxip: AuxipClient) -> None:
    pp2 = auxip.search_stations(START, STOP, collection="adgs_aux_pp2")
    both = auxip.search_stations(START, STOP, collection=["adgs_aux_pp2", "adgs_oper_aux_obmemc"])
    assert len(pp2) == 19 and len(both) == 20
    assert len(auxip.search_stations(START, STOP, collection="adgs2")) == 97


def test_typed_errors(auxip: AuxipClient) -> None:
    with pytest.raises(UnknownCollectionError, match="adgs_aux_pp2"):
        auxip.search_stations(START, STOP, collection="adgs_nope")
    with pytest.raises(UnsortableFieldError, match="created"):
        auxip.search_stations(START, STOP, sortby="-published")
