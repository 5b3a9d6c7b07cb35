"""rs-plugin-prip against the rs-core station contract: the whole kit, one class."""

from rs_core.testing.kit.station import StationContract


class TestPripContract(StationContract):
    kind = "prip"
    search_path = "/prip/search"
    staging_path = "/prip"
    status_path = "/prip/status"
