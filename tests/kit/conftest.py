"""tests/kit: the copy of the old example plugin is test data, run by its own test only."""

collect_ignore_glob = ["legacy_example_plugin/*"]
