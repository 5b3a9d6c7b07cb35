"""Tests of the OData station simulator (``scripts/odata_station``).

The core test replays every request of ``requests-from-rs-server-0.2.txt`` (what RS-Server 0.2
really sends to the stations) and checks each answer against the fixture records with logic
written independently of the simulator's filter parser.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from odata_station import (
    ODataQueryError,
    OdataStationSimulator,
    RecordedRequest,
    default_data_dir,
    parse_filter,
    parse_odata_datetime,
    parse_orderby,
    payload_bytes,
)

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"

try:
    DATA_DIR = default_data_dir()
except FileNotFoundError as error:  # pragma: no cover - depends on the checkout layout
    pytest.skip(str(error), allow_module_level=True)

REQUESTS_FILE = DATA_DIR / "requests-from-rs-server-0.2.txt"
KIND_OF_SET = {"Products": "adgs", "Sessions": "cadip", "Files": "cadip"}


def load(name: str) -> list[dict[str, Any]]:
    return list(json.loads((DATA_DIR / name).read_text())["Data"])


PRODUCTS = load("adgs_products.json")
FILES = load("cadip_files.json")
SESSIONS = load("cadip_sessions.json")
RECORDS = {"Products": PRODUCTS, "Files": FILES, "Sessions": SESSIONS}


def recorded_requests() -> list[tuple[str, str]]:
    lines = [
        line.strip()
        for line in REQUESTS_FILE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    return [(line.split(" ", 1)[0], line.split(" ", 1)[1]) for line in lines]


GETS = [target for method, target in recorded_requests() if method == "GET"]


@pytest.fixture(scope="module")
def stations() -> Iterator[dict[str, OdataStationSimulator]]:
    with (
        OdataStationSimulator(kind="adgs") as adgs,
        OdataStationSimulator(kind="cadip") as cadip,
    ):
        yield {"adgs": adgs, "cadip": cadip}


def eodag_token(session: requests.Session, station: OdataStationSimulator) -> str:
    """Get a token exactly as RS-Server 0.2 (eodag TokenAuth) asks for it."""
    response = session.post(
        station.token_url,
        data={
            "client_id": "client_id",
            "client_secret": "client_secret",
            "username": "test",
            "password": "test",
            "grant_type": "password",
            "scope": "sss",
            "auth_for_token": "Basic test",
        },
        headers={"Authorization": "Basic test"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    token = response.json()
    assert token["token_type"] == "Bearer"
    assert set(token) >= {"access_token", "expires_in", "refresh_token"}
    assert re.fullmatch(r"[A-Za-z0-9\-_\.]+", token["access_token"])
    return str(token["access_token"])


@pytest.fixture(scope="module")
def authed(stations: dict[str, OdataStationSimulator]) -> Iterator[dict[str, requests.Session]]:
    sessions = {}
    for kind, station in stations.items():
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {eodag_token(session, station)}"
        sessions[kind] = session
    yield sessions
    for session in sessions.values():
        session.close()


# ---------------------------------------------------------------- independent expectations


def when(text: str) -> datetime:
    value = parse_odata_datetime(text)
    assert value is not None, text
    return value


def attribute(record: dict[str, Any], name: str) -> Any:
    return next(a["Value"] for a in record["Attributes"] if a["Name"] == name)


def expected_records(entity_set: str, query: dict[str, str]) -> list[dict[str, Any]]:
    """What a correct station answers, computed with regexes over the forms RS-Server sends."""
    records = list(RECORDS[entity_set])
    text = query.get("$filter", "")
    for low in re.findall(r"\(PublicationDate gt (\S+) or PublicationDate eq \1\)", text):
        records = [r for r in records if when(r["PublicationDate"]) >= when(low)]
    for high in re.findall(r"\(PublicationDate lt (\S+) or PublicationDate eq \1\)", text):
        records = [r for r in records if when(r["PublicationDate"]) <= when(high)]
    for field, value in re.findall(r"\b(SessionId|Satellite) eq '([^']*)'", text):
        records = [r for r in records if r[field] == value]
    for field, values in re.findall(r"\b(SessionId|Satellite) in \(([^)]*)\)", text):
        wanted = {v.strip().strip("'") for v in values.split(",")}
        records = [r for r in records if r[field] in wanted]
    for needle in re.findall(r"contains\(Name, '([^']*)'\)", text):
        records = [r for r in records if needle in r["Name"]]
    for name, value in re.findall(
        r"any\(att:att/Name eq '([^']*)' and att/OData.CSC.StringAttribute/Value eq '([^']*)'\)",
        text,
    ):
        records = [r for r in records if attribute(r, name) == value]
    if "$orderby" in query:
        field, direction = query["$orderby"].split()
        records.sort(key=lambda r: when(r[field]), reverse=direction == "desc")
    skip = int(query.get("$skip", 0))
    records = records[skip:]
    if "$top" in query:
        records = records[: int(query["$top"])]
    return records


def test_the_recorded_file_has_every_form() -> None:
    text = "\n".join(GETS)
    for form in ("$filter", "$orderby", "$top", "$skip", "$expand", " in (", "contains(", "/any("):
        assert form.replace(" ", "%20") in text, form
    assert ("POST", "/oauth2/token") in recorded_requests()


@pytest.mark.parametrize("target", GETS, ids=[t[:90] for t in GETS])
def test_replays_each_request_rs_server_sends(
    target: str, stations: dict[str, OdataStationSimulator], authed: dict[str, requests.Session]
) -> None:
    entity_set = urlsplit(target).path.strip("/")
    kind = KIND_OF_SET[entity_set]
    query = dict(parse_qsl(urlsplit(target).query))
    response = authed[kind].get(stations[kind].url + target, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/json"
    document = response.json()
    assert isinstance(document["value"], list)
    expected = expected_records(entity_set, query)
    assert [r["Id"] for r in document["value"]] == [r["Id"] for r in expected]
    for record in document["value"]:
        assert ("Attributes" in record) == (
            entity_set == "Products" and "Attributes" in query.get("$expand", "")
        )
    # the simulator recorded the request exactly as sent
    assert stations[kind].requests[-1].line == f"GET {target}"


def test_some_replayed_requests_match_nothing_and_some_match_many(
    stations: dict[str, OdataStationSimulator],
) -> None:
    sizes = {
        t: len(expected_records(urlsplit(t).path.strip("/"), dict(parse_qsl(urlsplit(t).query))))
        for t in GETS
    }
    assert min(sizes.values()) == 0  # the unknown session S1A_00000000000000000000
    assert max(sizes.values()) >= 90


# ---------------------------------------------------------------- authentication


def test_token_refresh_grant(stations: dict[str, OdataStationSimulator]) -> None:
    station = stations["cadip"]
    first = requests.post(
        station.token_url,
        data={"grant_type": "password", "username": "test", "password": "test"},
        timeout=10,
    ).json()
    refreshed = requests.post(
        station.token_url,
        data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
        timeout=10,
    )
    assert refreshed.status_code == 200
    assert refreshed.json()["access_token"] != first["access_token"]


@pytest.mark.parametrize(
    ("form", "status"),
    [
        ({"grant_type": "password", "username": "test", "password": "nope"}, 401),
        ({"grant_type": "password", "username": "other", "password": "test"}, 401),
        ({"grant_type": "client_credentials"}, 400),
        ({"grant_type": "refresh_token", "refresh_token": "forged"}, 401),
        ({}, 400),
    ],
)
def test_token_refusals(
    form: dict[str, str], status: int, stations: dict[str, OdataStationSimulator]
) -> None:
    response = requests.post(stations["adgs"].token_url, data=form, timeout=10)
    assert response.status_code == status
    assert response.json()["error"]["message"]


def test_token_needs_a_form(stations: dict[str, OdataStationSimulator]) -> None:
    response = requests.post(
        stations["adgs"].token_url, json={"username": "test", "password": "test"}, timeout=10
    )
    assert response.status_code == 400


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer forged"}, {"Authorization": "Basic dGVzdDp0ZXN0"}],
    ids=["none", "forged", "basic"],
)
@pytest.mark.parametrize("path", ["/Products?$top=1", "/Products(x)/$value"])
def test_data_routes_need_a_bearer_token(
    headers: dict[str, str], path: str, stations: dict[str, OdataStationSimulator]
) -> None:
    response = requests.get(stations["adgs"].url + path, headers=headers, timeout=10)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_expired_tokens_are_refused() -> None:
    with OdataStationSimulator(kind="adgs", token_lifetime=0) as station:
        token = station.issue_token()
        time.sleep(0.01)
        response = requests.get(
            station.url + "/Products?$top=1",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
    assert response.status_code == 401


# ---------------------------------------------------------------- bad queries -> 400


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("$filter=Name has 'x'", "unsupported operator 'has'"),
        ("$filter=Foo eq 'x'", "unknown property 'Foo'"),
        ("$filter=ContentDate/Stop lt 2020-01-01T00:00:00.000Z", "'ContentDate/Stop'"),
        ("$filter=PublicationDate gt", "expected a literal"),
        ("$filter=(Name eq 'x'", "expected ')'"),
        ("$filter=contains(Name)", "expected ','"),
        ("$filter=Name eq Id", "two properties"),
        ("$filter=Name eq 'x' xor Id eq 'y'", "unexpected 'xor'"),
        ("$filter=geo.intersects(Footprint, 'x')", "unsupported function 'geo.intersects'"),
        ("$filter=tolower(Name) eq 'x'", "unsupported function 'tolower'"),
        ("$filter=PublicationDate gt 2020-13-45T00:00:00Z", "bad date-time"),
        ("$filter=", "empty expression"),
        ("$select=Name", "unsupported system query option"),
        ("$search=S1A", "unsupported system query option"),
        ("$top=-1", "$top"),
        ("$skip=x", "$skip"),
        ("$count=maybe", "$count"),
        ("$orderby=PublicationDate sideways", "$orderby"),
        ("$orderby=Nope desc", "unknown property"),
        ("$expand=Files", "cannot be expanded"),
        ("$top=1&$top=2", "given twice"),
    ],
)
def test_bad_queries_answer_400(
    query: str, message: str, stations: dict[str, OdataStationSimulator], authed: dict[str, Any]
) -> None:
    response = authed["adgs"].get(stations["adgs"].url + "/Products?" + query, timeout=10)
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]["message"]


def test_unknown_entity_set_is_404(
    stations: dict[str, OdataStationSimulator], authed: dict[str, Any]
) -> None:
    response = authed["adgs"].get(stations["adgs"].url + "/Sessions", timeout=10)
    assert response.status_code == 404
    assert "Products" in response.json()["error"]["message"]


# ---------------------------------------------------------------- other OData options


def test_count_is_before_paging(
    stations: dict[str, OdataStationSimulator], authed: dict[str, Any]
) -> None:
    url = stations["cadip"].url + "/Files?$filter=SessionId eq 'S3B_20251010143722593812'"
    document = authed["cadip"].get(url + "&$count=true&$top=5&$skip=100", timeout=10).json()
    assert document["@odata.count"] == 106
    assert len(document["value"]) == 5


def test_sessions_expand_files(
    stations: dict[str, OdataStationSimulator], authed: dict[str, Any]
) -> None:
    url = stations["cadip"].url + "/Sessions?$filter=SessionId eq 'S2B_20231117033237234567'"
    (session,) = authed["cadip"].get(url + "&$expand=Files", timeout=10).json()["value"]
    assert len(session["Files"]) == 20
    assert {f["SessionId"] for f in session["Files"]} == {"S2B_20231117033237234567"}


def test_paging_covers_everything_once(
    stations: dict[str, OdataStationSimulator], authed: dict[str, Any]
) -> None:
    ids: list[str] = []
    for skip in range(0, 200, 7):
        url = f"{stations['adgs'].url}/Products?$orderby=PublicationDate desc&$top=7&$skip={skip}"
        ids += [r["Id"] for r in authed["adgs"].get(url, timeout=10).json()["value"]]
    assert sorted(ids) == sorted(r["Id"] for r in PRODUCTS)


# ---------------------------------------------------------------- downloads


def test_download_bytes_and_sizes(
    stations: dict[str, OdataStationSimulator], authed: dict[str, Any]
) -> None:
    small = next(f for f in FILES if int(f["Size"]) < 100)
    big = max(PRODUCTS, key=lambda p: int(p["ContentLength"]))
    for kind, entity_set, record, size in (
        ("cadip", "Files", small, int(small["Size"])),
        ("adgs", "Products", big, 1024 * 1024),
    ):
        url = f"{stations[kind].url}/{entity_set}({record['Id']})/$value"
        response = authed[kind].get(url, timeout=30)
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "application/octet-stream"
        assert int(response.headers["Content-Length"]) == size
        assert response.content == payload_bytes(record["Id"], size)
        assert record["Name"] in response.headers["Content-Disposition"]


def test_download_cap_quoted_key_and_streaming() -> None:
    product = PRODUCTS[0]
    with OdataStationSimulator(kind="adgs", max_download_bytes=100_000, chunk_size=4096) as st:
        headers = {"Authorization": f"Bearer {st.issue_token()}"}
        url = f"{st.url}/Products('{product['Id']}')/$value"
        with requests.get(url, headers=headers, stream=True, timeout=10) as response:
            chunks = list(response.iter_content(chunk_size=None))
        assert b"".join(chunks) == payload_bytes(product["Id"], 100_000)
        assert st.download_size("Products", product["Id"]) == 100_000
        missing = requests.get(f"{st.url}/Products(nope)/$value", headers=headers, timeout=10)
        assert missing.status_code == 404


def test_no_download_for_sessions(
    stations: dict[str, OdataStationSimulator], authed: dict[str, Any]
) -> None:
    url = f"{stations['cadip'].url}/Sessions({SESSIONS[0]['Id']})/$value"
    assert authed["cadip"].get(url, timeout=10).status_code == 404


# ---------------------------------------------------------------- server behaviour


def test_keep_alive_without_nagle_delay(
    stations: dict[str, OdataStationSimulator], authed: dict[str, Any]
) -> None:
    url = stations["cadip"].url + "/Sessions?$top=1"
    authed["cadip"].get(url, timeout=10)
    times = []
    for _ in range(15):
        start = time.perf_counter()
        assert authed["cadip"].get(url, timeout=10).status_code == 200
        times.append(time.perf_counter() - start)
    times.sort()
    assert times[len(times) // 2] < 0.03, times  # Nagle + delayed ACK would add ~40 ms


def test_requests_are_recorded() -> None:
    with OdataStationSimulator(kind="cadip") as station:
        requests.post(station.token_url, data={"grant_type": "password"}, timeout=10)
        requests.get(station.url + "/Files?$top=2", timeout=10)
        recorded = station.requests
        station.clear_requests()
        assert station.requests == []
    assert [(r.line, r.status) for r in recorded] == [
        ("POST /oauth2/token", 401),
        ("GET /Files?$top=2", 401),
    ]
    assert recorded[0].body == b"grant_type=password"
    assert recorded[1].path == "/Files"
    assert recorded[1].query == {"$top": "2"}
    assert isinstance(recorded[0], RecordedRequest)
    assert recorded[0].header("content-type") == "application/x-www-form-urlencoded"


def test_stop_closes_keep_alive_connections() -> None:
    station = OdataStationSimulator(kind="adgs").start()
    url = station.url
    session = requests.Session()
    session.get(url + "/", timeout=10)
    station.stop()
    with pytest.raises(requests.ConnectionError):
        session.get(url + "/", timeout=2)
    with pytest.raises(RuntimeError):
        _ = station.url


def test_cli_prints_url_and_stops_on_sigterm(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, str(SCRIPTS / "odata_station"), "--kind", "cadip", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url), url
        assert requests.get(url + "/", timeout=10).json()["value"][0]["name"] == "Sessions"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


# ---------------------------------------------------------------- pure functions


@pytest.mark.parametrize(
    ("expression", "record", "expected"),
    [
        ("Channel ge 2", {"Channel": 2}, True),
        ("Size gt 100", {"Size": "42"}, False),
        ("Size gt 10", {"Size": "42"}, True),
        ("not (FinalBlock eq true)", {"FinalBlock": False}, True),
        ("startswith(Name, 'DCS_01')", {"Name": "DCS_01_x"}, True),
        ("endswith(Name, '.raw')", {"Name": "DCS_01_x.zip"}, False),
        (
            "ContentDate/Start lt 2020-01-01T00:00:00Z",
            {"ContentDate": {"Start": "2019-12-31T23:59Z"}},
            True,
        ),
        (
            "PublicationDate eq 2020-09-20T07:11:00.000Z",
            {"PublicationDate": "2020-09-20T07:11Z"},
            True,
        ),
        ("Name eq 'it''s'", {"Name": "it's"}, True),
        ("EvictionDate eq null", {"EvictionDate": None}, True),
        ("Attributes/any()", {"Attributes": []}, False),
    ],
)
def test_parse_filter_semantics(expression: str, record: dict[str, Any], expected: bool) -> None:
    assert parse_filter(expression)(record) is expected


def test_parse_filter_lambda_respects_type_cast() -> None:
    record = {
        "Attributes": [
            {
                "@odata.type": "#OData.CSC.DateTimeOffsetAttribute",
                "Name": "productType",
                "Value": "X",
            }
        ]
    }
    string_any = "Attributes/OData.CSC.StringAttribute/any(a:a/Name eq 'productType')"
    date_any = "Attributes/OData.CSC.DateTimeOffsetAttribute/any(a:a/Name eq 'productType')"
    assert parse_filter(string_any)(record) is False
    assert parse_filter(date_any)(record) is True


def test_parse_orderby_and_errors() -> None:
    assert parse_orderby("A desc,B asc") == [("A", True), ("B", False)]
    with pytest.raises(ODataQueryError):
        parse_orderby("A desc desc")
    with pytest.raises(ODataQueryError):
        parse_filter("Name eq")


def test_payload_is_deterministic() -> None:
    assert payload_bytes("x", 1000) == payload_bytes("x", 1000)
    assert payload_bytes("x", 1000) != payload_bytes("y", 1000)
    assert payload_bytes("x", 1000)[300:700] == payload_bytes("x", 400, offset=300)


def test_request_log_can_name_the_headers_without_their_values() -> None:
    """Cluster-mode tests read these lines to show no user credential reached a station."""
    import io

    log = io.StringIO()
    with OdataStationSimulator(kind="adgs", request_log=log, log_header_names=True) as station:
        requests.get(f"{station.url}/", headers={"X-Api-Key": "secret-value"}, timeout=10)
    (line,) = log.getvalue().splitlines()
    assert line.startswith("200 GET / headers=") and "x-api-key" in line.split("headers=")[1]
    assert "secret-value" not in line
