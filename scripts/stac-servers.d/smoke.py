"""Smoke check of the two real STAC servers started by `scripts/stac-servers start`.

Checks that stac-fastapi-pgstac 7.2.0 and rs-server-catalog 0.2 (local mode) still behave as
documented in docs/dev/stac-servers.md (status codes, body shapes, quirks), so that the catalog
client is coded against facts. Exits 1 if any expectation fails, 0 otherwise.

    /work/main/.venv/bin/python scripts/stac-servers.d/smoke.py [--only pgstac|rscatalog] [-v]

URLs: env RS_TEST_PGSTAC_URL (default http://127.0.0.1:8082) and RS_TEST_RSCATALOG_URL
(default http://127.0.0.1:8083; the catalog lives under /catalog). Every object it creates has a
unique id and is deleted at the end, so it can run while other tests use the same servers.
Set RS_STAC_CONTEXT=on if the servers were started with pgstac's context (numberMatched) on.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import uuid
from typing import Any

import requests

PGSTAC = os.environ.get("RS_TEST_PGSTAC_URL", "http://127.0.0.1:8082").rstrip("/")
RSCAT = os.environ.get("RS_TEST_RSCATALOG_URL", "http://127.0.0.1:8083").rstrip("/")
CONTEXT_ON = os.environ.get("RS_STAC_CONTEXT", "off").lower() == "on"
TIMEOUT = 15

results: list[tuple[bool, str, str, str]] = []  # (ok, server, check, detail)
VERBOSE = False


def check(server: str, name: str, ok: object, detail: Any = "") -> bool:
    results.append((bool(ok), server, name, "" if ok and not VERBOSE else str(detail)[:400]))
    return bool(ok)


def info(server: str, name: str, detail: Any) -> None:
    results.append((True, server, f"(info) {name}", str(detail)[:400]))


def body(r: requests.Response) -> Any:
    try:
        return r.json()
    except ValueError:
        return r.text


def desc(r: requests.Response) -> str:
    return f"{r.request.method} {r.url} -> {r.status_code} {json.dumps(body(r))[:300]}"


def links(obj: dict[str, Any], rel: str) -> list[dict[str, Any]]:
    return [link for link in obj.get("links", []) if link.get("rel") == rel]


def is_pydantic_detail(b: Any) -> bool:
    return (
        isinstance(b, dict)
        and isinstance(b.get("detail"), list)
        and all({"type", "loc", "msg"} <= set(d) for d in b["detail"])
    )


def collection(cid: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "Collection",
        "stac_version": "1.0.0",
        "id": cid,
        "description": f"smoke collection {cid}",
        "license": "other",
        "extent": {
            "spatial": {"bbox": [[-180, -90, 180, 90]]},
            "temporal": {"interval": [["2024-01-01T00:00:00Z", None]]},
        },
        "links": [],
        **extra,
    }


def item(iid: str, cid: str, k: int) -> dict[str, Any]:
    """Item k: datetime 2024-01-0{k+1}, a 1x1 degree box at x=10k, platform S1A (k even) / S2B."""
    x = 10 * k
    return {
        "type": "Feature",
        "stac_version": "1.0.0",
        "stac_extensions": ["https://stac-extensions.github.io/file/v2.1.0/schema.json"],
        "id": iid,
        "collection": cid,
        "geometry": {
            "type": "Polygon",
            "coordinates": [[[x, 0], [x + 1, 0], [x + 1, 1], [x, 1], [x, 0]]],
        },
        "bbox": [x, 0, x + 1, 1],
        "properties": {
            "datetime": f"2024-01-0{k + 1}T00:00:00Z",
            "platform": "S1A" if k % 2 == 0 else "S2B",
        },
        # RS-Server: s3:// href whose file name == the asset key
        "assets": {
            f"{iid}.bin": {
                "href": f"s3://temp-bucket/smoke/{iid}.bin",
                "roles": ["data"],
                "file:size": 3,
            }
        },
        "links": [],
    }


def ids(fc: Any) -> list[str]:
    return sorted(f["id"] for f in fc.get("features", [])) if isinstance(fc, dict) else []


def run_server(server: str) -> None:  # one linear scenario
    rs = server == "rscatalog"
    base = RSCAT + "/catalog" if rs else PGSTAC
    s = requests.Session()
    tag = uuid.uuid4().hex[:8]
    owner = "smoke"
    short = f"c{tag}"
    # the id the client uses in URLs; pgstac keeps ':' in ids (INVALID_ID_CHARS override)
    cid = short if rs else f"{owner}:{short}"
    url_id = f"{owner}:{short}"
    curl = f"{base}/collections/{url_id}"
    created: list[str] = []

    def req(method: str, url: str, **kw: Any) -> requests.Response:
        return s.request(method, url, timeout=TIMEOUT, **kw)

    try:
        # --- health / landing / conformance
        if rs:
            r = req("GET", f"{base}/health")
            check(
                server,
                'GET /catalog/health -> 200 "Healthy"',
                r.status_code == 200 and body(r) == "Healthy",
                desc(r),
            )
        else:
            r = req("GET", f"{base}/_mgmt/health")
            b = body(r)
            check(
                server,
                "GET /_mgmt/health -> 200 status UP",
                r.status_code == 200 and b.get("status") == "UP",
                desc(r),
            )
        r = req("GET", f"{base}/")
        b = body(r)
        check(
            server,
            "landing -> 200 Catalog with conformsTo + data/search links",
            r.status_code == 200
            and b.get("type") == "Catalog"
            and "conformsTo" in b
            and links(b, "data")
            and {link.get("method") for link in links(b, "search")} == {"GET", "POST"},
            desc(r),
        )
        r = req("GET", f"{base}/conformance")
        conf = body(r).get("conformsTo", []) if r.status_code == 200 else []
        needed = [
            "https://api.stacspec.org/v1.0.0/core",
            "https://api.stacspec.org/v1.0.0/item-search",
            "https://api.stacspec.org/v1.0.0/ogcapi-features/extensions/transaction",
            "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
            "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
        ]
        check(
            server,
            "conformance -> 200 with core/item-search/transaction/cql2",
            all(c in conf for c in needed),
            desc(r),
        )

        # --- collections
        extra = {"owner": owner} if rs else {}
        r = req("POST", f"{base}/collections", json=collection(cid, **extra))
        b = body(r)
        if check(server, "POST collection -> 201", r.status_code == 201, desc(r)):
            created.append(curl)
        if rs:
            self_href = links(b, "self")[0]["href"] if links(b, "self") else ""
            check(
                server,
                "POST collection answer: short id + owner",
                b.get("id") == short and b.get("owner") == owner,
                desc(r),
            )
            check(
                server,
                "POST collection self link = /catalog/collections/owner:coll",
                self_href == curl,
                self_href,
            )
        else:
            check(server, "POST collection answer: id with ':' kept", b.get("id") == cid, desc(r))
            r = req("POST", f"{base}/collections", json=collection(f"a/b{tag}"))
            check(
                server,
                "POST collection id with '/' -> 400 {detail: str}",
                r.status_code == 400 and isinstance(body(r).get("detail"), str),
                desc(r),
            )

        r = req("POST", f"{base}/collections", json=collection(cid, **extra))
        check(
            server,
            "POST duplicate collection -> 409 ConflictError",
            r.status_code == 409 and body(r).get("code") == "ConflictError",
            desc(r),
        )

        r = req(
            "POST", f"{base}/collections", json={"id": f"bad{tag}", "type": "Collection", **extra}
        )
        check(
            server,
            "POST invalid collection -> 400 pydantic detail list (not 422)",
            r.status_code == 400 and is_pydantic_detail(body(r)),
            desc(r),
        )

        r = req("GET", curl)
        b = body(r)
        if rs:
            check(
                server,
                "GET collection -> 200 short id + owner",
                r.status_code == 200 and b.get("id") == short and b.get("owner") == owner,
                desc(r),
            )
        else:
            check(
                server,
                "GET collection -> 200 full id",
                r.status_code == 200 and b.get("id") == cid,
                desc(r),
            )

        r = req("GET", f"{base}/collections")
        b = body(r)
        listed = [c for c in b.get("collections", []) if short in c.get("id", "")]
        if rs:
            check(
                server,
                "GET collections -> list id owner_coll + owner (quirk)",
                r.status_code == 200
                and listed
                and listed[0]["id"] == f"{owner}_{short}"
                and listed[0].get("owner") == owner,
                listed[:1] or desc(r),
            )
        else:
            check(
                server,
                "GET collections -> list with full id",
                r.status_code == 200 and listed and listed[0]["id"] == cid,
                desc(r),
            )
        check(
            server,
            "GET collections has numberMatched/numberReturned",
            "numberMatched" in b and "numberReturned" in b,
            list(b),
        )

        r = req("PUT", curl, json=collection(cid, title=f"T{tag}", **extra))
        b = body(r)
        check(server, "PUT collection -> 200", r.status_code == 200, desc(r))
        if rs:
            check(
                server,
                "PUT collection answer id = owner_coll (quirk: not rewritten)",
                b.get("id") == f"{owner}_{short}",
                b.get("id"),
            )
        r = req("GET", curl)
        check(
            server, "GET after PUT shows the new title", body(r).get("title") == f"T{tag}", desc(r)
        )

        # --- items
        icurl = f"{curl}/items"
        for k in range(3):
            r = req("POST", icurl, json=item(f"i{k}", cid, k))
            check(server, f"POST item i{k} -> 201", r.status_code == 201, desc(r))
            if k == 0:
                b = body(r)
                if rs:
                    props = b.get("properties", {})
                    check(
                        server,
                        "POST item answer: owner/published/updated/expires added",
                        all(p in props for p in ("owner", "published", "updated", "expires"))
                        and props["owner"] == owner,
                        props,
                    )
                    href = b.get("assets", {}).get("i0.bin", {}).get("href")
                    check(
                        server,
                        "POST item: asset href rewritten to the CSV bucket",
                        href == "s3://some-bucket/smoke/i0.bin",
                        href,
                    )
                    check(
                        server,
                        "POST item answer collection = owner_coll (quirk)",
                        b.get("collection") == f"{owner}_{short}",
                        b.get("collection"),
                    )
                else:
                    check(
                        server,
                        "POST item answer collection = id",
                        b.get("collection") == cid,
                        b.get("collection"),
                    )

        r = req("POST", icurl, json=item("i0", cid, 0))
        code = "Conflict" if rs else "ConflictError"
        check(
            server,
            f"POST duplicate item -> 409 {code}",
            r.status_code == 409 and body(r).get("code") == code,
            desc(r),
        )

        r = req("GET", f"{icurl}/i1")
        b = body(r)
        exp_coll = short if rs else cid
        check(
            server,
            "GET item -> 200 geo+json, collection as in URL form",
            r.status_code == 200
            and r.headers.get("content-type", "").startswith("application/geo+json")
            and b.get("collection") == exp_coll,
            desc(r),
        )
        r = req("GET", f"{icurl}/nope{tag}")
        check(
            server,
            "GET missing item -> 404 NotFoundError",
            r.status_code == 404 and body(r).get("code") == "NotFoundError",
            desc(r),
        )

        new = item("i1", cid, 1)
        new["properties"]["platform"] = "S2B"
        new["properties"]["title"] = "updated"
        r = req("PUT", f"{icurl}/i1", json=new)
        check(server, "PUT item -> 200", r.status_code == 200, desc(r))
        r = req("GET", f"{icurl}/i1")
        check(
            server,
            "GET after PUT item shows the change",
            body(r).get("properties", {}).get("title") == "updated",
            desc(r),
        )

        # --- paging
        r = req("GET", icurl, params={"limit": 2})
        b = body(r)
        nxt = links(b, "next")
        check(
            server,
            "GET items?limit=2 -> 2 features, numberReturned, next link with token=",
            r.status_code == 200
            and len(b.get("features", [])) == 2
            and b.get("numberReturned") == 2
            and nxt
            and "token=" in nxt[0]["href"],
            desc(r),
        )
        if not CONTEXT_ON:
            check(
                server,
                "items list has no numberMatched (pgstac context off)",
                "numberMatched" not in b,
                list(b),
            )
        if nxt:
            r2 = req("GET", nxt[0]["href"])
            b2 = body(r2)
            check(
                server,
                "follow next -> remaining 1 feature, previous link, no next",
                r2.status_code == 200
                and len(b2.get("features", [])) == 1
                and links(b2, "previous")
                and not links(b2, "next"),
                desc(r2),
            )
            info(server, "next href", nxt[0]["href"])

        # --- search. rs-server-catalog: short collection names are prefixed with the owner found
        # in a CQL2 `owner` filter, an `owner` parameter, else the server's OS user.
        scoll = short if rs else cid
        gq: dict[str, Any] = {"collections": scoll}
        pq: dict[str, Any] = {"collections": [scoll]}
        if rs:
            gq["owner"] = owner
            pq["owner"] = owner
        cases: list[tuple[str, dict[str, Any], dict[str, Any], list[str]]] = [
            ("ids", {"ids": "i0,i2"}, {"ids": ["i0", "i2"]}, ["i0", "i2"]),
            (
                "datetime",
                {"datetime": "2024-01-02T00:00:00Z/2024-01-03T12:00:00Z"},
                {"datetime": "2024-01-02T00:00:00Z/2024-01-03T12:00:00Z"},
                ["i1", "i2"],
            ),
            ("bbox", {"bbox": "-1,-1,15,2"}, {"bbox": [-1, -1, 15, 2]}, ["i0", "i1"]),
            (
                "filter",
                {"filter": "platform = 'S2B'"},
                {
                    "filter": {"op": "=", "args": [{"property": "platform"}, "S2B"]},
                    "filter-lang": "cql2-json",
                },
                ["i1"],
            ),
        ]
        for name, gextra, pextra, expect in cases:
            r = req("GET", f"{base}/search", params={**gq, **gextra})
            check(
                server,
                f"GET /search {name} -> {expect}",
                r.status_code == 200 and ids(body(r)) == expect,
                desc(r),
            )
            r = req("POST", f"{base}/search", json={**pq, **pextra})
            check(
                server,
                f"POST /search {name} -> {expect}",
                r.status_code == 200 and ids(body(r)) == expect,
                desc(r),
            )
        r = req("POST", f"{base}/search", json={**pq, "limit": 2})
        b = body(r)
        nxt = links(b, "next")
        ok = (
            r.status_code == 200
            and nxt
            and nxt[0].get("method") == "POST"
            and "token" in nxt[0].get("body", {})
        )
        check(server, "POST /search limit=2 -> next link method POST + body.token", ok, desc(r))
        if ok:
            r2 = req("POST", nxt[0]["href"], json=nxt[0]["body"])
            check(
                server,
                "POST next body -> remaining feature",
                r2.status_code == 200 and len(body(r2).get("features", [])) == 1,
                desc(r2),
            )
        has_nm = "numberMatched" in b
        state = "present (pgstac context on)" if CONTEXT_ON else "absent (pgstac context off)"
        check(
            server,
            f"/search numberMatched {state}",
            has_nm == CONTEXT_ON,
            list(b),
        )
        if rs:
            r = req("GET", f"{base}/search", params={"collections": f"{owner}_{short}"})
            check(
                server,
                "GET /search collections=owner_coll (internal id) works",
                r.status_code == 200 and len(ids(body(r))) == 3,
                desc(r),
            )
            r = req("GET", f"{base}/search", params={"collections": f"nosuch{tag}", "owner": owner})
            check(
                server,
                "GET /search unknown collection -> 404 NotFound",
                r.status_code == 404 and body(r).get("code") == "NotFound",
                desc(r),
            )
            r = req(
                "GET",
                f"{base}/search",
                params={"filter": f"owner = '{owner}' AND platform = 'S2B'", "collections": short},
            )
            check(
                server,
                "GET /search owner in CQL2 filter selects the owner",
                r.status_code == 200 and ids(body(r)) == ["i1"],
                desc(r),
            )
        else:
            r = req("GET", f"{base}/search", params={"collections": f"nosuch{tag}"})
            check(
                server,
                "GET /search unknown collection -> 200 empty",
                r.status_code == 200 and ids(body(r)) == [],
                desc(r),
            )

        # --- rs-server-catalog item rules
        if rs:
            bad = item("v1", cid, 0)
            del bad["stac_extensions"]
            r = req("POST", icurl, json=bad)
            check(
                server,
                "item without stac_extensions -> 400 BadRequest",
                r.status_code == 400 and body(r).get("code") == "BadRequest",
                desc(r),
            )
            bad = item("v2", cid, 0)
            bad["assets"] = {"other.bin": {"href": "s3://temp-bucket/smoke/v2.bin"}}
            r = req("POST", icurl, json=bad)
            check(
                server,
                "asset key != file name -> 400 BadRequest",
                r.status_code == 400 and body(r).get("code") == "BadRequest",
                desc(r),
            )
            bad = item("v3", cid, 0)
            bad["assets"] = {"v3.bin": {"href": "https://example.invalid/v3.bin"}}
            r = req("POST", icurl, json=bad)
            check(
                server,
                "non-s3 asset href -> 400 BadRequest",
                r.status_code == 400 and body(r).get("code") == "BadRequest",
                desc(r),
            )

        # --- item to a missing collection (last before deletes: pgstac answers 500)
        missing = f"nocoll{tag}"
        murl = (
            f"{base}/collections/{owner}:{missing}/items"
            if rs
            else f"{base}/collections/{missing}/items"
        )
        r = req("POST", murl, json=item("m1", missing, 0))
        if rs:
            check(
                server,
                "POST item to missing collection -> 404 NotFound",
                r.status_code == 404 and body(r).get("code") == "NotFound",
                desc(r),
            )
        else:
            check(
                server,
                "POST item to missing collection -> 500 text/plain (quirk)",
                r.status_code == 500 and r.headers.get("content-type", "").startswith("text/plain"),
                desc(r),
            )
            try:
                req("GET", f"{base}/")
                info(server, "request on the same connection after the 500", "ok this time")
            except requests.ConnectionError as exc:
                info(
                    server,
                    "request on the same connection after the 500",
                    f"connection reset ({type(exc).__name__})",
                )
            s.close()
            s = requests.Session()

        # --- deletes
        r = req("DELETE", f"{icurl}/i2")
        check(
            server,
            'DELETE item -> 200 {"deleted item": id}',
            r.status_code == 200 and body(r) == {"deleted item": "i2"},
            desc(r),
        )
        r = req("DELETE", f"{icurl}/i2")
        check(
            server,
            "DELETE missing item -> 404 NotFoundError",
            r.status_code == 404 and body(r).get("code") == "NotFoundError",
            desc(r),
        )
        r = req("DELETE", curl)
        exp = short if rs else cid
        if check(
            server,
            f'DELETE collection -> 200 {{"deleted collection": {exp!r}}}',
            r.status_code == 200 and body(r) == {"deleted collection": exp},
            desc(r),
        ):
            created.remove(curl)
        r = req("DELETE", curl)
        check(
            server,
            "DELETE missing collection -> 404 NotFoundError",
            r.status_code == 404 and body(r).get("code") == "NotFoundError",
            desc(r),
        )
        r = req("GET", curl)
        check(
            server,
            "GET deleted collection -> 404 NotFoundError",
            r.status_code == 404 and body(r).get("code") == "NotFoundError",
            desc(r),
        )
    except requests.RequestException as exc:
        check(server, "server reachable", False, repr(exc))
    finally:
        for url in created:
            with contextlib.suppress(requests.RequestException):
                requests.delete(url, timeout=TIMEOUT)


def main() -> int:
    global VERBOSE  # noqa: PLW0603
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--only", choices=["pgstac", "rscatalog"])
    ap.add_argument(
        "-v", "--verbose", action="store_true", help="print details of passing checks too"
    )
    args = ap.parse_args()
    VERBOSE = args.verbose
    for server in ["pgstac", "rscatalog"]:
        if args.only in (None, server):
            run_server(server)
    failed = passed = 0
    for ok, server, name, detail in results:
        if not name.startswith("(info)"):
            failed += not ok
            passed += ok
        print(
            f"{'ok  ' if ok else 'FAIL'} {server:9} {name}"
            + (f"\n       {detail}" if detail else "")
        )
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
