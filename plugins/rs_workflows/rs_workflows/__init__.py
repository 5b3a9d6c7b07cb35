"""rs-workflows: Prefect 3 flows built on rs-client.

Four flows, for any installed station plugin: ``stage-sessions``, ``stage-products``,
``publish-staged``, ``check-collection`` (in :mod:`rs_workflows.flows`; importing that module
imports Prefect). The ``rs workflow`` command runs them here, serves them, or deploys them on
a Prefect server with workers::

    from rs_workflows.flows import stage_sessions

    report = stage_sessions(station="MTI", since="2d", collection="s1_cadu")
    print(report["summary"])
"""

from __future__ import annotations

__version__ = "0.1.0"
