"""The station contract: what every station plugin must do, checked against the simulator.

A plugin author writes one short test file (fsspec / SQLAlchemy-suite style)::

    # conftest.py
    pytest_plugins = ["rs_core.testing.pytest_plugin"]

    # test_contract.py
    from rs_core.testing.kit.station import StationContract

    class TestPripContract(StationContract):
        kind = "prip"
        station = "PRIP"
        search_path = "/prip/search"          # the wire paths ({station} is filled in)
        staging_path = "/prip"
        status_path = "/prip/status"

The kit builds clients through discovery (``rs_core.get_station(kind, station, client=...)``)
against an :class:`~rs_core.testing.simulator.RsServerSimulator` in cluster mode (API key) and,
for the basic tests, in local mode too (the client class's ``service_env_var`` pointed at the
simulator). It reads the kind's declared capabilities from the registry and **skips loudly**
whatever is not declared. It knows no station by name: everything specific comes from the
class attributes below. To run against a live server, override the ``station_client``
fixture (the tests that need the simulator's request log or fault injection still use it).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, ClassVar

import pystac
import pytest

import rs_core
from rs_core.client import RsClient
from rs_core.enums import EDownloadStatus
from rs_core.errors import (
    AuthenticationError,
    BadResponseError,
    HttpError,
    InvalidInputError,
    NotFoundError,
    RateLimitedError,
    RsConnectionError,
    RsTimeoutError,
    ServerError,
    StagingError,
    UnknownStationError,
)
from rs_core.http import HttpSettings
from rs_core.plugins import get_registry
from rs_core.records import Capability, StationType
from rs_core.staging import StagingStatus
from rs_core.testing.pytest_plugin import KIT_API_KEY

__all__ = ["KIT_OWNER", "KitTarget", "StationContract"]

KIT_OWNER = "kitowner"
WIRE = "%Y-%m-%dT%H:%M:%SZ"
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
_TIMESTAMP_KEYS = ("created", "updated", "published", "expires")
_MISSING_FILE = "rs-kit-no-such-file_0000.bin"


class KitTarget:
    """A client and the simulator it talks to, in one mode (``"cluster"`` or ``"local"``)."""

    def __init__(self, mode: str, sim: Any, client: Any, api_key: str | None) -> None:
        self.mode = mode
        self.sim = sim
        self.client = client
        self.api_key = api_key

    def requests_to(self, path: str) -> list[Any]:
        """The recorded requests whose path is ``path``."""
        return [r for r in self.sim.requests if r.path == path]


def _is_rfc3339(value: Any) -> bool:
    return isinstance(value, str) and bool(_RFC3339.match(value))


def _timestamp(value: Any) -> Any:
    if isinstance(value, str) and _is_rfc3339(value):
        return pystac.utils.str_to_datetime(value)
    return value


class StationContract:
    """Contract tests of a station kind. Subclass it as ``Test<Something>`` and set ``kind``.

    Class attributes (only ``kind`` is required):

    ``kind``, ``station``
        The station kind and station id to test (default: the kind's first station).
    ``session_station``
        The station used for session searches (default: ``station``).
    ``search_path``, ``staging_path``, ``status_path``, ``session_path``
        The expected request paths (``{station}`` is replaced); wire tests skip without them.
    ``search_start``, ``search_stop``
        A time range with at least three files in the simulator's default dataset.
    ``empty_start``, ``empty_stop``
        A time range with no file.
    ``sort_field``
        A property the station sorts on (``+field``/``-field``).
    ``http_settings``
        Client HTTP settings (few retries, tiny backoff: fault tests stay fast).
    """

    kind: ClassVar[str] = ""
    station: ClassVar[str | None] = None
    session_station: ClassVar[str | None] = None
    search_path: ClassVar[str | None] = None
    staging_path: ClassVar[str | None] = None
    status_path: ClassVar[str | None] = None
    session_path: ClassVar[str | None] = None
    search_start: ClassVar[datetime] = datetime(2000, 1, 1, tzinfo=UTC)
    search_stop: ClassVar[datetime] = datetime(2100, 1, 1, tzinfo=UTC)
    empty_start: ClassVar[datetime] = datetime(1990, 1, 1, tzinfo=UTC)
    empty_stop: ClassVar[datetime] = datetime(1990, 1, 2, tzinfo=UTC)
    sort_field: ClassVar[str] = "created"
    http_settings: ClassVar[HttpSettings] = HttpSettings(
        timeout=10.0, connect_timeout=5.0, retries=2, backoff_factor=0.01, retry_after_max=1.0
    )
    staging_deadline: ClassVar[float] = 15.0
    timeout_bound: ClassVar[float] = 2.5

    # -- helpers --------------------------------------------------------------------------

    @property
    def attempts(self) -> int:
        """Requests sent for one call when every attempt fails transiently."""
        return 1 + self.http_settings.retries

    def record(self) -> StationType:
        """The registry's record of :attr:`kind` (fails the test when it is not installed)."""
        if not self.kind:
            pytest.fail(f"{type(self).__name__} must set the class attribute 'kind'")
        return get_registry().station_type(self.kind)

    def station_id(self) -> str:
        """The station under test, upper case."""
        record = self.record()
        station = self.station or record.default_station or ""
        return station.upper()

    def require(self, capability: str) -> None:
        """Skip (loudly) when the kind does not declare ``capability``."""
        if capability not in self.record().capabilities:
            pytest.skip(
                f"station kind {self.kind!r} does not declare capability {str(capability)!r}"
            )

    def path(self, attribute: str, station: str | None = None) -> str:
        """A path class attribute with ``{station}`` filled in; skip when it is not set."""
        value = getattr(self, attribute)
        if not value:
            pytest.skip(f"{type(self).__name__} does not set {attribute!r}: wire check skipped")
        return str(value).format(station=station or self.station_id())

    def make_client(
        self,
        rs_server_href: str | None,
        api_key: str | None,
        station: str | None = None,
    ) -> Any:
        """Build a station client through discovery (override to customise)."""
        parent = RsClient(rs_server_href, api_key, KIT_OWNER, http_settings=self.http_settings)
        return rs_core.get_station(self.kind, station or self.station, client=parent)

    def _env_var(self) -> str:
        record: Any = self.record()
        loader = getattr(record, "load_client_class", None)
        client_class: Any = loader() if callable(loader) else record.client_class
        env = getattr(client_class, "service_env_var", "")
        if not env:
            pytest.skip(f"{client_class.__name__} has no service_env_var: local mode")
        return str(env)

    def search_all(self, client: Any, **kwargs: Any) -> Any:
        """Search the class's time range."""
        return client.search_stations(self.search_start, self.search_stop, **kwargs)

    # -- fixtures -------------------------------------------------------------------------

    @pytest.fixture
    def station_sim(self, rs_simulator: Any) -> Any:
        """The cluster-mode simulator, with no recorded request yet."""
        return rs_simulator

    @pytest.fixture
    def station_client(self, station_sim: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
        """A cluster-mode client of :attr:`kind` at :attr:`station` (built via discovery)."""
        monkeypatch.delenv(self._env_var(), raising=False)
        monkeypatch.delenv("RSPY_APIKEY", raising=False)
        client = self.make_client(station_sim.url, KIT_API_KEY)
        yield client
        client.close()

    @pytest.fixture(params=["cluster", "local"])
    def kit_target(
        self,
        request: pytest.FixtureRequest,
        monkeypatch: pytest.MonkeyPatch,
    ) -> Iterator[KitTarget]:
        """The client in cluster mode (API key) and in local mode (env override, no key)."""
        env = self._env_var()
        monkeypatch.delenv("RSPY_APIKEY", raising=False)
        if request.param == "cluster":
            monkeypatch.delenv(env, raising=False)
            sim = request.getfixturevalue("rs_simulator")
            target = KitTarget("cluster", sim, self.make_client(sim.url, KIT_API_KEY), KIT_API_KEY)
        else:
            sim = request.getfixturevalue("rs_local_simulator")
            monkeypatch.setenv(env, sim.url)
            target = KitTarget("local", sim, self.make_client(None, None), None)
        yield target
        target.client.close()

    # -- discovery ------------------------------------------------------------------------

    def test_kind_is_registered(self) -> None:
        record = self.record()
        assert record.kind == self.kind
        assert record.stations, "a station kind must list the station ids it accepts"
        assert self.station_id() in record.stations
        assert Capability.SEARCH in record.capabilities or record.capabilities

    def test_client_names_its_station(self, station_client: Any) -> None:
        assert station_client.station_name == self.station_id()
        assert KIT_API_KEY not in repr(station_client)

    def test_unknown_station_rejected(self, station_sim: Any) -> None:
        record = self.record()
        with pytest.raises(UnknownStationError) as info:
            self.make_client(station_sim.url, KIT_API_KEY, station="NO_SUCH_STATION_42")
        for valid in record.stations:
            assert valid in str(info.value), "the error must list the valid stations"
        assert station_sim.requests == []

    # -- search -----------------------------------------------------------------------------

    def test_search_returns_items(self, kit_target: KitTarget) -> None:
        self.require(Capability.SEARCH)
        found = self.search_all(kit_target.client)
        assert isinstance(found, pystac.ItemCollection)
        assert len(found) >= 1, "the kit's time range must hold files"
        assert len(list(iter(found))) == len(found)
        for item in found:
            assert isinstance(item, pystac.Item)
            assert isinstance(item.id, str) and item.id
            assert item.datetime is not None or (
                item.common_metadata.start_datetime is not None
                and item.common_metadata.end_datetime is not None
            )
            sizes = [a.extra_fields.get("file:size") for a in item.assets.values()]
            assert any(isinstance(s, int) and s >= 0 for s in sizes), (
                f"item {item.id} has no asset with an integer 'file:size'"
            )
            for key, value in item.properties.items():
                if key in _TIMESTAMP_KEYS or key.endswith("datetime"):
                    assert value is None or _is_rfc3339(value), f"{key}={value!r} is not RFC 3339"
        as_dict = found.to_dict()
        assert as_dict["type"] == "FeatureCollection"
        assert len(pystac.ItemCollection.from_dict(as_dict)) == len(found)

    def test_search_wire_request(self, kit_target: KitTarget) -> None:
        self.require(Capability.SEARCH)
        path = self.path("search_path")
        start = datetime(2021, 3, 4, 5, 6, 7, 891000, tzinfo=UTC)
        stop = datetime(2023, 1, 2, 3, 4, 5, tzinfo=UTC)
        kit_target.client.search_stations(start, stop, limit=5, sortby=f"-{self.sort_field}")
        sent = kit_target.requests_to(path)
        assert len(sent) == 1, (
            f"expected one GET {path}, got {[r.path for r in kit_target.sim.requests]}"
        )
        request = sent[0]
        assert request.method == "GET"
        assert request.query.get("datetime") == ["2021-03-04T05:06:07Z/2023-01-02T03:04:05Z"]
        assert request.query.get("limit") == ["5"]
        assert request.query.get("sortby") == [f"-{self.sort_field}"]
        header = request.headers.get("x-api-key")
        if kit_target.mode == "cluster":
            assert header == KIT_API_KEY
        else:
            assert header is None, "local mode must not send an API key"
        assert KIT_API_KEY not in request.raw_query

    def test_naive_and_aware_datetimes_mean_utc(
        self, station_client: Any, station_sim: Any
    ) -> None:
        self.require(Capability.SEARCH)
        path = self.path("search_path")
        plus_two = timezone(timedelta(hours=2))
        station_client.search_stations(datetime(2020, 1, 1, 12), datetime(2020, 1, 2, 12))
        station_client.search_stations(
            datetime(2020, 1, 1, 14, tzinfo=plus_two), datetime(2020, 1, 2, 14, tzinfo=plus_two)
        )
        sent = [r.query.get("datetime") for r in station_sim.requests if r.path == path]
        assert sent == [["2020-01-01T12:00:00Z/2020-01-02T12:00:00Z"]] * 2

    def test_search_empty_range(self, station_client: Any) -> None:
        self.require(Capability.SEARCH)
        found = station_client.search_stations(self.empty_start, self.empty_stop)
        assert isinstance(found, pystac.ItemCollection)
        assert len(found) == 0

    def test_limit_honoured(self, station_client: Any) -> None:
        self.require(Capability.SEARCH)
        total = len(self.search_all(station_client))
        if total < 3:
            pytest.skip(f"the kit's time range holds {total} files; the limit test needs 3")
        assert len(self.search_all(station_client, limit=2)) == 2
        assert len(self.search_all(station_client, limit=1)) == 1

    def test_sortby(self, station_client: Any) -> None:
        self.require(Capability.SEARCH)
        field = self.sort_field
        ascending = self.search_all(station_client, sortby=f"+{field}")
        descending = self.search_all(station_client, sortby=f"-{field}")
        unsigned = self.search_all(station_client, sortby=field)
        up = [_timestamp(i.properties.get(field)) for i in ascending]
        down = [_timestamp(i.properties.get(field)) for i in descending]
        if len(set(map(str, up))) < 2:
            pytest.skip(f"all files share one {field!r}: sort order cannot be checked")
        assert up == sorted(up), f"+{field} is not ascending"
        assert down == sorted(down, reverse=True), f"-{field} is not descending"
        assert [i.id for i in unsigned] == [i.id for i in ascending], "'field' means '+field'"

    @pytest.mark.parametrize(
        ("case", "kwargs"),
        [
            (
                "start_after_stop",
                {"start_date": datetime(2024, 1, 2), "stop_date": datetime(2024, 1, 1)},
            ),
            (
                "aware_start_after_stop",
                {
                    "start_date": datetime(2024, 1, 1, 12, tzinfo=UTC),
                    "stop_date": datetime(2024, 1, 1, 13, tzinfo=timezone(timedelta(hours=2))),
                },
            ),
            ("limit_zero", {"limit": 0}),
            ("limit_negative", {"limit": -3}),
            ("limit_not_int", {"limit": "10"}),
            ("limit_bool", {"limit": True}),
            ("sortby_with_space", {"sortby": "created desc"}),
            ("sortby_two_signs", {"sortby": "+-created"}),
            ("sortby_empty", {"sortby": ""}),
            ("start_not_a_date", {"start_date": "yesterday-ish"}),
            ("start_wrong_type", {"start_date": 12345}),
        ],
    )
    def test_bad_search_input_sends_nothing(
        self, station_client: Any, station_sim: Any, case: str, kwargs: dict[str, Any]
    ) -> None:
        self.require(Capability.SEARCH)
        args: dict[str, Any] = {
            "start_date": datetime(2024, 1, 1),
            "stop_date": datetime(2024, 1, 2),
            **kwargs,
        }
        with pytest.raises(InvalidInputError):
            station_client.search_stations(**args)
        assert station_sim.requests == [], f"{case}: a request was sent for bad input"

    # -- staging ----------------------------------------------------------------------------

    @pytest.mark.parametrize("name", ["", "   ", None])
    def test_bad_filename_sends_nothing(
        self, station_client: Any, station_sim: Any, name: Any
    ) -> None:
        self.require(Capability.STAGING)
        with pytest.raises(InvalidInputError):
            station_client.staging(name)
        with pytest.raises(InvalidInputError):
            station_client.staging_status(name)
        assert station_sim.requests == []

    def test_staging_then_status_until_done(self, kit_target: KitTarget) -> None:
        self.require(Capability.STAGING)
        client = kit_target.client
        name = self.search_all(client, limit=1)[0].id
        client.staging(name)
        deadline = time.monotonic() + self.staging_deadline
        status = client.staging_status(name)
        while status is not EDownloadStatus.DONE and time.monotonic() < deadline:
            assert status in (EDownloadStatus.NOT_STARTED, EDownloadStatus.IN_PROGRESS), status
            time.sleep(0.05)
            status = client.staging_status(name)
        assert status is EDownloadStatus.DONE
        info = client.staging_info(name)
        assert isinstance(info, StagingStatus)
        assert info.name == name and info.status is EDownloadStatus.DONE
        assert info.download_start is None or info.download_start.tzinfo is not None
        if self.staging_path:
            sent = kit_target.requests_to(self.path("staging_path"))
            assert [r.query.get("name") for r in sent] == [[name]]
        if self.status_path:
            sent = kit_target.requests_to(self.path("status_path"))
            assert sent and all(r.query.get("name") == [name] for r in sent)

    def test_stage_and_wait_resumes(self, station_client: Any, station_sim: Any) -> None:
        self.require(Capability.STAGING)
        items = list(self.search_all(station_client, limit=2))
        report = station_client.stage_and_wait(items, poll_interval=0.05, timeout=20)
        assert report.ok, report.summary()
        again = station_client.stage_and_wait(items, poll_interval=0.05, timeout=20)
        assert again.ok
        assert all(o.already_done and not o.staged for o in again.outcomes.values())

    def test_unknown_file_status_is_not_found(self, station_client: Any) -> None:
        self.require(Capability.STAGING)
        with pytest.raises(NotFoundError) as info:
            station_client.staging_status(_MISSING_FILE)
        assert info.value.status == 404

    def test_unknown_file_staging_is_refused(self, station_client: Any, station_sim: Any) -> None:
        self.require(Capability.STAGING)
        with pytest.raises(StagingError) as info:
            station_client.staging(_MISSING_FILE)
        assert _MISSING_FILE in str(info.value)
        assert isinstance(info.value.__cause__, HttpError), "chain from the HTTP error"
        staged = [r for r in station_sim.requests if r.query.get("name") == [_MISSING_FILE]]
        assert len(staged) == 1, "a refused staging request must not be retried"

    # -- errors -----------------------------------------------------------------------------

    def test_wrong_key_is_authentication_error(self, station_sim: Any) -> None:
        self.require(Capability.SEARCH)
        secret = "kit-wrong-key-SECRET-77"
        client = self.make_client(station_sim.url, secret)
        with pytest.raises(AuthenticationError) as info:
            self.search_all(client)
        assert info.value.status in (401, 403)
        assert secret not in str(info.value) and secret not in repr(info.value)

    def test_server_error_after_retries(self, station_client: Any, station_sim: Any) -> None:
        self.require(Capability.SEARCH)
        from rs_core.testing.simulator import Fault

        path = self.path("search_path")
        station_sim.add_fault(Fault(path=path, kind="status", status=503, times=self.attempts))
        with pytest.raises(ServerError) as info:
            self.search_all(station_client)
        assert info.value.status == 503
        assert len([r for r in station_sim.requests if r.path == path]) == self.attempts

    def test_rate_limited_then_success(self, station_client: Any, station_sim: Any) -> None:
        self.require(Capability.SEARCH)
        from rs_core.testing.simulator import Fault

        path = self.path("search_path")
        station_sim.add_fault(Fault(path=path, kind="rate_limit", times=1, retry_after=0.05))
        assert len(self.search_all(station_client)) >= 1
        assert len([r for r in station_sim.requests if r.path == path]) == 2

    def test_persistent_rate_limit(self, station_client: Any, station_sim: Any) -> None:
        self.require(Capability.SEARCH)
        from rs_core.testing.simulator import Fault

        path = self.path("search_path")
        station_sim.add_fault(
            Fault(path=path, kind="rate_limit", times=self.attempts, retry_after=0.01)
        )
        with pytest.raises(RateLimitedError) as info:
            self.search_all(station_client)
        assert info.value.status == 429

    def test_hanging_server_times_out(self, station_client: Any, station_sim: Any) -> None:
        self.require(Capability.SEARCH)
        from rs_core.testing.simulator import Fault

        path = self.path("search_path")
        station_sim.add_fault(Fault(path=path, kind="hang", times=1, delay=5.0))
        started = time.monotonic()
        with pytest.raises(RsTimeoutError):
            self.search_all(station_client, timeout=0.3)
        assert time.monotonic() - started < self.timeout_bound

    def test_garbage_answer_is_bad_response(self, station_client: Any, station_sim: Any) -> None:
        self.require(Capability.SEARCH)
        from rs_core.testing.simulator import Fault

        path = self.path("search_path")
        station_sim.add_fault(Fault(path=path, kind="nonjson", times=1))
        with pytest.raises(BadResponseError):
            self.search_all(station_client)
        station_sim.add_fault(Fault(path=path, kind="wrong_shape", times=1))
        with pytest.raises(BadResponseError):
            self.search_all(station_client)

    def test_status_network_failure_raises(self, station_client: Any, station_sim: Any) -> None:
        self.require(Capability.STAGING)
        from rs_core.testing.simulator import Fault

        path = self.path("status_path")
        name = self.search_all(station_client, limit=1)[0].id
        station_sim.add_fault(Fault(path=path, kind="reset", times=self.attempts))
        with pytest.raises(RsConnectionError):
            station_client.staging_status(name)

    # -- sessions ---------------------------------------------------------------------------

    def session_client(self, station_sim: Any) -> Any:
        """A cluster-mode client at :attr:`session_station` (or :attr:`station`)."""
        return self.make_client(station_sim.url, KIT_API_KEY, station=self.session_station)

    def test_search_sessions(self, station_sim: Any) -> None:
        self.require(Capability.SESSIONS)
        client = self.session_client(station_sim)
        found = client.search_sessions(start_date=self.search_start, stop_date=self.search_stop)
        assert isinstance(found, pystac.ItemCollection)
        assert len(found) >= 1
        for session in found:
            assert isinstance(session.assets, dict)
            for key, asset in session.assets.items():
                assert isinstance(key, str) and key
                assert isinstance(asset, pystac.Asset)
        if self.session_path:
            path = self.path("session_path", client.station_name)
            sent = [r for r in station_sim.requests if r.path == path]
            assert len(sent) == 1
            assert sent[0].query.get("start_date") == [self.search_start.strftime(WIRE)]
            assert sent[0].query.get("stop_date") == [self.search_stop.strftime(WIRE)]

    def test_search_sessions_needs_criteria(self, station_sim: Any) -> None:
        self.require(Capability.SESSIONS)
        client = self.session_client(station_sim)
        with pytest.raises(InvalidInputError):
            client.search_sessions()
        with pytest.raises(InvalidInputError):
            client.search_sessions(start_date=self.search_start)
        with pytest.raises(InvalidInputError):
            client.search_sessions(platforms=["NOT_A_PLATFORM"])
        assert station_sim.requests == []

    def test_search_files_by_session(self, station_client: Any, station_sim: Any) -> None:
        self.require(Capability.SEARCH_BY_SESSION)
        self.require(Capability.SESSIONS)
        sessions = self.session_client(station_sim).search_sessions(
            start_date=self.search_start, stop_date=self.search_stop
        )
        session = next((s for s in sessions if s.assets), None)
        if session is None:
            pytest.skip("no session with files in the kit's time range")
        found = station_client.search_stations(session_id=session.id)
        assert len(found) >= 1
        assert {i.id for i in found} <= set(session.assets)
        if self.search_path:
            path = self.path("search_path")
            sent = [r for r in station_sim.requests if r.path == path]
            assert sent[-1].query.get("session_id") == [session.id]
