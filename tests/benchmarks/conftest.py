"""`benchmarks/` is not an installed package (pyproject.toml packages the services only): its
tests import it from the repository root, as `python -m benchmarks` does."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
