"""``python scripts/odata_station --kind adgs|cadip|prip ...``: run the station simulator."""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):
    # Run by path: make the directory holding this package importable.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from odata_station import main

if __name__ == "__main__":
    sys.exit(main())
