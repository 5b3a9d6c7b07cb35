"""CADIP session readiness: each channel's final block, downlink and delivery OK; waiting."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from rs_cadip import CadipClient
from rs_cadip.readiness import session_readiness

from rs_core import InvalidInputError, NotFoundError, StagingError
from rs_core.http import HttpSettings
from rs_core.testing.pytest_plugin import KIT_API_KEY

FAST = HttpSettings(timeout=10.0, connect_timeout=5.0, retries=2, backoff_factor=0.01)
READY = "S3A_20250109134406046340"  # every channel's final block, flags OK (recorded data)
NOT_READY = "S1A_20231120061537234567"  # no final block on channels 1 and 2


def _session(**changes: Any) -> dict[str, Any]:
    properties = {
        "cadip:num_channels": 2,
        "cadip:downlink_status_ok": True,
        "cadip:delivery_push_ok": True,
    }
    assets = {
        "a_ch1_1": {"cadip:channel": 1, "cadip:final_block": False},
        "a_ch1_2": {"cadip:channel": 1, "cadip:final_block": True},
        "a_ch2_1": {"cadip:channel": 2, "cadip:final_block": True, "cadip:retransfer": True},
    }
    properties.update(changes.pop("properties", {}))
    assets.update(changes.pop("assets", {}))
    return {"id": "S1A_X", "properties": properties, "assets": assets}


def test_ready_counts_retransfers() -> None:
    state = session_readiness(_session())
    assert state.ready and state.reason == ""
    assert state.complete_channels == (1, 2) and state.retransfers == 1 and state.files == 3


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"assets": {"a_ch2_1": {"cadip:channel": 2, "cadip:final_block": False}}}, "channel 2"),
        ({"properties": {"cadip:num_channels": 3}}, "channel 3"),
        ({"properties": {"cadip:downlink_status_ok": False}}, "downlink status not OK"),
        ({"properties": {"cadip:delivery_push_ok": "false"}}, "delivery push not OK"),
        ({"properties": {"cadip:num_channels": None}}, "how many channels"),
    ],
)
def test_not_ready_says_why(change: dict[str, Any], reason: str) -> None:
    state = session_readiness(_session(**change))
    assert not state.ready and reason in state.reason, state.reason


@pytest.fixture(params=["v1", "v2"])
def station(
    request: pytest.FixtureRequest, rs_simulator: Any, rs_simulator_v2: Any
) -> Iterator[tuple[CadipClient, Any]]:
    sim = rs_simulator if request.param == "v1" else rs_simulator_v2
    name = "CADIP" if request.param == "v1" else "MTI"
    with CadipClient(sim.url, KIT_API_KEY, "tester", name, http_settings=FAST) as client:
        yield client, sim


def test_sessions_carry_ready_and_readiness_asks_the_server(station: Any) -> None:
    client, _sim = station
    found = {s.id: s for s in client.search_sessions(session_ids=[READY, NOT_READY])}
    assert found[READY].properties["ready"] is True
    assert found[NOT_READY].properties["ready"] is False
    state = client.session_readiness(NOT_READY)
    assert not state.ready and state.missing_channels == (1, 2)
    with pytest.raises(NotFoundError, match="S9Z_0"):
        client.session_readiness("S9Z_0")


def test_wait_is_bounded_and_stages_nothing_when_not_ready(station: Any) -> None:
    client, sim = station
    [session] = client.search_sessions(session_ids=[NOT_READY])
    sim.clear_requests()
    with pytest.raises(StagingError, match=r"not ready after 0\.3 s.*channels 1, 2"):
        client.stage_and_wait([session], wait_ready=0.3, poll_interval=0.05, timeout=10)
    staged = [r for r in sim.requests if r.path.endswith(("/cadu", "/execution"))]
    assert not staged


def test_stage_and_wait_of_a_ready_session_stages_its_files(station: Any) -> None:
    client, _sim = station
    [session] = client.search_sessions(session_ids=[READY])
    report = client.stage_and_wait([session], wait_ready=5, poll_interval=0.05, timeout=60)
    assert set(report.outcomes) == set(session.assets)
    assert report.ok, str(report)


def test_wait_bad_input(station: Any) -> None:
    client, _sim = station
    with pytest.raises(InvalidInputError, match="timeout"):
        client.wait_until_ready([READY], timeout=-1)
