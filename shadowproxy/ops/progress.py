"""The CLI's progress line (`demo`, `diffs`): it fits the terminal, and is plain lines when piped.

On a terminal the bar is one line that rewrites itself, never wider than the terminal (so it does
not wrap into a new line at each step); elsewhere (a pipe, a CI log) each step is one plain line of
the same text and the in-between notes are left out. The width is `COLUMNS` when set, else the
terminal's: stdout's, or the one the bar writes to (`shutil.get_terminal_size`, 80 by default).
"""

from __future__ import annotations

import os
import shutil
from typing import TextIO

BAR_CELLS = 24  # the widest bar; a narrow terminal gets a quarter of its width


def columns(stream: TextIO) -> int:
    """The width to fit: `COLUMNS`, stdout's terminal, `stream`'s terminal, or 80."""
    try:
        fallback = os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError):  # not a terminal, or no file descriptor at all
        fallback = 80
    return shutil.get_terminal_size((fallback, 24)).columns


class ProgressBar:
    """`[#####-------] 5/24 label` on `stream`: rewritten in place on a terminal, else one line
    per step."""

    def __init__(self, total: int, *, stream: TextIO) -> None:
        self.total = total
        self.done = 0
        self.stream = stream
        self.tty = stream.isatty()
        self._open = False  # a rewritten line is on screen; `finish` ends it

    def advance(self, label: str) -> None:
        """One more step done."""
        self.update(self.done + 1, self.total, label)

    def update(self, done: int, total: int, label: str) -> None:
        """`done` of `total` steps done, the last one `label`."""
        self.done = done
        self.total = max(total, done)
        self._show(label)

    def note(self, label: str) -> None:
        """What the current step is waiting for; shown on a terminal only."""
        if self.tty:
            self._show(label)

    def finish(self) -> None:
        if self._open:
            print(file=self.stream, flush=True)
            self._open = False

    def _show(self, label: str) -> None:
        # on a terminal, writing the last column can wrap the cursor to the next line
        width = columns(self.stream) - (1 if self.tty else 0)
        cells = min(BAR_CELLS, width // 4)
        filled = cells * self.done // max(self.total, 1)
        text = f"[{'#' * filled}{'-' * (cells - filled)}] {self.done}/{self.total} {label}"
        if self.tty:
            print(f"\r{text[:width]:<{width}}", end="", file=self.stream, flush=True)
            self._open = True
        else:
            print(text[:width], file=self.stream, flush=True)
