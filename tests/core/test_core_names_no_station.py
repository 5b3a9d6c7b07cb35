"""The core names no station: no station name, dataset or route in ``rs_core/`` code.

Station knowledge (AUXIP/ADGS, CADIP, PRIP, EDRS, LTA...) lives in the plugins, their fakes
included. This test reads every module of ``rs_core/`` token by token and fails on a name or
a string holding a station name outside docstrings and comments (examples in docstrings are
fine). ``scripts/odata_station`` (the OData station servers) is not part of rs_core.
"""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "rs_core"
STATION = re.compile(r"adgs|auxip|cadip|prip|edrs|edip|(?<![a-z])lta(?![a-z])", re.IGNORECASE)

# (file, the token that may stay): each with the reason it is not (yet) moved out.
ALLOWED = {
    # the public enum of CADIP station ids (rs_core.ECadipStation, documented API of the seed
    # client; owned by the core API helper): kept for compatibility
    ("enums.py", '"ECadipStation"'),
    ("enums.py", "ECadipStation"),
    ("enums.py", "CADIP"),
    ("enums.py", '"CADIP"'),
    ("__init__.py", '"ECadipStation"'),
    ("__init__.py", "ECadipStation"),
    # `rs` help texts give examples (owned by the CLI helper)
    ("commands.py", '"station kind, station id or kind:station (auxip, cadip:MTI)"'),
    ("commands.py", '"station id or kind:station (e.g. MTI, cadip:CADIP)"'),
    ("commands.py", '"station kind, id or kind:station (auxip, MTI...)"'),
    # the deprecated alias auth.CADIP_STATIONS points to its new home in the CADIP plugin
    ("auth.py", '"CADIP_STATIONS"'),
    ("auth.py", '"rs_core.testing.simulator.auth.CADIP_STATIONS is deprecated: use "'),
    ("auth.py", '"rs_cadip.fake.CADIP_STATIONS (the CADIP plugin\'s fake station)"'),
    ("auth.py", '"rs_cadip.fake"'),
    ("auth.py", "CADIP_STATIONS"),
}

_SKIP = {tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.COMMENT}


def _is_docstring(tokens: list[tokenize.TokenInfo], index: int) -> bool:
    """A string that is a statement on its own (module, class, function or attribute doc)."""
    before = index - 1
    while before >= 0 and tokens[before].type in (tokenize.NL, tokenize.COMMENT):
        before -= 1
    after = index + 1
    while after < len(tokens) and tokens[after].type in (tokenize.NL, tokenize.COMMENT):
        after += 1
    starts = before < 0 or tokens[before].type in _SKIP
    ends = after >= len(tokens) or tokens[after].type in (tokenize.NEWLINE, tokenize.ENDMARKER)
    return starts and ends


def station_names(source: str) -> list[tuple[int, str]]:
    """``(line, token)`` of every code token naming a station."""
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    found = []
    for index, token in enumerate(tokens):
        if token.type not in (tokenize.NAME, tokenize.STRING):
            continue
        if token.type == tokenize.STRING and _is_docstring(tokens, index):
            continue
        if STATION.search(token.string):
            found.append((token.start[0], token.string))
    return found


def test_the_detector_sees_code_and_skips_docstrings() -> None:
    source = (
        '"""Module doc naming AUXIP."""\n'
        "class A:\n"
        '    """Doc naming CADIP."""\n'
        '    kind = ""\n'
        '    """Attribute doc: ``"prip"``."""\n'
        "    # a comment naming adgs\n"
        '    route = "/adgs/aux/search"\n'
        "def f(x=CADIP_STATIONS):\n"
        '    return {"edrs": 1}\n'
    )
    assert station_names(source) == [
        (7, '"/adgs/aux/search"'),
        (8, "CADIP_STATIONS"),
        (9, '"edrs"'),
    ]


def test_rs_core_names_no_station() -> None:
    offending = []
    for path in sorted(CORE.rglob("*.py")):
        for line, token in station_names(path.read_text()):
            if (path.name, token) not in ALLOWED:
                offending.append(f"{path.relative_to(ROOT)}:{line}: {token}")
    assert offending == [], (
        "rs_core/ names a station outside docstrings (move it into the station's plugin, "
        "e.g. its fake.py):\n" + "\n".join(offending)
    )


def test_rs_core_ships_no_station_data() -> None:
    data = [
        p.name
        for p in CORE.rglob("*")
        if p.suffix in (".json", ".txt") and STATION.search(p.read_text())
    ]
    assert data == [], f"station data files in rs_core/: {data}"
