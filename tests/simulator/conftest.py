"""Fixtures for the simulator's own tests: real servers on 127.0.0.1, raw ``requests``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from rs_core.testing.simulator import ApiKey, Dataset, RsServerSimulator

ALICE_KEY = "alice-key"
BOB_KEY = "bob-key"
NOROLE_KEY = "norole-key"


@pytest.fixture(scope="session")
def default_dataset() -> Dataset:
    return Dataset.default()


@pytest.fixture
def sim(default_dataset: Dataset) -> Iterator[RsServerSimulator]:
    """A fresh local-mode simulator (no auth) with a short staging time."""
    with RsServerSimulator(dataset=default_dataset, staging_duration=0.1) as simulator:
        yield simulator


@pytest.fixture
def cluster_sim(default_dataset: Dataset) -> Iterator[RsServerSimulator]:
    """A cluster-mode simulator: alice has every station role, bob only ADGS read + CADIP
    MTI read, the third key no role."""
    keys = {
        ALICE_KEY: ApiKey.full_access("alice"),
        BOB_KEY: ApiKey(user_login="bob", iam_roles=["rs_adgs_read", "rs_cadip_mti_read"]),
        NOROLE_KEY: ApiKey(user_login="carol", iam_roles=[]),
    }
    with RsServerSimulator(
        dataset=default_dataset, api_keys=keys, staging_duration=0.1
    ) as simulator:
        yield simulator


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session
