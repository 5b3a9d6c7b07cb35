"""rs-plugin-prip: the PRIP station of RS-Server 1.0 for rs-client.

>>> import rs_core
>>> prip = rs_core.get_station("prip", rs_server_href="http://127.0.0.1:8000",
...                            rs_server_api_key="key", owner_id="me")   # doctest: +SKIP
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rs_prip.client import PripClient

__all__ = ["PripClient"]
__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    # Lazy: the entry point module (rs_prip.plugin) must not import pystac at discovery time.
    if name == "PripClient":
        from rs_prip.client import PripClient

        return PripClient
    raise AttributeError(f"module 'rs_prip' has no attribute {name!r}")
