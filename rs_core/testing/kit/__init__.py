"""The rs-core plugin test kit: contract test classes a plugin's test suite subclasses.

>>> from rs_core.testing.kit.station import StationContract   # doctest: +SKIP

See :mod:`rs_core.testing.kit.station` and :mod:`rs_core.testing.pytest_plugin`.
"""
