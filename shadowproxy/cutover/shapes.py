"""The drift learner's shapes in `<state_dir>/shapes.json`, so a restart does not relearn them.

Read once at startup; written atomically (temp file, then rename) by the proxy's lifecycle every
`SAVE_EVERY_S` when something was learned, and once more at shutdown. A file that cannot be read
as a snapshot is moved aside to `shapes.json.bad` (nothing is lost) and learning starts over,
with a warning that names both paths.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import structlog

from shadowproxy.contracts.drift import ShapeLearner

SHAPES_FILE = "shapes.json"
SAVE_EVERY_S = 30.0

log = structlog.get_logger(__name__)


class ShapeFile:
    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / SHAPES_FILE

    def load(self, learner: ShapeLearner) -> None:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return
        except OSError as exc:
            log.warning("drift_shapes_unreadable", path=str(self.path), error=str(exc))
            return
        try:
            learner.restore(json.loads(raw.decode("utf-8")))
        except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            aside = self.path.with_name(SHAPES_FILE + ".bad")
            os.replace(self.path, aside)
            log.warning(
                "drift_shapes_reset", path=str(self.path), moved_to=str(aside), error=str(exc)
            )

    def save(self, snapshot: dict[str, Any]) -> None:
        """Blocking: call it from a thread (`asyncio.to_thread`) while the proxy runs."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(SHAPES_FILE + ".tmp")
        tmp.write_text(json.dumps(snapshot, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, self.path)
