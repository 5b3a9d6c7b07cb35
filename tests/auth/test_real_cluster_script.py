"""The same script of search, stage and publish, with an API key and with a session cookie, in
Python and with ``rs``, against the REAL RS-Server 1.0a4 services in cluster mode.

``scripts/rs-server-1 start`` with ``RS_SERVER_1_MODE=cluster`` runs the station services
(AUXIP, CADIP, PRIP), staging, the catalog and their real dependencies (PostgreSQL, moto S3,
our OData station simulators) with ``RSPY_LOCAL_MODE=0``, pointed at our identity service
(API-key manager + Keycloak stand-in, :func:`rs_core.testing.simulator.auth.identity_service`).
What the server cannot do in cluster mode on one machine is not faked: the tests assert what it
answers (see docs/dev/cluster-auth.md, "The same script against the real services").

Also proven here: neither the key nor the cookie reaches a station (the station simulators log
the header names of every request in cluster mode) or a ``next`` link on another host (a relay in
front of the real AUXIP service points ``next`` at a second host, which records the headers).

Needs the side venv of ``scripts/rs-server-1 install`` (``.venv-rs-server-1`` or
``RS_SERVER_1_VENV``): skipped without it, failed with ``RS_REQUIRE_RS_SERVER_1=1``. Ports: 30
from ``RS_AUTH_CLUSTER_PORT_BASE`` (default 9870).
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

import rs_core
from rs_core.cli.main import main
from rs_core.errors import RsError
from rs_core.http import HttpSettings
from rs_core.testing.kit.catalog import make_collection, make_item
from rs_core.testing.simulator import RsServerSimulator
from rs_core.testing.simulator.auth import TEST_COOKIE_SECRET, TEST_USERS, identity_service

pytestmark = pytest.mark.rs_server_1

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "rs-server-1"
VENV = Path(os.environ.get("RS_SERVER_1_VENV") or ROOT / ".venv-rs-server-1")
BASE = int(os.environ.get("RS_AUTH_CLUSTER_PORT_BASE", "9870"))
PORTS = {  # scripts/rs-server-1's port variables, all inside [BASE, BASE + 30)
    "ADGS_STATION": BASE + 1,
    "CADIP_STATION": BASE + 2,
    "PRIP_STATION": BASE + 3,
    "AUXIP": BASE + 4,
    "CADIP": BASE + 5,
    "PRIP": BASE + 6,
    "STAGING": BASE + 7,
    "CATALOG": BASE + 8,
    "S3": BASE + 9,
    "OSAM": BASE + 10,
    "PG": BASE + 11,
}
IDENTITY_PORT, RELAY_PORT, OTHER_HOST_PORT = BASE, BASE + 12, BASE + 13
SETTINGS = HttpSettings(timeout=60, retries=0, deadline=120)
_, KEY, _ = TEST_USERS["alice"]
DAY = ("2014-01-01", "2030-01-01")


def _url(name: str) -> str:
    return f"http://127.0.0.1:{PORTS[name]}"


def _skip_or_fail(message: str) -> None:
    if os.environ.get("RS_REQUIRE_RS_SERVER_1") == "1":
        pytest.fail(f"{message}, but RS_REQUIRE_RS_SERVER_1=1 requires it", pytrace=False)
    pytest.skip(message)


class Cluster:
    """The running services: URLs, the identity service, the state dir (logs)."""

    def __init__(self, identity: RsServerSimulator, state: Path) -> None:
        self.identity = identity
        self.state = state
        self.check_url = f"{identity.url}/apikeymanager/check/api_key"
        assert identity.oauth2 is not None
        self.cookie = identity.oauth2.cookie_for("alice")

    def credential(self, method: str) -> dict[str, str]:
        if method == "api-key":
            return {"rs_server_api_key": KEY, "apikey_check_url": self.check_url}
        return {"oauth2_cookie": self.cookie}

    def station_log(self) -> list[str]:
        """Every request line the three station simulators logged (with header names)."""
        lines: list[str] = []
        for kind in ("adgs", "cadip", "prip"):
            log = self.state / "logs" / f"station-{kind}.log"
            lines += [ln for ln in log.read_text().splitlines() if re.match(r"\d{3} ", ln)]
        return lines


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if not (VENV / "bin" / "uvicorn").exists():
        _skip_or_fail(f"needs the RS-Server 1.0 venv ({VENV}): scripts/rs-server-1 install")
    state = tmp_path_factory.mktemp("rs-server-1-cluster")
    with identity_service(port=IDENTITY_PORT) as identity:
        env = {
            **os.environ,
            "RS_SERVER_1_VERSION": "1.0a4",
            "RS_SERVER_1_MODE": "cluster",
            "RS_SERVER_1_VENV": str(VENV),
            "RS_SERVER_1_STATE": str(state),
            "RS_SERVER_1_UAC_CHECK_URL": f"{identity.url}/apikeymanager/check/api_key",
            "RS_SERVER_1_OIDC_ENDPOINT": identity.url,
            "RS_SERVER_1_COOKIE_SECRET": TEST_COOKIE_SECRET,
            "RS_SERVER_1_USER": "alice",
            **{f"RS_SERVER_1_{name}_PORT": str(port) for name, port in PORTS.items()},
        }
        started = subprocess.run(
            [str(SCRIPT), "start"],
            check=False,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        try:
            if started.returncode != 0:
                pytest.fail(
                    f"scripts/rs-server-1 start (cluster) failed:\n{started.stderr[-3000:]}"
                )
            yield Cluster(identity, state)
        finally:
            subprocess.run(
                [str(SCRIPT), "stop"], check=False, env=env, capture_output=True, timeout=300
            )


@pytest.fixture
def services(cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> Cluster:
    """Per-service URLs, as a cluster's ingress would route them."""
    monkeypatch.setenv("RSPY_HOST_ADGS", _url("AUXIP"))
    monkeypatch.setenv("RSPY_HOST_CADIP", _url("CADIP"))
    monkeypatch.setenv("RSPY_HOST_PRIP", _url("PRIP"))
    monkeypatch.setenv("RSPY_HOST_STAGING", _url("STAGING"))
    monkeypatch.setenv("RSPY_HOST_CATALOG", _url("CATALOG"))
    return cluster


