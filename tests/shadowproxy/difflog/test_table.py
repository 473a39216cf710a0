"""Tables that fit: natural widths when they fit, flexible columns shrunk (cut or wrapped), then
optional columns left out and named, lines cut as a last resort; wide characters count twice."""

from __future__ import annotations

import pytest

from shadowproxy.difflog.table import Column, Style, cell_width, cut, table

COLUMNS = [
    Column("n", ">"),
    Column("route", flex=True),
    Column("note", flex=True, drop=1),
    Column("id", drop=2),
]
ROWS = [
    ["1", "/api/analysis/status/{task_id}", "decision changed", "0123456789ab"],
    ["12", "/api/reports", "", "ba9876543210"],
]


def test_natural_widths_when_they_fit() -> None:
    assert table(COLUMNS, ROWS, None).splitlines() == [
        " n  route                           note              id",
        " 1  /api/analysis/status/{task_id}  decision changed  0123456789ab",
        "12  /api/reports                                      ba9876543210",
    ]
    assert table(COLUMNS, ROWS, 200) == table(COLUMNS, ROWS, None)


def test_flexible_columns_shrink_widest_first() -> None:
    lines = table(COLUMNS, ROWS, 56).splitlines()
    assert lines[1] == " 1  /api/analysis/statu…  decision changed  0123456789ab"
    assert max(map(len, lines)) == 56


def test_then_columns_are_left_out_and_named() -> None:
    assert table(COLUMNS, ROWS, 36).splitlines() == [  # the flexible ones at their least: 8
        " n  route     note      id",
        " 1  /api/an…  decisio…  0123456789ab",
        "12  /api/re…            ba9876543210",
    ]
    assert table(COLUMNS, ROWS, 20).splitlines() == [
        " n  route",
        " 1  /api/analysis/s…",
        "12  /api/reports",
        "(left out to fit 20…",  # a line that still does not fit is cut
    ]
    assert table(COLUMNS, ROWS, 28).splitlines()[-1] == "(left out to fit 28 columns…"


def test_least_keeps_a_column_readable_before_others_go() -> None:
    columns = [Column("route", flex=True, least=20), Column("id", drop=1)]
    rows = [["/api/analysis/status/{task_id}", "0123456789ab"]]
    assert table(columns, rows, 30).splitlines()[1] == "/api/analysis/status/{task_id}"


def test_wrap_keeps_every_character() -> None:
    columns = [Column("field"), Column("legacy", flex=True), Column("app", flex=True)]
    rows = [["decision", '"OVERWEIGHT because of a long reason"', '"HOLD"']]
    lines = table(columns, rows, 36, wrap=True).splitlines()
    assert all(len(line) <= 36 for line in lines)
    assert lines == [
        "field     legacy              app",
        'decision  "OVERWEIGHT becaus  "HOLD"',
        "          e of a long reason",
        '          "',
    ]


def test_a_column_of_words_wraps_at_spaces() -> None:
    columns = [Column("field"), Column("reason", flex=True, words=True)]
    rows = [
        ["decision", "legacy differs with itself on 31% of 64 reads"],
        ["x", "a-very-long-word"],
    ]
    assert table(columns, rows, 24, wrap=True).splitlines() == [
        "field     reason",
        "decision  legacy differs",
        "          with itself on",
        "          31% of 64",
        "          reads",
        "x         a-very-long-wo",  # a word longer than the column is broken
        "          rd",
    ]


@pytest.mark.parametrize(
    ("text", "width", "expected"),
    [
        pytest.param("abcdef", 6, "abcdef", id="fits"),
        pytest.param("abcdef", 4, "abc…", id="cut"),
        pytest.param("用户取消", 4, "用…", id="wide"),
        pytest.param("用户取消", 8, "用户取消", id="wide-fits"),
        pytest.param("abc", 0, "", id="nothing"),
    ],
)
def test_cut(text: str, width: int, expected: str) -> None:
    assert cut(text, width) == expected
    assert cell_width(cut(text, width)) <= width


def test_wide_characters_are_two_columns() -> None:
    assert (cell_width("用户取消"), cell_width("abc"), cell_width("é")) == (8, 3, 1)
    lines = table([Column("a"), Column("b")], [["用户", "x"], ["ab", "y"]], None).splitlines()
    assert lines[1:] == ["用户  x", "ab    y"]


def test_colour_only_when_asked() -> None:
    assert Style().paint("mismatch", "red") == "mismatch"
    assert Style(colour=True).paint("mismatch", "red") == "\x1b[31mmismatch\x1b[0m"
    assert Style(colour=True).paint("", "red") == ""
