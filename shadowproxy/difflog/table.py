"""Text tables that fit a terminal: `shadowproxy diffs`' tables and readable lines.

`table()` lays rows out in columns two spaces apart. When the natural widths do not fit `width`,
the flexible columns shrink (their cells are cut with `…`, or wrapped onto more lines with
`wrap=True`: by characters, every one kept, or at spaces for a column of `words`), then the
columns marked `drop` are left out, highest first; a table that still does
not fit has its lines cut. `width=None` (output piped to a file) keeps every cell whole. Widths
count East Asian wide characters (the legacy backend's Chinese messages) as two columns.

`Style` colours a word on a terminal and is a no-op elsewhere, so piped output has no escapes.
"""

from __future__ import annotations

import textwrap
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

GAP = "  "
ID_CHARS = 12  # a comparison id in a table or a line: its first characters, which `show` takes
ELLIPSIS = "…"
MIN_FLEX = 8  # a flexible column's narrowest, unless it says otherwise


def cell_width(text: str) -> int:
    if text.isascii():
        return len(text)
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def cut(text: str, width: int) -> str:
    """`text` in at most `width` columns, ending in `…` when it was longer."""
    if cell_width(text) <= width:
        return text
    kept, used = [], 0
    for char in text:
        used += cell_width(char)
        if used > width - 1:
            break
        kept.append(char)
    return "".join(kept) + ELLIPSIS if width > 0 else ""


def prose(text: str, width: int | None) -> str:
    """A sentence wrapped at words to `width` (long words broken), whole when `width` is None."""
    return text if width is None else textwrap.fill(text, width, subsequent_indent="  ")


def _chunks(text: str, width: int) -> list[str]:
    """`text` wrapped by characters into lines of at most `width` columns."""
    lines, line, used = [], "", 0
    for char in text:
        size = cell_width(char)
        if used + size > width and line:
            lines.append(line)
            line, used = "", 0
        line += char
        used += size
    return [*lines, line]


def _words(text: str, width: int) -> list[str]:
    """`text` wrapped at spaces into lines of at most `width` columns, a longer word broken."""
    lines, line = [], ""
    for word in text.split(" "):
        joined = f"{line} {word}" if line else word
        if cell_width(joined) <= width:
            line = joined
            continue
        if line:
            lines.append(line)
        *whole, line = _chunks(word, width)
        lines += whole
    return [*lines, line]


def _pad(text: str, width: int, align: str) -> str:
    room = " " * max(0, width - cell_width(text))
    return room + text if align == ">" else text + room


@dataclass(frozen=True, slots=True)
class Column:
    header: str
    align: str = "<"  # ">" for numbers
    flex: bool = False  # may shrink to fit, down to `least` (or its header)
    drop: int = 0  # > 0: may be left out to fit, highest first
    least: int = MIN_FLEX
    words: bool = False  # prose: wrapped at spaces (`wrap=True`), not anywhere


def table(
    columns: Sequence[Column],
    rows: Sequence[Sequence[str]],
    width: int | None,
    *,
    wrap: bool = False,
) -> str:
    """`rows` under `columns`' headers, fitted to `width` (see the module docstring); a last line
    names the columns left out, if any."""
    shown = list(range(len(columns)))
    natural = [
        max([cell_width(column.header), *(cell_width(row[i]) for row in rows)])
        for i, column in enumerate(columns)
    ]
    while True:
        widths = list(natural)
        if width is None or _total(widths, shown) <= width:
            break
        if _shrink(columns, widths, shown, _total(widths, shown) - width):
            break
        droppable = [i for i in shown if columns[i].drop]
        if not droppable:
            break  # the flexible columns at their narrowest; the lines are cut
        shown.remove(max(droppable, key=lambda i: (columns[i].drop, i)))
    lines = [_line([columns[i].header for i in shown], columns, widths, shown)]
    for row in rows:
        parts = [_wrapped(row[i], widths[i], columns[i]) if wrap else [cut(row[i], widths[i])]
                 for i in shown]  # fmt: skip
        for n in range(max(len(part) for part in parts)):
            cells = [part[n] if n < len(part) else "" for part in parts]
            lines.append(_line(cells, columns, widths, shown))
    if len(shown) < len(columns):
        hidden = ", ".join(column.header for i, column in enumerate(columns) if i not in shown)
        lines.append(f"(left out to fit {width} columns: {hidden})")
    return "\n".join(lines if width is None else [cut(line, width) for line in lines])


def _wrapped(text: str, width: int, column: Column) -> list[str]:
    return _words(text, width) if column.words else _chunks(text, width)


def _total(widths: list[int], shown: list[int]) -> int:
    return sum(widths[i] for i in shown) + len(GAP) * (len(shown) - 1)


def _shrink(columns: Sequence[Column], widths: list[int], shown: list[int], excess: int) -> bool:
    """Narrow the widest flexible columns by `excess` in all; False when they cannot give it."""
    floor = {
        i: max(columns[i].least, cell_width(columns[i].header)) for i in shown if columns[i].flex
    }
    if sum(max(0, widths[i] - low) for i, low in floor.items()) < excess:
        for i, low in floor.items():
            widths[i] = min(widths[i], low)
        return False
    for _ in range(excess):
        widest = max(floor, key=lambda i: widths[i] - floor[i])
        widths[widest] -= 1
    return True


def _line(
    cells: Sequence[str], columns: Sequence[Column], widths: list[int], shown: list[int]
) -> str:
    padded = [_pad(cell, widths[i], columns[i].align) for cell, i in zip(cells, shown, strict=True)]
    return GAP.join(padded).rstrip()


COLOURS = {"red": "31", "green": "32", "yellow": "33", "cyan": "36", "dim": "2"}


@dataclass(frozen=True, slots=True)
class Style:
    """ANSI colour on a terminal (`colour=True`), plain text everywhere else."""

    colour: bool = False

    def paint(self, text: str, colour: str) -> str:
        return f"\x1b[{COLOURS[colour]}m{text}\x1b[0m" if self.colour and text else text
