"""The diff log: structured JSONL records of comparisons, written and read back.

Writing: `record.RecordBuilder` (a `Comparison` as one redacted record naming its replica;
`should_log` decides which outcomes are written; `FIELDS` and `SCHEMA_VERSION` are the schema),
`sink.JsonlDiffSink` (the `DiffSink`: a bounded queue and one writer thread), `outputs` (what
that thread writes to, the stdout stream among them, and the trouble of each), `segments` (the
file names, rotation, gzip and retention of one folder, and the order the reader walks them in).

Reading, behind `shadowproxy diffs` (shadowproxy/ops/diffs.py): `sources` (the streams of
records in a folder: its segments, files captured from stdout), `read` (records streamed from
them, several streams merged by time, bad lines counted by reason), `filters` (the filters
every subcommand shares), `summary`, `signatures`, `show`, `follow` (`tail` and `--follow`),
`export`, and `table` (text that fits the terminal). The record schema is documented in
diff_logs/README.md.
"""
