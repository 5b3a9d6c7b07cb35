"""The PRIP face of the OData station simulator and its shared-secret tokens.

The queries below are the ones RS-Server 1.0a4's PRIP service sends through eodag (its
``prip_ws_config.yaml``: ``Attributes/OData.CSC.StringAttribute/any(...)`` on ``productType``,
``PublicationDate`` bounds, ``$orderby``, ``$top``/``$skip``, ``$expand=Attributes``).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator

import pytest
import requests
from odata_station import OdataStationSimulator, prip_products

PTYPE_FILTER = (
    "Attributes/OData.CSC.StringAttribute/any(att:att/Name eq 'productType' "
    "and att/OData.CSC.StringAttribute/Value eq '{}')"
)


@pytest.fixture(scope="module")
def prip() -> Iterator[OdataStationSimulator]:
    with OdataStationSimulator(kind="prip") as station:
        yield station


def _get(station: OdataStationSimulator, path: str, **params: str) -> requests.Response:
    headers = {"Authorization": f"Bearer {station.issue_token()}"}
    return requests.get(station.url + path, params=params, headers=headers, timeout=10)


def _ptype(record: dict[str, object]) -> object:
    attributes = record["Attributes"]
    assert isinstance(attributes, list)
    return next(a["Value"] for a in attributes if a["Name"] == "productType")


def test_catalogue_holds_the_product_types_of_the_shipped_collections() -> None:
    counts = Counter(_ptype(r) for r in prip_products())
    assert counts == {
        "IW_RAW__0N": 6,
        "IW_SLC__1S": 5,
        "OPER_MSI": 4,
        "OPER_MSI_L0": 6,
        "OPER_MSI_L2A": 4,
    }
    assert len({r["Id"] for r in prip_products()}) == 25
    assert prip_products() == prip_products()  # deterministic


@pytest.mark.parametrize(("ptype", "count"), [("IW_RAW__0N", 6), ("OPER_MSI_L0", 6)])
def test_product_type_filter_as_rs_server_sends_it(
    prip: OdataStationSimulator, ptype: str, count: int
) -> None:
    answer = _get(
        prip,
        "/Products",
        **{
            "$filter": PTYPE_FILTER.format(ptype)
            + " and (PublicationDate gt 2024-06-01T00:00:00.000Z"
            " or PublicationDate eq 2024-06-01T00:00:00.000Z)",
            "$orderby": "PublicationDate desc",
            "$top": "20",
            "$skip": "0",
            "$expand": "Attributes",
        },
    )
    assert answer.status_code == 200, answer.text
    values = answer.json()["value"]
    assert len(values) == count
    assert {_ptype(v) for v in values} == {ptype}
    published = [v["PublicationDate"] for v in values]
    assert published == sorted(published, reverse=True)


def test_download_is_the_product_with_its_checksum(prip: OdataStationSimulator) -> None:
    record = prip_products()[7]
    answer = _get(prip, f"/Products({record['Id']})/$value")
    assert answer.status_code == 200
    assert len(answer.content) == record["ContentLength"]
    assert hashlib.md5(answer.content).hexdigest().upper() == record["Checksum"][0]["Value"]


def test_unknown_property_is_a_400(prip: OdataStationSimulator) -> None:
    answer = _get(prip, "/Products", **{"$filter": "Mission eq 'S1'"})
    assert answer.status_code == 400
    assert "Mission" in answer.json()["error"]["message"]


def test_stations_sharing_a_secret_accept_each_others_tokens() -> None:
    with (
        OdataStationSimulator(kind="prip", token_secret="s3cret") as one,
        OdataStationSimulator(kind="adgs", token_secret="s3cret") as two,
        OdataStationSimulator(kind="adgs", token_secret="other") as three,
        OdataStationSimulator(kind="adgs") as four,
    ):
        form = {"grant_type": "password", "username": "test", "password": "test"}
        issued = requests.post(one.token_url, data=form, timeout=10).json()
        bearer = {"Authorization": f"Bearer {issued['access_token']}"}
        assert requests.get(two.url + "/Products?$top=1", headers=bearer, timeout=10).ok
        for station in (three, four):
            refused = requests.get(station.url + "/Products?$top=1", headers=bearer, timeout=10)
            assert refused.status_code == 401
        refresh = {"grant_type": "refresh_token", "refresh_token": issued["refresh_token"]}
        assert requests.post(two.token_url, data=refresh, timeout=10).status_code == 200
        assert requests.post(three.token_url, data=refresh, timeout=10).status_code == 401
        forged = issued["access_token"][:-4] + "0000"
        bad = requests.get(
            two.url + "/Products", headers={"Authorization": f"Bearer {forged}"}, timeout=10
        )
        assert bad.status_code == 401
