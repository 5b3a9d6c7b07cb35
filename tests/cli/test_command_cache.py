"""``rs --help`` lists plugin commands from a cache (rs_core.cli.command_cache): each test runs
fresh interpreters with their own cache directory and reads what they imported."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import pytest
from cli_support import completion_env

from rs_core.cli import command_cache, main
from rs_core.plugins import DISABLE_ENV, ENTRY_POINT_GROUP, NO_ENTRY_POINTS_ENV

# One run of ``rs ARGS`` in this interpreter: its output, exit code and what it imported.
RUN = """\
import contextlib, io, json, sys
from rs_core.cli.main import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    try:
        code = main(sys.argv[1:])
    except SystemExit as stop:
        code = stop.code
print(json.dumps({"out": out.getvalue(), "code": code, "modules": sorted(sys.modules)}))
"""

HEAVY = ("pluggy", "importlib.metadata", "attr", "attrs", "rs_core.plugins", "rs_core.records")

PLUGIN = """\
from rs_core.plugin_api import CommandType, hookimpl


def configure(parser):
    parser.add_argument("--times", type=int, default=1)


def run(args, make_client):
    print("probe ran" * args.times)
    return 0


@hookimpl
def rs_register_commands():
    yield CommandType(name="cache-probe", help="{help}", configure=configure, run=run)
"""
MODULE = "rs_cachetest_plugin"
PAST = time.time() - 3600  # older than command_cache.SETTLE_SECONDS


def age(*paths: Path, when: float = PAST) -> None:
    """Give ``paths`` an old modification time: the cache trusts only settled directories."""
    for path in paths:
        os.utime(path, (when, when))


def install(site: Path, help_text: str = "a command of a test plugin") -> None:
    """A plugin distribution in ``site``: a module and a dist-info with its entry point."""
    (site / f"{MODULE}.py").write_text(PLUGIN.format(help=help_text))
    info = site / f"{MODULE}-0.0.1.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {MODULE}\nVersion: 0.0.1\n")
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\ncacheprobe = {MODULE}\n")
    (info / "RECORD").write_text("")


def uninstall(site: Path) -> None:
    info = site / f"{MODULE}-0.0.1.dist-info"
    for file in info.iterdir():
        file.unlink()
    info.rmdir()
    (site / f"{MODULE}.py").unlink()


class Rs:
    """``rs`` in fresh interpreters: cache in ``cache``, ``site`` on PYTHONPATH, run from an
    old, empty folder (``python -c`` puts the current folder on ``sys.path``)."""

    def __init__(self, tmp_path: Path) -> None:
        self.cache = tmp_path / "cache"
        self.site = tmp_path / "site"
        self.cwd = tmp_path / "cwd"
        self.site.mkdir()
        self.cwd.mkdir()
        age(self.site, self.cwd)
        self.env = {
            k: v
            for k, v in os.environ.items()
            if k not in (command_cache.NO_CACHE_ENV, DISABLE_ENV, NO_ENTRY_POINTS_ENV)
        }
        self.env.update(
            XDG_CACHE_HOME=str(self.cache),
            PYTHONPATH=os.pathsep.join([str(self.site), os.environ.get("PYTHONPATH", "")]),
            PYTHONDONTWRITEBYTECODE="1",  # no __pycache__ in site: its time is the key
            COLUMNS="100",
        )

    def python(self, code: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        """``python -c code args`` in this setting."""
        return subprocess.run(
            [sys.executable, "-c", code, *args],
            cwd=self.cwd,
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def __call__(self, *args: str, **env: str) -> dict[str, object]:
        done = self.python(RUN, *args, **env)
        assert done.returncode == 0, done.stderr
        assert done.stderr == "", done.stderr
        result: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
        return result

    def files(self) -> list[Path]:
        return sorted((self.cache / "rs-client").glob("plugin-commands-*.json"))


@pytest.fixture
def rs(tmp_path: Path) -> Rs:
    return Rs(tmp_path)


def plugin_modules() -> set[str]:
    """The modules of the installed plugins' entry points, and of the test plugin."""
    values = {ep.value.split(":")[0] for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}
    return values | {MODULE}


