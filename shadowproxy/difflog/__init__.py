"""The diff log: structured JSONL records of comparisons, written and read back.

Primitives: `record.RecordBuilder` (a `Comparison` as one redacted record; `should_log` decides
which outcomes are written), `sink.JsonlDiffSink` (the `DiffSink`: a bounded queue and one writer
thread), `segments` (the file names, rotation, gzip and retention of one folder, and the order
the reader walks them in) and `summary` (the reading side behind `shadowproxy diffs`).
The record schema is documented in diff_logs/README.md.
"""
