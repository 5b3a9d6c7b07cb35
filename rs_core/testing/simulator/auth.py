"""API keys and roles of the simulated RS-Server (cluster mode).

Station roles are RS-Server's: ``rs_adgs_read``, ``rs_adgs_download``,
``rs_cadip_<station>_read``, ``rs_cadip_<station>_download`` (station lower-case: ``cadip``,
``ins``, ``mps``, ``mti``, ``nsg``, ``sgs``), compared case-insensitively.

Catalog roles (the simulator's choice, close to rs-server-catalog's): a user always reads and
writes the collections it owns (``owner == user_login``). Another owner's collection needs
``rs_catalog_<owner>:<collection>_read`` to read it and ``rs_catalog_<owner>:<collection>_write``
to change it or its items; ``<collection>`` may be ``*`` for all of that owner's collections.

Example:
    >>> key = ApiKey.full_access("alice")
    >>> "rs_cadip_mti_download" in key.iam_roles
    True
    >>> key.has_role("RS_ADGS_READ")
    True
"""

from __future__ import annotations

import re
from typing import Any

from attrs import field, frozen

__all__ = ["CADIP_STATIONS", "ApiKey", "catalog_role", "station_role"]

CADIP_STATIONS = ("cadip", "ins", "mps", "mti", "nsg", "sgs")


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

        >>> len(ApiKey.full_access().iam_roles)
        14
        """
        roles = ["rs_adgs_read", "rs_adgs_download"]
        for station in CADIP_STATIONS:
            roles += [
                station_role("cadip", station, "read"),
                station_role("cadip", station, "download"),
            ]
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
    """The role a station call needs.

    >>> station_role("cadip", "MTI", "read")
    'rs_cadip_mti_read'
    >>> station_role("adgs", "adgs", "download")
    'rs_adgs_download'
    """
    if kind == "adgs":
        return f"rs_adgs_{access}"
    return f"rs_cadip_{station.lower()}_{access}"


def catalog_role(owner: str, collection: str, access: str) -> str:
    """The role to reach another owner's collection.

    >>> catalog_role("alice", "s1_aux", "write")
    'rs_catalog_alice:s1_aux_write'
    """
    return f"rs_catalog_{owner}:{collection}_{access}"
