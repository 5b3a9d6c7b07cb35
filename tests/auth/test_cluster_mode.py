"""Cluster mode against the simulator's RS-Server 1.0 authentication: API key (key manager),
OAuth2 session cookie (signed like RS-Server's), bearer token, the console login, roles."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import rs_core
from rs_core import RsClient
from rs_core.auth import console_login
from rs_core.errors import AuthenticationError, ConfigurationError
from rs_core.http import HttpSettings
from rs_core.roles import station_role
from rs_core.testing.simulator import ApiKey, RsServerSimulator
from rs_core.testing.simulator.auth import OAuth2Provider, SessionSigner, rs_server_1_roles

KEY = "alice-api-key-0123456789"
ROLELESS_KEY = "bob-api-key-without-roles"
PASSWORD = "correct horse battery staple"
TOKEN = "bearer-token-of-alice-987"
FAST = HttpSettings(timeout=5, retries=0, deadline=20)
SEARCH = ("2016-01-01", "2030-01-01")


def _provider(clock: object = None) -> OAuth2Provider:
    signer = SessionSigner("test-cookie-secret")
    if clock is not None:
        signer.clock = clock
    provider = OAuth2Provider(signer)
    alice = provider.add_user("alice", PASSWORD, rs_server_1_roles())
    provider.tokens[TOKEN] = alice
    return provider


@pytest.fixture(params=["v1", "v2"])
def sim(request: pytest.FixtureRequest) -> Iterator[RsServerSimulator]:
    keys = {
        KEY: ApiKey("alice", rs_server_1_roles()),
        ROLELESS_KEY: ApiKey("bob", ["RS_AUXIP_LANDING_PAGE", "RS_CADIP_LANDING_PAGE"]),
    }
    with RsServerSimulator(
        api_keys=keys, oauth2=_provider(), api_version=request.param, staging_duration=0.05
    ) as server:
        yield server


def _clients(sim: RsServerSimulator) -> dict[str, RsClient]:
    assert sim.oauth2 is not None
    return {
        "api-key": RsClient(sim.url, KEY, http_settings=FAST),
        "cookie": RsClient(
            sim.url, oauth2_cookie=sim.oauth2.cookie_for("alice"), http_settings=FAST
        ),
        "bearer": RsClient(sim.url, bearer_token=TOKEN, http_settings=FAST),
    }


@pytest.mark.parametrize("method", ["api-key", "cookie", "bearer"])
def test_each_method_is_accepted_and_knows_who_you_are(sim: RsServerSimulator, method: str) -> None:
    client = _clients(sim)[method]
    identity = client.whoami()
    assert identity.user_login == "alice" and client.owner_id == "alice"
    assert identity.allows("RS_CADIP_MTI_DOWNLOAD") and identity.allows(
        "rs_processes_staging_execute"
    )
    expected = {
        "api-key": "/apikeymanager/check/api_key",
        "cookie": "/auth/me",
        "bearer": "/auth/me",
    }
    assert identity.source.endswith(expected[method])
    files = client.get_auxip_client().search_stations(*SEARCH, limit=2)
    assert len(files) == 2


@pytest.mark.parametrize("method", ["api-key", "cookie", "bearer"])
def test_staging_with_each_method(sim: RsServerSimulator, method: str) -> None:
    auxip = _clients(sim)[method].get_auxip_client()
    files = auxip.search_stations(*SEARCH, limit=2)
    report = auxip.stage_and_wait(files, s3_path="s3://bucket/auth", poll_interval=0.05)
    assert report.ok, report.summary()
    assert len(report.done) == 2


def test_wrong_key_is_refused_naming_the_method(sim: RsServerSimulator) -> None:
    client = RsClient(sim.url, "not-a-key", http_settings=FAST)
    with pytest.raises(AuthenticationError) as raised:
        client.get_auxip_client().search_stations(*SEARCH)
    assert raised.value.auth_method == "API key" and raised.value.status == 403
    assert "sent: API key" in str(raised.value) and "Invalid API key" in str(raised.value)
    assert "not-a-key" not in str(raised.value)


def test_key_without_the_role_is_refused_with_the_role_named(sim: RsServerSimulator) -> None:
    client = RsClient(sim.url, ROLELESS_KEY, http_settings=FAST)
    with pytest.raises(AuthenticationError) as raised:
        client.get_cadip_client("MTI").search_stations(*SEARCH)
    assert raised.value.missing_role is not None
    assert raised.value.missing_role.upper() == "RS_CADIP_MTI_READ"
    assert "needs the role" in str(raised.value)


def test_a_known_missing_role_is_refused_before_sending(sim: RsServerSimulator) -> None:
    client = RsClient(sim.url, ROLELESS_KEY, http_settings=FAST)
    client.whoami()
    sim.clear_requests()
    with pytest.raises(AuthenticationError, match="needs the role RS_CADIP_MTI_READ") as raised:
        client.http.request(
            "GET", f"{sim.url}/cadip/MTI/cadu/search", role=station_role("cadip", "MTI", "read")
        )
    assert raised.value.missing_role == "RS_CADIP_MTI_READ"
    assert "bob" in str(raised.value)
    assert sim.requests == []  # nothing was sent
    held = client.http.request("GET", f"{sim.url}/health", role="RS_CADIP_LANDING_PAGE")
    assert held.status_code == 200


def test_expired_session_says_so() -> None:
    now = [1_000_000.0]
    provider = _provider(clock=lambda: now[0])
    with RsServerSimulator(oauth2=provider) as sim:
        client = RsClient(sim.url, oauth2_cookie=provider.cookie_for("alice"), http_settings=FAST)
        assert client.whoami().user_login == "alice"
        now[0] += 15 * 24 * 3600  # past the 14 days RS-Server's cookie lives
        rs_core.auth.clear_apikey_cache()
        with pytest.raises(AuthenticationError) as raised:
            client.get_auxip_client().search_stations(*SEARCH)
    assert raised.value.auth_method == "session cookie" and raised.value.status == 401
    assert "no longer valid" in str(raised.value) and "rs login" in str(raised.value)


def test_forged_cookie_is_refused() -> None:
    provider = _provider()
    forged = SessionSigner("not-the-server-secret").sign({"user": {"preferred_username": "alice"}})
    with (
        RsServerSimulator(oauth2=provider) as sim,
        pytest.raises(AuthenticationError, match="session cookie"),
    ):
        RsClient(sim.url, oauth2_cookie=forged, http_settings=FAST).whoami()


def test_console_login_gives_a_working_session() -> None:
    provider = _provider()
    with RsServerSimulator(oauth2=provider) as sim:
        seen: list[str] = []
        cookie = console_login(sim.url, "alice", PASSWORD, timeout=5, on_login_page=seen.append)
        assert seen == [rs_core.http.origin_of(sim.url)]
        client = RsClient(sim.url, oauth2_cookie=cookie, http_settings=FAST)
        assert client.whoami().user_login == "alice"
        posted = [r for r in sim.requests if r.method == "POST"]
        assert len(posted) == 1 and posted[0].path.startswith("/realms/")


def test_console_login_with_a_wrong_password_is_refused() -> None:
    with (
        RsServerSimulator(oauth2=_provider()) as sim,
        pytest.raises(AuthenticationError, match="Invalid username or password") as raised,
    ):
        console_login(sim.url, "alice", "a-wrong-one", timeout=5)
    assert "a-wrong-one" not in str(raised.value) and raised.value.status == 200


def test_console_login_on_a_server_without_it_is_a_configuration_error() -> None:
    with (
        RsServerSimulator() as sim,
        pytest.raises(ConfigurationError, match="rs login --cookie"),
    ):
        console_login(sim.url, "alice", PASSWORD, timeout=5)


def test_api_key_without_a_key_manager_asks_for_the_check_url() -> None:
    """RS-Server 1.0's /auth/me knows only sessions; with no key manager under the server's
    URL the client says which setting is missing instead of guessing a URL."""
    with RsServerSimulator(oauth2=_provider()) as sim:
        sim.add_route(
            "GET",
            "/apikeymanager/check/api_key",
            lambda r, m: (404, {"detail": "Not Found"}),
            auth=False,
        )
        with pytest.raises(ConfigurationError, match="RSPY_UAC_CHECK_URL") as raised:
            RsClient(sim.url, KEY, http_settings=FAST).whoami()
    assert "/auth/me" in str(raised.value)


def test_check_url_setting_wins(sim: RsServerSimulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RSPY_UAC_CHECK_URL", f"{sim.url}/apikeymanager/check/api_key")
    client = RsClient(sim.url, KEY, http_settings=FAST)
    identity = client.whoami()
    assert identity.source == f"{sim.url}/apikeymanager/check/api_key"
    assert not [r for r in sim.requests if r.path == "/auth/me"]


def test_staging_without_the_execute_role_is_refused_before_the_post() -> None:
    roles = [r for r in rs_server_1_roles() if r != "RS_PROCESSES_STAGING_EXECUTE"]
    with RsServerSimulator(
        api_keys={KEY: ApiKey("alice", roles)}, api_version="v2", staging_duration=0.05
    ) as sim:
        auxip = RsClient(sim.url, KEY, http_settings=FAST).get_auxip_client()
        files = auxip.search_stations(*SEARCH, limit=1)
        auxip.whoami()
        with pytest.raises(AuthenticationError) as raised:
            auxip.staging(files[0].id)
        assert raised.value.missing_role == "RS_PROCESSES_STAGING_EXECUTE"
        assert not [r for r in sim.requests if r.method == "POST" and "/processes/" in r.path]


def test_v1_era_roles_are_left_to_the_server() -> None:
    """A key whose roles name no staging role at all (v1 names) is not refused by the client."""
    with RsServerSimulator(
        api_keys={KEY: ApiKey.full_access("alice")}, api_version="v2", staging_duration=0.05
    ) as sim:
        auxip = RsClient(sim.url, KEY, http_settings=FAST).get_auxip_client()
        auxip.whoami()
        files = auxip.search_stations(*SEARCH, limit=1)
        report = auxip.stage_and_wait(files, poll_interval=0.05)
        assert report.ok, report.summary()


def test_identity_service_answers_what_a_real_rs_server_asks() -> None:
    """The calls RS-Server 1.0 makes in cluster mode: the key manager for an API key, and
    Keycloak (python-keycloak: a client-credentials token, the user, its composite realm
    roles) for the user of a session cookie."""
    import requests

    from rs_core.testing.simulator.auth import TEST_USERS, identity_service

    with identity_service() as service:
        _, key, roles = TEST_USERS["alice"]
        check = requests.get(
            f"{service.url}/apikeymanager/check/api_key", headers={"x-api-key": key}, timeout=5
        )
        assert check.json() == {"iam_roles": list(roles), "config": {}, "user_login": "alice"}
        token = requests.post(
            f"{service.url}/realms/rspython/protocol/openid-connect/token",
            data={"grant_type": "client_credentials", "client_id": "rs", "client_secret": "x"},
            timeout=5,
        ).json()
        assert token["access_token"] and token["expires_in"] > 0
        cookie = service.oauth2.cookie_for("alice")
        session = service.oauth2.signer.unsign(cookie)
        user_id = session["user"]["sub"]
        admin = f"{service.url}/admin/realms/rspython/users/{user_id}"
        assert requests.get(admin, timeout=5).json()["enabled"] is True
        names = [
            r["name"]
            for r in requests.get(f"{admin}/role-mappings/realm/composite", timeout=5).json()
        ]
        assert names == list(roles)
        assert (
            requests.get(
                f"{service.url}/admin/realms/rspython/users/id-nobody", timeout=5
            ).status_code
            == 404
        )


def test_identity_service_serves_keycloak_discovery() -> None:
    """The real 1.0 catalog in cluster mode reads it on every answer (without it: 500)."""
    import requests

    from rs_core.testing.simulator.auth import identity_service

    with identity_service() as service:
        url = f"{service.url}/realms/rspython/.well-known/openid-configuration"
        metadata = requests.get(url, timeout=5).json()
    assert metadata["issuer"] == f"{service.url}/realms/rspython"
    assert metadata["token_endpoint"].endswith("/realms/rspython/protocol/openid-connect/token")
    assert metadata["authorization_endpoint"].startswith(service.url)


def test_identity_service_runs_on_its_own() -> None:
    import subprocess
    import sys

    import requests

    from rs_core.testing.simulator.auth import TEST_USERS

    process = subprocess.Popen(
        [sys.executable, "-m", "rs_core.testing.simulator.identity", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        check_url = process.stdout.readline().strip().split("=", 1)[1]
        oidc = process.stdout.readline().strip()
        assert oidc.startswith("OIDC_ENDPOINT=http://127.0.0.1:")
        answer = requests.get(check_url, headers={"x-api-key": TEST_USERS["bob"][1]}, timeout=5)
        assert answer.json()["user_login"] == "bob"
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert process.stderr is not None and "Warning" not in process.stderr.read()


def test_a_v1_protocol_with_a_role_scope_names_and_checks_its_roles() -> None:
    from rs_core.rsserver_v1 import StationEndpoints, StationProtocolV1

    keys = {
        ROLELESS_KEY: ApiKey("bob", ["RS_CADIP_LANDING_PAGE"]),
        KEY: ApiKey.full_access("alice"),
    }
    with RsServerSimulator(api_keys=keys) as sim:
        endpoints = StationEndpoints.under(
            sim.url, "/cadip/MTI/cadu/search", "/cadip/MTI/cadu", "/cadip/MTI/cadu/status"
        )
        params = {"datetime": "2016-01-01T00:00:00Z/2030-01-01T00:00:00Z"}
        # roles unknown yet: the server refuses, the error names the role the call needed
        bob = RsClient(sim.url, ROLELESS_KEY, http_settings=FAST)
        protocol = StationProtocolV1(bob.http, endpoints, label="X", role_scope=("cadip", "MTI"))
        with pytest.raises(AuthenticationError) as raised:
            protocol.search_files(params)
        assert raised.value.status == 401 and raised.value.missing_role == "rs_cadip_mti_read"
        # roles known: refused before sending, for the search and for staging
        bob.whoami()
        sim.clear_requests()
        for call in (lambda: protocol.search_files(params), lambda: protocol.stage({"name": "f"})):
            with pytest.raises(AuthenticationError, match="needs the role RS_CADIP_MTI_"):
                call()
        assert sim.requests == []
        # a key with v1-era roles only is let through (its roles name the station the v1 way)
        alice = RsClient(sim.url, KEY, http_settings=FAST)
        alice.whoami()
        allowed = StationProtocolV1(alice.http, endpoints, label="X", role_scope=("cadip", "MTI"))
        assert len(allowed.search_files(params)) > 0
