"""Faults in front of the REAL RS-Server 1.0 services: every station and catalog operation on
v2, through :class:`rs_core.testing.fault_proxy.FaultProxy`.

``scripts/rs-server-1 start`` runs the real auxip, cadip, prip, staging and catalog services
(``RS_TEST_V10_*``); one proxy per service stands between them and the clients (the
``RSPY_HOST_*`` variables point at the proxies), and injects the simulator's faults
(:class:`~rs_core.testing.simulator.Fault`). Each cell expects what the simulator matrix
(``test_fault_matrix.py``, ``test_fault_matrix_v2.py``) expects of the same operation under the
same fault: :data:`REAL_ROWS` maps each real operation to its simulator row, and
``render_real`` writes the table into ``docs/reliability.md``.

Unset ``RS_TEST_V10_*``: skipped loudly; with ``RS_REQUIRE_RS_SERVER_1=1``: failed.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from attrs import evolve, frozen
from rs_auxip import AuxipClient
from rs_cadip import CadipClient
from rs_catalog import StacClient
from rs_prip import PripClient

from rs_core.enums import EDownloadStatus
from rs_core.errors import BadResponseError, NotFoundError, RsError
from rs_core.http import HttpSettings
from rs_core.testing.fault_proxy import FaultProxy
from rs_core.testing.kit.catalog import make_collection, make_item
from rs_core.testing.simulator import Fault

pytestmark = pytest.mark.rs_server_1

PREFIX = "RS_TEST_V10_"
SERVICES = {  # RS_TEST_V10_<X>_URL -> the client's env variable
    "AUXIP": "RSPY_HOST_ADGS",
    "CADIP": "RSPY_HOST_CADIP",
    "PRIP": "RSPY_HOST_PRIP",
    "STAGING": "RSPY_HOST_STAGING",
    "CATALOG": "RSPY_HOST_CATALOG",
}

TIMEOUT = 4.0
"""Read timeout: the real services answer a search in well under a second when warm, but the
machine is shared; long enough not to mistake slowness for a fault."""

REAL = HttpSettings(
    timeout=TIMEOUT, connect_timeout=TIMEOUT, retries=2, backoff_factor=0.01, backoff_max=0.05
)
SLOW_DELETE = 30.0
"""Read timeout of the catalog's item ``DELETE``: the real 1.0 catalog answers it in about
10 s in this set-up (it deletes the item's S3 objects; moto refuses its ``DeleteObjects`` with
``MalformedXML``, and the catalog's own retries take that long)."""
PATIENT = HttpSettings(timeout=60.0, connect_timeout=10.0, retries=3, backoff_factor=0.2)

FAULTS: dict[str, dict[str, Any]] = {  # the simulator matrix's names; timings for REAL
    "latency < timeout": {"kind": "latency", "delay": TIMEOUT / 10},
    "503 x1": {"kind": "status", "status": 503, "times": 1},
    "503 x2 (= retries)": {"kind": "status", "status": 503, "times": 2},
    "503 always": {"kind": "status", "status": 503},
    "429 + Retry-After": {"kind": "rate_limit", "retry_after": 0.3, "times": 1},
    "500 x1": {"kind": "status", "status": 500, "times": 1},
    "reset x1": {"kind": "reset", "times": 1},
    "reset always": {"kind": "reset"},
    "truncated JSON x1": {"kind": "truncate", "times": 1},
    "truncated JSON always": {"kind": "truncate"},
    "non-JSON 200": {"kind": "nonjson"},
    "HTML 502 page": {"kind": "html", "status": 502},
    "wrong JSON shape": {"kind": "wrong_shape"},
    "hang": {"kind": "hang", "delay": 45.0},  # longer than every read timeout used here
}

REAL_ROWS: dict[str, tuple[str, str]] = {  # real operation -> (simulator table, its row)
    "auxip search": ("v1/catalog", "auxip search files"),
    "auxip search page 2": ("v1/catalog", "auxip v2 search page 2"),
    "cadip search files": ("v1/catalog", "cadip search files"),
    "cadip search sessions": ("v1/catalog", "cadip search sessions"),
    "prip search": ("v1/catalog", "auxip search files"),
    "prip search page 2": ("v1/catalog", "auxip v2 search page 2"),
    "staging (job POST)": ("v2", "v2 stage (job POST)"),
    "job status": ("v2", "v2 job status"),
    "catalog get": ("v1/catalog", "catalog get"),
    "catalog add item": ("v1/catalog", "catalog add item"),
    "catalog remove item": ("v1/catalog", "catalog remove item"),
    "catalog search": ("v1/catalog", "catalog search"),
    "catalog search page 2": ("v1/catalog", "catalog search page 2"),
}


def expected_outcome(operation: str, fault_name: str) -> str:
    """What the simulator matrix expects of ``operation``'s row under ``fault_name``."""
    from test_fault_matrix import EXPECTED
    from test_fault_matrix import FAULTS as SIM_FAULTS
    from test_fault_matrix_v2 import EXPECTED_V2, FAULT_NAMES

    table, row = REAL_ROWS[operation]
    if table == "v2":
        return EXPECTED_V2[row][FAULT_NAMES.index(fault_name)]
    return EXPECTED[row][list(SIM_FAULTS).index(fault_name)]


# -- the services, the proxies, the clients ------------------------------------------------


def require_rs_server_1() -> dict[str, str]:
    """The real services' URLs; skip loudly (fail with ``RS_REQUIRE_RS_SERVER_1=1``) without."""
    missing = [f"{PREFIX}{s}_URL" for s in SERVICES if not os.environ.get(f"{PREFIX}{s}_URL")]
    if missing:
        message = (
            f"{', '.join(missing)} not set: the tests against the real RS-Server 1.0 services "
            "did NOT run"
        )
        if os.environ.get("RS_REQUIRE_RS_SERVER_1") == "1":
            pytest.fail(f"{message}, but RS_REQUIRE_RS_SERVER_1=1 requires them", pytrace=False)
        pytest.skip(f"{message} (scripts/rs-server-1 start; eval $(scripts/rs-server-1 env))")
    return {s: os.environ[f"{PREFIX}{s}_URL"].rstrip("/") for s in SERVICES}


@frozen
class Real:
    proxies: dict[str, FaultProxy]
    auxip: AuxipClient
    cadip: CadipClient
    prip: PripClient
    catalog: StacClient
    catalog_slow: StacClient
    catalog_patient: StacClient
    collection: str
    owner: str
    fresh_files: Iterator[str]
    done_file: str


@pytest.fixture(scope="module")
def real() -> Iterator[Real]:
    urls = require_rs_server_1()
    owner = os.environ.get(f"{PREFIX}OWNER") or "reluser"
    collection = f"proxy-{secrets.token_hex(3)}"
    with pytest.MonkeyPatch.context() as env:
        proxies = {s: FaultProxy(url).start() for s, url in urls.items()}
        for service, variable in SERVICES.items():
            env.setenv(variable, proxies[service].url)
        env.delenv("RSPY_APIKEY", raising=False)
        auxip = AuxipClient(None, None, owner, http_settings=REAL, api_version="v2")
        cadip = CadipClient(None, None, owner, "MTI", http_settings=REAL, api_version="v2")
        prip = PripClient(None, None, owner, http_settings=REAL, api_version="v2")
        catalog = StacClient.open(None, None, owner, http_settings=REAL)
        slow = evolve(REAL, timeout=SLOW_DELETE)
        catalog_slow = StacClient.open(None, None, owner, http_settings=slow)
        catalog_patient = StacClient.open(None, None, owner, http_settings=PATIENT)
        patient = AuxipClient(None, None, owner, http_settings=PATIENT, api_version="v2")
        try:
            found = patient.search_stations("2000-01-01", "2100-01-01", limit=1000)
            names = [i.id for i in found]
            auxip.search_stations("2000-01-01", "2100-01-01", limit=1000)  # it knows the files
            assert len(names) > 2 * len(FAULTS), "not enough AUXIP files for one per cell"
            report = auxip.stage_and_wait([names[0]], poll_interval=0.5, timeout=120)
            assert report.ok, report.summary()
            catalog_patient.add_collection(make_collection(collection))
            for k in range(4):
                catalog_patient.add_item(collection, make_item(f"seed-{k}"))
            yield Real(
                proxies,
                auxip,
                cadip,
                prip,
                catalog,
                catalog_slow,
                catalog_patient,
                collection,
                owner,
                iter(names[1:]),
                names[0],
            )
        finally:
            for client in (auxip, cadip, prip, patient):
                client.close()
            with contextlib.suppress(RsError):
                catalog_patient.remove_collection(collection)
            for stac in (catalog, catalog_slow, catalog_patient):
                stac.close()
            for proxy in proxies.values():
                proxy.stop()


# -- the operations ------------------------------------------------------------------------

Call = Callable[[], Any]


@frozen
class Operation:
    """Which service's proxy gets the fault, where, the setup and the check."""

    service: str
    fault_path: dict[str, Any]
    prepare: Callable[[Real], tuple[Call, Callable[[Any], None]]]
    requests: int = 1  # requests to the faulty path when nothing is retried


def _search(
    client: Callable[[Real], Any], collection: str | None, pages: bool
) -> Callable[[Real], tuple[Call, Callable[[Any], None]]]:
    def prepare(r: Real) -> tuple[Call, Callable[[Any], None]]:
        kwargs: dict[str, Any] = {"page_size": 2, "max_items": 4} if pages else {"limit": 3}
        if collection:
            kwargs["collection"] = collection

        def check(found: Any) -> None:
            assert len(found) == (4 if pages else 3) and all(item.id for item in found)
            if pages:
                assert found.extra_fields["pages"] == 2

        return lambda: client(r).search_stations("2000-01-01", "2100-01-01", **kwargs), check

    return prepare


def _cadip_files(r: Real) -> tuple[Call, Callable[[Any], None]]:
    def check(found: Any) -> None:
        assert len(found) == 5 and all(item.id.endswith(".raw") for item in found)

    return lambda: r.cadip.search_files("2000-01-01", "2100-01-01", limit=5), check


def _sessions(r: Real) -> tuple[Call, Callable[[Any], None]]:
    def check(found: Any) -> None:
        assert found and all(item.assets for item in found)

    return lambda: r.cadip.search_sessions(start_date="2000-01-01", stop_date="2100-01-01"), check


def _stage(r: Real) -> tuple[Call, Callable[[Any], None]]:
    name = next(r.fresh_files)
    staging = r.proxies["STAGING"]

    def check(job: Any) -> None:
        assert job is not None and name in job.files
        posts = [q for q in staging.requests if q.method == "POST"]
        forwarded = [q for q in posts if name.encode() in q.body]
        assert len(forwarded) >= 1, "the POST never left"
        # a POST the server took is never sent twice: the second one would be a second job
        new = [j.job_id for j in r.auxip.list_jobs() if j.job_id not in before]
        assert new == [job.job_id], "one job, never two"

    before = {j.job_id for j in r.auxip.list_jobs()}
    return lambda: r.auxip.staging(name), check


def _status(r: Real) -> tuple[Call, Callable[[Any], None]]:
    def check(status: Any) -> None:
        assert status is EDownloadStatus.DONE

    return lambda: r.auxip.staging_status(r.done_file), check


def _catalog_get(r: Real) -> tuple[Call, Callable[[Any], None]]:
    r.catalog._forget()  # the client caches collections: ask the server

    def check(collection: Any) -> None:
        assert collection.id == f"{r.owner}:{r.collection}"

    return lambda: r.catalog.get_collection(r.collection), check


def _catalog_add(r: Real) -> tuple[Call, Callable[[Any], None]]:
    item = make_item(f"add-{uuid.uuid4().hex[:10]}")

    def check(stored: Any) -> None:
        assert stored.id == item.id and stored.collection_id == f"{r.owner}:{r.collection}"

    return lambda: r.catalog.add_item(r.collection, item), check


def _catalog_remove(r: Real) -> tuple[Call, Callable[[Any], None]]:
    item = r.catalog_patient.add_item(r.collection, make_item(f"rm-{uuid.uuid4().hex[:10]}"))

    def check(result: Any) -> None:
        assert result is None

    return lambda: r.catalog_slow.remove_item(r.collection, item.id), check


def _catalog_search(r: Real) -> tuple[Call, Callable[[Any], None]]:
    def check(found: Any) -> None:
        assert 1 <= len(found) <= 3
        assert all(i.collection_id == f"{r.owner}:{r.collection}" for i in found)

    return (
        lambda: r.catalog.search(collections=[r.collection], max_items=3).item_collection(),
        check,
    )


def _catalog_pages(r: Real) -> tuple[Call, Callable[[Any], None]]:
    def check(found: Any) -> None:
        assert len(found) == 4, "every page's items"

    return (
        lambda: r.catalog.search(
            collections=[r.collection], limit=2, max_items=4
        ).item_collection(),
        check,
    )


ITEMS = r"^/{}/collections/[^/]+/items$"
OPERATIONS: dict[str, Operation] = {
    "auxip search": Operation(
        "AUXIP", {"path_regex": ITEMS.format("auxip")}, _search(lambda r: r.auxip, None, False)
    ),
    "auxip search page 2": Operation(
        "AUXIP",
        {"path_regex": ITEMS.format("auxip"), "skip": 1},
        _search(lambda r: r.auxip, None, True),
        2,
    ),
    "cadip search files": Operation("CADIP", {"path_regex": ITEMS.format("cadip")}, _cadip_files),
    "cadip search sessions": Operation("CADIP", {"path_regex": ITEMS.format("cadip")}, _sessions),
    "prip search": Operation(
        "PRIP",
        {"path": "/prip/search"},
        _search(lambda r: r.prip, "S1A_L0_IW_RAW", False),
    ),
    "prip search page 2": Operation(
        "PRIP",
        {"path": "/prip/search", "skip": 1},
        _search(lambda r: r.prip, "S1A_L0_IW_RAW", True),
        2,
    ),
    "staging (job POST)": Operation(
        "STAGING", {"path": "/processes/staging/execution", "method": "POST"}, _stage
    ),
    "job status": Operation("STAGING", {"path_regex": r"^/jobs/[^/]+$", "method": "GET"}, _status),
    "catalog get": Operation(
        "CATALOG", {"path_regex": r"^/catalog/collections/[^/]+$", "method": "GET"}, _catalog_get
    ),
    "catalog add item": Operation(
        "CATALOG",
        {"path_regex": r"^/catalog/collections/[^/]+/items$", "method": "POST"},
        _catalog_add,
    ),
    "catalog remove item": Operation(
        "CATALOG",
        {"path_regex": r"^/catalog/collections/[^/]+/items/[^/]+$", "method": "DELETE"},
        _catalog_remove,
    ),
    "catalog search": Operation("CATALOG", {"path": "/catalog/search"}, _catalog_search),
    "catalog search page 2": Operation(
        "CATALOG", {"path": "/catalog/search", "skip": 1}, _catalog_pages, 2
    ),
}
assert set(OPERATIONS) == set(REAL_ROWS)

OK, RTY, FOUND = "OK", "OK-after-retry", "OK (job found)"


def _outcome_of_error(error: RsError, proxy: FaultProxy) -> str:
    outcome = next(c.__name__ for c in type(error).__mro__ if c.__module__ == "rs_core.errors")
    assert error.url and error.url.startswith(proxy.url), f"{outcome} names no proxy URL"
    assert (
        error.__cause__ is not None
        or error.status is not None
        or isinstance(error, (NotFoundError, BadResponseError))
    ), f"{outcome} is neither chained nor an HTTP answer"
    return outcome


def run_real_cell(r: Real, operation: str, fault_name: str) -> str:
    """Run ``operation`` under ``fault_name`` through its service's proxy; its outcome."""
    op = OPERATIONS[operation]
    call, check = op.prepare(r)
    proxy = r.proxies[op.service]
    proxy.clear_requests()
    fault = proxy.add_fault(Fault(**op.fault_path, **FAULTS[fault_name]))
    started = time.monotonic()
    try:
        result = call()
    except RsError as err:
        return _outcome_of_error(err, proxy)
    except Exception as err:  # any other type is a bug in the client
        pytest.fail(f"{operation} under {fault_name}: untyped {type(err).__name__}: {err}")
    finally:
        proxy.clear_faults()
        elapsed = time.monotonic() - started
        read_timeout = SLOW_DELETE if operation == "catalog remove item" else TIMEOUT
        bound = read_timeout * (REAL.retries + 1) + 30
        assert elapsed < bound, f"{operation} under {fault_name}: {elapsed:.0f} s"
    seen = proxy.requests
    check(result)
    if operation.startswith("staging") and any(q.path == "/jobs" for q in seen):
        return FOUND
    hits = [q for q in seen if fault.matches(q.method, q.path)]
    return RTY if len(hits) > op.requests else OK


@pytest.fixture
def proxied(real: Real, monkeypatch: pytest.MonkeyPatch) -> Real:
    """``real``, with ``RSPY_HOST_*`` at the proxies again (each test starts isolated)."""
    for service, variable in SERVICES.items():
        monkeypatch.setenv(variable, real.proxies[service].url)
    return real


@pytest.mark.parametrize(
    ("operation", "fault_name"),
    list(itertools.product(OPERATIONS, FAULTS)),
    ids=[f"{o}|{f}" for o, f in itertools.product(OPERATIONS, FAULTS)],
)
def test_real_cell(proxied: Real, operation: str, fault_name: str) -> None:
    expected = expected_outcome(operation, fault_name)
    outcome = run_real_cell(proxied, operation, fault_name)
    assert outcome == expected, f"{operation} under {fault_name}: {outcome}, expected {expected}"


def render_real() -> list[str]:
    """The table of this module as Markdown lines (for ``docs/reliability.md``)."""
    names = list(FAULTS)
    lines = [
        "| operation (real 1.0 service) | " + " | ".join(names) + " |",
        "|---" * (len(names) + 1) + "|",
    ]
    for operation in OPERATIONS:
        row = [expected_outcome(operation, f) for f in names]
        lines.append(f"| {operation} | " + " | ".join(row) + " |")
    return lines
