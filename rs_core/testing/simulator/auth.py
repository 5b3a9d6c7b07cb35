"""API keys and roles of the simulated RS-Server (cluster mode).

Station roles are RS-Server's ``rs_<service>[_<station>]_read|download``, compared
case-insensitively; each plugin's fake station declares its own (``FakeStation.roles``) and a
:meth:`ApiKey.full_access` key holds those of every installed fake.

Catalog roles (the simulator's choice, close to rs-server-catalog's): a user always reads and
writes the collections it owns (``owner == user_login``). Another owner's collection needs
``rs_catalog_<owner>:<collection>_read`` to read it and ``rs_catalog_<owner>:<collection>_write``
to change it or its items; ``<collection>`` may be ``*`` for all of that owner's collections.

Example:
    >>> key = ApiKey("alice", ["rs_things_read"])
    >>> key.has_role("RS_THINGS_READ"), key.has_station_role("rs_things_download")
    (True, False)
    >>> ApiKey.full_access("alice").has_station_role("rs_things_download")
    True
"""

from __future__ import annotations

import re
from typing import Any

from attrs import field, frozen

__all__ = ["ApiKey", "catalog_role", "station_role"]


def _roles(value: Any) -> tuple[str, ...]:
    return tuple(str(role) for role in value)


@frozen
class ApiKey:
    """What the API-key manager knows about one key.

    Example:
        >>> ApiKey(user_login="alice", iam_roles=["rs_adgs_read"]).iam_roles
        ('rs_adgs_read',)
    """

    user_login: str
    iam_roles: tuple[str, ...] = field(factory=tuple, converter=_roles)
    config: dict[str, Any] = field(factory=dict, eq=False, hash=False)
    all_stations: bool = False

    @classmethod
    def full_access(cls, user_login: str = "rsuser") -> ApiKey:
        """A key with every station role (read and download; the roles of plugins' fakes too,
        see :meth:`has_station_role`); catalog access to its own collections.

        >>> ApiKey.full_access().all_stations
        True
        """
        from .fakes import installed_fakes

        roles = [role for fake in installed_fakes() for role in fake.roles]
        return cls(user_login=user_login, iam_roles=roles, all_stations=True)

    def has_role(self, role: str) -> bool:
        """Whether the key holds ``role`` (case-insensitive)."""
        wanted = role.upper()
        return any(held.upper() == wanted for held in self.iam_roles)

    def has_station_role(self, role: str) -> bool:
        """Whether the key may use a station with ``role``: it holds the role, or it is a
        :meth:`full_access` key (every station role, plugins' fakes included).

        >>> ApiKey.full_access().has_station_role("rs_edrs_read")
        True
        """
        return self.all_stations or self.has_role(role)

    def can_access_collection(self, owner: str, collection: str, access: str) -> bool:
        """Catalog rule: own collections always; others need ``rs_catalog_<owner>:<coll>_<access>``
        (or ``<owner>:*``) where ``access`` is ``read`` or ``write``.

        >>> ApiKey("bob", ["rs_catalog_alice:*_read"]).can_access_collection("alice", "s1", "read")
        True
        """
        if owner in (self.user_login, re.sub(r"[^a-zA-Z0-9]+", "", self.user_login)):
            return True  # clients send the login with non-alphanumerics removed as owner id
        return self.has_role(catalog_role(owner, collection, access)) or self.has_role(
            catalog_role(owner, "*", access)
        )

    def to_json(self) -> dict[str, Any]:
        """The API-key manager's answer for this key."""
        return {
            "iam_roles": list(self.iam_roles),
            "config": dict(self.config),
            "user_login": self.user_login,
        }


def station_role(kind: str, station: str, access: str) -> str:
    """The role a station call needs: ``rs_<kind>_<station>_<access>`` (station lower case),
    or ``rs_<kind>_<access>`` when the station is the kind itself.

    >>> station_role("things", "MAIN", "read")
    'rs_things_main_read'
    >>> station_role("things", "things", "download")
    'rs_things_download'
    """
    if station.lower() == kind.lower():
        return f"rs_{kind}_{access}"
    return f"rs_{kind}_{station.lower()}_{access}"


def __getattr__(name: str) -> object:
    """``CADIP_STATIONS`` moved to the CADIP plugin's fake (a deprecated alias)."""
    if name == "CADIP_STATIONS":
        import warnings

        warnings.warn(
            "rs_core.testing.simulator.auth.CADIP_STATIONS is deprecated: use "
            "rs_cadip.fake.CADIP_STATIONS (the CADIP plugin's fake station)",
            DeprecationWarning,
            stacklevel=2,
        )
        import importlib

        return importlib.import_module("rs_cadip.fake").CADIP_STATIONS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def catalog_role(owner: str, collection: str, access: str) -> str:
    """The role to reach another owner's collection.

    >>> catalog_role("alice", "s1_aux", "write")
    'rs_catalog_alice:s1_aux_write'
    """
    return f"rs_catalog_{owner}:{collection}_{access}"
