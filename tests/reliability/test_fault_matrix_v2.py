# ruff: noqa: E501 - the expected-outcome table is deliberately one row per operation
"""The fault matrix of RS-Server v2 staging: the job POST, the job status, stage_and_wait, the
job DELETE, each under the 15 faults of ``test_fault_matrix`` (the simulator's v2 face).

Its table is rendered into ``docs/reliability-matrix.md`` by ``test_fault_matrix``'s
``render_matrix`` (one generated page).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from attrs import frozen
from reliability_support import API_KEY, BOUND, FAST, MARGIN, PATIENT, USER
from rs_auxip import AuxipClient

from rs_core.enums import EDownloadStatus
from rs_core.testing.simulator import ApiKey, Dataset, Fault, RsServerSimulator

OK, RTY, FOUND = "OK", "OK-after-retry", "OK (job found)"
TMO, SRV, CON, BAD = "RsTimeoutError", "ServerError", "RsConnectionError", "BadResponseError"
RATE, DONE, REFUSED = "RateLimitedError", "report: DONE", "report: REFUSED"
UNFINISHED = "report: UNFINISHED"
GONE = "OK (404 after a lost answer)"

FAULT_NAMES = (
    "latency < timeout",
    "latency > timeout",
    "503 x1",
    "503 x2 (= retries)",
    "503 always",
    "429 + Retry-After",
    "500 x1",
    "reset x1",
    "reset always",
    "truncated JSON x1",
    "truncated JSON always",
    "non-JSON 200",
    "HTML 502 page",
    "wrong JSON shape",
    "hang",
)

# fmt: off
EXPECTED_V2: dict[str, tuple[str, ...]] = {
    #                        lat<  lat>   503x1 503x2 503∞  429   500   rst1  rst∞  trn1   trn∞   text  html  shape hang
    # a POST that creates is never sent twice: a lost answer (cut body) is looked for in
    # GET /jobs at once; 429 and 503 (not taken) are retried; reset or timed out (no job yet)
    # is an error
    "v2 stage (job POST)":  (OK,   TMO,   RTY,  RTY,  SRV,  RTY,  SRV,  CON,  CON,  FOUND, FOUND, BAD,  SRV,  BAD,  TMO),
    "v2 job status":        (OK,   TMO,   RTY,  RTY,  SRV,  RTY,  SRV,  RTY,  CON,  RTY,   CON,   BAD,  SRV,  BAD,  TMO),
    # the job of a lost answer (reset, 502, timeout) is looked for at each round for the grace
    # (2 s here), then REFUSED and left open in the ledger; a job whose status cannot be read
    # stays UNFINISHED at the deadline (its error says why)
    "v2 stage_and_wait":    (DONE, UNFINISHED, DONE, DONE, REFUSED, DONE, REFUSED, REFUSED, REFUSED, DONE, UNFINISHED, REFUSED, REFUSED, REFUSED, REFUSED),
    # retried on 429/502/503/504 and resets; a 404 after a lost answer is success
    "v2 dismiss (DELETE)":  (OK,   TMO,   RTY,  RTY,  SRV,  RTY,  SRV,  RTY,  CON,  RTY,   CON,   BAD,  SRV,  BAD,  TMO),
}
# fmt: on

FAULT_PATHS = {
    "v2 stage (job POST)": {"path": "/processes/staging/execution", "method": "POST"},
    "v2 job status": {"path_regex": r"^/jobs/[^/]+$", "method": "GET"},
    "v2 stage_and_wait": {"path_regex": r"^/(processes/staging/execution|jobs/[^/]+)$"},
    "v2 dismiss (DELETE)": {"path_regex": r"^/jobs/[^/]+$", "method": "DELETE"},
}


@frozen
class V2Clients:
    sim: RsServerSimulator
    auxip: AuxipClient
    fresh_files: Iterator[str]
    done_file: str


def _stage(c: V2Clients) -> tuple[Callable[[], Any], Callable[[Any], None]]:
    name = next(c.fresh_files)

    def check(job: Any) -> None:
        assert job is not None and name in job.files
        item = name.rsplit(".", 1)[0]
        assert sum(1 for j in c.sim.jobs if item in j["items"]) == 1, "one job, never two"

    return lambda: c.auxip.staging(name), check


def _status(c: V2Clients) -> tuple[Callable[[], Any], Callable[[Any], None]]:
    def check(status: Any) -> None:
        assert status is EDownloadStatus.DONE

    return lambda: c.auxip.staging_status(c.done_file), check


def _stage_and_wait(c: V2Clients) -> tuple[Callable[[], Any], Callable[[Any], None]]:
    name = next(c.fresh_files)

    def run() -> Any:
        return c.auxip.stage_and_wait([name], poll_interval=0.05, poll_max_interval=0.2, timeout=4)

    def check(report: Any) -> None:
        (outcome,) = report.outcomes.values()
        assert outcome.name == name
        assert report.timed_out == (outcome.state == "UNFINISHED")
        if outcome.state == "UNFINISHED":
            assert "status unknown" in outcome.error or "answer was lost" in outcome.error
        if outcome.state == "REFUSED":
            assert (
                "HTTP" in outcome.error
                or "JSON" in outcome.error
                or "connection" in (outcome.error)
                or "timeout" in outcome.error
                or "job" in outcome.error
            ), outcome.error

    return run, check


def _dismiss(c: V2Clients) -> tuple[Callable[[], Any], Callable[[Any], None]]:
    job = PATIENT_CLIENT[0].staging(next(c.fresh_files))
    assert job is not None

    def check(result: Any) -> None:
        assert result.job_id == job.job_id and result.status == "dismissed"

    return lambda: c.auxip.dismiss_job(job.job_id), check


PREPARE = {
    "v2 stage (job POST)": _stage,
    "v2 job status": _status,
    "v2 stage_and_wait": _stage_and_wait,
    "v2 dismiss (DELETE)": _dismiss,
}
PATIENT_CLIENT: list[AuxipClient] = []


@pytest.fixture(autouse=True)
def _short_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("rs_core.staging.LOST_ANSWER_GRACE", 2.0)


@pytest.fixture
def v2_clients() -> Iterator[V2Clients]:
    """A new simulator per cell: a job a lost request made late must not be mistaken for the
    job of another cell's lost request (a client cannot tell them apart)."""
    dataset = Dataset.synthetic(n_products=5, n_files=0, n_sessions=0, seed=5)
    with RsServerSimulator(
        api_keys={API_KEY: ApiKey.full_access(USER)},
        staging_duration=0.05,
        api_version="v2",
        dataset=dataset,
    ) as sim:
        patient = AuxipClient(sim.url, API_KEY, http_settings=PATIENT)
        fast = AuxipClient(sim.url, API_KEY, http_settings=FAST)
        names = [i.id for i in patient.search_stations("2000-01-01", "2100-01-01", limit=1000)]
        fast.search_stations("2000-01-01", "2100-01-01", limit=1000)  # it knows the files
        report = fast.stage_and_wait([names[0]], poll_interval=0.05, timeout=30)
        assert report.ok, report.summary()
        PATIENT_CLIENT[:] = [patient]
        yield V2Clients(sim, fast, iter(names[1:]), names[0])
        fast.close()
        patient.close()


