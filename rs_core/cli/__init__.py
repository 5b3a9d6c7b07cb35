"""The ``rs`` command line (console script ``rs`` -> :func:`rs_core.cli.main.main`)."""