# -- the script, in Python ----------------------------------------------------------------------


# What RS-Server 1.0a4 does with a staging job in cluster mode, per method (asserted below):
# - API key: the job is refused, 401 "Error connecting to '<url>' without a valid API key or
#   OAuth2 session cookie." (the processor reads the job's user from the session cookie only);
# - session cookie: the job is accepted, then FAILED: "Failed to retrieve the required connection
#   details for Dask Gateway. Missing key:'RSPY_DASK_STAGING_CLUSTER_NAME'" (cluster mode runs
#   staging on a Dask gateway; there is none on one machine).
STAGING_REFUSED_FOR_A_KEY = "without a valid API key or OAuth2 session cookie"
STAGING_FAILS_WITHOUT_A_GATEWAY = "Missing key:'RSPY_DASK_STAGING_CLUSTER_NAME'"


def _check_staging(method: str, state: str, text: str) -> None:
    """The staging outcome of one file, as the real server decides it for ``method``."""
    if method == "api-key":
        assert state == "REFUSED", text
        assert "HTTP 401" in text and STAGING_REFUSED_FOR_A_KEY in text, text
        assert "wants an OAuth2 session" in text and "needs the role" not in text, text
    else:
        assert state == "FAILED", text
        assert "Dask Gateway" in text and STAGING_FAILS_WITHOUT_A_GATEWAY in text, text


# -- the script, in Python ----------------------------------------------------------------------


