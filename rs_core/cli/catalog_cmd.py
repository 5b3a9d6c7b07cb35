"""``rs catalog ACTION ...``: your STAC catalog from the terminal.

Actions: ``collections``, ``collection ID``, ``items ID``, ``search``, ``add-collection
FILE|ID``, ``add-item ID FILE``, ``remove-item ID ITEM``, ``remove-collection ID``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rs_core.client import RsClient

__all__ = ["configure"]

ACTIONS = {
    "collections": 0,
    "collection": 1,
    "items": 1,
    "search": 0,
    "add-collection": 1,
    "add-item": 2,
    "remove-item": 2,
    "remove-collection": 1,
}
ITEM_COLUMNS = [
    ("ID", "id"),
    ("COLLECTION", "collection"),
    ("DATETIME", "datetime"),
    ("ASSETS", "assets"),
]


def configure(add: Callable[..., argparse.ArgumentParser]) -> None:
    """Add ``rs catalog``."""
    p = add("catalog", "your STAC catalog: collections, items, search, add, remove", cmd_catalog)
    p.add_argument("action", choices=sorted(ACTIONS))
    p.add_argument(
        "args", nargs="*", metavar="ARG", help="collection id, item id or JSON file, by action"
    )
    p.add_argument(
        "--collection",
        action="append",
        dest="collections",
        help="with search: collection id (repeatable)",
    )
    p.add_argument("--id", action="append", dest="ids", help="with search: item id")
    p.add_argument("--start", help="with search: datetime interval start")
    p.add_argument("--stop", help="with search: datetime interval stop")
    p.add_argument("--bbox", help="with search: minx,miny,maxx,maxy")
    p.add_argument("--limit", type=int, default=None, help="at most this many items")
    p.add_argument("--kind", default=None, help="catalog kind (default: the installed one)")


def _load_json(path: str) -> dict[str, Any]:
    from rs_core.errors import InvalidInputError

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as err:
        raise InvalidInputError(f"Cannot read {path}: {err.strerror}") from err
    except ValueError as err:
        raise InvalidInputError(f"{path} is not JSON: {err}") from err
    if not isinstance(data, dict):
        raise InvalidInputError(f"{path} must hold a JSON object")
    return data


def cmd_catalog(args: argparse.Namespace, make_client: Callable[[], RsClient]) -> int:
    """Dispatch one catalog action."""
    from rs_core.cli.output import emit_items, emit_records
    from rs_core.errors import InvalidInputError

    need = ACTIONS[args.action]
    if len(args.args) != need:
        raise InvalidInputError(
            f"rs catalog {args.action} takes {need} argument(s), got {len(args.args)}"
        )
    catalog = make_client().get_catalog_client(args.kind)
    out = args.output
    action = args.action
    if action == "collections":
        rows = [
            {"id": c.id, "title": c.title or "", "description": c.description}
            for c in catalog.get_collections()
        ]
        emit_records(rows, ["id", "title", "description"], out)
    elif action == "collection":
        print(json.dumps(catalog.get_collection(args.args[0]).to_dict(), indent=2))
    elif action == "items":
        emit_items(
            catalog.get_items(collection_id=args.args[0], max_items=args.limit), out, ITEM_COLUMNS
        )
    elif action == "search":
        from rs_core.dates import parse_when, to_wire

        datetime_range = None
        if args.start or args.stop:
            start = to_wire(parse_when(args.start)) if args.start else ".."
            stop = to_wire(parse_when(args.stop)) if args.stop else ".."
            datetime_range = f"{start}/{stop}"
        bbox = [float(v) for v in args.bbox.split(",")] if args.bbox else None
        found = catalog.search(
            collections=args.collections,
            ids=args.ids,
            datetime=datetime_range,
            bbox=bbox,
            max_items=args.limit,
        )
        emit_items(found.items(), out, ITEM_COLUMNS)
    elif action == "add-collection":
        import pystac

        source = args.args[0]
        if source.endswith(".json") or Path(source).is_file():
            collection = pystac.Collection.from_dict(_load_json(source))
        else:
            collection = _empty_collection(source)
        catalog.add_collection(collection)
        print(f"added collection {collection.id}", file=sys.stderr)
    elif action == "add-item":
        import pystac

        item = pystac.Item.from_dict(_load_json(args.args[1]))
        catalog.add_item(args.args[0], item)
        print(f"added item {item.id} to {args.args[0]}", file=sys.stderr)
    elif action == "remove-item":
        catalog.remove_item(args.args[0], args.args[1])
        print(f"removed item {args.args[1]} from {args.args[0]}", file=sys.stderr)
    elif action == "remove-collection":
        catalog.remove_collection(args.args[0])
        print(f"removed collection {args.args[0]}", file=sys.stderr)
    return 0


def _empty_collection(collection_id: str) -> Any:
    from datetime import UTC, datetime

    import pystac

    extent = pystac.Extent(
        pystac.SpatialExtent([[-180.0, -90.0, 180.0, 90.0]]),
        pystac.TemporalExtent([[datetime(2000, 1, 1, tzinfo=UTC), None]]),
    )
    return pystac.Collection(id=collection_id, description="", extent=extent)
