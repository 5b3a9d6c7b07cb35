"""``rs catalog ACTION ...``: your STAC catalog from the terminal.

Actions: ``collections``, ``collection ID``, ``items ID``, ``search``, ``add-collection
FILE|ID``, ``add-item ID FILE|-``, ``remove-item ID ITEM``, ``remove-collection ID``; each
has its own ``--help`` with an example.
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

# action: (arguments, help, example)
ACTIONS: dict[str, tuple[tuple[str, ...], str, str]] = {
    "collections": ((), "list your collections", "rs catalog collections -o json"),
    "collection": (
        ("COLLECTION",),
        "show one collection as STAC JSON",
        "rs catalog collection s1_l0",
    ),
    "items": (
        ("COLLECTION",),
        "list the items of a collection",
        "rs catalog items s1_l0 --limit 20",
    ),
    "search": (
        (),
        "search items by collection, id, time and bbox",
        "rs catalog search --collection s1_l0 --start -1d --bbox -10,40,5,52 -o ndjson",
    ),
    "add-collection": (
        ("FILE_OR_ID",),
        "create a collection from a JSON file, or an empty one named ID",
        "rs catalog add-collection s1_l0    # or: rs catalog add-collection coll.json",
    ),
    "add-item": (
        ("COLLECTION", "ITEMS"),
        "add items from a file or - (STAC JSON, FeatureCollection or NDJSON)",
        "rs catalog add-item s1_l0 item.json    # or: ... -o ndjson | rs catalog add-item s1_l0 -",
    ),
    "remove-item": (
        ("COLLECTION", "ITEM"),
        "delete one item",
        "rs catalog remove-item s1_l0 S1A_IW_RAW__0SDV_20240101",
    ),
    "remove-collection": (
        ("COLLECTION",),
        "delete a collection and its items",
        "rs catalog remove-collection s1_l0",
    ),
}
ITEM_COLUMNS = [
    ("ID", "id"),
    ("COLLECTION", "collection"),
    ("DATETIME", "datetime"),
    ("ASSETS", "assets"),
]


def bbox_value(text: str) -> list[float]:
    """An argparse type: ``minx,miny,maxx,maxy`` as four numbers."""
    parts = text.split(",")
    try:
        values = [float(v) for v in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected four numbers minx,miny,maxx,maxy, got {text!r}"
        ) from None
    if len(values) != 4:
        raise argparse.ArgumentTypeError(
            f"expected four numbers minx,miny,maxx,maxy, got {len(values)}"
        )
    return values


def configure(add: Callable[..., argparse.ArgumentParser]) -> None:
    """Add ``rs catalog ACTION``, one sub-command per action with its own help and example."""
    from rs_core.cli.commands import positive_int
    from rs_core.cli.main import RsArgumentParser, common_options

    p = add(
        "catalog",
        "your STAC catalog: collections, items, search, add, remove",
        cmd_catalog,
        "examples:\n" + "\n".join(f"  {example}" for _, _, example in ACTIONS.values()),
    )
    actions = p.add_subparsers(
        dest="action", metavar="ACTION", required=True, parser_class=RsArgumentParser
    )
    common = common_options()
    for action, (arguments, help_text, example) in ACTIONS.items():
        a = actions.add_parser(
            action,
            help=help_text,
            description=help_text,
            epilog=f"example:\n  {example}",
            parents=[common],
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        for argument in arguments:
            a.add_argument(argument.lower(), metavar=argument)
        a.add_argument("--kind", default=None, help="catalog kind (default: the installed one)")
        if action in ("items", "search"):
            a.add_argument("--limit", type=positive_int, default=None, help="at most N items")
        if action == "search":
            a.add_argument(
                "--collection",
                action="append",
                dest="collections",
                help="collection id (repeatable)",
            )
            a.add_argument("--id", action="append", dest="ids", help="item id (repeatable)")
            a.add_argument("--start", help="datetime interval start (ISO 8601, -2h, yesterday)")
            a.add_argument("--stop", help="datetime interval stop")
            a.add_argument("--bbox", type=bbox_value, help="minx,miny,maxx,maxy")


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
        print(json.dumps(catalog.get_collection(args.collection).to_dict(), indent=2))
    elif action == "items":
        emit_items(
            catalog.get_items(collection_id=args.collection, max_items=args.limit),
            out,
            ITEM_COLUMNS,
        )
    elif action == "search":
        from rs_core.dates import parse_when, to_wire

        datetime_range = None
        if args.start or args.stop:
            start = to_wire(parse_when(args.start, name="--start")) if args.start else ".."
            stop = to_wire(parse_when(args.stop, name="--stop")) if args.stop else ".."
            datetime_range = f"{start}/{stop}"
        found = catalog.search(
            collections=args.collections,
            ids=args.ids,
            datetime=datetime_range,
            bbox=args.bbox,
            max_items=args.limit,
        )
        emit_items(found.items(), out, ITEM_COLUMNS)
    elif action == "add-collection":
        import pystac

        source = args.file_or_id
        if source.endswith(".json") or Path(source).is_file():
            try:
                collection = pystac.Collection.from_dict(_load_json(source))
            except (KeyError, TypeError, ValueError, pystac.STACError, pystac.STACTypeError) as e:
                raise InvalidInputError(f"{source} is not a STAC collection ({e})") from e
        else:
            collection = _empty_collection(source)
        catalog.add_collection(collection)
        print(f"added collection {collection.id}", file=sys.stderr)
    elif action == "add-item":
        from rs_core.cli.inputs import read_entries

        features = [e.feature for e in read_entries([args.items], option="ITEMS")]
        if not features or any(f is None for f in features):
            raise InvalidInputError(
                f"ITEMS {args.items}: expected STAC items (JSON, FeatureCollection or NDJSON)"
            )
        return _add_items(catalog, args.collection, [f for f in features if f], args)
    elif action == "remove-item":
        catalog.remove_item(args.collection, args.item)
        print(f"removed item {args.item} from {args.collection}", file=sys.stderr)
    elif action == "remove-collection":
        catalog.remove_collection(args.collection)
        print(f"removed collection {args.collection}", file=sys.stderr)
    return 0


def _add_items(
    catalog: Any, collection_id: str, features: list[dict[str, Any]], args: argparse.Namespace
) -> int:
    import pystac

    from rs_core.cli.output import emit_records
    from rs_core.errors import InvalidInputError

    items = []
    for feature in features:
        body = dict(feature)
        body.pop("collection", None)  # the target collection decides (search output names its own)
        try:
            items.append(pystac.Item.from_dict(body, preserve_dict=False))
        except (KeyError, TypeError, ValueError, pystac.STACError, pystac.STACTypeError) as err:
            raise InvalidInputError(
                f"ITEMS: {feature.get('id')!r} is not a STAC item ({err})"
            ) from err
    results = catalog.add_items(collection_id, items)
    rows = [{"id": r.item_id, "result": "added" if r.ok else f"failed: {r.error}"} for r in results]
    if len(rows) > 1 or args.output != "table":
        emit_records(rows, ["id", "result"], args.output)
    for result in results:
        if not result.ok:
            print(f"rs: error: {result.error}", file=sys.stderr)
    added = sum(1 for r in results if r.ok)
    if any(not r.ok and "s3://" in str(r.error) for r in results):
        print(
            "rs catalog add-item: station search results point at the station; once staged, "
            f"publish them with: rs publish {collection_id} FILE --s3 s3://bucket/prefix",
            file=sys.stderr,
        )
    if not args.quiet:
        print(f"added {added} of {len(rows)} item(s) to {collection_id}", file=sys.stderr)
    return 0 if added == len(rows) else 1


def _empty_collection(collection_id: str) -> Any:
    from datetime import UTC, datetime

    import pystac

    extent = pystac.Extent(
        pystac.SpatialExtent([[-180.0, -90.0, 180.0, 90.0]]),
        pystac.TemporalExtent([[datetime(2000, 1, 1, tzinfo=UTC), None]]),
    )
    return pystac.Collection(id=collection_id, description="", extent=extent)
