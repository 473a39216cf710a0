"""`diffs export`: the records as JSON lines, whole, or as CSV in the fixed columns."""

from __future__ import annotations

import csv
import io

import orjson

from shadowproxy.difflog.export import CSV_COLUMNS, write_csv, write_jsonl

from .logs import REPORT, WS, breaking, changed, cid, record, side, ts


def test_jsonl_is_the_records_as_written() -> None:
    records = [record(n, ts(13, 12, n), "match") for n in range(1, 4)]
    out = io.BytesIO()
    assert write_jsonl(records, out) == 3
    assert [orjson.loads(line) for line in out.getvalue().splitlines()] == records


def test_csv_has_the_fixed_columns_and_one_row_per_record() -> None:
    records = [
        record(1, ts(13, 12, 0), "mismatch", WS, "ws_analysis",
               differences=[changed("tasks[A].stage"), {**changed("decision"), "kind": "missing"}],
               client=breaking("v1alpha1-dashboard", "shadow"), task_id="AAPL_1"),
        record(2, ts(13, 12, 1), "shadow_error", REPORT, "reports",
               app=side(None, 10000.0, 'timeout, "quoted"'), reason="app timeout"),
        record(3, ts(13, 12, 2), "accepted", accepted=[changed("error.cancel_notice")]),
        record(4, ts(13, 12, 3), "noise", noise=[{**changed("tasks[A].updated_at"), "reason": "r"},
                                                 {**changed("progress"), "reason": "r"}]),
        record(5, ts(13, 12, 4), "mismatch", differences=[changed("decision")],
               noise=[{**changed("updated_at"), "reason": "r"}]),
    ]  # fmt: skip
    out = io.StringIO()
    assert write_csv(records, out) == 5
    header, *rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert tuple(header) == CSV_COLUMNS
    first, second, third, fourth, fifth = (dict(zip(header, row, strict=True)) for row in rows)
    assert first["comparison_id"] == cid(1)
    assert (first["route_group"], first["route"], first["outcome"]) == (
        "ws_analysis",
        WS,
        "mismatch",
    )
    assert (first["fields"], first["kinds"]) == ("tasks[A].stage; decision", "changed; missing")
    assert first["consumer_breaks"] == "v1alpha1-dashboard"
    assert (first["legacy_status"], first["app_status"], first["task_id"]) == (
        "200",
        "200",
        "AAPL_1",
    )
    assert (second["app_status"], second["app_error"]) == ("", 'timeout, "quoted"')
    assert (second["app_latency_ms"], second["reason"]) == ("10000.0", "app timeout")
    assert (second["fields"], second["trace_id"], second["flags_version"]) == ("", "", "1")
    assert (third["accepted"], third["noise"]) == ("error.cancel_notice", "")
    assert (fourth["outcome"], fourth["fields"], fourth["accepted"]) == ("noise", "", "")
    assert fourth["noise"] == "tasks[A].updated_at; progress"  # the fields, as written
    assert (fifth["fields"], fifth["noise"]) == ("decision", "updated_at")
    assert header[-2:] == ["replica", "noise"]  # added last: the earlier columns keep their place


def test_csv_of_a_sparse_record_leaves_cells_empty() -> None:
    sparse = {"ts": ts(13, 12, 0), "comparison_id": "c1", "route_group": "system",
              "route": "/r", "outcome": "skipped", "legacy": None, "app": None}  # fmt: skip
    out = io.StringIO()
    write_csv([sparse], out)
    row = dict(zip(CSV_COLUMNS, list(csv.reader(io.StringIO(out.getvalue())))[1], strict=True))
    assert row["outcome"] == "skipped"
    assert row["legacy_status"] == row["method"] == row["fields"] == ""
