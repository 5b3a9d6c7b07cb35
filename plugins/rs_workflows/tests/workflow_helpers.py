"""Helpers of the rs-workflows tests: the API key, recent data, counting staging requests."""

from __future__ import annotations

import json
from typing import Any

from rs_core.testing.simulator import Dataset

KEY = "workflow-secret-key-0123456789"
"""The API key the simulators accept; a test greps Prefect's state for it."""


def recent_dataset(files: int, sessions: int, products: int = 40) -> Dataset:
    """Generated sessions, files and AUX products, the newest published minutes ago (what
    ``rs simulate --recent`` serves, smaller): ``--since 2d`` finds them all."""
    return Dataset.synthetic(n_products=products, n_files=files, n_sessions=sessions).recent()


def staging_requests(simulator: Any) -> dict[str, int]:
    """How many staging requests the simulator received, per file name."""
    counts: dict[str, int] = {}
    for request in simulator.requests:
        names: list[str] = []
        if request.path.startswith("/processes/") and request.method == "POST":
            body = json.loads(request.body or b"{}")
            names = _v2_names(body)
        elif request.method == "GET" and "name" in request.query and _is_v1_stage(request.path):
            names = request.query["name"]
        for name in names:
            counts[name] = counts.get(name, 0) + 1
    return counts


def _is_v1_stage(path: str) -> bool:
    return path.rstrip("/").endswith(("/cadu", "/aux"))


def _v2_names(body: Any) -> list[str]:
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                if key in ("assets", "files") and isinstance(inner, dict):
                    found.extend(inner)
                elif key in ("assets", "files") and isinstance(inner, list):
                    found.extend(x for x in inner if isinstance(x, str))
                else:
                    walk(inner)
        elif isinstance(value, list):
            for inner in value:
                walk(inner)

    walk(body)
    return found
