"""docs/signing-in.md: its Python blocks run against the simulator, its TOML is a valid config,
every other block is marked not runnable, and the resolution table names every setting."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rs_core.config import ENV, load_profiles
from rs_core.testing.simulator import RsServerSimulator
from rs_core.testing.simulator.auth import OAuth2Provider, rs_server_1_roles

PAGE = Path(__file__).resolve().parents[2] / "docs" / "signing-in.md"
BLOCK = re.compile(r"(<!-- not-run:[^>]*-->\n)?```(\w+)\n(.*?)```", re.S)


def blocks(language: str) -> list[str]:
    return [code for _, lang, code in BLOCK.findall(PAGE.read_text()) if lang == language]


def test_every_block_runs_or_says_why_not() -> None:
    for marker, lang, code in BLOCK.findall(PAGE.read_text()):
        assert lang in ("python", "toml") or marker, f"unmarked {lang} block:\n{code}"


@pytest.mark.parametrize("code", blocks("python"))
def test_python_blocks_run(code: str, monkeypatch: pytest.MonkeyPatch) -> None:
    provider = OAuth2Provider()
    provider.add_user("alice_smith", "pw", rs_server_1_roles())
    with RsServerSimulator(oauth2=provider) as sim:
        monkeypatch.setenv("RS_SERVER_HREF", sim.url)
        monkeypatch.setenv("RSPY_OAUTH2_COOKIE", provider.cookie_for("alice_smith"))
        exec(compile(code, str(PAGE), "exec"), {})


def test_toml_block_is_a_valid_config(tmp_path: Path) -> None:
    (code,) = blocks("toml")
    path = tmp_path / "config.toml"
    path.write_text(code)
    config = load_profiles(path)
    assert config.default_profile == "ops" and set(config.profiles) == {"ops", "lab"}
    assert config.profiles["ops"].timeout == 60


def test_resolution_table_names_every_environment_variable() -> None:
    text = PAGE.read_text()
    for var in ENV.values():
        assert f"`{var}`" in text, var