@pytest.mark.parametrize("method", ["api-key", "cookie"])
def test_search_stage_publish_in_python(services: Cluster, method: str) -> None:
    auxip = rs_core.get_station(
        "auxip", rs_server_href=_url("AUXIP"), http_settings=SETTINGS, **services.credential(method)
    )
    files = auxip.search_stations(*DAY, limit=2)
    assert len(files) == 2 and auxip.owner_id == "alice"

    report = auxip.stage_and_wait(files[:1], poll_interval=0.5, timeout=120, resume=False)
    (outcome,) = report.refused + report.failed
    _check_staging(method, outcome.state, outcome.error or outcome.message)
    assert KEY not in str(report.to_dict()) and services.cookie not in str(report.to_dict())

    catalog = rs_core.get_catalog(client=auxip)
    name = f"script_{method.replace('-', '')}"
    catalog.add_collection(make_collection(name))
    catalog.add_item(name, make_item(f"{name}-item"))
    assert catalog.get_item(f"{name}-item", collection_id=name).id == f"{name}-item"
    stored = requests.get(
        f"{_url('CATALOG')}/catalog/collections/alice:{name}/items/{name}-item",
        **_auth_kwargs(services, method),
        timeout=60,
    )
    assert stored.status_code == 200, stored.text  # under alice's name, read back directly


def _auth_kwargs(cluster: Cluster, method: str) -> dict[str, Any]:
    if method == "api-key":
        return {"headers": {"x-api-key": KEY}}
    return {"cookies": {"session": cluster.cookie}}


@pytest.mark.parametrize("method", ["api-key", "cookie"])
def test_cadip_and_prip_search_with_each_method(services: Cluster, method: str) -> None:
    """The other station services of the same cluster: CADIP sessions and PRIP products."""
    import sys

    scripts = str(ROOT / "scripts")
    if scripts not in sys.path:
        sys.path.insert(0, scripts)
    from odata_station import prip_products

    credential = services.credential(method)
    cadip = rs_core.get_station(
        "cadip", station="CADIP", rs_server_href=_url("CADIP"), http_settings=SETTINGS, **credential
    )
    sessions = cadip.search_sessions(start_date=DAY[0], stop_date=DAY[1])
    assert sessions and all(s.id for s in sessions)
    prip = rs_core.get_station(
        "prip", rs_server_href=_url("PRIP"), http_settings=SETTINGS, **credential
    )
    found = prip.search_stations("2024-01-01", "2025-01-01")
    expected = {str(record["Id"]) for record in prip_products()}
    assert {str(item.properties["prip:id"]) for item in found} == expected


# -- the script, with rs ------------------------------------------------------------------------


