"""``rs login``, ``rs logout``, ``rs whoami`` and ``--profile``, run in-process against the
simulator's OAuth2 side; the config directory is a temp dir (``RS_CONFIG_DIR``)."""

from __future__ import annotations

import io
import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from rs_core.cli.main import main
from rs_core.config import LoginStore
from rs_core.testing.simulator import ApiKey, RsServerSimulator
from rs_core.testing.simulator.auth import OAuth2Provider, rs_server_1_roles

KEY = "cli-key-of-carol-5566"
PASSWORD = "s3cret-pass-word"


@pytest.fixture(scope="module")
def sim() -> Iterator[RsServerSimulator]:
    provider = OAuth2Provider()
    provider.add_user("carol", PASSWORD, [*rs_server_1_roles(), "carol_*_write"])
    with RsServerSimulator(
        api_keys={KEY: ApiKey("carol", ["RS_CADIP_MTI_READ"])}, oauth2=provider
    ) as s:
        yield s


def run(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    *argv: str,
    stdin: str = "",
) -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_login_whoami_logout(
    sim: RsServerSimulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    href = ("--href", sim.url)
    code, _, err = run(
        capsys,
        monkeypatch,
        *href,
        "login",
        "--username",
        "carol",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert code == 0, err
    assert "Signed in" in err and "carol" in err
    store = LoginStore.default()
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    stored = store.get(sim.url)
    assert stored is not None and stored.method == "cookie" and stored.user_login == "carol"
    assert PASSWORD not in store.path.read_text()

    code, out, err = run(capsys, monkeypatch, *href, "whoami", "-o", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["user_login"] == "carol" and data["auth_method"] == "session cookie"
    assert data["auth_source"].startswith("stored login")
    areas = {r["role"]: r["area"] for r in data["roles"]}
    assert (
        areas["RS_PROCESSES_STAGING_EXECUTE"] == "staging" and areas["carol_*_write"] == "catalog"
    )
    assert stored.value not in out + err

    code, out, err = run(capsys, monkeypatch, *href, "whoami")
    assert code == 0 and "ROLE" in out and "start staging jobs" in out

    code, _, err = run(capsys, monkeypatch, *href, "logout")
    assert code == 0 and "Signed out" in err
    assert store.get(sim.url) is None
    assert any(r.path == "/auth/logout" for r in sim.requests)
    code, _, err = run(capsys, monkeypatch, *href, "whoami")
    assert code == 2 and "rs login" in err


def test_wrong_password_fails_and_stores_nothing(
    sim: RsServerSimulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = run(
        capsys,
        monkeypatch,
        "--href",
        sim.url,
        "login",
        "--username",
        "carol",
        "--password-stdin",
        stdin="nope\n",
    )
    assert code == 1 and "Invalid username or password" in err
    assert LoginStore.default().get(sim.url) is None


def test_pasted_cookie_and_api_key_are_checked_then_stored(
    sim: RsServerSimulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert sim.oauth2 is not None
    cookie = sim.oauth2.cookie_for("carol")
    code, _, err = run(
        capsys, monkeypatch, "--href", sim.url, "login", "--cookie", "-", stdin=cookie
    )
    assert code == 0, err
    assert LoginStore.default().get(sim.url).value == cookie  # type: ignore[union-attr]
    code, _, err = run(
        capsys, monkeypatch, "--href", sim.url, "login", "--with-api-key", "-", stdin=KEY
    )
    assert code == 0, err
    assert LoginStore.default().get(sim.url).method == "api-key"  # type: ignore[union-attr]
    code, _, err = run(
        capsys, monkeypatch, "--href", sim.url, "login", "--with-api-key", "-", stdin="bad-key"
    )
    assert code == 1 and "sent: API key" in err and "bad-key" not in err


def test_secret_on_the_command_line_is_a_usage_error(
    sim: RsServerSimulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = run(capsys, monkeypatch, "--href", sim.url, "login", "--cookie", "abc123")
    assert code == 2 and "--cookie takes no secret on the command line" in err
    assert "abc123" not in err


def test_login_without_a_server_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = run(capsys, monkeypatch, "login", "--cookie", "-", stdin="x")
    assert code == 2 and "needs a server" in err


def _write_config(text: str) -> Path:
    path = LoginStore.default().path.parent / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_profile_gives_href_and_owner_in_cli_and_python(
    sim: RsServerSimulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from rs_core import RsClient

    _write_config(
        f'[profiles.lab]\nhref = "{sim.url}"\nauth = "api-key"\nowner = "team_x"\ntimeout = 7\n'
    )
    monkeypatch.setenv("RSPY_APIKEY", KEY)
    code, out, err = run(capsys, monkeypatch, "--profile", "lab", "whoami", "-o", "json")
    assert code == 0, err
    assert json.loads(out)["owner_id"] == "teamx" and json.loads(out)["profile"] == "lab"
    client = RsClient(profile="lab")
    assert client.rs_server_href == sim.url and client.owner_id == "teamx"
    assert client.http.settings.timeout == 7
    assert client.settings_sources["href"] == "profile lab"
    monkeypatch.setenv("RS_PROFILE", "lab")
    assert RsClient().rs_server_href == sim.url  # env RS_PROFILE
    assert RsClient(owner_id="arg").owner_id == "arg"  # argument beats the profile
    monkeypatch.setenv("RS_OWNER_ID", "from_env")
    assert RsClient().owner_id == "fromenv"  # env beats the profile


def test_unknown_profile_is_a_usage_error_naming_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _write_config('[profiles.lab]\nhref = "http://127.0.0.1:9"\n')
    code, _, err = run(capsys, monkeypatch, "--profile", "prod", "whoami")
    assert code == 2 and "'prod'" in err and "lab" in err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[profiles.a]\ntimeout = "soon"\n', "timeout must be a positive number"),
        ('[profiles.a]\nauth = "password"\n', "auth must be one of"),
        ('[profiles.a]\napi_key = "k"\n', "secrets go in 'rs login'"),
        ("[profiles.a\n", "Cannot read the config file"),
        ('default_profile = "b"\n[profiles.a]\n', "default_profile 'b' is not a profile"),
    ],
)
def test_bad_config_files_are_configuration_errors(text: str, message: str) -> None:
    from rs_core.config import load_profiles
    from rs_core.errors import ConfigurationError

    path = _write_config(text)
    with pytest.raises(ConfigurationError, match=message) as raised:
        load_profiles(path)
    assert str(path) in str(raised.value)


def test_rs_server_href_works_in_python(
    sim: RsServerSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rs_core import RsClient

    monkeypatch.setenv("RS_SERVER_HREF", sim.url)
    monkeypatch.setenv("RSPY_OAUTH2_COOKIE", sim.oauth2.cookie_for("carol"))  # type: ignore[union-attr]
    client = RsClient()
    assert client.rs_server_href == sim.url and client.credential is not None
    assert client.credential.method == "session cookie"
    assert client.whoami().user_login == "carol"
    assert RsClient("", owner_id="me").local_mode  # "" still forces local mode


def test_password_and_cookie_never_in_debug_output(
    sim: RsServerSimulator,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    code, out, err = run(
        capsys,
        monkeypatch,
        "--debug",
        "--href",
        sim.url,
        "login",
        "--username",
        "carol",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert code == 0, err
    stored = LoginStore.default().get(sim.url)
    assert stored is not None
    assert any("urllib3" in r.name for r in caplog.records), "debug logs expected"
    for text in (out, err, caplog.text):
        assert PASSWORD not in text and stored.value not in text
    assert stored.value not in repr(stored) and stored.value not in str(stored)


def test_oauth_login_parameters_are_masked_in_logs(
    sim: RsServerSimulator,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    code, _, err = run(
        capsys,
        monkeypatch,
        "--href",
        sim.url,
        "login",
        "--username",
        "carol",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert code == 0, err
    lines = [r.getMessage() for r in caplog.records if "login_from_console?" in r.getMessage()]
    assert lines, "the redirect back with the one-time code was logged by urllib3"
    with_code = [line for line in lines if "code=" in line]
    assert with_code and all("code=***" in line and "state=***" in line for line in with_code)