@pytest.mark.parametrize(
    ("operation", "fault_name"),
    list(itertools.product(EXPECTED_V2, FAULT_NAMES)),
    ids=[f"{o}|{f}" for o, f in itertools.product(EXPECTED_V2, FAULT_NAMES)],
)
def test_v2_cell(v2_clients: V2Clients, operation: str, fault_name: str) -> None:
    from test_fault_matrix import FAULTS, error_outcome, run_cell

    expected = EXPECTED_V2[operation][FAULT_NAMES.index(fault_name)]
    call, check = PREPARE[operation](v2_clients)
    sim = v2_clients.sim
    sim.clear_requests()
    fault = sim.add_fault(Fault(**FAULT_PATHS[operation], **FAULTS[fault_name]))
    result, error, elapsed = run_cell(sim, call, f"{operation} under {fault_name}")
    bound = (4.0 if operation.endswith("stage_and_wait") else 2 * BOUND) + MARGIN
    assert elapsed < bound, f"{operation} under {fault_name} took {elapsed:.1f} s"
    hits = [r for r in sim.requests if fault.matches(r.method, r.path)]
    if error is not None:
        outcome = error_outcome(error, sim)
    elif operation.endswith("stage_and_wait"):
        check(result)
        outcome = f"report: {next(iter(result.outcomes.values())).state}"
    else:
        check(result)
        if operation.startswith("v2 stage") and any(r.path == "/jobs" for r in sim.requests):
            outcome = FOUND
        else:
            outcome = RTY if len(hits) > 1 else OK
    assert outcome == expected, f"{operation} under {fault_name}: {outcome}, expected {expected}"


def render_v2() -> list[str]:
    """The v2 staging table as Markdown lines (for ``docs/reliability-matrix.md``)."""
    lines = [
        "",
        "## RS-Server v2 staging",
        "",
        f"{len(EXPECTED_V2)} operations x {len(FAULT_NAMES)} faults = "
        f"{len(EXPECTED_V2) * len(FAULT_NAMES)} cells (`tests/reliability/"
        "test_fault_matrix_v2.py`, the simulator's v2 face, the same faults and settings). "
        f"`{FOUND}`: the POST's answer was lost, its job was found in `GET /jobs` and "
        "followed; the POST was sent once.",
        "",
        "| operation | " + " | ".join(FAULT_NAMES) + " |",
        "|---" * (len(FAULT_NAMES) + 1) + "|",
    ]
    for operation, row in EXPECTED_V2.items():
        lines.append(f"| {operation} | " + " | ".join(row) + " |")
    lines.append("")
    return lines
