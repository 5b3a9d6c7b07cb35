"""Issue 16: the operator's day through the ``rs`` CLI (subprocesses against the simulator):
the search | stage | publish pipeline, inputs from files and stdin, and the CLI conventions
(usage errors naming the option, exit 2, "did you mean", --version, -v, simulate's output)."""

from __future__ import annotations

import json
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from cli_support import completion_env, rs, simulate

from rs_core.testing.simulator import ApiKey, RsServerSimulator

KEY = "cli-day-key-4c3b2a"
WIDE = ("--start", "2016-01-01", "--stop", "2030-01-01")


@pytest.fixture(scope="module")
def sim() -> Iterator[RsServerSimulator]:
    with RsServerSimulator(
        api_keys={KEY: ApiKey.full_access("day_user")}, staging_duration=0.05
    ) as server:
        yield server


@pytest.fixture
def env(sim: RsServerSimulator) -> dict[str, str]:
    return {"RS_SERVER_HREF": sim.url, "RSPY_APIKEY": KEY}


def test_pipeline_search_stage_publish_through_stdin(env: dict[str, str]) -> None:
    found = rs("search", "auxip", *WIDE, "--limit", "3", "-o", "ndjson", env=env)
    assert found.returncode == 0, found.stderr
    staged = rs(
        "stage", "auxip", "-", "--s3", "s3://day-bucket/aux", "--wait", "-o", "ndjson",
        env=env, stdin=found.stdout,
    )  # fmt: skip
    assert staged.returncode == 0, staged.stderr
    lines = [json.loads(x) for x in staged.stdout.splitlines()]
    assert len(lines) == 3
    for feature in lines:
        staging = feature["properties"]["rs:staging"]
        assert staging["state"] == "DONE"
        assert staging["destination"] == f"s3://day-bucket/aux/{feature['id']}"
    published = rs("publish", "day_aux", "-", "-o", "json", env=env, stdin=staged.stdout)
    assert published.returncode == 0, published.stderr
    assert [r["result"] for r in json.loads(published.stdout)] == ["published"] * 3
    back = rs("catalog", "items", "day_aux", "-o", "json", env=env)
    features = json.loads(back.stdout)["features"]
    assert sorted(f["id"] for f in features) == sorted(f["id"] for f in lines)
    # one asset per item, keyed by the file name (the catalog serves it as a download link)
    assert all(list(f["assets"]) == [f["id"]] for f in features)
    assert KEY not in staged.stdout + staged.stderr + published.stdout + published.stderr


def test_publish_from_a_search_file_with_s3_prefix(env: dict[str, str], tmp_path: Path) -> None:
    out = rs("search", "auxip", *WIDE, "--limit", "2", "-o", "json", env=env)
    source = tmp_path / "aux.json"
    source.write_text(out.stdout)
    names = [f["id"] for f in json.loads(out.stdout)["features"]]
    assert rs("stage", "auxip", str(source), "--s3", "s3://b/p", "--wait", env=env).returncode == 0
    published = rs("publish", "day_aux2", str(source), "--s3", "s3://b/p", env=env)
    assert published.returncode == 0, published.stderr
    assert all(name in published.stdout for name in names)


def test_publish_skips_files_whose_staging_failed(env: dict[str, str]) -> None:
    line = json.dumps(
        {"name": "never.raw", "state": "REFUSED", "destination": "", "note": "refused"}
    )
    out = rs("publish", "day_aux3", "-", "--s3", "s3://b/p", env=env, stdin=line + "\n")
    assert out.returncode == 1
    assert "skipped: staging REFUSED" in out.stdout


def test_add_item_reads_search_output_and_says_what_to_do(
    env: dict[str, str], tmp_path: Path
) -> None:
    out = rs("search", "auxip", *WIDE, "--limit", "1", "-o", "ndjson", env=env)
    source = tmp_path / "f.json"  # ndjson in a .json file, as the issue did
    source.write_text(out.stdout)
    assert rs("catalog", "add-collection", "day_c", env=env).returncode == 0
    added = rs("catalog", "add-item", "day_c", str(source), env=env)
    assert added.returncode == 1
    assert "not JSON" not in added.stderr and "rs publish day_c" in added.stderr


def test_add_item_from_stdin(env: dict[str, str]) -> None:
    item = {
        "type": "Feature",
        "stac_version": "1.0.0",
        "stac_extensions": [],
        "id": "day_item.bin",
        "geometry": None,
        "properties": {"datetime": "2024-01-02T00:00:00Z"},
        "assets": {"day_item.bin": {"href": "s3://b/x/day_item.bin"}},
        "links": [],
        "collection": "elsewhere",
    }
    assert rs("catalog", "add-collection", "day_d", env=env).returncode == 0
    body = json.dumps({"type": "FeatureCollection", "features": [item]})
    added = rs("catalog", "add-item", "day_d", "-", env=env, stdin=body)
    assert added.returncode == 0, added.stderr


