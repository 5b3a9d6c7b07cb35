"""Cluster mode: API-key check endpoint, 403 before validation, 401 role texts."""

from __future__ import annotations

import pytest
import requests

from rs_core.testing.simulator import ApiKey, RsServerSimulator

ALICE_KEY = "alice-key"
BOB_KEY = "bob-key"
NOROLE_KEY = "norole-key"

WIDE = "2000-01-01T00:00:00Z/2030-01-01T00:00:00Z"


def test_check_api_key(cluster_sim: RsServerSimulator, http: requests.Session) -> None:
    url = f"{cluster_sim.url}/apikeymanager/check/api_key"
    ok = http.get(url, headers={"x-api-key": BOB_KEY}, timeout=5)
    assert ok.status_code == 200
    assert ok.json() == {
        "iam_roles": ["rs_adgs_read", "rs_cadip_mti_read"],
        "config": {},
        "user_login": "bob",
    }
    assert http.get(url, headers={"x-api-key": "wrong"}, timeout=5).status_code == 403
    missing = http.get(url, timeout=5)
    assert missing.status_code == 403 and "detail" in missing.json()


def test_health_needs_no_key(cluster_sim: RsServerSimulator, http: requests.Session) -> None:
    assert http.get(f"{cluster_sim.url}/health", timeout=5).json() == {"healthy": True}


def test_no_key_is_403_before_validation(
    cluster_sim: RsServerSimulator, http: requests.Session
) -> None:
    response = http.get(f"{cluster_sim.url}/adgs/aux/search", timeout=5)  # no datetime either
    assert response.status_code == 403
    assert response.json() == {"detail": "Not authenticated"}
    unknown_station = http.get(f"{cluster_sim.url}/cadip/XYZ/cadu/search", timeout=5)
    assert unknown_station.status_code == 403


def test_wrong_key_is_403(cluster_sim: RsServerSimulator, http: requests.Session) -> None:
    response = http.get(
        f"{cluster_sim.url}/adgs/aux/search",
        params={"datetime": WIDE},
        headers={"x-api-key": "not-a-key"},
        timeout=5,
    )
    assert response.status_code == 403
    assert "detail" in response.json()


def test_key_with_roles_works(cluster_sim: RsServerSimulator, http: requests.Session) -> None:
    response = http.get(
        f"{cluster_sim.url}/cadip/MTI/cadu/search",
        params={"datetime": WIDE, "limit": 2},
        headers={"x-api-key": BOB_KEY},
        timeout=5,
    )
    assert response.status_code == 200
    assert response.json()["numberReturned"] == 2


@pytest.mark.parametrize(
    ("path", "params", "text"),
    [
        ("/cadip/MPS/cadu/search", {"datetime": WIDE}, "to read from the 'cadip_mps' station"),
        ("/cadip/CADIP/session", {"id": "x"}, "to read from the 'cadip_cadip' station"),
        ("/cadip/MTI/cadu", {"name": "x"}, "to download from the 'cadip_mti' station"),
        ("/cadip/MTI/cadu/status", {"name": "x"}, "to download from the 'cadip_mti' station"),
        ("/adgs/aux", {"name": "x"}, "to download from the 'adgs' station"),
        ("/adgs/aux/status", {"name": "x"}, "to download from the 'adgs' station"),
    ],
)
def test_missing_role_is_401(
    cluster_sim: RsServerSimulator,
    http: requests.Session,
    path: str,
    params: dict[str, str],
    text: str,
) -> None:
    response = http.get(
        f"{cluster_sim.url}{path}", params=params, headers={"x-api-key": BOB_KEY}, timeout=5
    )
    assert response.status_code == 401
    assert response.json() == {
        "detail": f"Authorization key does not include the right role {text}"
    }


def test_no_role_key_on_adgs_read(cluster_sim: RsServerSimulator, http: requests.Session) -> None:
    response = http.get(
        f"{cluster_sim.url}/adgs/aux/search",
        params={"datetime": WIDE},
        headers={"x-api-key": NOROLE_KEY},
        timeout=5,
    )
    assert response.status_code == 401
    assert "to read from the 'adgs' station" in response.json()["detail"]


def test_full_access_key_stages(cluster_sim: RsServerSimulator, http: requests.Session) -> None:
    headers = {"x-api-key": ALICE_KEY}
    feature = http.get(
        f"{cluster_sim.url}/adgs/aux/search",
        params={"datetime": WIDE, "limit": 1},
        headers=headers,
        timeout=5,
    ).json()["features"][0]
    staged = http.get(
        f"{cluster_sim.url}/adgs/aux", params={"name": feature["id"]}, headers=headers, timeout=5
    )
    assert staged.json() == {"started": "true"}


def test_roles_compare_case_insensitively() -> None:
    key = ApiKey(user_login="x", iam_roles=["RS_CADIP_SGS_DOWNLOAD"])
    assert key.has_role("rs_cadip_sgs_download")
    assert not key.has_role("rs_cadip_sgs_read")
