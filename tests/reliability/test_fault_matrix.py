# ruff: noqa: E501 - the expected-outcome table is deliberately one row per operation
"""Every client operation x every fault the simulator injects: the right result or a typed error,
within the configured time bound.

The expected outcome of each (operation, fault) cell is in :data:`EXPECTED`, the one table of
this module. Outcomes:

* ``OK``: the right value at the first attempt;
* ``OK-after-retry``: the right value, after the client retried the faulty request;
* an :mod:`rs_core.errors` class name: that error (exactly that type), chained to its cause;
* ``report: DONE`` / ``report: REFUSED``: :meth:`stage_and_wait` returns a report, it does not
  raise; REFUSED carries the typed error's message.

``test_matrix_document`` writes the table to ``docs/reliability-matrix.md`` (generated; commit
it). Every cell runs against the simulator on 127.0.0.1 with a 0.5 s read timeout and two
retries.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from attrs import frozen
from reliability_support import (
    API_KEY,
    BOUND,
    FAST,
    MARGIN,
    OWNER,
    PATIENT,
    RETRY_AFTER,
    TIMEOUT,
    USER,
)
from rs_auxip import AuxipClient
from rs_cadip import CadipClient
from rs_catalog import StacClient

from rs_core.auth import clear_apikey_cache
from rs_core.client import RsClient
from rs_core.enums import EDownloadStatus
from rs_core.errors import BadResponseError, NotFoundError, RsError
from rs_core.testing.kit.catalog import make_collection, make_item
from rs_core.testing.simulator import ApiKey, Fault, RsServerSimulator

# -- the faults ----------------------------------------------------------------------------

FAULTS: dict[str, dict[str, Any]] = {
    "latency < timeout": {"kind": "latency", "delay": TIMEOUT / 10},
    "latency > timeout": {"kind": "latency", "delay": TIMEOUT * 3},
    "503 x1": {"kind": "status", "status": 503, "times": 1},
    "503 x2 (= retries)": {"kind": "status", "status": 503, "times": 2},
    "503 always": {"kind": "status", "status": 503},
    "429 + Retry-After": {"kind": "rate_limit", "retry_after": RETRY_AFTER, "times": 1},
    "500 x1": {"kind": "status", "status": 500, "times": 1},
    "reset x1": {"kind": "reset", "times": 1},
    "reset always": {"kind": "reset"},
    "truncated JSON x1": {"kind": "truncate", "times": 1},
    "truncated JSON always": {"kind": "truncate"},
    "non-JSON 200": {"kind": "nonjson"},
    "HTML 502 page": {"kind": "html", "status": 502},
    "wrong JSON shape": {"kind": "wrong_shape"},
    "hang": {"kind": "hang", "delay": 5.0},
}

# -- the expected outcomes: THE table ------------------------------------------------------

OK, RTY = "OK", "OK-after-retry"
TMO, SRV, CON, BAD = "RsTimeoutError", "ServerError", "RsConnectionError", "BadResponseError"
AUTH, RATE, GONE = "AuthenticationError", "RateLimitedError", "NotFoundError"
DONE, REFUSED = "report: DONE", "report: REFUSED"

# fmt: off
EXPECTED: dict[str, tuple[str, ...]] = {
    #                        lat<  lat>  503x1 503x2 503∞  429   500   rst1  rst∞  trn1  trn∞  text  html  shape hang
    "auxip search files":   (OK,   TMO,  RTY,  RTY,  SRV,  RTY,  SRV,  RTY,  CON,  RTY,  CON,  BAD,  SRV,  BAD,  TMO),
    "cadip search files":   (OK,   TMO,  RTY,  RTY,  SRV,  RTY,  SRV,  RTY,  CON,  RTY,  CON,  BAD,  SRV,  BAD,  TMO),
    "cadip search sessions": (OK,  TMO,  RTY,  RTY,  SRV,  RTY,  SRV,  RTY,  CON,  RTY,  CON,  BAD,  SRV,  BAD,  TMO),
    # v1's refusal is a 503 {"started": "false"} (a StagingError, never retried); any other
    # 503 is a busy gateway: retried like 502/504
    "cadip stage":          (OK,   TMO,  RTY,  RTY,  SRV,  RTY,  SRV,  RTY,  CON,  RTY,  CON,  BAD,  SRV,  BAD,  TMO),
    "cadip status":         (OK,   TMO,  RTY,  RTY,  SRV,  RTY,  SRV,  RTY,  CON,  RTY,  CON,  BAD,  SRV,  BAD,  TMO),
    # a report, never an exception: transient faults end DONE, lasting ones REFUSED (typed msg)
    "cadip stage_and_wait": (DONE, REFUSED, DONE, DONE, REFUSED, DONE, DONE, DONE, REFUSED, DONE, REFUSED, REFUSED, REFUSED, REFUSED, REFUSED),
    "catalog get":          (OK,   TMO,  RTY,  RTY,  SRV,  RTY,  SRV,  RTY,  CON,  RTY,  CON,  BAD,  SRV,  BAD,  TMO),
    # a POST that creates is never retried; a 2xx answer that is not the item is read back:
    # the item is not stored (the fault answered instead of the server), a BadResponseError
    "catalog add item":     (OK,   TMO,  SRV,  SRV,  SRV,  RATE, SRV,  CON,  CON,  CON,  CON,  BAD,  SRV,  BAD,  TMO),
    # DELETE is idempotent (retried); a truncated answer means it was deleted, the retry: 404
    "catalog remove item":  (OK,   TMO,  RTY,  RTY,  SRV,  RTY,  SRV,  RTY,  CON,  GONE, CON,  OK,   SRV,  OK,   TMO),
    "catalog search":       (OK,   TMO,  RTY,  RTY,  SRV,  RTY,  SRV,  RTY,  CON,  RTY,  CON,  BAD,  SRV,  BAD,  TMO),
    # the fault hits page 2 only: never a silent partial result (the first page's items)
    "catalog search page 2": (OK,  TMO,  RTY,  RTY,  SRV,  RTY,  SRV,  RTY,  CON,  RTY,  CON,  BAD,  SRV,  BAD,  TMO),
    "auxip v2 search page 2": (OK, TMO,  RTY,  RTY,  SRV,  RTY,  SRV,  RTY,  CON,  RTY,  CON,  BAD,  SRV,  BAD,  TMO),
    # the key manager's non-2xx answers are authentication errors (naming status and detail)
    "apikey check":         (OK,   TMO,  RTY,  RTY,  AUTH, RTY,  AUTH, RTY,  CON,  RTY,  CON,  BAD,  AUTH, BAD,  TMO),
}
# fmt: on

assert all(len(row) == len(FAULTS) for row in EXPECTED.values()), "one outcome per fault"

# -- the operations ------------------------------------------------------------------------


@frozen
class Clients:
    sim: RsServerSimulator
    sim_v2: RsServerSimulator
    auxip_v2: AuxipClient
    rs: RsClient
    auxip: AuxipClient
    cadip: CadipClient
    catalog: StacClient
    collection: str
    fresh_files: Iterator[str]
    done_file: str


Call = Callable[[], Any]


@frozen
class Operation:
    """How to run one operation: where faults go, the setup (before the fault), the check."""

    fault_path: dict[str, Any]
    prepare: Callable[[Clients], tuple[Call, Callable[[Any], None]]]
    v2: bool = False  # runs against the v2 simulator
    requests: int = 1  # requests to the faulty path when nothing is retried


def _auxip_search(c: Clients) -> tuple[Call, Callable[[Any], None]]:
    def check(found: Any) -> None:
        assert len(found) == 5 and all(item.id for item in found)

    return lambda: c.auxip.search_stations("2019-01-01", "2030-01-01", limit=5), check


def _cadip_search(c: Clients) -> tuple[Call, Callable[[Any], None]]:
    def check(found: Any) -> None:
        assert len(found) == 5 and all(item.id.endswith(".raw") for item in found)

    return lambda: c.cadip.search_files("2019-01-01", "2030-01-01", limit=5), check


def _sessions(c: Clients) -> tuple[Call, Callable[[Any], None]]:
    def check(found: Any) -> None:
        assert len(found) == 7 and all(item.assets for item in found)

    return lambda: c.cadip.search_sessions(start_date="2019-01-01", stop_date="2030-01-01"), check


def _stage(c: Clients) -> tuple[Call, Callable[[Any], None]]:
    name = next(c.fresh_files)

    def check(result: Any) -> None:
        assert result is None
        assert c.sim.staging_state(name) is not None, "the server never saw the request"

    return lambda: c.cadip.staging(name, tmp_download_path="/tmp/rel"), check


def _status(c: Clients) -> tuple[Call, Callable[[Any], None]]:
    def check(status: Any) -> None:
        assert status is EDownloadStatus.DONE

    return lambda: c.cadip.staging_status(c.done_file), check


def _stage_and_wait(c: Clients) -> tuple[Call, Callable[[Any], None]]:
    name = next(c.fresh_files)

    def run() -> Any:
        return c.cadip.stage_and_wait([name], poll_interval=0.05, poll_max_interval=0.2, timeout=15)

    def check(report: Any) -> None:
        (outcome,) = report.outcomes.values()
        assert outcome.name == name and not report.timed_out
        if outcome.state == "REFUSED":
            assert (
                "HTTP" in outcome.error
                or "timeout" in outcome.error
                or "JSON" in (outcome.error)
                or "connection" in outcome.error
            ), outcome.error

    return run, check


def _catalog_get(c: Clients) -> tuple[Call, Callable[[Any], None]]:
    c.catalog._forget()  # the client caches collections: ask the server

    def check(collection: Any) -> None:
        assert collection.id == f"{OWNER}:{c.collection}"

    return lambda: c.catalog.get_collection(c.collection), check


def _catalog_add(c: Clients) -> tuple[Call, Callable[[Any], None]]:
    item = make_item(f"add-{uuid.uuid4().hex[:10]}")

    def check(stored: Any) -> None:
        assert stored.id == item.id and stored.collection_id == f"{OWNER}:{c.collection}"

    return lambda: c.catalog.add_item(c.collection, item), check


def _catalog_remove(c: Clients) -> tuple[Call, Callable[[Any], None]]:
    item = c.catalog.add_item(c.collection, make_item(f"rm-{uuid.uuid4().hex[:10]}"))

    def check(result: Any) -> None:
        assert result is None

    return lambda: c.catalog.remove_item(c.collection, item.id), check


def _catalog_search(c: Clients) -> tuple[Call, Callable[[Any], None]]:
    def check(found: Any) -> None:
        assert 1 <= len(found) <= 3
        assert all(i.collection_id == f"{OWNER}:{c.collection}" for i in found)

    return (
        lambda: c.catalog.search(collections=[c.collection], max_items=3).item_collection(),
        check,
    )


def _catalog_search_pages(c: Clients) -> tuple[Call, Callable[[Any], None]]:
    def check(found: Any) -> None:
        assert len(found) == 4, "every page's items"

    return (
        lambda: c.catalog.search(
            collections=[c.collection], limit=2, max_items=4
        ).item_collection(),
        check,
    )


def _auxip_v2_pages(c: Clients) -> tuple[Call, Callable[[Any], None]]:
    def check(found: Any) -> None:
        assert len(found) == 4 and found.extra_fields["pages"] == 2

    return (
        lambda: c.auxip_v2.search_stations("2000-01-01", "2100-01-01", page_size=2, max_items=4),
        check,
    )


def _apikey(c: Clients) -> tuple[Call, Callable[[Any], None]]:
    clear_apikey_cache()

    def check(result: Any) -> None:
        roles, _config, login = result
        assert login == USER and "rs_adgs_read" in roles

    return c.rs.apikey_security, check


OPERATIONS: dict[str, Operation] = {
    "auxip search files": Operation({"path": "/adgs/aux/search"}, _auxip_search),
    "cadip search files": Operation({"path": "/cadip/CADIP/cadu/search"}, _cadip_search),
    "cadip search sessions": Operation({"path": "/cadip/CADIP/session"}, _sessions),
    "cadip stage": Operation({"path_regex": r"^/cadip/CADIP/cadu$"}, _stage),
    "cadip status": Operation({"path": "/cadip/CADIP/cadu/status"}, _status),
    "cadip stage_and_wait": Operation(
        {"path_regex": r"^/cadip/CADIP/cadu(/status)?$"}, _stage_and_wait
    ),
    "catalog get": Operation(
        {"path_regex": r"^/catalog/collections/[^/]+$", "method": "GET"}, _catalog_get
    ),
    "catalog add item": Operation(
        {"path_regex": r"^/catalog/collections/[^/]+/items$", "method": "POST"}, _catalog_add
    ),
    "catalog remove item": Operation(
        {"path_regex": r"^/catalog/collections/[^/]+/items/[^/]+$", "method": "DELETE"},
        _catalog_remove,
    ),
    "catalog search": Operation({"path": "/catalog/search"}, _catalog_search),
    "catalog search page 2": Operation(
        {"path": "/catalog/search", "skip": 1}, _catalog_search_pages, requests=2
    ),
    "auxip v2 search page 2": Operation(
        {"path": "/auxip/collections/adgs/items", "skip": 1}, _auxip_v2_pages, True, 2
    ),
    "apikey check": Operation({"path": "/apikeymanager/check/api_key"}, _apikey),
}

assert set(OPERATIONS) == set(EXPECTED)

# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clients() -> Iterator[Clients]:
    keys = {API_KEY: ApiKey.full_access(USER)}
    with (
        RsServerSimulator(api_keys=keys, staging_duration=0.05) as sim,
        RsServerSimulator(api_keys=keys, api_version="v2") as sim_v2,
    ):
        rs = RsClient(sim.url, API_KEY, http_settings=FAST)
        patient = CadipClient(sim.url, API_KEY, None, "CADIP", http_settings=PATIENT)
        names = [i.id for i in patient.search_files("2019-01-01", "2030-01-01", limit=1000)]
        assert len(names) > 2 * len(EXPECTED), "not enough CADU files for one per cell"
        report = patient.stage_and_wait([names[0]], poll_interval=0.05, timeout=30)
        assert report.ok, report.summary()
        catalog = rs.get_stac_client()
        collection = "matrix"
        catalog.add_collection(make_collection(collection))
        for k in range(4):
            catalog.add_item(collection, make_item(f"seed-{k}"))
        auxip_v2 = AuxipClient(sim_v2.url, API_KEY, None, http_settings=FAST, api_version="v2")
        yield Clients(
            sim=sim,
            sim_v2=sim_v2,
            auxip_v2=auxip_v2,
            rs=rs,
            auxip=rs.get_auxip_client(),
            cadip=rs.get_cadip_client("CADIP"),
            catalog=catalog,
            collection=collection,
            fresh_files=iter(names[1:]),
            done_file=names[0],
        )
        rs.close()
        patient.close()
        auxip_v2.close()


# -- the matrix ----------------------------------------------------------------------------


def _retried(sim: RsServerSimulator, fault: Fault, requests: int) -> bool:
    hits = [r for r in sim.requests if fault.matches(r.method, r.path)]
    return len(hits) > requests


def run_cell(sim: RsServerSimulator, call: Call, label: str) -> tuple[Any, RsError | None, float]:
    """Run ``call`` (under the fault just added): its result or typed error, and how long it
    took; the faults are cleared after. An untyped exception fails the test."""
    started = time.monotonic()
    try:
        return call(), None, time.monotonic() - started
    except RsError as err:
        return None, err, time.monotonic() - started
    except Exception as err:  # any other type is a bug in the client
        pytest.fail(f"{label}: untyped {type(err).__name__}: {err}")
    finally:
        sim.clear_faults()


def error_outcome(error: RsError, sim: RsServerSimulator) -> str:
    """The ``rs_core.errors`` class of ``error`` (a plugin may raise a subclass), after
    checking it names the URL, is chained or carries a status, and shows no API key."""
    outcome = next(c.__name__ for c in type(error).__mro__ if c.__module__ == "rs_core.errors")
    assert error.url and error.url.startswith(sim.url), f"{outcome} names no URL"
    assert (
        error.__cause__ is not None
        or error.status is not None
        or isinstance(error, (NotFoundError, BadResponseError))
    ), f"{outcome} is neither chained nor an HTTP answer"
    assert API_KEY not in str(error) and API_KEY not in repr(error)
    return outcome


@pytest.mark.parametrize(
    ("operation", "fault_name"),
    list(itertools.product(OPERATIONS, FAULTS)),
    ids=[f"{o}|{f}" for o, f in itertools.product(OPERATIONS, FAULTS)],
)
def test_cell(clients: Clients, operation: str, fault_name: str) -> None:
    expected = EXPECTED[operation][list(FAULTS).index(fault_name)]
    op = OPERATIONS[operation]
    call, check = op.prepare(clients)
    sim = clients.sim_v2 if op.v2 else clients.sim
    sim.clear_requests()
    fault = sim.add_fault(Fault(**op.fault_path, **FAULTS[fault_name]))
    result, error, elapsed = run_cell(sim, call, f"{operation} under {fault_name}")
    bound = (15.0 if operation.endswith("stage_and_wait") else BOUND) + MARGIN
    assert elapsed < bound, f"{operation} under {fault_name} took {elapsed:.1f} s"
    if error is not None:
        outcome = error_outcome(error, sim)
    elif operation.endswith("stage_and_wait"):
        check(result)
        outcome = f"report: {next(iter(result.outcomes.values())).state}"
    else:
        check(result)
        outcome = RTY if _retried(sim, fault, op.requests) else OK
    assert outcome == expected, f"{operation} under {fault_name}: {outcome}, expected {expected}"


# -- the generated document ----------------------------------------------------------------

DOC = Path(__file__).resolve().parents[2] / "docs" / "reliability-matrix.md"


def render_matrix() -> str:
    """The table as Markdown (operations as rows, faults as columns)."""
    lines = [
        "# Reliability matrix",
        "",
        "<!-- Generated by tests/reliability/test_fault_matrix.py; do not edit. -->",
        "",
        f"{len(OPERATIONS)} operations x {len(FAULTS)} faults = "
        f"{len(OPERATIONS) * len(FAULTS)} cells, each run against the simulator with a "
        f"{TIMEOUT:g} s read timeout and {FAST.retries} retries; every cell also asserts the "
        f"time bound ({BOUND:.1f} s + {MARGIN:g} s margin; stage_and_wait: its 15 s deadline "
        "+ margin) and that no error message shows the API key.",
        "",
        "Cells: `OK` (first attempt), `OK-after-retry` (the client retried and got the right "
        "value), an `rs_core.errors` class (raised, chained to its cause), `report: DONE` / "
        "`report: REFUSED` (`stage_and_wait` returns a report; REFUSED carries the typed "
        "error's message).",
        "",
        "Faults (all from `rs_core.testing.simulator.Fault`):",
        "",
    ]
    for name, spec in FAULTS.items():
        args = ", ".join(f"{k}={v!r}" for k, v in spec.items())
        lines.append(f"- **{name}**: `Fault({args})`")
    lines += ["", "| operation | " + " | ".join(FAULTS) + " |"]
    lines.append("|---" * (len(FAULTS) + 1) + "|")
    for operation, row in EXPECTED.items():
        lines.append(f"| {operation} | " + " | ".join(row) + " |")
    lines.append("")
    from test_fault_matrix_v2 import render_v2  # the v2 staging rows, same page

    lines += render_v2()
    return "\n".join(lines)


def test_matrix_document() -> None:
    """Write the matrix; it must cover every operation x fault with a known outcome."""
    known = {OK, RTY, TMO, SRV, CON, BAD, AUTH, RATE, GONE, DONE, REFUSED}
    assert all(cell in known for row in EXPECTED.values() for cell in row)
    text = render_matrix()
    DOC.parent.mkdir(exist_ok=True)
    if not DOC.exists() or DOC.read_text("utf-8") != text:
        DOC.write_text(text, "utf-8")
    assert DOC.read_text("utf-8") == text
