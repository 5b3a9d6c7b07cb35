"""Repository-wide test settings: tests never see the developer's RS-Server environment."""

from __future__ import annotations

import os
import secrets
import time
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

# The plugin test kit, registered here first: the plugins' and the example plugin's conftests
# use it, and pytest can only rewrite the kit's asserts if no conftest imported it before.
pytest_plugins = ["rs_core.testing.pytest_plugin"]

_ISOLATED = (
    "RSPY_APIKEY",
    "RSPY_HOST_ADGS",
    "RSPY_HOST_CADIP",
    "RSPY_HOST_CATALOG",
    "RSPY_HOST_PRIP",
    "RSPY_HOST_STAGING",
    "RSPY_UAC_CHECK_URL",
    "RS_SERVER_HREF",
    "RS_OWNER_ID",
    "RS_TIMEOUT",
    "RS_API_VERSION",
    "RS_CORE_DISABLE_PLUGINS",
    "RS_CORE_TRACE_PLUGINS",
    "RS_CORE_NO_ENTRY_POINTS",
    "RSPY_OAUTH2_COOKIE",
    "RS_BEARER_TOKEN",
    "RS_PROFILE",
    "RS_DEADLINE",
    "RS_NO_CACHE",
)


@pytest.fixture(autouse=True)
def _isolated_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    for name in _ISOLATED:
        monkeypatch.delenv(name, raising=False)
    # no profile or stored login of the developer's own config directory
    monkeypatch.setenv("RS_CONFIG_DIR", str(tmp_path_factory.mktemp("rs-config")))
    from rs_core.auth import clear_apikey_cache

    clear_apikey_cache()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "rs_server_1: needs the real RS-Server 1.0 services started by scripts/rs-server-1 "
        "(RS_TEST_V10_*; RS_REQUIRE_RS_SERVER_1=1 fails instead of skipping)",
    )


class RsServer1:
    """The real RS-Server 1.0 services of ``scripts/rs-server-1`` (``RS_TEST_V10_*`` env vars).

    ``url("STAGING")`` is ``$RS_TEST_V10_STAGING_URL``; :meth:`s3_bytes` reads a staged
    object (the bucket is public-read); :meth:`station_bytes` downloads what a station serves.
    """

    PREFIX = "RS_TEST_V10_"

    def url(self, name: str) -> str:
        return os.environ[self.PREFIX + name].rstrip("/")

    def s3_bytes(self, href: str) -> bytes:
        """The object behind ``s3://<bucket>/<key>``, read over plain HTTP from the endpoint."""
        assert href.startswith("s3://"), href
        answer = requests.get(f"{self.url('S3_ENDPOINT')}/{href[5:]}", timeout=30)
        answer.raise_for_status()
        return answer.content

    def station_bytes(self, href: str) -> bytes:
        """What a station simulator serves at ``href`` (a ``.../$value`` URL)."""
        parts = urlsplit(href)
        base = f"{parts.scheme}://{parts.netloc}"
        form = {"grant_type": "password", "username": "test", "password": "test"}
        token = requests.post(f"{base}/oauth2/token", data=form, timeout=30).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        answer = requests.get(href, headers=headers, timeout=30)
        answer.raise_for_status()
        return answer.content

    def catalog_asset(self, collection: str, name: str) -> dict[str, Any] | None:
        """The asset called ``name`` of an item of ``<owner>:<collection>`` (``None``: absent)."""
        owner = self.url("OWNER")
        path = f"/catalog/collections/{owner}:{collection}/items"
        answer = requests.get(self.url("CATALOG_URL") + path, params={"limit": 1000}, timeout=30)
        if answer.status_code == 404:
            return None
        answer.raise_for_status()
        for feature in answer.json()["features"]:
            if name in feature["assets"]:
                return dict(feature["assets"][name])
        return None

    def delete_collection(self, collection: str) -> None:
        owner = self.url("OWNER")
        path = f"/catalog/collections/{owner}:{collection}"
        requests.delete(self.url("CATALOG_URL") + path, timeout=30)

    def check_staging(self, client: Any, item: Any, deadline: float = 90.0) -> None:
        """Stage the file of ``item`` (a file-level item a search of ``client`` found) into a
        fresh collection through the real staging service; assert it ends DONE, that the
        catalog holds it and that S3 holds the bytes the station serves. Removes the
        collection afterwards."""
        from rs_core.enums import EDownloadStatus

        name = item.id
        collection = f"kit-{client.station_kind}-{secrets.token_hex(3)}"
        try:
            client.staging(name, collection=collection)
            until = time.monotonic() + deadline
            status = client.staging_status(name)
            while status is not EDownloadStatus.DONE and time.monotonic() < until:
                assert status in (EDownloadStatus.NOT_STARTED, EDownloadStatus.IN_PROGRESS), status
                time.sleep(0.5)
                status = client.staging_status(name)
            assert status is EDownloadStatus.DONE
            asset = self.catalog_asset(collection, name)
            assert asset is not None, f"{name} is not in the catalog collection {collection}"
            (original,) = item.assets.values()
            expected = self.station_bytes(original.href)
            assert expected, "the station served no bytes"
            assert self.s3_bytes(asset["href"]) == expected
        finally:
            self.delete_collection(collection)


@pytest.fixture
def rs_server_1(monkeypatch: pytest.MonkeyPatch) -> RsServer1:
    """The real RS-Server 1.0 services; skips when ``scripts/rs-server-1`` did not run (fails
    with ``RS_REQUIRE_RS_SERVER_1=1``). Points ``RSPY_HOST_STAGING``/``RSPY_HOST_CATALOG`` at
    them."""
    if not os.environ.get(RsServer1.PREFIX + "STAGING_URL"):
        message = "RS_TEST_V10_STAGING_URL is not set: the real RS-Server 1.0 tests are skipped"
        if os.environ.get("RS_REQUIRE_RS_SERVER_1") == "1":
            pytest.fail(f"{message}, but RS_REQUIRE_RS_SERVER_1=1 requires them", pytrace=False)
        pytest.skip(message)
    servers = RsServer1()
    monkeypatch.setenv("RSPY_HOST_STAGING", servers.url("STAGING_URL"))
    monkeypatch.setenv("RSPY_HOST_CATALOG", servers.url("CATALOG_URL"))
    return servers