def test_stage_without_wait_reports_every_file_and_exits_1(env: dict[str, str]) -> None:
    good = json.loads(rs("search", "auxip", *WIDE, "--limit", "1", "-o", "json", env=env).stdout)
    name = good["features"][0]["id"]
    out = rs("stage", "auxip", "nope_1.EOF", name, "nope_2.EOF", "--s3", "s3://b/d",
             "-o", "json", env=env)  # fmt: skip
    assert out.returncode == 1
    rows = {r["name"]: r for r in json.loads(out.stdout)}
    assert rows["nope_1.EOF"]["state"] == rows["nope_2.EOF"]["state"] == "REFUSED"
    assert rows["nope_1.EOF"]["note"]  # the server's reason
    assert rows[name]["state"] == "STARTED"
    assert rows[name]["destination"] == f"s3://b/d/{name}"


def test_stage_wait_table_shows_destination(env: dict[str, str]) -> None:
    found = json.loads(rs("search", "auxip", *WIDE, "--limit", "1", "-o", "json", env=env).stdout)
    name = found["features"][0]["id"]
    out = rs("stage", "auxip", name, "--s3", "s3://b/t", "--wait", env=env)
    assert out.returncode == 0, out.stderr
    assert "DESTINATION" in out.stdout and f"s3://b/t/{name}" in out.stdout


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("sessions", "--station", "auxip"), "kinds that can: cadip"),
        (("sessions", "--station", "AUXIP"), "kinds that can: cadip"),
        (("search", "auxip", "--session-id", "X"), "--session-id"),
        (("catalog", "search", "--bbox", "a,b,c,d"), "--bbox"),
        (("simulate", "--port", "99999"), "--port"),
        (("search", "auxip", "--start", "-1d", "--limit", "0"), "--limit"),
        (("serch", "auxip"), "did you mean 'search'"),
        (("search", "auxp", "--start", "-1d"), "did you mean 'auxip'"),
        (("catalog", "serch"), "did you mean 'search'"),
        (("search", "auxip", "--start", "2024-02-01", "--stop", "2024-01-01"), "--start"),
        (("search", "auxip", "--start", "2024-13-01"), "--start"),
        (("simulate", "--staging-duration", "-1"), "--staging-duration"),
        (("stage", "auxip", "x", "--wait", "--deadline", "-5"), "--deadline"),
        (("--timeout", "-3", "plugins"), "--timeout"),
        (("stage", "auxip", "x", "--s3", "/tmp/x"), "--s3"),
    ],
)
def test_mistakes_are_one_line_usage_errors(
    env: dict[str, str], args: tuple[str, ...], named: str
) -> None:
    out = rs(*args, env=env)
    assert out.returncode == 2, out.stderr
    assert "unexpected error" not in out.stderr and "Traceback" not in out.stderr
    assert named in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr


def test_simulate_on_a_busy_port_is_a_usage_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        out = rs("simulate", "--port", str(port))
    assert out.returncode == 2
    assert f"--port {port}" in out.stderr and "unexpected" not in out.stderr


def test_sortby_with_a_leading_dash_is_accepted(env: dict[str, str]) -> None:
    out = rs("search", "auxip", *WIDE, "--sortby", "-created", "--limit", "5", "-o", "json",
             env=env)  # fmt: skip
    assert out.returncode == 0, out.stderr
    created = [f["properties"]["created"] for f in json.loads(out.stdout)["features"]]
    assert created == sorted(created, reverse=True)


def test_version_names_core_and_plugins() -> None:
    out = rs("--version")
    assert out.returncode == 0
    assert out.stdout.startswith("rs-core ") and "rs-plugin-cadip" in out.stdout


def test_verbose_levels(env: dict[str, str]) -> None:
    quiet = rs("search", "auxip", *WIDE, "--limit", "1", "-q", env=env)
    assert quiet.returncode == 0 and quiet.stderr == ""
    debug = rs("search", "auxip", *WIDE, "--limit", "1", "-vv", env=env)
    assert debug.returncode == 0 and "DEBUG" in debug.stderr
    assert KEY not in debug.stderr


def test_every_catalog_action_has_its_own_help_and_example() -> None:
    from rs_core.cli.catalog_cmd import ACTIONS

    assert len(ACTIONS) == 8
    seen = set()
    for action in ACTIONS:
        out = rs("catalog", action, "--help")
        assert out.returncode == 0
        description = out.stdout.split("\n\n")[1]
        assert f"rs catalog {action}" in out.stdout.split("example:")[1]
        seen.add(description)
    assert len(seen) == 8


def test_simulate_prints_mode_key_roles_and_exports() -> None:
    with simulate("--port", "0", "--with-api-key", "sim-k", "--api", "v2") as lines:
        text = "\n".join(lines)
        assert "cluster" in text and "generation: v2" in text and "rs_adgs_read" in text
        assert "export RSPY_APIKEY=sim-k" in text and "export RS_SERVER_HREF=http://" in text


