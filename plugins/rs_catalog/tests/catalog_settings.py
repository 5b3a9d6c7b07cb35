"""Constants shared by the rs-plugin-catalog tests (a module of its own: conftest is not
importable by name when several test folders each have one)."""

from __future__ import annotations

from rs_core.http import HttpSettings

API_KEY = "rs-catalog-test-key-0123456789abcdef"
OWNER = "kitowner"
FAST = HttpSettings(
    timeout=10.0, connect_timeout=2.0, retries=2, backoff_factor=0.01, backoff_max=0.05
)
