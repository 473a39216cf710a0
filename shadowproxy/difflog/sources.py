"""What `shadowproxy diffs` reads in a folder: streams of records, each in write order.

A folder holds up to two kinds of streams:

- its diff-log segments (`diff-YYYY-MM-DD[.N].jsonl[.gz]`, what `shadowproxy run` writes
  there), read one after another in `segments.segment_files` order: one stream;
- every other `*.jsonl` or `*.jsonl.gz` file, of any name: records captured from a proxy's
  stdout (`SHADOWPROXY_DIFF_LOG=stdout`; `kubectl logs deploy/proxy > proxy-a.jsonl`), one stream
  each. Its lines that are not records (the proxy's own log lines, when stdout and stderr were
  captured together) are skipped and counted like any other.

Several folders (one per replica) are several streams more; the reader merges all of them by
`ts` (`read.merged`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from shadowproxy.difflog.segments import active_segment, is_segment, segment_files

CAPTURED_SUFFIXES = (".jsonl", ".jsonl.gz")


@dataclass(frozen=True, slots=True)
class Stream:
    """The segments of `folder` (`captured` None), or one file of captured JSON lines in it."""

    folder: Path
    captured: Path | None = None

    def files(self) -> list[Path]:
        """Its files in write order; OSError when the folder cannot be listed."""
        if self.captured is None:
            return segment_files(self.folder)
        return [self.captured] if self.captured.is_file() else []

    def active(self) -> Path | None:
        """The file records are appended to (`tail --follow`); None when there is none."""
        if self.captured is None:
            return active_segment(self.folder)
        return self.captured if self.captured.is_file() else None


def streams_of(folder: Path) -> list[Stream]:
    """The folder's segments, then each captured file by name; OSError when it cannot be listed."""
    captured = sorted(
        path
        for path in folder.iterdir()
        if path.name.endswith(CAPTURED_SUFFIXES) and not is_segment(path.name) and path.is_file()
    )
    return [Stream(folder), *(Stream(folder, path) for path in captured)]
