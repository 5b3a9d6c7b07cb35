"""How a station plugin brings its own fake station to the simulator and the test kit.

A station plugin declares a :class:`FakeStation` in its record (``StationType(...,
fake="my_plugin.fake:FAKE")``); the simulator imports it when it starts (never at ``rs``
start-up) and serves it next to every other installed plugin's fake. A fake is a dataset plus
declarations: it builds its routes from the building blocks (:class:`~.stations.V1Station`
for RS-Server v1's station conventions, :class:`~.v2_stations.StacService` for a STAC station
service of RS-Server 0.2/1.0), which check the kit's rules on the dataset
(:func:`check_dataset`).

The rules a fake must follow (the station test kit relies on them; a broken rule fails with
:class:`FakeRuleError` naming it):

``dataset-in-range``
    at least 3 items whose ``created`` is in 2000-01-01..2100-01-01 (the kit's search range);
``dataset-empty-day``
    no item ``created`` on 1990-01-01 (the kit's empty range);
``created-sortable``
    every item has an RFC 3339 ``created`` property (the kit sorts on it);
``unique-ids``
    item ids are unique;
``v1-staging-refused``
    v1: staging a name no search returned answers 503 ``{"started": "false"}``;
``v1-status-unknown``
    v1: the status of a name never staged answers 404 ``{"detail": ...}``;
``v1-status-times``
    v1: status times are UTC ``%Y-%m-%dT%H:%M:%S.%f`` (``download_start``, ``download_stop``).

The last three are what :class:`~.stations.V1Station` does; a fake written without the blocks
must do the same.

Example:
    >>> check_dataset([{"id": "a", "properties": {"created": "1990-01-01T10:00:00Z"}}], "x")
    Traceback (most recent call last):
    ...
    rs_core.testing.simulator.fakes.FakeRuleError: fake 'x' breaks rule dataset-empty-day: ...
"""

from __future__ import annotations

import functools
import json
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from importlib import resources
from typing import TYPE_CHECKING, Any, Protocol

from attrs import field, frozen

from .messages import RecordedRequest, Response

if TYPE_CHECKING:
    from .auth import ApiKey
    from .dataset import Dataset
    from .stations import StagingJobs
    from .v2_stations import StacService

__all__ = [
    "FAKE_RULES",
    "FakeContext",
    "FakeRuleError",
    "FakeStation",
    "StationFakeRoutes",
    "check_dataset",
    "installed_fakes",
]

FAKE_RULES = {
    "dataset-in-range": "at least 3 items created in 2000-01-01..2100-01-01",
    "dataset-empty-day": "no item created on 1990-01-01",
    "created-sortable": "every item has an RFC 3339 'created' property",
    "unique-ids": "item ids are unique",
    "v1-staging-refused": 'v1: staging a name no search returned answers 503 {"started": "false"}',
    "v1-status-unknown": "v1: the status of a name never staged answers 404",
    "v1-status-times": "v1: status times are UTC %Y-%m-%dT%H:%M:%S.%f",
}
"""The kit's rules on a fake, by name (see the module docstring)."""

_RANGE = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
_EMPTY_DAY = (datetime(1990, 1, 1, tzinfo=UTC), datetime(1990, 1, 2, tzinfo=UTC))


class FakeRuleError(ValueError):
    """A fake breaks one of the kit's rules (:data:`FAKE_RULES`); ``rule`` names it."""

    def __init__(self, fake: str, rule: str, detail: str) -> None:
        super().__init__(f"fake {fake!r} breaks rule {rule}: {FAKE_RULES[rule]} ({detail})")
        self.rule = rule


def _created(feature: Mapping[str, Any], fake: str) -> datetime:
    value = (feature.get("properties") or {}).get("created")
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or not isinstance(value, str) or "T" not in value:
        raise FakeRuleError(
            fake, "created-sortable", f"item {feature.get('id')!r} has created={value!r}"
        )
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def check_dataset(features: Iterable[Mapping[str, Any]], fake: str) -> None:
    """Check the kit's dataset rules on a fake's items (STAC feature dicts).

    >>> items = [{"id": str(i), "properties": {"created": f"202{i}-01-01T00:00:00Z"}}
    ...          for i in range(3)]
    >>> check_dataset(items, "mine")
    """
    seen: set[str] = set()
    in_range = 0
    for feature in features:
        item_id = str(feature.get("id"))
        if item_id in seen:
            raise FakeRuleError(fake, "unique-ids", f"{item_id!r} twice")
        seen.add(item_id)
        created = _created(feature, fake)
        if _EMPTY_DAY[0] <= created < _EMPTY_DAY[1]:
            raise FakeRuleError(fake, "dataset-empty-day", f"item {item_id!r}")
        if _RANGE[0] <= created <= _RANGE[1]:
            in_range += 1
    if in_range < 3:
        raise FakeRuleError(fake, "dataset-in-range", f"{in_range} item(s) in range")


