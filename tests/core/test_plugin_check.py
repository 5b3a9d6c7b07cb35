"""``rs plugins --check DIST`` (:mod:`rs_core.plugin_check`): each kind of mistake is named.

The distributions are real installed ones as :mod:`importlib.metadata` sees them: a
``*.dist-info`` folder (METADATA, entry_points.txt) and a package, in a folder on
``sys.path`` - what pip leaves behind, without paying for pip.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from rs_core.plugin_check import check_distribution
from rs_core.plugins import reset_registry

GOOD_CLIENT = """
from rs_core import StationClient

class FineClient(StationClient):
    station_kind = "fine"
    station_ids = ("FINE",)
    service_env_var = "RSPY_HOST_FINE"

    def search_stations(self, start_date, stop_date, limit=None, sortby=None, timeout=None):
        return []

    def staging(self, filename, s3_path="", tmp_download_path="", timeout=None):
        return None

    def staging_info(self, filename, timeout=None):
        raise NotImplementedError
"""

GOOD_PLUGIN = """
from rs_core import Capability, CommandType, StationType, hookimpl

@hookimpl
def rs_register_stations():
    yield StationType(kind="fine", client_class="{module}.client:FineClient",
                      stations=("FINE",),
                      capabilities={{Capability.SEARCH, Capability.STAGING}})

@hookimpl
def rs_register_commands():
    yield CommandType(name="fine_hello", help="say hello",
                      configure=lambda parser: None, run=lambda args, make_client: 0)
"""


def make_dist(
    site: Path,
    dist: str,
    *,
    plugin: str | None = GOOD_PLUGIN,
    client: str = GOOD_CLIENT,
    entry_point: str | None = "{module}.plugin",
) -> str:
    """Install distribution ``dist`` (package ``dist`` with ``-`` as ``_``) into ``site``."""
    module = dist.replace("-", "_")
    package = site / module
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "client.py").write_text(textwrap.dedent(client))
    if plugin is not None:
        (package / "plugin.py").write_text(textwrap.dedent(plugin.format(module=module)))
    info = site / f"{module}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    if entry_point is not None:
        value = entry_point.format(module=module)
        (info / "entry_points.txt").write_text(f"[rs_core.plugins]\n{module} = {value}\n")
    return dist


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder on ``sys.path`` to install throw-away distributions into."""
    monkeypatch.syspath_prepend(str(tmp_path))
    reset_registry()
    return tmp_path


def only_problem(dist: str) -> str:
    problems, _notes = check_distribution(dist)
    assert len(problems) == 1, problems
    return problems[0]


def test_good_distribution_passes(site: Path) -> None:
    problems, notes = check_distribution(make_dist(site, "rs-plugin-fine"))
    assert problems == []
    assert "entry point rs_plugin_fine = rs_plugin_fine.plugin loads" in notes
    assert any("rs_register_stations() yields 1 record(s)" in n for n in notes)
    assert any("rs_register_commands() yields 1 record(s)" in n for n in notes)


def test_not_installed(site: Path) -> None:
    assert "'rs-plugin-nowhere' is not installed" in only_problem("rs-plugin-nowhere")


def test_no_entry_point(site: Path) -> None:
    dist = make_dist(site, "rs-plugin-silent", entry_point=None)
    assert "rs-plugin-silent 1.0 declares no entry point in the group 'rs_core.plugins'" in (
        only_problem(dist)
    )


def test_broken_entry_point_module(site: Path) -> None:
    dist = make_dist(site, "rs-plugin-typo", entry_point="{module}.plugins")
    problem = only_problem(dist)
    assert "entry point rs_plugin_typo = rs_plugin_typo.plugins does not load" in problem
    assert "ModuleNotFoundError" in problem


def test_entry_point_module_that_fails_to_import(site: Path) -> None:
    dist = make_dist(site, "rs-plugin-crash", plugin="import no_such_dependency_42\n")
    problem = only_problem(dist)
    assert "does not load" in problem and "no_such_dependency_42" in problem


def test_misspelt_hook(site: Path) -> None:
    plugin = """
    from rs_core import hookimpl

    @hookimpl
    def rs_register_station():   # the hook is rs_register_stations
        return []
    """
    problem = only_problem(make_dist(site, "rs-plugin-misspelt", plugin=plugin))
    assert "hook implementation does not match the specs" in problem
    assert "rs_register_station" in problem


def test_hook_with_an_argument_the_spec_lacks(site: Path) -> None:
    plugin = """
    from rs_core import hookimpl

    @hookimpl
    def rs_register_stations(config):
        return []
    """
    problem = only_problem(make_dist(site, "rs-plugin-args", plugin=plugin))
    assert "does not match the specs" in problem and "config" in problem