def test_simulate_env_prints_only_exports_that_work_in_local_mode() -> None:
    """Without --with-api-key the simulator is in local mode: its exports point every
    service's RSPY_HOST_* variable at it and unset the credential, and rs then works."""
    with simulate("--port", "0", "--env", "--generation", "v1", stop=signal.SIGTERM) as lines:
        assert lines[0] == "unset RS_SERVER_HREF RSPY_APIKEY RSPY_OAUTH2_COOKIE"
        assert lines[-1] == "export RS_API_VERSION=v1"
        exported = dict(x.removeprefix("export ").split("=", 1) for x in lines[1:])
        assert {"RSPY_HOST_ADGS", "RSPY_HOST_CADIP", "RSPY_HOST_CATALOG"} <= set(exported)
        assert len({v for k, v in exported.items() if k.startswith("RSPY_HOST_")}) == 1
        found = rs("search", "auxip", *WIDE, "--limit", "2", "-o", "ndjson", env=exported)
        assert found.returncode == 0, found.stderr
        assert len(found.stdout.splitlines()) == 2


def test_rs_simulate_serves_both_generations_by_default() -> None:
    """``rs simulate`` (no --generation) serves every installed plugin's fake on every
    generation it speaks: the v1-only example and the v2-only PRIP side by side."""
    from rs_core.cli.main import build_parser

    assert build_parser().parse_args(["simulate", "--port", "0"]).sim_api == "both"
    with simulate("--port", "0") as lines:
        text = "\n".join(lines)
        assert "generation: v1 and v2" in text and "export RS_API_VERSION=auto" in text
        url = lines[0].split(" on ", 1)[1].split()[0]
        wide = "2000-01-01T00:00:00Z/2100-01-01T00:00:00Z"
        edrs = requests.get(url + "/edrs/search", params={"datetime": wide}, timeout=5)
        assert edrs.status_code == 200, edrs.text  # the example plugin: v1 only
        assert requests.get(url + "/prip/collections", timeout=5).status_code == 200  # v2 only


def test_messages_name_options_not_python_parameters() -> None:
    out = rs("search", "auxip", "--start", "-1d", env={"RS_SERVER_HREF": "http://127.0.0.1:9"})
    assert out.returncode == 2
    assert "--api-key" in out.stderr and "--href http://127.0.0.1:9" in out.stderr
    assert "rs_server" not in out.stderr


@pytest.mark.parametrize(
    ("line", "expected"),
    [("rs sea", {"search"}), ("rs catalog add-", {"add-collection", "add-item"})],
)
def test_shell_completion_from_the_parser(tmp_path: Path, line: str, expected: set[str]) -> None:
    pytest.importorskip("argcomplete", reason="the completion extra is not installed")
    answer = tmp_path / "completions"
    out = rs(env=completion_env(line, str(answer)))
    assert out.returncode == 0, out.stderr
    assert {w.strip() for w in answer.read_text().split("\n") if w.strip()} == expected


def test_stage_wait_json_gives_destinations_and_status_reads_stdin(env: dict[str, str]) -> None:
    found = rs("search", "auxip", *WIDE, "--limit", "1", "-o", "ndjson", env=env).stdout
    name = json.loads(found)["id"]
    out = rs("stage", "auxip", "-", "never_seen.EOF", "--s3", "s3://b/w", "--wait", "-o", "json",
             env=env, stdin=found)  # fmt: skip
    assert out.returncode == 1  # one refused
    files = {f["name"]: f for f in json.loads(out.stdout)["files"]}
    assert files[name]["destination"] == f"s3://b/w/{name}"
    assert files["never_seen.EOF"]["destination"] == ""
    status = rs("status", "auxip", "-", "-o", "json", env=env, stdin=found)
    assert status.returncode == 0, status.stderr
    assert [r["status"] for r in json.loads(status.stdout)] == ["DONE"]


def test_bad_json_inputs_are_usage_errors(env: dict[str, str], tmp_path: Path) -> None:
    not_stac = tmp_path / "bad.json"
    not_stac.write_text('{"id": "x"}')
    feature = '{"type": "Feature", "id": "x"}\n'
    for args, stdin in (
        (("catalog", "add-collection", str(not_stac)), None),
        (("publish", "c", "-", "--s3", "s3://b/p"), feature),
        (("catalog", "add-item", "c", "-"), feature),
        (("publish", "c", "-"), '{"type": "Feature", "stac_version": "1.0.0", "id": "x", '
         '"geometry": null, "properties": {"datetime": null}, "links": [], "assets": {}}\n'),
    ):  # fmt: skip
        out = rs(*args, env=env, stdin=stdin)
        assert out.returncode == 2, (args, out.stderr)
        assert "unexpected" not in out.stderr and len(out.stderr.strip().splitlines()) == 1
