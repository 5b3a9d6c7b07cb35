"""The station kit must be able to fail: run it against deliberately broken plugins.

Each broken plugin is the real AUXIP client with one defect of the kind the original client
had (errors swallowed into an empty result, ``limit`` ignored, no input validation, the wrong
path). The kit runs in a pytester subprocess; the tests that must catch the defect fail, and
the same kit passes against the real ``auxip`` plugin in the same run.
"""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

BROKEN_PLUGINS = '''
from __future__ import annotations

import pystac

from rs_auxip.client import AuxipClient
from rs_core import Capability, StationType, hookimpl
from rs_core.errors import RsError
from rs_core.plugins import register_plugin


class SwallowingClient(AuxipClient):
    """Returns [] on any error and ignores limit, like the original client."""

    station_kind = "swallow"

    def search_stations(self, start_date, stop_date, limit=None, sortby=None, timeout=None):
        try:
            return super().search_stations(start_date, stop_date, None, sortby, timeout)
        except RsError:
            return pystac.ItemCollection([])


class UncheckedClient(AuxipClient):
    """Sends whatever it is given; never validates."""

    station_kind = "unchecked"

    def search_stations(self, start_date, stop_date, limit=None, sortby=None, timeout=None):
        params = {"datetime": f"{start_date}/{stop_date}"}
        if limit is not None:
            params["limit"] = limit
        if sortby is not None:
            params["sortby"] = sortby
        return self._protocol().search_files(params, timeout=timeout)

    def staging(self, filename, s3_path="", tmp_download_path="", timeout=None):
        self._protocol().stage({"name": filename}, timeout=timeout)

    def staging_info(self, filename, timeout=None):
        return self._protocol().status(filename, timeout=timeout)


class WrongPathClient(AuxipClient):
    """Searches a path that is not the one the protocol names."""

    station_kind = "wrongpath"

    def _protocol(self):
        proto = super()._protocol()
        endpoints = type(proto.endpoints)(
            proto.endpoints.search.replace("/adgs/aux/search", "/adgs/aux/search/"),
            proto.endpoints.stage,
            proto.endpoints.status,
        )
        proto.endpoints = endpoints
        return proto


class _Broken:
    @hookimpl
    def rs_register_stations(self):
        caps = {Capability.SEARCH, Capability.STAGING}
        for kind, cls in (
            ("swallow", SwallowingClient),
            ("unchecked", UncheckedClient),
            ("wrongpath", WrongPathClient),
        ):
            yield StationType(kind=kind, client_class=cls, stations=("AUXIP",), capabilities=caps)


register_plugin(_Broken(), name="broken")
'''

CONFTEST = """
pytest_plugins = ["rs_core.testing.pytest_plugin"]
import broken_plugins  # noqa: F401  (registers the broken kinds)
"""

CONTRACTS = """
from rs_core.testing.kit.station import StationContract

class _Adgs(StationContract):
    station = "AUXIP"
    search_path = "/adgs/aux/search"
    staging_path = "/adgs/aux"
    status_path = "/adgs/aux/status"

class TestGood(_Adgs):
    kind = "auxip"

class TestSwallow(_Adgs):
    kind = "swallow"

class TestUnchecked(_Adgs):
    kind = "unchecked"

class TestWrongPath(_Adgs):
    kind = "wrongpath"
"""


EXPECTED_FAILURES = [
    # errors swallowed into an empty result, limit ignored
    "TestSwallow::test_limit_honoured",
    "TestSwallow::test_wrong_key_is_authentication_error",
    "TestSwallow::test_server_error_after_retries",
    "TestSwallow::test_persistent_rate_limit",
    "TestSwallow::test_hanging_server_times_out",
    "TestSwallow::test_garbage_answer_is_bad_response",
    # no validation: bad input goes to the server
    "TestUnchecked::test_bad_search_input_sends_nothing[start_after_stop-kwargs0]",
    "TestUnchecked::test_bad_search_input_sends_nothing[limit_zero-kwargs2]",
    "TestUnchecked::test_bad_search_input_sends_nothing[sortby_with_space-kwargs6]",
    "TestUnchecked::test_bad_filename_sends_nothing[]",
    "TestUnchecked::test_naive_and_aware_datetimes_mean_utc",
    "TestUnchecked::test_search_wire_request[cluster]",
    # the wrong path on the wire
    "TestWrongPath::test_search_wire_request[cluster]",
    "TestWrongPath::test_search_wire_request[local]",
]


def outcomes(result: pytest.RunResult) -> dict[str, str]:
    """``{"TestX::test_y[param]": "FAILED" | "ERROR"}`` from the -rfE summary."""
    found = {}
    for line in result.outlines:
        for state in ("FAILED", "ERROR"):
            prefix = f"{state} test_contracts.py::"
            if line.startswith(prefix):
                found[line[len(prefix) :].split(" - ")[0]] = state
    return found


def test_kit_fails_on_broken_plugins_and_passes_the_good_one(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(broken_plugins=BROKEN_PLUGINS)
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_contracts=CONTRACTS)
    result = pytester.runpytest_subprocess("-q", "-rfE", "-p", "no:cacheprovider")
    found = outcomes(result)
    tail = "\n".join(result.outlines[-40:])

    good = [name for name in found if name.startswith("TestGood::")]
    assert good == [], f"the good plugin must pass the kit:\n{tail}"
    assert result.parseoutcomes().get("passed", 0) > 60

    missed = [name for name in EXPECTED_FAILURES if found.get(name) != "FAILED"]
    assert missed == [], f"the kit did not catch: {missed}\nfailures seen: {sorted(found)}"

    errors = [name for name, state in found.items() if state == "ERROR"]
    assert errors == [], errors
    # a defect fails only the tests that look at it: healthy behaviour still passes
    assert "TestSwallow::test_search_returns_items[cluster]" not in found
    assert "TestSwallow::test_unknown_file_status_is_not_found" not in found