def test_module_without_hooks(site: Path) -> None:
    plugin = "def rs_register_stations():  # no @hookimpl\n    return []\n"
    assert "implements no rs_core hook" in only_problem(
        make_dist(site, "rs-plugin-unmarked", plugin=plugin)
    )


def test_missing_method_for_a_declared_capability(site: Path) -> None:
    client = GOOD_CLIENT.replace("def staging_info(", "def staging_information(")
    problem = only_problem(make_dist(site, "rs-plugin-lazy", client=client))
    assert "fine: capability 'staging' needs FineClient.staging_info()" in problem


def test_capability_missing_every_method(site: Path) -> None:
    client = """
    from rs_core import StationClient

    class FineClient(StationClient):
        station_kind = "fine"
        station_ids = ("FINE",)
    """
    problems, _ = check_distribution(make_dist(site, "rs-plugin-empty", client=client))
    assert sorted(p.rsplit("needs ", 1)[1] for p in problems) == [
        "FineClient.search_stations()",
        "FineClient.staging()",
        "FineClient.staging_info()",
    ]


def test_hook_yielding_the_wrong_record(site: Path) -> None:
    plugin = """
    from rs_core import hookimpl

    @hookimpl
    def rs_register_stations():
        yield {{"kind": "fine"}}
    """
    problem = only_problem(make_dist(site, "rs-plugin-dict", plugin=plugin))
    assert "rs_register_stations() yielded dict, not StationType" in problem


def test_invalid_record_is_reported_with_the_validation_error(site: Path) -> None:
    plugin = """
    from rs_core import StationType, hookimpl

    @hookimpl
    def rs_register_stations():
        yield StationType(kind="Fine Station", client_class="x:Y", stations=("FINE",))
    """
    problem = only_problem(make_dist(site, "rs-plugin-badkind", plugin=plugin))
    assert "rs_register_stations() raised ValueError" in problem
    assert "'Fine Station'" in problem


def test_unknown_capability_and_unimportable_client(site: Path) -> None:
    plugin = """
    from rs_core import StationType, hookimpl

    @hookimpl
    def rs_register_stations():
        yield StationType(kind="fine", client_class="{module}.nowhere:FineClient",
                          stations=("FINE",), capabilities={{"teleport"}})
    """
    problems, _ = check_distribution(make_dist(site, "rs-plugin-dream", plugin=plugin))
    assert len(problems) == 2, problems
    assert "fine: unknown capability 'teleport' (known: " in problems[0]
    assert "client class 'rs_plugin_dream.nowhere:FineClient' does not import" in problems[1]


def test_record_stations_differ_from_the_client(site: Path) -> None:
    client = GOOD_CLIENT.replace('station_ids = ("FINE",)', 'station_ids = ("FINE", "COARSE")')
    problem = only_problem(make_dist(site, "rs-plugin-drift", client=client))
    assert "record stations ('FINE',) differ from FineClient.station_ids" in problem


def test_command_needs_callables(site: Path) -> None:
    plugin = """
    from rs_core import CommandType, hookimpl

    @hookimpl
    def rs_register_commands():
        yield CommandType(name="fine_hello", help="h", configure=None, run="main")
    """
    problem = only_problem(make_dist(site, "rs-plugin-cmd", plugin=plugin))
    assert "command 'fine_hello' needs callable configure and run" in problem


def rs(*args: str, pythonpath: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(pythonpath), env.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-m", "rs_core", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def test_cli_reports_problems_and_exits_1(site: Path) -> None:
    client = GOOD_CLIENT.replace("def staging_info(", "def staging_information(")
    dist = make_dist(site, "rs-plugin-lazy", client=client)
    result = rs("plugins", "--check", dist, pythonpath=site)
    assert result.returncode == 1
    assert "ok: entry point rs_plugin_lazy = rs_plugin_lazy.plugin loads" in result.stdout
    assert "problem: " in result.stderr and "needs FineClient.staging_info()" in result.stderr


def test_cli_passes_the_example_plugin() -> None:
    """The out-of-tree example (examples/rs-plugin-edrs, installed by ./dev setup) is valid."""
    result = rs("plugins", "--check", "rs-plugin-edrs")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "ok: entry point edrs = rs_edrs.plugin loads" in result.stdout
    assert "rs_register_stations() yields 1 record(s)" in result.stdout
    assert "rs_register_commands() yields 1 record(s)" in result.stdout
