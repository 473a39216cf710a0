"""One record for a person: in full (`diffs show`) and in one line (`diffs tail`)."""

from __future__ import annotations

from typing import Any

import pytest

from shadowproxy.difflog.show import full, line
from shadowproxy.difflog.table import Style, cell_width

from .logs import TASKS, WS, breaking, changed, cid, record, side, ts

RATE = "noise: legacy differs with itself on 31% of 64 reads (legacy vs app 29% of 200)"
NOISY = {**changed("tasks[A].updated_at", "12:00:01", "12:00:02"), "reason": RATE}
RICH = record(
    7, ts(13, 12, 0, 20), "mismatch", WS, "ws_analysis",
    path="/ws/analysis/AAPL_1?token=[REDACTED]", trace_id="4bf92f3577b34da6a3ce929d0e0e4736",
    spans={"legacy": "00f067aa0ba902b7", "app": "00f067aa0ba902b8"}, reason="differs on decision",
    task_id="AAPL_1", ticker="AAPL", date="2026-04-13", frames={"legacy": 12, "app": 11},
    app=side(200, 3.4, "reset after 2 frames"),
    differences=[changed("decision", "OVERWEIGHT", "HOLD"),
                 changed("error.message", None, "用户取消 " + "x" * 120)],
    accepted=[{**changed("degraded", None, True), "reason": "legacy cannot express it"}],
    noise=[NOISY], secondary=[changed("confidence", 0.63, 0.41)], secondary_omitted=3,
    client=breaking("legacy-dashboard", "shadow")
    | {"drift": [{"field": "quant_signal", "kind": "missing", "legacy_presence": 1.0,
                  "expected": "string", "got": None, "message": None}]},
)  # fmt: skip


def test_full_lays_out_every_part_of_the_record() -> None:
    text = full(RICH, width=None, style=Style())
    assert text.splitlines()[0] == f"comparison {cid(7)}: mismatch (differs on decision)"
    for part in (
        "request        GET /ws/analysis/AAPL_1?token=[REDACTED]",
        "route          /ws/analysis/{task_id} (ws_analysis, ws)",
        "authoritative  legacy (flags version 1)",
        "trace          4bf92f3577b34da6a3ce929d0e0e4736 (legacy span 00f067aa0ba902b7, app span",
        "task           AAPL_1 (AAPL, 2026-04-13)",
        "frames         legacy 12, app 11",
        "latency ms  1.5     3.4",
        "error       -       reset after 2 frames",
        "differences: 2",
        'decision       changed  "OVERWEIGHT"  "HOLD"',
        "accepted: 1",
        "legacy cannot express it",
        "noise: 1",
        f'tasks[A].updated_at  changed  "12:00:01"  "12:00:02"  {RATE}',
        "secondary report: 1 (and 3 more, not written)",
        "consumer findings:",
        "legacy-dashboard  ok             break",
        "quant_signal  missing  1.0",
    ):
        assert part in text, part
    assert "用户取消 " + "x" * 120 in text  # whole when not fitted


def test_full_fits_a_terminal_by_wrapping_values() -> None:
    text = full(RICH, width=60, style=Style())
    assert all(cell_width(row) <= 60 for row in text.splitlines())
    assert text.splitlines()[0] == f"comparison {cid(7)}: mismatch (diff…"
    assert "用户取消" in text
    assert text.count("x") >= 120  # wrapped, not cut


def test_the_noise_block_comes_after_the_accepted_one_and_wraps_its_reason_at_words() -> None:
    text = full(RICH, width=None, style=Style())
    assert text.index("accepted: 1") < text.index("noise: 1") < text.index("secondary report")
    narrow = full(RICH, width=60, style=Style())
    block = narrow[narrow.index("noise: 1") : narrow.index("secondary report")].splitlines()
    assert block[1].split() == ["field", "kind", "legacy", "app", "reason"]
    reason = [line[47:] for line in block[2:] if line]  # the reason column, wrapped at words
    assert " ".join(reason) == RATE
    assert all(len(line) <= 60 for line in block)
    noise_only = record(2, ts(13, 12, 0), "noise", noise=[NOISY])
    shown = full(noise_only, width=None, style=Style())
    assert shown.splitlines()[0] == f"comparison {cid(2)}: noise"
    assert "differences:" not in shown
    assert "noise: 1" in shown


