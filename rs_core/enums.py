"""The enumerations of the seed API, kept name for name.

>>> EDownloadStatus("DONE") is EDownloadStatus.DONE
True
>>> ECadipStation("MTI").value
'MTI'
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ECadipStation", "EDownloadStatus", "EPlatform"]


class ECadipStation(StrEnum):
    """The CADIP stations RS-Server serves (``CADIP`` is the generic one)."""

    CADIP = "CADIP"
    INS = "INS"  # Inuvik
    MPS = "MPS"  # Maspalomas
    MTI = "MTI"  # Matera
    NSG = "NSG"  # Neustrelitz
    SGS = "SGS"  # Svalbard


class EPlatform(StrEnum):
    """Sentinel platforms a CADIP session can come from."""

    S1A = "S1A"
    S1B = "S1B"
    S1C = "S1C"
    S2A = "S2A"
    S2B = "S2B"
    S2C = "S2C"
    S3A = "S3A"
    S3B = "S3B"


class EDownloadStatus(StrEnum):
    """Where a staging request stands. ``DONE`` and ``FAILED`` are final."""

    NOT_STARTED = "NOT_STARTED"
    IN_PROGRESS = "IN_PROGRESS"
    FAILED = "FAILED"
    DONE = "DONE"

    @property
    def is_final(self) -> bool:
        """True for ``DONE`` and ``FAILED``."""
        return self in (EDownloadStatus.DONE, EDownloadStatus.FAILED)
