"""RsClient: modes, API key, owner id, key introspection, service URLs, secrecy."""

from __future__ import annotations

import getpass
import pickle
from collections.abc import Iterator

import pytest

import rs_core
from rs_core import RsClient
from rs_core.testing.simulator import ApiKey, Fault, RsServerSimulator

KEY = "k3y-of-alice-0123456789"


@pytest.fixture
def secured() -> Iterator[RsServerSimulator]:
    with RsServerSimulator(
        api_keys={
            KEY: ApiKey(
                user_login="alice_smith", iam_roles=["rs_adgs_read"], config={"team": "ops"}
            )
        }
    ) as sim:
        yield sim


def test_href_is_normalised_and_cluster_mode_needs_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    client = RsClient("http://host:8000///", "key", "me")
    assert client.rs_server_href == "http://host:8000"
    assert not client.local_mode
    with pytest.raises(rs_core.ConfigurationError, match="credential is required"):
        RsClient("http://host:8000", None, "me")
    monkeypatch.setenv("RSPY_APIKEY", "from-env")
    assert RsClient("http://host:8000", owner_id="me").rs_server_api_key == "from-env"
    with pytest.raises(rs_core.ConfigurationError, match="http:// or https://"):
        RsClient("host:8000", "key", "me")


def test_local_mode_takes_the_os_user_and_sends_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RSPY_APIKEY", "ignored-in-local-mode")
    client = RsClient("", None)
    assert client.local_mode and client.rs_server_href is None
    assert client.rs_server_api_key is None and client.apikey_headers == {}
    expected = "".join(c for c in getpass.getuser() if c.isalnum())
    assert client.owner_id == expected
    assert client.apikey_security() == ([], {}, "")


@pytest.mark.parametrize("owner", ["__", "-_-", "***"])
def test_owner_of_only_special_characters_is_an_error(owner: str) -> None:
    with pytest.raises(rs_core.ConfigurationError, match="no letters or digits"):
        RsClient("http://h", "k", owner)


def test_owner_is_sanitised() -> None:
    assert RsClient("http://h", "k", "test_user").owner_id == "testuser"
    assert RsClient("http://h", "k", "é-Bob.9").owner_id == "Bob9"


def test_owner_and_roles_come_from_the_api_key(secured: RsServerSimulator) -> None:
    client = RsClient(secured.url, KEY)
    assert client.owner_id == "alicesmith"
    assert client.apikey_iam_roles == ["rs_adgs_read"]
    assert client.apikey_config == {"team": "ops"}
    assert client.apikey_user_login == "alice_smith"
    checks = [r for r in secured.requests if r.path == "/apikeymanager/check/api_key"]
    assert len(checks) == 1, "introspection must be cached"
    assert checks[0].headers.get("x-api-key") == KEY


def test_apikey_check_cache_is_shared_between_clients(secured: RsServerSimulator) -> None:
    RsClient(secured.url, KEY).apikey_security()
    RsClient(secured.url, KEY).apikey_security()
    assert len([r for r in secured.requests if r.path.startswith("/apikeymanager")]) == 1


def test_wrong_key_check_is_authentication_error(secured: RsServerSimulator) -> None:
    client = RsClient(secured.url, "wrong-key")
    with pytest.raises(rs_core.AuthenticationError) as raised:
        client.apikey_security()
    assert raised.value.status == 403
    assert "wrong-key" not in str(raised.value)


def test_check_url_from_argument_and_env(
    secured: RsServerSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    secured.add_fault(
        Fault(
            path="/elsewhere",
            kind="redirect",
            location=f"{secured.url}/apikeymanager/check/api_key",
        )
    )
    client = RsClient("http://127.0.0.1:9", KEY, apikey_check_url=f"{secured.url}/elsewhere")
    assert client.apikey_user_login == "alice_smith"
    monkeypatch.setenv("RSPY_UAC_CHECK_URL", f"{secured.url}/apikeymanager/check/api_key")
    assert RsClient("http://127.0.0.1:9", KEY).apikey_check_url.startswith(secured.url)


def test_service_href_env_override(monkeypatch: pytest.MonkeyPatch) -> None:
    client = RsClient("http://main:1", "k", "me")
    assert client.service_href("RSPY_HOST_X") == "http://main:1"
    monkeypatch.setenv("RSPY_HOST_X", "http://other:2/")
    assert client.service_href("RSPY_HOST_X") == "http://other:2"
    assert client.http.session.is_trusted("http://other:2/x")
    local = RsClient(None, owner_id="me")
    with pytest.raises(rs_core.ConfigurationError, match="RSPY_HOST_Y"):
        local.service_href("RSPY_HOST_Y", "y")


def test_key_never_in_repr_str_or_pickle() -> None:
    client = RsClient("http://h", KEY, "me")
    assert KEY not in repr(client) and KEY not in str(client)
    assert KEY not in repr(client.http) and KEY not in repr(client.__dict__)
    with pytest.raises(TypeError):
        pickle.dumps(client._ctx.api_key)
    assert client.apikey_headers == {"headers": {"x-api-key": KEY}}  # the seed's shape


def test_errors_are_typed_and_picklable() -> None:
    err = rs_core.NotFoundError(
        "Status failed",
        method="GET",
        url="http://h/x?apikey=abc",
        status=404,
        detail="no such file",
    )
    assert isinstance(err, rs_core.RsError) and isinstance(err, LookupError)
    assert "abc" not in str(err) and "apikey=***" in str(err)
    clone = pickle.loads(pickle.dumps(err))
    assert type(clone) is rs_core.NotFoundError and str(clone) == str(err)


def test_bad_settings_are_configuration_errors() -> None:
    with pytest.raises(rs_core.ConfigurationError, match="timeout"):
        RsClient("http://h", "k", "me", timeout=-1)
