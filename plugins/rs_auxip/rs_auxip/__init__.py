"""rs-plugin-auxip: the AUXIP (ADGS) station of RS-Server for rs-client.

>>> import rs_core
>>> auxip = rs_core.get_station("auxip", rs_server_href="http://127.0.0.1:8000",
...                             rs_server_api_key="key", owner_id="me")   # doctest: +SKIP
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rs_auxip.client import AuxipClient

__all__ = ["AuxipClient"]
__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    # Lazy: the entry point module (rs_auxip.plugin) must not import pystac at discovery time.
    if name == "AuxipClient":
        from rs_auxip.client import AuxipClient

        return AuxipClient
    raise AttributeError(f"module 'rs_auxip' has no attribute {name!r}")
