"""The documentation site as readers see it: built with ``mkdocs build --strict``, it has no raw
reST role and no doctest directive in its prose, its search works offline (``file://``), and
its CLI reference is generated from the parser (every command and catalog action)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MARKERS = (":class:", ":meth:", ":func:", ":mod:", ":attr:", ":exc:", "doctest:")
PRE = re.compile(r"<pre\b.*?</pre>", re.DOTALL)

pytest.importorskip("mkdocs", reason="the docs extra is not installed (./dev setup installs it)")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    out = tmp_path_factory.mktemp("site")
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(out)],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    yield out


def _pages(site: Path) -> list[Path]:
    pages = [p for p in site.rglob("*.html") if "assets" not in p.parts]
    assert len(pages) > 10
    return pages


def test_no_raw_rest_roles_or_doctest_markers(site: Path) -> None:
    """Prose and API reference are checked whole; code listings on guide pages (a plugin's
    source shown as it is) may quote markers, the API reference pages may not."""
    found = []
    for page in _pages(site):
        html = page.read_text(encoding="utf-8")
        checked = html if "doc-object" in html else PRE.sub("", html)
        found += [f"{page.name}: {m}" for m in MARKERS if m in checked]
    assert not found, found


def test_api_reference_links_and_code_blocks(site: Path) -> None:
    api = (site / "api.html").read_text(encoding="utf-8")
    assert api.count('class="autorefs autorefs-internal"') >= 20  # cross-references are links
    assert "&gt;&gt;&gt; </span>" in api  # examples are highlighted code, not quoted paragraphs
    assert "<autoref" not in api


def test_search_works_offline(site: Path) -> None:
    index = site / "search" / "search_index.js"  # the offline plugin: no fetch() from file://
    assert index.is_file()
    assert "rs publish" in index.read_text(encoding="utf-8")
    # ... and the worker shim that lets the search run without a server
    assert "iframe-worker" in (site / "index.html").read_text(encoding="utf-8")


def test_cli_reference_is_generated_from_the_parser(site: Path) -> None:
    from rs_core.cli.catalog_cmd import ACTIONS
    from rs_core.cli.commands import BUILTIN

    reference = (site / "cli-reference.html").read_text(encoding="utf-8")
    for command in BUILTIN:
        assert f"rs {command}" in reference, command
    for action in ACTIONS:
        assert f"rs catalog {action}" in reference, action
    assert "rs-cli-reference" not in reference


def test_code_wraps_at_1280_px(site: Path) -> None:
    css = (site / "css" / "extra.css").read_text(encoding="utf-8")
    assert "pre-wrap" in css
    assert "css/extra.css" in (site / "api.html").read_text(encoding="utf-8")


def test_doctest_blocks_become_fenced_code() -> None:
    sys.path.insert(0, str(ROOT))
    from docs_hooks.griffe_sphinx import convert

    text = "Open it::\n\n    >>> catalog.open()  # doctest: +SKIP\n    'ok'\n\nThen :meth:`close`."
    assert convert(text) == (
        "Open it:\n\n```pycon\n>>> catalog.open()\n'ok'\n```\n\nThen "
        '<autoref identifier="close" optional><code>close()</code></autoref>.'
    )
