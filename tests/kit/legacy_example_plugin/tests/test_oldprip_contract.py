"""rs-plugin-oldprip against the rs-core station contract: the whole kit, one class."""

from rs_core.testing.kit.station import StationContract


class TestOldPripContract(StationContract):
    kind = "oldprip"
    search_path = "/oldprip/search"
    staging_path = "/oldprip"
    status_path = "/oldprip/status"