def test_a_sparse_record_shows_without_its_missing_parts() -> None:
    sparse = {"ts": ts(13, 12, 0), "comparison_id": "c1", "route_group": "system", "route": "/r",
              "outcome": "skipped", "reason": "queue_full"}  # fmt: skip
    text = full(sparse, width=80, style=Style())
    assert text.splitlines()[0] == "comparison c1: skipped (queue_full)"
    assert "differences" not in text
    assert "consumer findings" not in text


@pytest.mark.parametrize(
    ("found", "expected"),
    [
        pytest.param(record(1, ts(13, 12, 0), "mismatch", TASKS,
                            differences=[changed("tasks[A].stage"), changed("tasks[B].stage"),
                                         changed("decision")]),
                     "04-13 12:00:00.000  010000000000  mismatch       analysis  GET "
                     "/api/analysis/tasks  200/200  tasks[].stage, decision", id="mismatch"),
        pytest.param(record(2, ts(13, 12, 0), "mismatch", app=side(500)),
                     "(status only)", id="status-only"),
        pytest.param(record(3, ts(13, 12, 0), "skipped", reason="queue_full", legacy=None,
                            app=None), "GET /api/analysis/status/{task_id}  -/-  queue_full",
                     id="skipped"),
        pytest.param(record(4, ts(13, 12, 0), "accepted",
                            accepted=[changed("error.cancel_notice")]),
                     "accepted       analysis", id="accepted"),
        pytest.param(record(5, ts(13, 12, 0), "match",
                            client=breaking("legacy-dashboard", "authoritative")),
                     "200/200  breaks legacy-dashboard", id="break"),
        pytest.param(record(6, ts(13, 12, 0), "noise", TASKS,
                            noise=[NOISY, {**NOISY, "field": "tasks[B].updated_at"}]),
                     "noise          analysis  GET /api/analysis/tasks  200/200  "
                     "tasks[].updated_at", id="noise"),
        pytest.param(record(7, ts(13, 12, 0), "mismatch", differences=[changed("decision")],
                            noise=[NOISY], client=breaking("legacy-dashboard", "shadow")),
                     "200/200  decision; noise tasks[].updated_at; breaks legacy-dashboard",
                     id="mismatch-with-noise"),
    ],
)  # fmt: skip
def test_one_line(found: dict[str, Any], expected: str) -> None:
    assert expected in line(found, width=None, style=Style())


def test_one_line_fits_and_colours_only_on_a_terminal() -> None:
    found = record(1, ts(13, 12, 0), "mismatch", differences=[changed("decision")])
    plain = line(found, width=40, style=Style())
    assert (plain, len(plain)) == ("04-13 12:00:00.000  010000000000  misma…", 40)
    coloured = line(found, width=None, style=Style(colour=True))
    assert "\x1b[31mmismatch\x1b[0m" in coloured
    assert "\x1b" not in line(found, width=None, style=Style())
    noise = record(2, ts(13, 12, 0), "noise", noise=[NOISY])
    assert "\x1b[36mnoise\x1b[0m" in line(noise, width=None, style=Style(colour=True))


def test_full_shows_the_request_as_the_shadow_got_it() -> None:
    sent = {
        "headers": [["Accept", "application/json"], ["X-Client", "dash"]],
        "withheld": ["authorization"],
        "body_bytes": 17,
        "encoding": "json",
        "body": {"ticker": "AAPL"},
    }
    text = full(
        record(3, ts(13, 12, 0), "mismatch", TASKS, request=sent), width=None, style=Style()
    )
    assert "headers        Accept: application/json; X-Client: dash" in text
    assert "withheld       authorization" in text
    assert 'body           17 bytes (json): {"ticker":"AAPL"}' in text
    big = sent | {"body_bytes": 70_000, "encoding": None, "body": None}
    text = full(record(3, ts(13, 12, 0), "mismatch", TASKS, request=big), width=None, style=Style())
    assert "body           70000 bytes (not kept)" in text
