"""The HTML report as text: self-contained, everything escaped, every section filled or saying why
not (tests/shadowproxy/difflog/test_report_html_browser.py opens it in a real browser)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from shadowproxy.difflog.report_data import ReportData, aggregate
from shadowproxy.difflog.report_html import render
from shadowproxy.difflog.report_markup import MAX_VALUE_CHARS

from .records import (
    HOSTILE,
    SAMPLE_BREAKS,
    SAMPLE_DRIFT,
    SAMPLE_FIELDS,
    SAMPLE_GROUPS,
    SAMPLE_NOISE,
    SAMPLE_SIGNATURES,
    diff,
    noisy,
    record,
    sample,
)

GENERATED = datetime(2026, 4, 13, 14, 0, tzinfo=UTC)


def page(data: ReportData, skipped: str = "") -> str:
    return render(
        data, source="diff_logs", filters="every record", generated=GENERATED, skipped=skipped
    )


def rows(html: str, table: str) -> int:
    found = re.search(rf'<table id="{table}">.*?<tbody>(.*?)</tbody>', html)
    assert found is not None, f"no table {table}"
    return found.group(1).count("<tr>")


def test_the_page_fetches_nothing_and_runs_nothing() -> None:
    html = page(aggregate(sample()))
    assert html.startswith("<!DOCTYPE html>")
    assert "<title>shadowproxy parity report: diff_logs</title>" in html
    assert "default-src 'none'" in html  # the CSP: nothing may be fetched, no script may run
    for external in ("<script", "@import", "url(", "https://"):
        assert external not in html
    assert re.findall(r"<[^>]*\s(?:src|href)=[^>]*>", html) == [
        '<link rel="icon" href="data:,">',
        *(f'<a href="#{key}">' for key in re.findall(r'<section id="(\w+)">', html)),
    ]
    links = re.findall(r"<link [^>]*>", html)
    assert links == ['<link rel="icon" href="data:,">']
    assert re.findall(r"http://[^\s\"']+", html) == ["http://www.w3.org/2000/svg"] * 4


def test_values_from_the_records_are_escaped() -> None:
    html = page(aggregate(sample()))
    assert HOSTILE not in html
    assert "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&quot;&lt;img src=x onerror=alert(1)&gt;&quot;" in html  # a value, as JSON text


def test_every_table_has_the_rows_of_the_data() -> None:
    html = page(aggregate(sample()))
    assert rows(html, "parity-table") == len(SAMPLE_GROUPS)
    assert rows(html, "fields-table") == SAMPLE_FIELDS
    assert rows(html, "noise-table") == SAMPLE_NOISE
    assert rows(html, "signature-table") == SAMPLE_SIGNATURES
    assert rows(html, "breaks-table") == SAMPLE_BREAKS
    assert rows(html, "drift-table") == SAMPLE_DRIFT
    assert rows(html, "readiness-table") == 2
    assert html.count('<svg class="chart"') == len(SAMPLE_GROUPS) + 1
    assert html.count('<div class="example">') == 6
    assert "per 1 min" in html


def test_an_empty_selection_still_makes_a_page_that_says_so() -> None:
    html = page(aggregate([]))
    assert "0 records, no dates" in html
    assert "<svg" not in html
    assert "No mismatch record." in html
    assert "No record carries consumer findings" in html
    assert "Omitted: readiness is judged from consumer findings" in html
    assert "No noise: no record has a difference on a field measured as noisy" in html
    assert rows(html, "signature-table") == 1  # the one "none" row


def test_without_match_records_the_page_says_what_the_figures_are() -> None:
    html = page(aggregate([record(1, "mismatch", differences=(diff("decision"),))]))
    assert "No match record: the proxy writes matches only with SHADOWPROXY_LOG_MATCHES=1" in html
    with_matches = page(aggregate([record(1), record(2, "mismatch")]))
    assert "No match record" not in with_matches
    assert "50.00%" in with_matches  # parity: one mismatch in two compared records


def test_what_the_reader_skipped_is_on_the_page() -> None:
    html = page(aggregate([record(1) | {"ts": "later"}]), skipped="2 lines skipped: 2 not JSON")
    assert "2 lines skipped: 2 not JSON" in html
    assert "1 records without a readable ts (in no chart)" in html


def test_long_values_are_cut() -> None:
    value = "x" * (MAX_VALUE_CHARS * 3)
    html = page(aggregate([record(1, "mismatch", differences=(diff("report", legacy=value),))]))
    assert f"…(+{len(value) + 2 - MAX_VALUE_CHARS} chars)" in html  # the JSON text has quotes
    assert value not in html


def test_the_page_size_does_not_grow_with_the_records() -> None:
    small = len(page(aggregate(sample())))
    many = sample() * 20
    assert len(page(aggregate(many))) < small * 1.2


def test_parity_per_replica_only_when_there_are_several() -> None:
    assert 'id="replica-table"' not in page(aggregate(sample()))  # no record names a replica
    records = [record(n) | {"replica": "proxy-b"} for n in range(3)]
    records += [record(3, "mismatch") | {"replica": "proxy-a"}, record(4) | {"replica": "proxy-a"}]
    records.append(record(5) | {"replica": HOSTILE})
    html = page(aggregate(records))
    assert rows(html, "replica-table") == 3
    found = re.search(r'<table id="replica-table">.*?<tbody><tr>(.*?)</tr>', html)
    assert found is not None
    cells = re.findall(r"<td[^>]*>(.*?)</td>", found.group(1))
    assert (cells[0], cells[1], cells[3], cells[-1]) == ("&lt;script&gt;alert(1)&lt;/script&gt;",
                                                       "1", "0", "100.00%")  # fmt: skip
    assert '<td>proxy-a</td><td class="num">2</td>' in html
    assert "50.00%" in html  # proxy-a: one mismatch in two compared


def cells(html: str, table: str, first: str) -> list[str]:
    """The cells of the row of `table` whose first cell is `first`."""
    found = re.search(rf'<table id="{table}">.*?<tr><td>{re.escape(first)}</td>(.*?)</tr>', html)
    assert found is not None, f"no row {first} in {table}"
    return [first, *re.findall(r"<td[^>]*>(.*?)</td>", found.group(1))]


def test_noise_has_its_column_its_series_and_its_section_apart_from_mismatches() -> None:
    html = page(aggregate(sample()))
    header = re.search(r'<table id="parity-table"><thead><tr>(.*?)</tr>', html)
    assert header is not None
    names = re.findall(r"<th[^>]*>(.*?)</th>", header.group(1))
    assert names[2:10] == ["records", "match", "mismatch", "accepted", "noise", "inflight_skew",
                           "errors", "skipped"]  # fmt: skip
    analysis = cells(html, "parity-table", "analysis")
    # 200 matches, 40 mismatches (30 with noise beside), 20 noise records: 260 compared
    assert analysis[2:7] == ["260", "200", "40", "0", "20"]
    assert analysis[10] == f"{1 - 40 / 260:.2%}"
    assert "(match, mismatch, accepted, noise, inflight_skew)" in html
    noise = cells(html, "noise-table", "analysis")
    assert noise[1:4] == ["<code>/api/analysis/status/{task_id}</code>", "<code>updated_at</code>",
                          "50"]  # fmt: skip
    assert noise[6] == "legacy differs with itself on 34% of 64 reads (legacy vs app 29% of 200)"
    assert 'class="s-noise"' in html
    assert '<span class="key k-noise"></span>noise' in html  # in the legend
    assert "noise beside them" not in html  # the latest mismatches carry none
    beside = record(1, "mismatch", differences=(diff("decision"),), noise=(noisy("updated_at"),))
    assert "noise beside them (not mismatches): updated_at" in page(aggregate([beside]))


def test_noisy_field_values_are_escaped() -> None:
    entry = noisy(HOSTILE) | {"reason": f"noise: {HOSTILE}"}
    html = page(aggregate([record(1, "noise", noise=(entry,))]))
    assert HOSTILE not in html
    assert "<td>&lt;script&gt;alert(1)&lt;/script&gt;</td>" in html  # the measured rate cell