class StationFakeRoutes(Protocol):
    """What :attr:`FakeStation.build` returns: the fake's faces (either may be empty).

    ``owns_v1(segments)`` says whether a v1 path is the fake's (``segments`` are the decoded
    path segments; the simulator then checks the API key, 403, before routing);
    ``route_v1(request, segments, principal)`` answers it (None: 404); ``stac_services()``
    are its STAC services.
    """

    def owns_v1(self, segments: list[str]) -> bool:
        """Whether the v1 path ``segments`` is the fake's."""
        ...

    def route_v1(
        self, request: RecordedRequest, segments: list[str], principal: ApiKey | None
    ) -> Response | None:
        """Answer a v1 request, or None when the path is not the fake's."""
        ...

    def stac_services(self) -> Sequence[StacService]:
        """The fake's STAC services (RS-Server 0.2/1.0), served by the v2 simulator."""
        ...


@frozen
class FakeContext:
    """What a fake gets from the simulator that serves it.

    ``dataset`` holds the record lists (a fake reads its own, see :attr:`FakeStation.lists`);
    ``base_url()`` is the simulator's URL once started; ``jobs`` the v1 staging table shared
    by every fake; ``api_version`` the face being served (``"v1"`` or ``"v2"``).
    """

    dataset: Dataset
    base_url: Callable[[], str]
    jobs: StagingJobs
    api_version: str = "v1"


def _str_tuple(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(values)


def _share_dict(values: Mapping[str, float]) -> dict[str, float]:
    return dict(values)


@functools.cache
def _packaged(package: str, name: str) -> tuple[Any, ...]:
    """``<package>/data/<name>.json``, parsed once per process (records are read-only)."""
    file = resources.files(package) / "data" / f"{name}.json"
    content = json.loads(file.read_text("utf-8")) if file.is_file() else []
    return tuple(content["Data"] if isinstance(content, dict) else content)


def _no_synthetic(**_sizes: Any) -> dict[str, list[Any]]:
    return {}


@frozen
class FakeStation:
    """A plugin's fake station: its data and how to build its routes.

    ``kind`` is the station kind it fakes. ``build(context)`` returns the fake's routes (a
    :class:`StationFakeRoutes`, e.g. a :class:`~.stations.V1Station`). ``lists`` names the
    record lists the fake reads from the simulator's :class:`~.dataset.Dataset`;
    ``data_package`` is the package holding their default content as ``data/<list>.json``
    (``{"Data": [...]}`` or a JSON list). ``synthetic(start=, seed=, **sizes)`` generates
    lists of the given sizes for benchmarks; ``sizes`` names them, each with its share of a
    scale ``N`` (``python -m rs_core.testing.simulator --synthetic N``; at least 1).
    ``roles`` are the station roles of the fake, listed in a
    :meth:`~.auth.ApiKey.full_access` key's ``iam_roles`` (the key passes every station's
    role check anyway). ``rs_server_1_roles`` are the same roles as RS-Server 1.0 names them
    (``RS_<SERVICE>_<STATION>_READ|DOWNLOAD`` and the service's ``RS_<SERVICE>_LANDING_PAGE``),
    granted by :func:`~.auth.rs_server_1_roles`.
    """

    kind: str
    build: Callable[[FakeContext], StationFakeRoutes]
    lists: tuple[str, ...] = field(default=(), converter=_str_tuple)
    data_package: str | None = None
    sizes: Mapping[str, float] = field(factory=dict, converter=_share_dict)
    synthetic: Callable[..., Mapping[str, list[Any]]] = _no_synthetic
    roles: tuple[str, ...] = field(default=(), converter=_str_tuple)
    rs_server_1_roles: tuple[str, ...] = field(default=(), converter=_str_tuple)

    def default_lists(self) -> dict[str, list[Any]]:
        """The packaged content of :attr:`lists` (empty lists without a package)."""
        return {
            name: list(_packaged(self.data_package, name)) if self.data_package else []
            for name in self.lists
        }


def installed_fakes() -> list[FakeStation]:
    """The fakes of every installed station plugin that ships one (sorted by kind).

    A fake that cannot be imported is skipped with a warning naming the kind; the others
    are served.
    """
    from rs_core.plugins import get_registry

    fakes: list[FakeStation] = []
    for kind, record in sorted(get_registry().stations.items()):
        try:
            fake = record.load_fake()
        except Exception as err:  # a broken plugin must not take the simulator down
            warnings.warn(
                f"the fake station of plugin kind {kind!r} cannot be loaded: {err!r}",
                RuntimeWarning,
                stacklevel=2,
            )
            continue
        if fake is not None:
            fakes.append(fake)
    return fakes
