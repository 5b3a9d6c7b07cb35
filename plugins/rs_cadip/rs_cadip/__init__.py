"""rs-plugin-cadip: the CADIP stations of RS-Server for rs-client.

>>> import rs_core
>>> cadip = rs_core.get_station("cadip", station="MTI", rs_server_href="http://127.0.0.1:8000",
...                             rs_server_api_key="key", owner_id="me")   # doctest: +SKIP
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rs_cadip.client import CadipClient

__all__ = ["CadipClient"]
__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    # Lazy: the entry point module (rs_cadip.plugin) must not import pystac at discovery time.
    if name == "CadipClient":
        from rs_cadip.client import CadipClient

        return CadipClient
    raise AttributeError(f"module 'rs_cadip' has no attribute {name!r}")
