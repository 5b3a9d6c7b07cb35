"""Shared constants and helpers of the reliability tests (a module of its own, with a unique
name: conftest modules are not importable by name when several test folders have one)."""

from __future__ import annotations

from rs_core.http import HttpSettings

API_KEY = "rel-k3y-7c1d0e5f9a2b4c6d8e0f"
"""The API key every reliability test uses; grepped for in everything captured."""

USER = "rel_user"
OWNER = "reluser"

TIMEOUT = 0.5
RETRIES = 2
RETRY_AFTER = 0.3

FAST = HttpSettings(
    timeout=TIMEOUT,
    connect_timeout=TIMEOUT,
    retries=RETRIES,
    backoff_factor=0.01,
    backoff_max=0.05,
)
"""Short read timeout, two retries, tiny backoff: each matrix cell finishes in about a second."""

PATIENT = HttpSettings(timeout=10.0, connect_timeout=5.0, retries=3, backoff_factor=0.01)
"""For tests that are not about time: generous timeouts on a shared, busy machine."""

BOUND = TIMEOUT * (RETRIES + 1) + RETRY_AFTER * (RETRIES + 1) + 0.05 * RETRIES
"""The worst time one request may take under these settings (without margin)."""

MARGIN = 8.0
"""Added to every time bound: the machine is shared and slow at times."""