def _rs(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(params=["api-key", "cookie"])
def signed_in(
    request: pytest.FixtureRequest, services: Cluster, monkeypatch: pytest.MonkeyPatch
) -> str:
    """``rs`` pointed at the cluster and signed in: the key by env, the cookie by ``rs login``."""
    monkeypatch.setenv("RS_SERVER_HREF", _url("AUXIP"))
    if request.param == "api-key":
        monkeypatch.setenv("RSPY_APIKEY", KEY)
        monkeypatch.setenv("RSPY_UAC_CHECK_URL", services.check_url)
    else:
        monkeypatch.setattr("sys.stdin", io.StringIO(services.cookie))
        assert main(["login", "--cookie", "-"]) == 0  # a stored login, no env var
    return str(request.param)


def test_search_stage_publish_with_rs(
    signed_in: str, services: Cluster, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    method = signed_in
    start, stop = DAY
    code, out, err = _rs(
        capsys, "search", "auxip", "--start", start, "--stop", stop, "--limit", "1", "-o", "json"
    )
    assert code == 0, err
    assert len(json.loads(out)["features"]) == 1
    items = tmp_path / "items.json"
    items.write_text(out)

    code, out, err = _rs(
        capsys, "stage", "auxip", str(items), "--wait", "--deadline", "120", "-o", "json"
    )
    assert code == 1, err  # not every file DONE
    (staged,) = json.loads(out)["files"]
    _check_staging(method, staged["state"], staged["error"] or staged["message"])
    assert KEY not in out + err and services.cookie not in out + err

    coll = f"cli_{method.replace('-', '')}"
    assert _rs(capsys, "catalog", "add-collection", coll)[0] == 0
    item = tmp_path / "item.json"
    item.write_text(json.dumps(make_item(f"{coll}-item").to_dict()))
    assert _rs(capsys, "catalog", "add-item", coll, str(item))[0] == 0
    code, out, err = _rs(capsys, "catalog", "items", coll, "-o", "json")
    assert code == 0, err
    assert [f["id"] for f in json.loads(out)["features"]] == [f"{coll}-item"]


# -- where the credential goes ------------------------------------------------------------------


def test_no_credential_reaches_a_station(services: Cluster) -> None:
    """Run after the scripts above: the station simulators logged every request's header names.
    RS-Server reaches them with its own station token (``authorization``), never with ours."""
    lines = services.station_log()
    searches = [ln for ln in lines if " GET /" in ln and " GET / " not in ln]
    assert searches, "no search reached a station"
    assert all("authorization" in ln.partition(" headers=")[2].split(",") for ln in searches)
    for line in lines:
        names = line.partition(" headers=")[2].split(",")
        assert "x-api-key" not in names and "cookie" not in names, line
        assert KEY not in line and services.cookie not in line


class _Relay(ThreadingHTTPServer):
    """Forwards every request to ``target`` and points each ``next`` link of its JSON answers
    at ``next_origin`` (a host the client was never given): what a misconfigured proxy or a
    hostile page could do."""

    daemon_threads = True

    def __init__(self, port: int, target: str, next_origin: str) -> None:
        self.target, self.next_origin = target, next_origin
        self.seen: list[dict[str, str]] = []
        super().__init__(("127.0.0.1", port), _RelayHandler)


class _RelayHandler(BaseHTTPRequestHandler):
    server: _Relay

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host",)}
        self.server.seen.append({k.lower(): v for k, v in headers.items()})
        answer = requests.get(self.server.target + self.path, headers=headers, timeout=120)
        body = answer.content
        if answer.headers.get("content-type", "").startswith("application/"):
            try:
                page = answer.json()
            except ValueError:
                page = None
            if isinstance(page, dict):
                page["links"] = [ln for ln in page.get("links", []) if ln.get("rel") != "next"]
                page["links"].append(
                    {
                        "rel": "next",
                        "href": self.server.next_origin + self.path,
                        "type": "application/geo+json",
                    }
                )
                body = json.dumps(page).encode()
        self.send_response(answer.status_code)
        self.send_header("content-type", answer.headers.get("content-type", "application/json"))
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def relay(services: Cluster) -> Iterator[tuple[_Relay, RsServerSimulator]]:
    with RsServerSimulator(host="127.0.0.2", port=OTHER_HOST_PORT) as other_host:
        server = _Relay(RELAY_PORT, _url("AUXIP"), other_host.url)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield server, other_host
        finally:
            server.shutdown()
            server.server_close()


@pytest.mark.parametrize("method", ["api-key", "cookie"])
def test_no_credential_follows_a_next_link_to_another_host(
    relay: tuple[_Relay, RsServerSimulator],
    services: Cluster,
    method: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server, other_host = relay
    href = f"http://127.0.0.1:{RELAY_PORT}"
    monkeypatch.setenv("RSPY_HOST_ADGS", href)
    credential = services.credential(method)
    auxip = rs_core.get_station("auxip", rs_server_href=href, http_settings=SETTINGS, **credential)
    secret = KEY if method == "api-key" else services.cookie
    try:
        auxip.search_stations(*DAY)
    except RsError as err:  # the other host does not serve this route: its own 404
        assert other_host.url in str(err) and secret not in str(err), err
    reached = [r for r in server.seen if secret in r.get("x-api-key", "") + r.get("cookie", "")]
    assert reached, "the relay (the trusted origin) got the credential"
    assert other_host.requests, "the next link on the other host was not followed"
    for request in other_host.requests:
        sent = {name.lower() for name in request.headers}
        assert not sent & {"x-api-key", "cookie", "authorization"}, (request.path, sent)
