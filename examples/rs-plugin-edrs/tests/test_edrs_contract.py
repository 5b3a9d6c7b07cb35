"""rs-plugin-edrs against the rs-core station contract: the whole kit, one class."""

from rs_core.testing.kit.station import StationContract


class TestEdrsContract(StationContract):
    kind = "edrs"
    search_path = "/edrs/search"
    staging_path = "/edrs"
    status_path = "/edrs/status"
