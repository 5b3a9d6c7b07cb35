"""Issue 13: ``rs search`` reaches the complete STAC station search of RS-Server v2 / 1.0:
``--collection`` (repeatable), ``--filter`` (CQL2 text, sent as cql2-json), ``--bbox``,
``--intersects``, ``--max-items``, and the PRIP plugin's own ``--product-type``/``--platform``;
mistakes are usage errors (exit 2) naming the option as typed."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from cli_support import rs

from rs_core.testing.simulator import RsServerSimulator

WIDE = ("--start", "2000-01-01", "--stop", "2100-01-01")


@pytest.fixture(scope="module")
def sim() -> Iterator[RsServerSimulator]:
    with RsServerSimulator(api_version="v2") as server:  # local mode: RSPY_HOST_* below
        yield server


@pytest.fixture
def env(sim: RsServerSimulator) -> dict[str, str]:
    hosts = ("ADGS", "CADIP", "PRIP", "EDRS", "STAGING", "CATALOG")
    return {f"RSPY_HOST_{h}": sim.url for h in hosts} | {"RS_API_VERSION": "v2"}


def _ids(out: str) -> list[str]:
    return [json.loads(line)["id"] for line in out.splitlines()]


def test_filter_text_with_spaces_selects_the_subset(
    sim: RsServerSimulator, env: dict[str, str]
) -> None:
    every = rs("search", "auxip", *WIDE, "-o", "ndjson", env=env)
    pp2 = rs("search", "auxip", *WIDE, "--filter", "product:type = 'AUX_PP2'", "-o", "ndjson",
             env=env)  # fmt: skip
    assert every.returncode == 0 and pp2.returncode == 0, every.stderr + pp2.stderr
    # the packaged ADGS data: 97 products, 19 of type AUX_PP2 (RS-Server splits cql2-text on
    # '=' without trimming: sent as cql2-json, the spaces do not matter)
    assert (len(_ids(every.stdout)), len(_ids(pp2.stdout))) == (97, 19)
    [post] = [r for r in sim.requests if r.method == "POST" and r.path == "/auxip/search"][-1:]
    assert post.json()["filter-lang"] == "cql2-json"


def test_collections_max_items_and_plugin_options(env: dict[str, str]) -> None:
    two = rs("search", "prip", *WIDE, "--collection", "S2B_L0_DS", "--max-items", "2", "-o",
             "ndjson", env=env)  # fmt: skip
    assert two.returncode == 0, two.stderr
    assert len(_ids(two.stdout)) == 2 and all("MSI_L0__DS" in i for i in _ids(two.stdout))
    both = rs("search", "prip", *WIDE, "--collection", "S2B_L0_DS", "--collection",
              "S2B_L0_GR", "-o", "ndjson", env=env)  # fmt: skip
    kinds = {i.split("_")[5] for i in _ids(both.stdout)}  # S2B_OPER_MSI_L0__DS_...
    assert kinds == {"DS", "GR"}, _ids(both.stdout)
    typed = rs("search", "prip", *WIDE, "--product-type", "MSI_L0__DS", "-o", "ndjson", env=env)
    assert typed.returncode == 0, typed.stderr
    assert _ids(typed.stdout) and all("MSI_L0__DS" in i for i in _ids(typed.stdout))


def test_bbox_reaches_the_server(sim: RsServerSimulator, env: dict[str, str]) -> None:
    out = rs("search", "prip", *WIDE, "--bbox", "-180,-90,180,90", "-o", "ndjson", env=env)
    assert out.returncode == 0, out.stderr
    [sent] = [r for r in sim.requests if r.path == "/prip/search"][-1:]
    bbox = sent.json()["bbox"] if sent.method == "POST" else sent.param("bbox").split(",")
    assert [float(v) for v in bbox] == [-180.0, -90.0, 180.0, 90.0]


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("prip", "--collection", "NOPE"), "S2B_L0_DS"),  # the valid ones are listed
        (("edrs", "--collection", "x"), "--collection"),  # the plugin has no such parameter
        (("auxip", "--bbox", "1,2,3"), "--bbox"),
        (("auxip", "--intersects", "no-such-file.json"), "--intersects"),
        (("auxip", "--intersects", "{not json"), "--intersects"),
        (("cadip", "--product-type", "X"), "--product-type"),  # another kind's option
        (("auxip", "--max-items", "0"), "--max-items"),
    ],
)
def test_mistakes_are_usage_errors_naming_the_option(
    env: dict[str, str], args: tuple[str, ...], named: str
) -> None:
    out = rs("search", args[0], *WIDE, *args[1:], env=env)
    assert out.returncode == 2, (out.returncode, out.stderr)
    assert named in out.stderr and "unexpected error" not in out.stderr