def loaded(run: dict[str, object]) -> list[str]:
    modules = run["modules"]
    assert isinstance(modules, list)
    return [m for m in modules if m in HEAVY or m in plugin_modules()]


def test_a_warm_cache_lists_plugin_commands_without_discovery(rs: Rs) -> None:
    install(rs.site)
    age(rs.site, rs.site / f"{MODULE}.py")
    cold = rs("--help")
    assert "cache-probe" in str(cold["out"]) and cold["code"] == 0
    assert {"pluggy", "rs_core.plugins", MODULE} <= set(loaded(cold))  # a real discovery
    assert len(rs.files()) == 1
    warm = rs("--help")
    assert loaded(warm) == []
    assert warm["out"] == cold["out"] and warm["code"] == 0
    assert rs("--help", RS_NO_CACHE="1")["out"] == cold["out"]
    # `rs` alone prints the same help (exit 2), an unknown command lists the same choices
    bare = rs()
    assert bare["out"] == cold["out"] and bare["code"] == 2 and loaded(bare) == []


def test_naming_a_plugin_command_loads_its_plugin(rs: Rs) -> None:
    install(rs.site)
    age(rs.site, rs.site / f"{MODULE}.py")
    rs("--help")
    assert rs.files()
    run = rs("cache-probe", "--times", "2")
    assert run["code"] == 0 and run["out"] == "probe ranprobe ran\n"
    assert MODULE in loaded(run)
    helped = rs("cache-probe", "--help")
    assert "--times" in str(helped["out"]) and helped["code"] == 0


def test_installing_or_removing_a_plugin_invalidates_the_cache(rs: Rs) -> None:
    before = rs("--help")
    assert "cache-probe" not in str(before["out"])
    assert loaded(rs("--help")) == []  # warm
    install(rs.site)  # site's time changes now
    fresh = rs("--help")
    assert "cache-probe" in str(fresh["out"]) and MODULE in loaded(fresh)
    age(rs.site, rs.site / f"{MODULE}.py", when=PAST + 60)
    rs("--help")  # writes the cache now that the folder has settled
    warm = rs("--help")
    assert "cache-probe" in str(warm["out"]) and loaded(warm) == []
    # editing the plugin module (an editable install) changes its help: seen
    install(rs.site, help_text="a new help text")
    age(rs.site, rs.site / f"{MODULE}.py", when=PAST + 120)
    assert "a new help text" in str(rs("--help")["out"])
    uninstall(rs.site)
    gone = rs("--help")
    assert "cache-probe" not in str(gone["out"])
    assert gone["out"] == before["out"]


def test_disabling_a_plugin_is_part_of_the_key(rs: Rs) -> None:
    install(rs.site)
    age(rs.site, rs.site / f"{MODULE}.py")
    rs("--help")
    assert loaded(rs("--help")) == []
    disabled = rs("--help", RS_CORE_DISABLE_PLUGINS="cacheprobe")
    assert "cache-probe" not in str(disabled["out"]) and "pluggy" in loaded(disabled)


def test_a_broken_plugin_is_reported_on_every_run_and_nothing_is_cached(rs: Rs) -> None:
    install(rs.site)
    (rs.site / f"{MODULE}.py").write_text("raise ImportError('a missing dependency')\n")
    age(rs.site, rs.site / f"{MODULE}.py")
    for _ in range(2):
        done = rs.python(RUN, "--help")
        assert done.returncode == 0 and "a missing dependency" in done.stderr
        assert "cache-probe" not in done.stdout and "search" in done.stdout
    assert rs.files() == []


@pytest.mark.parametrize(
    "content",
    [
        b"\x00not json at all",
        b'{"format": 1, "key": {}, "files": [], "commands": [["evil", "x"]]}',
        b"[1, 2, 3]",
        b"",
    ],
    ids=["garbage", "foreign-key", "not-a-dict", "empty"],
)
def test_a_corrupt_or_foreign_cache_file_is_ignored_and_replaced(rs: Rs, content: bytes) -> None:
    expected = rs("--help", RS_NO_CACHE="1")["out"]
    rs("--help")
    (file,) = rs.files()
    file.write_bytes(content)
    again = rs("--help")
    assert again["out"] == expected and "pluggy" in loaded(again)
    assert json.loads(file.read_text())["format"] == command_cache.FORMAT  # rewritten
    assert loaded(rs("--help")) == []


