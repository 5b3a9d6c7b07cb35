"""RS-Server's IAM roles: what each one lets you do, and the role a call needs.

RS-Server (1.0) checks these roles, compared case-insensitively:

===================================================  ==========================================
role                                                 allows
===================================================  ==========================================
``RS_<SERVICE>_<STATION>_READ``                      search that station's data
``RS_<SERVICE>_<STATION>_DOWNLOAD``                  stage (download) that station's data
``RS_<SERVICE>_LANDING_PAGE``                        the service's landing page and collections
``RS_PROCESSES_STAGING_READ|EXECUTE|DISMISS``        see, run and cancel staging jobs
``RS_PROCESSES_STAGING_DOWNLOAD_<STATION>``          let staging fetch from that station
``<owner>_<collection>_<read|write|download>``       another owner's catalog collection (``*``:
                                                     all of that owner's collections)
===================================================  ==========================================

v1 servers used lower-case forms without a station for ADGS (``rs_adgs_read``) and
``rs_cadip_<station>_read``; the same parser reads them. The functions here know no station
or service name: plugins pass theirs (``"cadip"``, ``"MTI"``).

>>> station_role("cadip", "MTI", "read")
'RS_CADIP_MTI_READ'
>>> explain_role("RS_CADIP_MTI_DOWNLOAD").allows
'stage (download) data of cadip station mti'
>>> has_role(["alice_*_read"], catalog_role("alice", "s1_l0", "read"))
True
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from attrs import frozen

__all__ = [
    "CATALOG_ACTIONS",
    "RoleGrant",
    "catalog_role",
    "explain_role",
    "explain_roles",
    "has_role",
    "landing_page_role",
    "staging_role",
    "station_role",
]

CATALOG_ACTIONS = ("read", "write", "download")
_STAGING = re.compile(r"^rs_processes_staging_(read|execute|dismiss)$", re.I)
_STAGING_DOWNLOAD = re.compile(r"^rs_processes_staging_download_(\w+)$", re.I)
_LANDING = re.compile(r"^rs_([a-z0-9]+)_landing_page$", re.I)
_STATION = re.compile(r"^rs_([a-z0-9]+)_(?:([a-z0-9_]+)_)?(read|download)$", re.I)
_CATALOG = re.compile(r"^(?:rs_catalog_)?([^_:]+)[_:](.+)_(read|write|download)$", re.I)


def station_role(service: str, station: str | None, access: str) -> str:
    """The role a station call needs: ``access`` is ``read`` (search) or ``download`` (stage).

    >>> station_role("auxip", "adgs", "download")
    'RS_AUXIP_ADGS_DOWNLOAD'
    >>> station_role("adgs", None, "read")   # v1's station-less form
    'RS_ADGS_READ'
    """
    parts = ["rs", service] + ([station] if station else []) + [access]
    return "_".join(parts).upper()


def landing_page_role(service: str) -> str:
    """The role for a service's landing page and collection list.

    >>> landing_page_role("cadip")
    'RS_CADIP_LANDING_PAGE'
    """
    return f"RS_{service}_LANDING_PAGE".upper()


def staging_role(action: str) -> str:
    """The role for a staging-process call: ``read``, ``execute`` or ``dismiss``.

    >>> staging_role("execute")
    'RS_PROCESSES_STAGING_EXECUTE'
    """
    return f"RS_PROCESSES_STAGING_{action}".upper()


def catalog_role(owner: str, collection: str, action: str) -> str:
    """The role to reach another owner's catalog collection (``action``: read/write/download).

    >>> catalog_role("alice", "s1_aux", "write")
    'alice_s1_aux_write'
    """
    return f"{owner}_{collection}_{action}"


def has_role(held: Iterable[str], required: str) -> bool:
    """Whether the roles ``held`` include ``required`` (case-insensitive; ``*`` as a catalog
    collection matches every collection of that owner).

    >>> has_role(["rs_cadip_mti_read"], "RS_CADIP_MTI_READ")
    True
    >>> has_role(["bob_*_read"], "alice_s1_read")
    False
    """
    wanted = required.upper()
    grant = explain_role(required)
    for role in held:
        if role.upper() == wanted:
            return True
        if grant.area == "catalog" and "*" in role:
            mine = explain_role(role)
            if (
                mine.area == "catalog"
                and mine.station == "*"
                and (mine.service or "").upper() == (grant.service or "").upper()
                and mine.action == grant.action
            ):
                return True
    return False


@frozen
class RoleGrant:
    """One role explained.

    ``area`` is ``station``, ``landing page``, ``staging``, ``catalog`` or ``other``;
    ``service`` the station service (or, for a catalog role, the owner); ``station`` the
    station (or the catalog collection, ``*`` for all); ``action`` what it permits.
    """

    role: str
    area: str
    service: str | None
    station: str | None
    action: str | None
    allows: str

    def to_dict(self) -> dict[str, str | None]:
        """A plain dict (JSON output)."""
        return {
            "role": self.role,
            "area": self.area,
            "service": self.service,
            "station": self.station,
            "action": self.action,
            "allows": self.allows,
        }


_STAGING_ALLOWS = {
    "read": "see staging processes and jobs",
    "execute": "start staging jobs",
    "dismiss": "cancel and delete staging jobs",
}


def explain_role(role: str) -> RoleGrant:
    """What one role lets its holder do.

    >>> explain_role("RS_PROCESSES_STAGING_EXECUTE").allows
    'start staging jobs'
    >>> explain_role("alice_*_write").allows
    "write (create, update, delete) in every collection of owner 'alice'"
    >>> explain_role("offline_access").area
    'other'
    """
    text = role.strip()
    found = _STAGING.match(text)
    if found:
        action = found.group(1).lower()
        return RoleGrant(role, "staging", "processes", None, action, _STAGING_ALLOWS[action])
    found = _STAGING_DOWNLOAD.match(text)
    if found:
        station = found.group(1).lower()
        return RoleGrant(
            role,
            "staging",
            "processes",
            station,
            "staging_download",
            f"let staging jobs fetch files from station {station}",
        )
    found = _LANDING.match(text)
    if found:
        service = found.group(1).lower()
        return RoleGrant(
            role,
            "landing page",
            service,
            None,
            "landing_page",
            f"open the {service} landing page and list its collections",
        )
    found = _STATION.match(text)
    if found and found.group(1).lower() not in ("catalog", "processes"):
        service = found.group(1).lower()
        station = (found.group(2) or "").lower() or None
        action = found.group(3).lower()
        where = f"{service} station {station}" if station else f"the {service} service"
        verb = "search" if action == "read" else "stage (download)"
        return RoleGrant(role, "station", service, station, action, f"{verb} data of {where}")
    found = _CATALOG.match(text)
    if found:
        owner, collection, action = found.group(1), found.group(2), found.group(3).lower()
        what = (
            f"every collection of owner {owner!r}"
            if collection == "*"
            else f"collection {collection!r} of owner {owner!r}"
        )
        verb = {
            "read": "read",
            "write": "write (create, update, delete) in",
            "download": "download the assets of",
        }[action]
        return RoleGrant(role, "catalog", owner, collection, action, f"{verb} {what}")
    return RoleGrant(role, "other", None, None, None, "not an RS-Server role rs-client knows")


def explain_roles(roles: Iterable[str]) -> list[RoleGrant]:
    """:func:`explain_role` for each role, sorted by area then role.

    >>> " / ".join(g.area for g in explain_roles(["x", "RS_CADIP_LANDING_PAGE"]))
    'landing page / other'
    """
    order = {"station": 0, "landing page": 1, "staging": 2, "catalog": 3, "other": 4}
    grants = [explain_role(r) for r in roles]
    return sorted(grants, key=lambda g: (order[g.area], g.role.upper()))
