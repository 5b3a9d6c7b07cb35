"""rs-plugin-edrs: an EDRS-like station for rs-client (``rs_core.get_station("edrs")``).

Kept empty on purpose: the entry module :mod:`rs_edrs.plugin` imports this package, and
``rs --help`` should not pay for the client's imports.
"""
