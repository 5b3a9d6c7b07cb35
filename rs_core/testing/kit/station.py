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
class attributes below.

Both RS-Server generations: ``api_version = "v2"`` runs the same contract against the
simulator's v2 face (STAC stations, OGC staging); the clients are built with the default
``api_version="auto"``, so generation detection is part of the contract.

A live server: set ``live_url_env`` to the name of an env var holding the service URL (e.g.
``RS_TEST_V2_ADGS_URL``; the generic ``RS_KIT_LIVE_URL`` is read when the class names none and
``live = True``). The client then talks to that URL in local mode (no key); tests that need
the simulator (request log, fault injection, API keys) or a staging service skip loudly. When
the variable is unset the class skips, unless ``RS_REQUIRE_RS_SERVER_V2=1`` (then it fails)::

    @pytest.mark.rs_server_v2
    class TestAuxipLive(StationContract):
        kind = "auxip"
        api_version = "v2"
        live_url_env = "RS_TEST_V2_ADGS_URL"
"""

from __future__ import annotations

import os
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

__all__ = ["KIT_LIVE_URL_ENV", "KIT_OWNER", "KitTarget", "StationContract"]

KIT_LIVE_URL_ENV = "RS_KIT_LIVE_URL"
REQUIRE_LIVE_ENV = "RS_REQUIRE_RS_SERVER_V2"

KIT_OWNER = "kitowner"
_PER_GENERATION = (
    "session_station",
    "search_path",
    "staging_path",
    "status_path",
    "session_path",
    "id_search_path",
    "wire_sort_field",
)
WIRE = "%Y-%m-%dT%H:%M:%SZ"
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
_TIMESTAMP_KEYS = ("created", "updated", "published", "expires")
_MISSING_FILE = "rs-kit-no-such-file_0000.bin"


class KitTarget:
    """A client and the simulator it talks to, in one mode (``"cluster"`` or ``"local"``).

    ``sim`` is ``None`` against a live server.
    """

    def __init__(self, mode: str, sim: Any, client: Any, api_key: str | None) -> None:
        self.mode = mode
        self.sim = sim
        self.client = client
        self.api_key = api_key

    def requests_to(self, path: str) -> list[Any]:
        """The recorded requests whose path is ``path`` (skips against a live server)."""
        if self.sim is None:
            pytest.skip("live server: no request log, the wire check is skipped")
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
    ``wire_sort_field``
        The field the server is asked to sort on for ``sort_field`` (default the same; e.g. a
        v2 CADIP file search sorts sessions on ``published``, then the files on ``created``).
    ``api_version``
        ``"v1"`` or ``"v2"``: which face of the simulator the contract runs on; unset (None,
        the default): once per generation the kind's record declares
        (``StationType.generations``), the ``v2_`` attributes (``v2_session_station``,
        ``v2_search_path``, ``v2_staging_path``, ``v2_status_path``, ``v2_session_path``,
        ``v2_id_search_path``, ``v2_wire_sort_field``) replacing the plain ones on v2.
    ``live``, ``live_url_env``
        Run against a live server whose URL is in env ``live_url_env`` (default
        ``RS_KIT_LIVE_URL``); see the module docstring. ``require_live_env`` names the env var
        that turns a missing URL into a failure (default ``RS_REQUIRE_RS_SERVER_V2``).
    ``id_search_path``
        v2: the path of the search by ids (``/<service>/search``); its wire check skips
        without it.
    ``http_settings``
        Client HTTP settings (few retries, tiny backoff: fault tests stay fast).
    """

    kind: ClassVar[str] = ""
    api_version: ClassVar[str | None] = None
    live: ClassVar[bool] = False
    live_url_env: ClassVar[str | None] = None
    require_live_env: ClassVar[str] = REQUIRE_LIVE_ENV
    id_search_path: ClassVar[str | None] = None
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
    wire_sort_field: ClassVar[str | None] = None
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
        name = station or self.station_id()
        return str(value).format(station=name, station_lower=name.lower())

    @property
    def is_v2(self) -> bool:
        """The contract runs against an RS-Server v2 face."""
        return self.api_version == "v2"

    def kit_generations(self) -> list[str]:
        """The generations this class runs: :attr:`api_version` when set, else every
        generation the kind's record declares (``StationType.generations``)."""
        if self.api_version is not None:
            return [self.api_version]
        try:
            declared = sorted(get_registry().station_type(self.kind).generations)
        except Exception:  # not installed: test_kind_is_registered says so
            return ["v1"]
        return declared or ["v1"]

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        """Run every test once per generation of :meth:`kit_generations` (test ids get
        ``[v1]``/``[v2]`` only when there are several)."""
        generations = self.kit_generations()
        if "kit_generation" in metafunc.fixturenames and len(generations) > 1:
            metafunc.parametrize("kit_generation", generations, indirect=True, ids=generations)

    @pytest.fixture(autouse=True)
    def kit_generation(self, request: pytest.FixtureRequest) -> str:
        """The generation of this run; a ``v2_<attribute>`` class attribute replaces
        ``<attribute>`` on v2 (``v2_search_path``...)."""
        generation = str(getattr(request, "param", None) or self.kit_generations()[0])
        if type(self).api_version is None:
            self.api_version = generation  # type: ignore[misc]
            if generation == "v2":
                for name in _PER_GENERATION:
                    setattr(self, name, getattr(self, f"v2_{name}", None))
        return generation

    @property
    def is_live(self) -> bool:
        """The contract runs against a live server."""
        return self.live or self.live_url_env is not None

    def live_url(self) -> str:
        """The live server's URL; skip (or fail with ``RS_REQUIRE_RS_SERVER_V2=1``) if unset."""
        env = self.live_url_env or KIT_LIVE_URL_ENV
        url = os.environ.get(env, "").strip().rstrip("/")
        if not url:
            message = f"{env} is not set: the live-server contract of {self.kind!r} is skipped"
            if os.environ.get(self.require_live_env) == "1":
                pytest.fail(f"{message}, but {self.require_live_env}=1 requires it", pytrace=False)
            pytest.skip(message)
        return url

    def require_staging_service(self) -> None:
        """Skip (loudly) against a live server: the kit stages only on the simulator."""
        if self.is_live:
            pytest.skip(
                "live server: staging is not checked (no real staging service here; "
                "RS-Server 0.2's staging does not install) - checked on the simulator"
            )

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

    def _sim_fixture(self, local: bool = False) -> str:
        name = "rs_local_simulator" if local else "rs_simulator"
        return f"{name}_v2" if self.is_v2 else name

    @pytest.fixture
    def station_sim(self, request: pytest.FixtureRequest) -> Any:
        """The cluster-mode simulator, with no recorded request yet (skips when live)."""
        if self.is_live:
            self.live_url()
            pytest.skip("live server: this test needs the simulator (request log, faults, keys)")
        return request.getfixturevalue(self._sim_fixture())

    def _live_client(self, monkeypatch: pytest.MonkeyPatch, station: str | None = None) -> Any:
        url = self.live_url()
        monkeypatch.setenv(self._env_var(), url)
        monkeypatch.delenv("RSPY_APIKEY", raising=False)
        return self.make_client(None, None, station=station)

    @pytest.fixture
    def station_client(
        self, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
    ) -> Iterator[Any]:
        """A client of :attr:`kind` at :attr:`station` (built via discovery): cluster mode on
        the simulator, local mode on a live server."""
        if self.is_live:
            client = self._live_client(monkeypatch)
        else:
            sim = request.getfixturevalue("station_sim")
            monkeypatch.delenv(self._env_var(), raising=False)
            monkeypatch.delenv("RSPY_APIKEY", raising=False)
            client = self.make_client(sim.url, KIT_API_KEY)
        yield client
        client.close()

    @pytest.fixture
    def session_client(
        self, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
    ) -> Iterator[Any]:
        """A client at :attr:`session_station` (or :attr:`station`)."""
        if self.is_live:
            client = self._live_client(monkeypatch, station=self.session_station)
        else:
            sim = request.getfixturevalue("station_sim")
            client = self.make_client(sim.url, KIT_API_KEY, station=self.session_station)
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
        if self.is_live:
            if request.param == "cluster":
                self.live_url()
                pytest.skip("live server: local mode only (no API key)")
            target = KitTarget("local", None, self._live_client(monkeypatch), None)
        elif request.param == "cluster":
            monkeypatch.delenv(env, raising=False)
            sim = request.getfixturevalue(self._sim_fixture())
            target = KitTarget("cluster", sim, self.make_client(sim.url, KIT_API_KEY), KIT_API_KEY)
        else:
            sim = request.getfixturevalue(self._sim_fixture(local=True))
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

    def test_iter_stations_equals_the_search(self, kit_target: KitTarget) -> None:
        """``iter_stations`` (the base class's, or the plugin's streaming one) yields the
        items ``search_stations`` returns, in the same order, and is an iterator."""
        self.require(Capability.SEARCH)
        client = kit_target.client
        held = [item.to_dict() for item in self.search_all(client)]
        streamed = client.iter_stations(self.search_start, self.search_stop)
        assert iter(streamed) is streamed, "iter_stations returns an iterator"
        assert [item.to_dict() for item in streamed] == held
        capped = client.iter_stations(self.search_start, self.search_stop, limit=1)
        assert [item.to_dict() for item in capped] == held[:1]

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
        assert request.query.get("sortby") == [f"-{self.wire_sort_field or self.sort_field}"]
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
        self.require_staging_service()
        client = kit_target.client
        name = self.search_all(client, limit=1)[0].id
        kit_target.sim.clear_requests()
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
        if self.is_v2:
            self._check_v2_staging_wire(kit_target, client, name)
            return
        if self.staging_path:
            sent = kit_target.requests_to(self.path("staging_path"))
            assert [r.query.get("name") for r in sent] == [[name]]
        if self.status_path:
            sent = kit_target.requests_to(self.path("status_path"))
            assert sent and all(r.query.get("name") == [name] for r in sent)

    def _check_v2_staging_wire(self, kit_target: KitTarget, client: Any, name: str) -> None:
        """One ``POST`` execution naming the target collection and the item holding ``name``;
        status by ``GET <status_path>/<job id>``."""
        if self.staging_path:
            sent = kit_target.requests_to(self.path("staging_path"))
            assert [r.method for r in sent] == ["POST"], "one staging job for one file"
            inputs = sent[0].json()["inputs"]
            assert inputs["collection"] == client.default_collection
            features = inputs["items"]["value"]["features"]
            assert len(features) == 1, "the one item holding the file"
        job = client.staging_job(name)
        assert job is not None and job.final and name in job.files
        if self.status_path:
            path = f"{self.path('status_path')}/{job.job_id}"
            sent = [r for r in kit_target.sim.requests if r.path == path]
            assert sent and all(r.method == "GET" for r in sent)

    def test_stage_and_wait_resumes(self, station_client: Any, station_sim: Any) -> None:
        self.require(Capability.STAGING)
        self.require_staging_service()
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
        if self.is_v2:
            assert _MISSING_FILE in str(info.value)  # v2: no job holds it (no request)
        else:
            assert info.value.status == 404

    def test_unknown_file_staging_is_refused(self, station_client: Any, station_sim: Any) -> None:
        self.require(Capability.STAGING)
        with pytest.raises(StagingError) as info:
            station_client.staging(_MISSING_FILE)
        assert _MISSING_FILE in str(info.value)
        if self.is_v2:
            assert "[RS-Server v2]" in str(info.value)
            assert not [r for r in station_sim.requests if r.method == "POST"], (
                "v2: a file no search returned is refused before any staging job"
            )
            return
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
        if self.is_v2:
            station_client.staging(name)  # v2: a status is a job's; make one first
        station_sim.add_fault(Fault(path=path, kind="reset", times=self.attempts))
        with pytest.raises(RsConnectionError):
            station_client.staging_status(name)

    # -- sessions ---------------------------------------------------------------------------

    def _log(self, request: pytest.FixtureRequest) -> Any:
        return None if self.is_live else request.getfixturevalue("station_sim")

    def test_search_sessions(self, session_client: Any, request: pytest.FixtureRequest) -> None:
        self.require(Capability.SESSIONS)
        client = session_client
        station_sim = self._log(request)
        found = client.search_sessions(start_date=self.search_start, stop_date=self.search_stop)
        assert isinstance(found, pystac.ItemCollection)
        assert len(found) >= 1
        for session in found:
            assert isinstance(session.assets, dict)
            for key, asset in session.assets.items():
                assert isinstance(key, str) and key
                assert isinstance(asset, pystac.Asset)
        if self.session_path and station_sim is not None:
            path = self.path("session_path", client.station_name)
            sent = [r for r in station_sim.requests if r.path == path]
            assert len(sent) == 1
            start, stop = self.search_start.strftime(WIRE), self.search_stop.strftime(WIRE)
            if self.is_v2:
                assert sent[0].query.get("datetime") == [f"{start}/{stop}"]
            else:
                assert sent[0].query.get("start_date") == [start]
                assert sent[0].query.get("stop_date") == [stop]

    def test_search_sessions_needs_criteria(self, session_client: Any, station_sim: Any) -> None:
        self.require(Capability.SESSIONS)
        client = session_client
        with pytest.raises(InvalidInputError):
            client.search_sessions()
        with pytest.raises(InvalidInputError):
            client.search_sessions(start_date=self.search_start)
        with pytest.raises(InvalidInputError):
            client.search_sessions(platforms=["NOT_A_PLATFORM"])
        assert station_sim.requests == []

    def test_search_files_by_session(
        self, station_client: Any, session_client: Any, request: pytest.FixtureRequest
    ) -> None:
        self.require(Capability.SEARCH_BY_SESSION)
        self.require(Capability.SESSIONS)
        station_sim = self._log(request)
        sessions = session_client.search_sessions(
            start_date=self.search_start, stop_date=self.search_stop
        )
        session = next((s for s in sessions if s.assets), None)
        if session is None:
            pytest.skip("no session with files in the kit's time range")
        found = station_client.search_stations(session_id=session.id)
        assert len(found) >= 1
        assert {i.id for i in found} <= set(session.assets)
        if station_sim is None:
            return
        if self.is_v2:
            if self.id_search_path:
                path = self.path("id_search_path")
                sent = [r for r in station_sim.requests if r.path == path]
                assert sent and sent[-1].query.get("ids") == [session.id]
            return
        if self.search_path:
            path = self.path("search_path")
            sent = [r for r in station_sim.requests if r.path == path]
            assert sent[-1].query.get("session_id") == [session.id]
