"""rs-plugin-prip: a PRIP-like station for rs-client (``rs_core.get_station("prip")``).

Kept empty on purpose: the entry module :mod:`rs_prip.plugin` imports this package, and
``rs --help`` should not pay for the client's imports.
"""