def test_a_cache_file_naming_a_builtin_command_is_not_trusted(rs: Rs) -> None:
    rs("--help")
    (file,) = rs.files()
    data = json.loads(file.read_text())
    data["commands"].append(["search", "not a plugin command"])
    file.write_text(json.dumps(data))
    run = rs("--help")
    assert "not a plugin command" not in str(run["out"]) and "pluggy" in loaded(run)


def test_an_unwritable_cache_dir_is_no_error(rs: Rs, tmp_path: Path) -> None:
    in_the_way = tmp_path / "a-file"
    in_the_way.write_text("not a folder")
    expected = rs("--help", RS_NO_CACHE="1")["out"]
    for _ in range(2):  # stderr stays empty (asserted by Rs)
        run = rs("--help", XDG_CACHE_HOME=str(in_the_way / "cache"))
        assert run["out"] == expected and run["code"] == 0


def test_rs_no_cache_neither_reads_nor_writes(rs: Rs) -> None:
    real = rs("--help", RS_NO_CACHE="1")
    assert rs.files() == []  # not written
    rs("--help")
    (file,) = rs.files()
    data = json.loads(file.read_text())
    data["commands"].append(["planted", "a command only the cache knows"])
    file.write_text(json.dumps(data))
    assert "a command only the cache knows" in str(rs("--help")["out"])  # it is read...
    bypassed = rs("--help", RS_NO_CACHE="1")
    assert bypassed["out"] == real["out"] and "pluggy" in loaded(bypassed)  # ...unless disabled


def test_cache_dir_follows_xdg() -> None:
    assert command_cache.cache_dir({"XDG_CACHE_HOME": "/x/cache"}) == "/x/cache/rs-client"
    home = command_cache.cache_dir({})
    assert home == os.path.join(os.path.expanduser("~"), ".cache", "rs-client")
    assert command_cache.enabled({}) and not command_cache.enabled({"RS_NO_CACHE": "1"})
    assert command_cache.PLUGIN_ENV == (DISABLE_ENV, NO_ENTRY_POINTS_ENV)


def test_completion_of_a_command_name_reads_the_cache(rs: Rs, tmp_path: Path) -> None:
    pytest.importorskip("argcomplete", reason="the completion extra is not installed")
    install(rs.site)
    age(rs.site, rs.site / f"{MODULE}.py")
    rs("--help")
    (file,) = rs.files()
    data = json.loads(file.read_text())
    data["commands"].append(["cache-planted", "a command only the cache knows"])
    file.write_text(json.dumps(data))
    answer = tmp_path / "completions"
    code = "import sys; sys.argv = ['rs']; from rs_core.cli.main import main; main()"
    done = rs.python(code, **completion_env("rs cache-", str(answer)))
    assert done.returncode == 0, done.stderr
    assert sorted(answer.read_text().split()) == ["cache-planted", "cache-probe"]
    # completing the options of a plugin command loads it (and finds no planted command)
    done = rs.python(code, **completion_env("rs cache-probe --ti", str(answer)))
    assert done.returncode == 0, done.stderr
    assert "--times" in answer.read_text().split()


def outcome(parser: argparse.ArgumentParser, argv: list[str]) -> tuple[object, str, str]:
    """What parsing ``argv`` does: exit code (or namespace), stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            result: object = vars(parser.parse_args(argv))
        except SystemExit as stop:
            result = stop.code
    return result, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    "argv",
    [["--help"], [], ["nosuch"], ["sea"], ["--bogus"], ["-o", "json"], ["--href"], ["-h"]],
    ids=repr,
)
def test_the_parser_listed_from_the_cache_answers_like_the_real_one(argv: list[str]) -> None:
    real = main.build_parser(main._plugin_commands(["--help"]))
    listed = [command_cache.CachedCommand(c.name, c.help) for c in main._plugin_commands([])]
    lean = main.build_parser(listed, station_options=False, listing=True)
    assert outcome(lean, argv) == outcome(real, argv)


def test_building_the_parser_leaves_argparse_translating_as_before() -> None:
    import gettext

    main.build_parser([], station_options=False)
    assert argparse._ is gettext.gettext  # type: ignore[attr-defined]
