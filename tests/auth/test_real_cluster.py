"""The REAL RS-Server 1.0a4 (rs-server-adgs, from PyPI) in cluster mode, authenticating against
our identity service (API-key manager + Keycloak's token and admin-user calls): API key
accepted, wrong key refused, key without the role refused naming it, our signed session cookie
accepted, a forged one refused.

Needs the RS-Server 1.0 side venv that ``scripts/rs-server-1 install`` builds
(``.venv-rs-server-1`` in the clone, or ``RS_SERVER_1_VENV``); skipped without it. The service
runs on a free port (``RS_AUTH_REAL_PORT`` to choose one).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from rs_core import RsClient
from rs_core.errors import AuthenticationError, ConfigurationError
from rs_core.http import HttpSettings
from rs_core.testing.simulator import RsServerSimulator
from rs_core.testing.simulator.auth import (
    TEST_COOKIE_SECRET,
    TEST_USERS,
    SessionSigner,
    identity_service,
)

ROOT = Path(__file__).resolve().parents[2]
VENV = Path(os.environ.get("RS_SERVER_1_VENV") or ROOT / ".venv-rs-server-1")
SETTINGS = HttpSettings(timeout=30, retries=0, deadline=60)


def _free_port() -> int:
    wanted = int(os.environ.get("RS_AUTH_REAL_PORT", "0"))
    if wanted:
        return wanted
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def identity() -> Iterator[RsServerSimulator]:
    with identity_service() as service:
        yield service


@pytest.fixture(scope="module")
def adgs(identity: RsServerSimulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    python = VENV / "bin" / "python"
    if not python.exists():
        pytest.skip(f"needs the RS-Server 1.0 venv ({VENV}): scripts/rs-server-1 install")
    port = _free_port()
    home = tmp_path_factory.mktemp("rs-server-home")
    env = {
        "PATH": f"{VENV / 'bin'}:/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "OTEL_SDK_DISABLED": "true",
        "RSPY_LOCAL_MODE": "0",
        "RSPY_UAC_CHECK_URL": f"{identity.url}/apikeymanager/check/api_key",
        "RSPY_COOKIE_SECRET": TEST_COOKIE_SECRET,
        "OIDC_ENDPOINT": identity.url,
        "OIDC_REALM": "rspython",
        "OIDC_CLIENT_ID": "rs-test",
        "OIDC_CLIENT_SECRET": "rs-test-secret",
    }
    log = (home / "adgs.log").open("w")
    process = subprocess.Popen(
        [
            str(python),
            "-m",
            "uvicorn",
            "rs_server_adgs.fastapi.adgs_app:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    href = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            if process.poll() is not None:
                pytest.fail(f"rs-server-adgs exited: {(home / 'adgs.log').read_text()[-2000:]}")
            try:
                if requests.get(f"{href}/health", timeout=1).ok:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.5)
        else:
            pytest.fail("rs-server-adgs did not start within 120 s")
        yield href
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def _key_client(adgs: str, identity: RsServerSimulator, user: str) -> RsClient:
    return RsClient(
        adgs,
        TEST_USERS[user][1],
        apikey_check_url=f"{identity.url}/apikeymanager/check/api_key",
        http_settings=SETTINGS,
    )


def test_api_key_is_accepted(adgs: str, identity: RsServerSimulator) -> None:
    client = _key_client(adgs, identity, "alice")
    assert client.http.get_json(f"{adgs}/auxip")["type"] == "Catalog"
    assert client.whoami().user_login == "alice" and client.owner_id == "alice"
    assert identity.requests[-1].path == "/apikeymanager/check/api_key"


def test_wrong_key_is_refused(adgs: str) -> None:
    client = RsClient(adgs, "not-a-key-of-anyone", http_settings=SETTINGS)
    with pytest.raises(AuthenticationError) as raised:
        client.http.get_json(f"{adgs}/auxip")
    assert raised.value.status == 403 and raised.value.auth_method == "API key"
    assert "Invalid API key" in str(raised.value) and "not-a-key" not in str(raised.value)


def test_key_without_the_role_is_refused_naming_it(adgs: str, identity: RsServerSimulator) -> None:
    client = _key_client(adgs, identity, "bob")
    assert client.http.get_json(f"{adgs}/auxip")["type"] == "Catalog"  # bob: landing page
    with pytest.raises(AuthenticationError) as raised:
        client.http.get_json(f"{adgs}/auxip/collections/adgs/items", params={"limit": 1})
    assert raised.value.status == 401 and raised.value.missing_role == "RS_AUXIP_ADGS_READ"
    assert "needs the role RS_AUXIP_ADGS_READ" in str(raised.value)


def test_our_signed_session_cookie_is_accepted(adgs: str, identity: RsServerSimulator) -> None:
    assert identity.oauth2 is not None
    cookie = identity.oauth2.cookie_for("alice")
    client = RsClient(adgs, oauth2_cookie=cookie, http_settings=SETTINGS)
    me = client.whoami()
    assert me.user_login == "alice" and me.source == f"{adgs}/auth/me"
    assert me.allows("RS_AUXIP_ADGS_READ") and me.method == "session cookie"
    assert client.http.get_json(f"{adgs}/auxip")["type"] == "Catalog"
    admin = [r.path for r in identity.requests if r.path.startswith("/admin/")]
    assert admin, "the server asked our Keycloak for the cookie's user"


def test_forged_cookie_is_refused_as_no_longer_valid(adgs: str) -> None:
    forged = SessionSigner("not-the-server-secret").sign(
        {"user": {"sub": "id-alice", "preferred_username": "alice"}}
    )
    with pytest.raises(AuthenticationError) as raised:
        RsClient(adgs, oauth2_cookie=forged, http_settings=SETTINGS).whoami()
    assert raised.value.status == 401 and "no longer valid" in str(raised.value)


def test_api_key_identity_without_the_key_manager_url_is_explained(adgs: str) -> None:
    with pytest.raises(ConfigurationError, match="RSPY_UAC_CHECK_URL"):
        RsClient(adgs, TEST_USERS["alice"][1], http_settings=SETTINGS).whoami()


@pytest.mark.parametrize("method", ["api-key", "cookie"])
def test_station_plugin_searches_with_each_method(
    adgs: str, identity: RsServerSimulator, method: str
) -> None:
    """Through the AUXIP plugin: the server lets alice's search through (what the station behind
    it answers is not this test's business: no station runs here), and refuses bob's."""
    import rs_core
    from rs_core.errors import RsError

    assert identity.oauth2 is not None
    check_url = f"{identity.url}/apikeymanager/check/api_key"
    who = {
        "alice": (
            {"rs_server_api_key": TEST_USERS["alice"][1], "apikey_check_url": check_url}
            if method == "api-key"
            else {"oauth2_cookie": identity.oauth2.cookie_for("alice")}
        ),
        "bob": (
            {"rs_server_api_key": TEST_USERS["bob"][1], "apikey_check_url": check_url}
            if method == "api-key"
            else {"oauth2_cookie": identity.oauth2.cookie_for("bob")}
        ),
    }
    alice = rs_core.get_station(
        "auxip", rs_server_href=adgs, http_settings=SETTINGS, **who["alice"]
    )
    try:
        alice.search_stations("2020-01-01", "2020-01-02", limit=1)
    except AuthenticationError:
        raise
    except RsError:
        pass  # no station behind the service: a server or answer error, not a refusal
    bob = rs_core.get_station("auxip", rs_server_href=adgs, http_settings=SETTINGS, **who["bob"])
    with pytest.raises(AuthenticationError) as raised:
        bob.search_stations("2020-01-01", "2020-01-02", limit=1)
    assert raised.value.missing_role is not None
    assert raised.value.missing_role.startswith("RS_AUXIP_")
