"""Testing helpers for rs-client: the RS-Server simulator and the plugin test kit.

Nothing heavy is imported here (and never pytest): use
``from rs_core.testing.simulator import RsServerSimulator``.
"""
