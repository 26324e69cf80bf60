"""``python -m shipyard.serving BUNDLE_DIR --port N``: one serving instance."""

from __future__ import annotations

import sys

from shipyard.serving._server import main

sys.exit(main())
