"""Smoke check of the real RS-Server 1.0 services started by scripts/rs-server-1.

Every service answers; the PRIP collections hold exactly what the station holds; one PRIP and
one AUXIP product staged through the real staging service end ``successful`` with the station's
bytes in S3 and the items in the catalog. Reads the ``RS_TEST_V10_*`` variables that
``scripts/rs-server-1 env`` prints; needs ``scripts/`` on ``sys.path`` (for ``odata_station``).
Exit status 1 on any failed check.
"""

from __future__ import annotations

import os
import secrets
import sys
import time
from collections import Counter
from typing import Any

import requests
from odata_station import load_entity_sets, payload_bytes, prip_products

TIMEOUT = 60
DOWNLOAD_CAP = 1024 * 1024  # the station simulator's max_download_bytes
PRIP_COLLECTIONS = {  # collection -> productType its query names (prip_search_config.yaml)
    "S1A_L0_IW_RAW": "IW_RAW__0N",
    "IW_SLC__1S": "IW_SLC__1S",
    "S2B_L0_DS": "OPER_MSI",
    "S2B_L0_GR": "OPER_MSI_L0",
    "S2B_L2A_TL": "OPER_MSI_L2A",
}
failures: list[str] = []


def env(name: str) -> str:
    return os.environ[f"RS_TEST_V10_{name}"]


def check(ok: bool, what: str) -> None:
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        failures.append(what)


def get(url: str, **params: Any) -> requests.Response:
    return requests.get(url, params=params, timeout=TIMEOUT)


def ptype(record: dict[str, Any]) -> str:
    return str(next(a["Value"] for a in record["Attributes"] if a["Name"] == "productType"))


def stage(items: dict[str, Any], collection: str) -> dict[str, Any]:
    body = {"inputs": {"collection": collection, "items": {"value": items}}}
    answer = requests.post(
        f"{env('STAGING_URL')}/processes/staging/execution", json=body, timeout=TIMEOUT
    )
    check(answer.status_code == 201, f"staging POST answers 201 (got {answer.status_code})")
    job_id = answer.json()["jobID"]
    deadline = time.monotonic() + 120
    job: dict[str, Any] = answer.json()
    while job.get("status") not in ("successful", "failed", "dismissed"):
        if time.monotonic() > deadline:
            break
        time.sleep(0.5)
        job = get(f"{env('STAGING_URL')}/jobs/{job_id}").json()
    return job


def station_id(feature: dict[str, Any]) -> str:
    """The station's entity Id, read from the asset href ``.../Products(<Id>)/$value``."""
    (asset,) = feature["assets"].values()
    return str(asset["href"]).rsplit("(", 1)[1].split(")", 1)[0].strip("'")


def staged_bytes_ok(
    feature: dict[str, Any], collection: str, record: dict[str, Any], size_field: str
) -> None:
    owner = env("OWNER")
    item = get(
        f"{env('CATALOG_URL')}/catalog/collections/{owner}:{collection}/items/{feature['id']}"
    )
    check(item.status_code == 200, f"catalog has {owner}:{collection}/{feature['id']}")
    if item.status_code != 200:
        return
    (asset,) = item.json()["assets"].values()
    href = asset["href"]
    bucket = env("S3_BUCKET")
    check(href.startswith(f"s3://{bucket}/"), f"asset href {href} is in s3://{bucket}")
    data = get(f"{env('S3_ENDPOINT')}/{href.removeprefix('s3://')}").content
    size = min(int(record[size_field]), DOWNLOAD_CAP)
    check(data == payload_bytes(str(record["Id"]), size), f"S3 holds the station's {size} bytes")


def main() -> int:
    for name in ("AUXIP", "CADIP", "PRIP"):
        answer = get(f"{env(name + '_URL')}/health")
        check(answer.ok and answer.json() == {"healthy": True}, f"{name} /health")
    check(get(f"{env('STAGING_URL')}/_mgmt/ping").ok, "staging /_mgmt/ping")
    check(get(f"{env('STAGING_URL')}/processes/staging").ok, "staging /processes/staging")
    check(get(f"{env('CATALOG_URL')}/catalog/").ok, "catalog landing page")
    check(
        get(f"{env('S3_ENDPOINT')}/{env('S3_BUCKET')}", **{"list-type": "2"}).ok, "S3 bucket lists"
    )

    adgs = get(f"{env('AUXIP_URL')}/auxip/collections/adgs/items", limit=1000).json()
    station_adgs = load_entity_sets("adgs")["Products"].records
    check(
        len(adgs["features"]) == len(station_adgs),
        f"auxip adgs: {len(adgs['features'])} items == station's {len(station_adgs)}",
    )
    cadip = get(f"{env('CADIP_URL')}/cadip/collections/cadip/items", limit=100).json()
    check(len(cadip.get("features", [])) > 0, "cadip sessions listed")

    counts = Counter(ptype(r) for r in prip_products())
    for collection, product_type in PRIP_COLLECTIONS.items():
        answer = get(f"{env('PRIP_URL')}/prip/collections/{collection}/items", limit=100)
        n = len(answer.json().get("features", []))
        check(
            n == counts[product_type],
            f"prip {collection}: {n} items == station's {counts[product_type]}",
        )

    suffix = secrets.token_hex(3)
    by_id = {str(r["Id"]): r for r in prip_products()}
    prip_items = get(f"{env('PRIP_URL')}/prip/collections/S2B_L0_GR/items", limit=1).json()
    target = f"smoke-prip-{suffix}"
    job = stage(prip_items, target)
    check(
        job.get("status") == "successful",
        f"PRIP staging job {job.get('jobID')} successful ({job.get('message')})",
    )
    feature = prip_items["features"][0]
    staged_bytes_ok(feature, target, by_id[station_id(feature)], "ContentLength")

    adgs_items = get(f"{env('AUXIP_URL')}/auxip/collections/adgs/items", limit=1).json()
    target = f"smoke-auxip-{suffix}"
    job = stage(adgs_items, target)
    check(
        job.get("status") == "successful",
        f"AUXIP staging job {job.get('jobID')} successful ({job.get('message')})",
    )
    feature = adgs_items["features"][0]
    adgs_by_id = {str(r["Id"]): r for r in station_adgs}
    staged_bytes_ok(feature, target, adgs_by_id[station_id(feature)], "ContentLength")

    for target in (f"smoke-prip-{suffix}", f"smoke-auxip-{suffix}"):
        requests.delete(
            f"{env('CATALOG_URL')}/catalog/collections/{env('OWNER')}:{target}", timeout=TIMEOUT
        )
    print(f"{len(failures)} failed" if failures else "all checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
