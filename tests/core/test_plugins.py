"""Plugin discovery: real distributions installed into a temp dir, found by entry point."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

import rs_core
from rs_core.plugins import PluginLoadWarning, get_registry, reset_registry


def _write_dist(root: Path, dist: str, module: str, kind: str, body: str = "") -> Path:
    """Source tree of a tiny plugin distribution registering one station kind."""
    src = root / dist
    (src / module).mkdir(parents=True)
    (src / "pyproject.toml").write_text(
        textwrap.dedent(f"""
        [build-system]
        requires = ["setuptools"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "{dist}"
        version = "1.2.3"
        [project.entry-points."rs_core.plugins"]
        {kind} = "{module}.plugin"
        [tool.setuptools]
        packages = ["{module}"]
    """)
    )
    (src / module / "__init__.py").write_text("")
    (src / module / "plugin.py").write_text(
        body
        or textwrap.dedent(f"""
        from rs_core import Capability, StationClient, StationType, hookimpl

        class ThrowAwayClient(StationClient):
            station_kind = "{kind}"
            station_ids = ("ALPHA", "BETA")
            service_env_var = "RSPY_HOST_{kind.upper()}"

        @hookimpl
        def rs_register_stations():
            yield StationType(kind="{kind}", client_class=ThrowAwayClient,
                              stations=("ALPHA", "BETA"),
                              capabilities={{Capability.SEARCH}}, description="throw-away")
    """)
    )
    return src


def _install(src: Path, target: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(target),
            str(src),
        ],
        check=True,
        capture_output=True,
    )


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A site dir on sys.path; discovery is reset before and after."""
    target = tmp_path / "site"
    target.mkdir()
    monkeypatch.syspath_prepend(str(target))
    reset_registry()
    yield target
    reset_registry()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Distributions installed once (pip is slow), each in its own target dir."""
    root = tmp_path_factory.mktemp("dists")
    out = {}
    specs = {
        "good": ("rs-plugin-throwaway", "rs_throwaway", "throwaway", ""),
        "clash": ("rs-plugin-clash", "rs_clash", "throwaway", ""),
        "broken": (
            "rs-plugin-broken",
            "rs_broken",
            "broken",
            "import this_module_does_not_exist\n",
        ),
    }
    for label, (dist, module, kind, body) in specs.items():
        src = _write_dist(root / "src", dist, module, kind, body)
        target = root / label
        _install(src, target)
        out[label] = target
    return out


def test_installed_throwaway_plugin_is_found_without_core_change(
    built: dict[str, Path], site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(built["good"]))
    reset_registry()
    client = rs_core.get_station(
        "throwaway",
        station="beta",
        rs_server_href="http://127.0.0.1:9",
        rs_server_api_key="k",
        owner_id="me",
    )
    assert type(client).__name__ == "ThrowAwayClient"
    assert client.station_name == "BETA"
    info = [p for p in rs_core.list_plugins() if p.kind == "throwaway"]
    assert len(info) == 1
    assert (info[0].distribution, info[0].version, info[0].state) == (
        "rs-plugin-throwaway",
        "1.2.3",
        "ok",
    )
    assert info[0].stations == ("ALPHA", "BETA")
    assert info[0].capabilities == ("search",)
    # the classic style resolves through the registry as well
    parent = rs_core.RsClient("http://127.0.0.1:9", "k", "me")
    child = parent.get_throwaway_client("ALPHA")
    assert child.station_name == "ALPHA"
    assert child.http is parent.http  # children share the session


def test_unknown_station_lists_valid_ones(
    built: dict[str, Path], site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(built["good"]))
    reset_registry()
    with pytest.raises(rs_core.UnknownStationError, match="valid stations: ALPHA, BETA"):
        rs_core.get_station(
            "throwaway",
            station="GAMMA",
            rs_server_href="http://h",
            rs_server_api_key="k",
            owner_id="me",
        )


def test_unknown_kind_lists_installed_kinds(
    built: dict[str, Path], site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(built["good"]))
    reset_registry()
    with pytest.raises(rs_core.UnknownKindError, match=r"installed station kinds: .*throwaway"):
        rs_core.get_station("nosuchkind")
    with pytest.raises(rs_core.UnknownKindError, match="nosuchkind"):
        rs_core.RsClient(None, owner_id="me").get_nosuchkind_client()


def test_broken_plugin_is_reported_and_others_keep_working(
    built: dict[str, Path],
    site: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.syspath_prepend(str(built["good"]))
    monkeypatch.syspath_prepend(str(built["broken"]))
    reset_registry()
    with (
        caplog.at_level(logging.WARNING, "rs_core.plugins"),
        pytest.warns(PluginLoadWarning, match=r"rs-plugin-broken 1\.2\.3") as caught,
    ):
        registry = get_registry()
    assert "this_module_does_not_exist" in str(caught[0].message)
    assert "rs-plugin-broken" in caplog.text
    assert "throwaway" in registry.stations
    broken = [p for p in rs_core.list_plugins() if p.distribution == "rs-plugin-broken"]
    assert broken[0].state == "broken"
    assert "ModuleNotFoundError" in broken[0].error
    # asking for the broken kind says why it is missing
    with pytest.raises(rs_core.UnknownKindError, match="not loaded: broken from rs-plugin-broken"):
        get_registry().station_type("broken")


def test_duplicate_kind_names_both_distributions(
    built: dict[str, Path], site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(built["good"]))
    monkeypatch.syspath_prepend(str(built["clash"]))
    reset_registry()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a conflict is an error on use, not a load warning
        registry = get_registry()
    with pytest.raises(rs_core.PluginError) as raised:
        rs_core.get_station("throwaway")
    text = str(raised.value)
    assert "rs-plugin-throwaway" in text and "rs-plugin-clash" in text
    assert "throwaway" not in registry.stations
    states = {p.distribution: p.state for p in rs_core.list_plugins() if p.kind == "throwaway"}
    assert states == {"rs-plugin-throwaway": "conflict", "rs-plugin-clash": "conflict"}


def test_disable_env_var_resolves_a_conflict(
    built: dict[str, Path], site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(built["good"]))
    monkeypatch.syspath_prepend(str(built["clash"]))
    # both register kind "throwaway" under the entry point name "throwaway": disabling by
    # name disables both, which proves the variable is honoured
    monkeypatch.setenv("RS_CORE_DISABLE_PLUGINS", "throwaway")
    reset_registry()
    states = {
        p.distribution: p.state
        for p in rs_core.list_plugins()
        if p.distribution.startswith("rs-plugin-")
        and p.distribution in ("rs-plugin-throwaway", "rs-plugin-clash")
    }
    assert states == {"rs-plugin-throwaway": "disabled", "rs-plugin-clash": "disabled"}
    with pytest.raises(rs_core.UnknownKindError):
        rs_core.get_station("throwaway")


def test_trace_env_var_logs_hook_calls(
    built: dict[str, Path],
    site: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.syspath_prepend(str(built["good"]))
    monkeypatch.setenv("RS_CORE_TRACE_PLUGINS", "1")
    reset_registry()
    with caplog.at_level(logging.DEBUG, "rs_core.plugins"):
        get_registry()
    assert "rs_register_stations from throwaway" in caplog.text


def test_registry_is_lazy_and_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    code = (
        "import sys, rs_core, rs_core.plugins as p; "
        "assert p._registry is None, 'discovery ran at import'; "
        "assert 'pystac_client' not in sys.modules; "
        "r1 = p.get_registry(); assert p.get_registry() is r1; print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"


def test_register_plugin_for_notebooks(site: Path) -> None:
    from types import SimpleNamespace

    from rs_core import Capability, StationClient, StationType, hookimpl
    from rs_core.plugins import register_plugin, unregister_plugin

    class NotebookClient(StationClient):
        station_ids = ("ONE",)

    @hookimpl
    def rs_register_stations() -> Iterator[StationType]:
        yield StationType(
            kind="notebook",
            client_class=NotebookClient,
            stations=("ONE",),
            capabilities={Capability.SEARCH},
        )

    register_plugin(SimpleNamespace(rs_register_stations=rs_register_stations), "notebook")
    try:
        client = rs_core.get_station("notebook", owner_id="me")
        assert isinstance(client, NotebookClient)
        assert client.local_mode
    finally:
        unregister_plugin("notebook")
    with pytest.raises(rs_core.UnknownKindError):
        rs_core.get_station("notebook")


def test_hook_yielding_wrong_records_is_reported(site: Path) -> None:
    from types import SimpleNamespace

    from rs_core import hookimpl
    from rs_core.plugins import register_plugin, unregister_plugin

    @hookimpl
    def rs_register_stations() -> list[str]:
        return ["not a record"]

    register_plugin(SimpleNamespace(rs_register_stations=rs_register_stations), "wrongrecords")
    try:
        with pytest.warns(PluginLoadWarning, match="must yield StationType records"):
            infos = rs_core.list_plugins()
        assert [i.state for i in infos if i.name == "wrongrecords"] == ["broken"]
    finally:
        unregister_plugin("wrongrecords")


def test_misspelt_hook_is_reported(site: Path) -> None:
    from types import SimpleNamespace

    from rs_core import hookimpl
    from rs_core.plugins import register_plugin, unregister_plugin

    @hookimpl
    def rs_register_station() -> list[str]:  # missing "s"
        return []

    register_plugin(SimpleNamespace(rs_register_station=rs_register_station), "typo")
    try:
        with pytest.warns(PluginLoadWarning, match="rs_register_station"):
            infos = rs_core.list_plugins()
        assert [i.state for i in infos if i.name == "typo"] == ["broken"]
    finally:
        unregister_plugin("typo")


def test_record_validation() -> None:
    from rs_core import StationType

    with pytest.raises(ValueError, match="lower-case"):
        StationType(kind="Bad Kind", client_class=object, stations=("A",))
    with pytest.raises(ValueError, match="module:ClassName"):
        StationType(kind="ok", client_class="no_colon", stations=("A",))
    lazy = StationType(kind="ok", client_class="rs_core.station:StationClient", stations=["a"])
    assert lazy.stations == ("A",)
    assert lazy.load_client_class() is rs_core.StationClient


def test_command_names_may_have_hyphens() -> None:
    from rs_core import CommandType

    command = CommandType(name="edrs-types", help="h", configure=lambda p: None, run=lambda a, m: 0)
    assert command.name == "edrs-types"
    with pytest.raises(ValueError, match="command name"):
        CommandType(name="Edrs Types", help="h", configure=lambda p: None, run=lambda a, m: 0)
