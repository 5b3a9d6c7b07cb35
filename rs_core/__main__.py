"""``python -m rs_core`` runs the ``rs`` command line."""

import sys

from rs_core.cli.main import main

sys.exit(main())
