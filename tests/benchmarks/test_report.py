"""`diffs report` over a generated log of 200 000 records (benchmarks/report.py; `python -m
benchmarks.report` runs the 1 000 000 of the issue and reports its time): the page stays small
however many records went in, because the aggregation is bounded. How long it takes is the
benchmark's to report, never asserted here."""

from __future__ import annotations

import re
from pathlib import Path

from benchmarks.report import measure

RECORDS = 200_000
MAX_PAGE_BYTES = 3 * 1024 * 1024


def test_200k_records_make_a_small_page(tmp_path: Path) -> None:
    cost = measure(RECORDS, tmp_path)
    assert cost.html_bytes < MAX_PAGE_BYTES
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert re.search(r'<p class="meta">200,000 records, 2026-04-13 12:00:00 to 2026-04-16', html)
    assert html.count('<svg class="chart"') == 7  # six route groups and the latency chart
    assert "per 1 h" in html  # three days: 72 one-hour buckets
    # the rare signatures outnumber what the tallies keep: the page says the counts are bounds
    assert "occurrences of the rarest were folded away" in html
