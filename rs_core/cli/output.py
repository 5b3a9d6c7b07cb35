"""Render results as a table (people), JSON (pipes: STAC as is) or NDJSON (one per line)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

__all__ = ["FORMATS", "emit_items", "emit_records", "human_size"]

FORMATS = ("table", "json", "ndjson")


def human_size(value: Any) -> str:
    """``1536`` -> ``'1.5 KiB'``; anything not a number is shown as is."""
    try:
        size = float(value)
    except (TypeError, ValueError):
        return "" if value is None else str(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(value)  # pragma: no cover


def _table(rows: Sequence[Sequence[str]], headers: Sequence[str], out: TextIO) -> None:
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    out.write(line.rstrip() + "\n")
    out.write("  ".join("-" * w for w in widths) + "\n")
    for row in rows:
        out.write("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n")


def emit_records(
    records: Iterable[dict[str, Any]],
    columns: Sequence[str],
    fmt: str,
    *,
    out: TextIO | None = None,
    headers: Sequence[str] | None = None,
) -> int:
    """Write plain dict records; returns how many were written."""
    stream = out or sys.stdout
    rows = list(records)
    if fmt == "json":
        json.dump(rows, stream, indent=2, default=str)
        stream.write("\n")
    elif fmt == "ndjson":
        for row in rows:
            stream.write(json.dumps(row, default=str) + "\n")
    else:
        cells = [[_cell(r.get(c)) for c in columns] for r in rows]
        _table(cells, headers or [c.upper() for c in columns], stream)
    return len(rows)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple, set, frozenset)):
        return ",".join(str(v) for v in value)
    return str(value)


def emit_items(
    items: Iterable[Any],
    fmt: str,
    columns: Sequence[tuple[str, str]],
    *,
    out: TextIO | None = None,
) -> int:
    """Write pystac items: a table of ``columns`` (header, property or special), or STAC JSON.

    Special columns: ``id``, ``collection``, ``size`` (sum of assets' ``file:size``),
    ``assets`` (count). Others are item properties.
    """
    stream = out or sys.stdout
    count = 0
    if fmt == "ndjson":
        for item in items:
            stream.write(json.dumps(item.to_dict(transform_hrefs=False)) + "\n")
            count += 1
        return count
    listed = list(items)
    if fmt == "json":
        body = {
            "type": "FeatureCollection",
            "features": [i.to_dict(transform_hrefs=False) for i in listed],
        }
        json.dump(body, stream, indent=2)
        stream.write("\n")
        return len(listed)
    rows = [[_item_cell(item, key) for _, key in columns] for item in listed]
    _table(rows, [h for h, _ in columns], stream)
    return len(listed)


def _item_cell(item: Any, key: str) -> str:
    if key == "id":
        return str(item.id)
    if key == "collection":
        return str(item.collection_id or "")
    if key == "assets":
        return str(len(item.assets))
    if key == "size":
        total = 0
        for asset in item.assets.values():
            size = asset.extra_fields.get("file:size")
            if isinstance(size, (int, float)):
                total += int(size)
        return human_size(total) if item.assets else ""
    return _cell(item.properties.get(key))
