"""What commands read: names or STAC items, from arguments, files or ``-`` (stdin).

Accepted, so that commands compose (``rs search ... -o ndjson | rs stage KIND - --wait -o
ndjson | rs publish COLL -``): a GeoJSON FeatureCollection or Feature (``-o json``), NDJSON
with one Feature or record per line (``-o ndjson``), a JSON list, or plain names one per line.

>>> [e.name for e in parse_entries('{"type": "Feature", "id": "a"}\\nb.raw\\n')]
['a', 'b.raw']
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

from attrs import frozen

from rs_core.errors import InvalidInputError

__all__ = ["Entry", "parse_entries", "read_entries"]

_DATA_SUFFIXES = (".json", ".ndjson", ".geojson", ".jsonl")


@frozen
class Entry:
    """One input: a file name, and the STAC item or record it came with (if any)."""

    name: str
    feature: dict[str, Any] | None = None
    record: dict[str, Any] | None = None


def _entry(value: Any, where: str) -> Entry:
    if isinstance(value, str):
        return Entry(value.strip())
    if isinstance(value, dict):
        if value.get("type") == "Feature" and isinstance(value.get("id"), str):
            return Entry(value["id"], feature=value)
        name = value.get("name") or value.get("id")
        if isinstance(name, str):
            return Entry(name, record=value)
    raise InvalidInputError(
        f"{where}: expected a STAC Feature, a record with a 'name', or a name; "
        f"got {json.dumps(value)[:80]}"
    )


def parse_entries(text: str, where: str = "input") -> list[Entry]:
    """Parse JSON, GeoJSON, NDJSON or plain lines into entries (see the module doc)."""
    stripped = text.strip()
    if not stripped:
        return []
    if stripped[0] in "[{":
        try:
            whole = json.loads(stripped)
        except ValueError:
            whole = None  # NDJSON: one document per line
        if isinstance(whole, dict) and whole.get("type") == "FeatureCollection":
            return [_entry(f, where) for f in whole.get("features") or []]
        if isinstance(whole, list):
            return [_entry(v, where) for v in whole]
        if isinstance(whole, dict):
            return [_entry(whole, where)]
    entries: list[Entry] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        if line[0] in "[{":
            try:
                value = json.loads(line)
            except ValueError as err:
                raise InvalidInputError(f"{where} line {number}: not JSON ({err})") from err
            values = value.get("features", []) if _is_collection(value) else [value]
            entries += [_entry(v, f"{where} line {number}") for v in values]
        else:
            entries.append(Entry(line))
    return entries


def _is_collection(value: Any) -> bool:
    return isinstance(value, dict) and value.get("type") == "FeatureCollection"


def read_entries(
    arguments: Iterable[str], *, option: str = "FILE", stdin: TextIO | None = None
) -> list[Entry]:
    """Entries from command arguments: ``-`` reads stdin, an existing ``.json``/``.ndjson``/
    ``.geojson`` file is read, anything else is a name."""
    entries: list[Entry] = []
    for argument in arguments:
        if argument == "-":
            stream = stdin or sys.stdin
            if stream.isatty():
                raise InvalidInputError(f"{option} '-' reads stdin, but stdin is a terminal")
            entries += parse_entries(stream.read(), "stdin")
        elif argument.lower().endswith(_DATA_SUFFIXES):
            path = Path(argument)
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as err:
                raise InvalidInputError(f"{option} {argument}: {err.strerror}") from err
            entries += parse_entries(text, argument)
        else:
            entries.append(Entry(argument))
    return entries
