"""The examples are importable by their own names, as when run from examples/."""

from __future__ import annotations

import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
if str(EXAMPLES) not in sys.path:
    # Spawned worker processes get the parent's sys.path, so they find it too.
    sys.path.insert(0, str(EXAMPLES))
