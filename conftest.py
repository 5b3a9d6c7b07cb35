"""Repository-wide test settings: tests never see the developer's RS-Server environment."""

from __future__ import annotations

import pytest

# The plugin test kit, registered here first: the plugins' and the example plugin's conftests
# use it, and pytest can only rewrite the kit's asserts if no conftest imported it before.
pytest_plugins = ["rs_core.testing.pytest_plugin"]

_ISOLATED = (
    "RSPY_APIKEY",
    "RSPY_HOST_ADGS",
    "RSPY_HOST_CADIP",
    "RSPY_HOST_CATALOG",
    "RSPY_HOST_PRIP",
    "RSPY_UAC_CHECK_URL",
    "RS_SERVER_HREF",
    "RS_OWNER_ID",
    "RS_TIMEOUT",
    "RS_API_VERSION",
    "RS_CORE_DISABLE_PLUGINS",
    "RS_CORE_TRACE_PLUGINS",
    "RS_CORE_NO_ENTRY_POINTS",
)


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _ISOLATED:
        monkeypatch.delenv(name, raising=False)
    from rs_core.auth import clear_apikey_cache

    clear_apikey_cache()
