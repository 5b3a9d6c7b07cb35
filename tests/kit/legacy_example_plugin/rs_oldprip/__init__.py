"""rs-plugin-oldprip: a OLDPRIP-like station for rs-client (``rs_core.get_station("oldprip")``).

Kept empty on purpose: the entry module :mod:`rs_oldprip.plugin` imports this package, and
``rs --help`` should not pay for the client's imports.
"""
