"""Consumer contracts from the config file: a good file, and bad ones naming file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from shadowproxy.contracts.check import violations
from shadowproxy.contracts.load import toml_line
from shadowproxy.contracts.model import Surface, read
from shadowproxy.diff.config import DEFAULT_CONFIG, load_config
from shadowproxy.errors import ConfigError
from shadowproxy.types import BreakKind, JSONValue

STATUS = "/api/analysis/status/{task_id}"
TASKS = "/api/analysis/tasks"
SOCKET = "/ws/analysis/{task_id}"

GOOD = """
[diff]
max_differences = 10

[[consumers]]
name = "ops-console"
description = "  the operations console  "

[[consumers.reads]]
route = "/api/analysis/status/{task_id}"
path = "result.decision"
or = ["compat.decision"]
required = true
types = ["string"]
enum = ["BUY", "HOLD", "SELL"]
when = [{ path = "status", in = ["completed"] }]

[[consumers.reads]]
route = "/api/analysis/tasks"
path = "tasks[].status"
required = true
enum = ["pending", "running", "completed", "failed"]
known = { cancelled = "the console shows it as failed" }

[[consumers.reads]]
route = "/api/analysis/tasks"
path = "tasks[].result.decision"
or = ["tasks[].compat.decision"]
required = true
when = [
    { path = "tasks[].status", in = ["completed"] },
    { path = "tasks[].type", not_in = ["portfolio"] },
]

[[consumers]]
name = "alerts.bot_2"

[[consumers.reads]]
route = "/ws/analysis/{task_id}"
message = "progress"
path = "progress"
required = false
types = ["number", "null"]
enum = [0, 0.5, 1]

[[consumers.reads]]
route = "/api/portfolio/analyze"
method = "post"
path = "task_id"
required = true
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "shadowproxy.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_good_file_loads_every_key_into_the_contracts(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD))
    assert config.max_differences == 10
    ops, bot = config.consumers
    assert (ops.name, ops.description) == ("ops-console", "the operations console")
    assert (bot.name, bot.description) == ("alerts.bot_2", "")
    assert ops.reads == {
        Surface("GET", STATUS): (
            read(
                "result.decision",
                required=True,
                fallbacks=("compat.decision",),
                types=("string",),
                enum=("BUY", "HOLD", "SELL"),
                when=(("status", ("completed",), False),),
            ),
        ),
        Surface("GET", TASKS): (
            read(
                "tasks[].status",
                required=True,
                enum=("pending", "running", "completed", "failed"),
                known={"cancelled": "the console shows it as failed"},
            ),
            read(
                "tasks[].result.decision",
                required=True,
                fallbacks=("tasks[].compat.decision",),
                when=(
                    ("tasks[].status", ("completed",), False),
                    ("tasks[].type", ("portfolio",), True),
                ),
            ),
        ),
    }
    assert bot.reads == {
        Surface("GET", SOCKET, "progress"): (
            read("progress", required=False, types=("number", "null"), enum=(0, 0.5, 1)),
        ),
        Surface("POST", "/api/portfolio/analyze"): (read("task_id", required=True),),
    }
    assert bot.routes() == {SOCKET, "/api/portfolio/analyze"}


def test_a_loaded_contract_finds_violations(tmp_path: Path) -> None:
    ops = load_config(write(tmp_path, GOOD)).consumers[0]
    status = ops.reads[Surface("GET", STATUS)]
    assert violations(status, {"status": "running"}) == [], "`when` holds only once completed"
    assert violations(status, {"status": "completed", "compat": {"decision": "BUY"}}) == []
    (found,) = violations(status, {"status": "completed", "result": {"decision": "MAYBE"}})
    assert (found.field, found.kind, found.got) == (
        "result.decision",
        BreakKind.UNKNOWN_VALUE,
        "MAYBE",
    )
    (missing,) = violations(status, {"status": "completed", "result": {"decision": None}})
    assert (missing.kind, missing.got) == (BreakKind.MISSING, "null")

    tasks = ops.reads[Surface("GET", TASKS)]
    rows: list[JSONValue] = [
        {"status": "completed", "type": "portfolio"},  # not read: the second `when` fails
        {"status": "completed", "compat": {"decision": "BUY"}},
        {"status": "cancelled"},
    ]
    (known,) = violations(tasks, {"tasks": rows})
    assert (known.field, known.known) == ("tasks[].status", "the console shows it as failed")
    rows.append({"status": "completed", "result": {}})
    assert {(v.field, v.kind) for v in violations(tasks, {"tasks": rows})} == {
        ("tasks[].status", BreakKind.UNKNOWN_VALUE),
        ("tasks[].result.decision", BreakKind.MISSING),
    }


def test_no_consumers_is_the_default(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "[diff]\nmax_differences = 50\n")) == DEFAULT_CONFIG
    assert DEFAULT_CONFIG.consumers == ()


# ---------------------------------------------------------------- bad files

HEAD = '[[consumers]]\nname = "ops-console"\n\n'
ONE = "[[consumers.reads]]\n"  # a read header; ROUTE and PATH complete a read but `required`
ROUTE = 'route = "/api/x"\n'
PATH = 'path = "x"\n'
OK = ONE + ROUTE + PATH + "required = true\n"
MARK = "  # <-"  # ends the line the error must name
READ_1 = "[[consumers]] #1 (ops-console) [[consumers.reads]] #1"


def marked(text: str) -> tuple[str, int]:
    """The text without its marker, and the number of the marked line."""
    lines = text.split("\n")
    (line,) = (number for number, item in enumerate(lines, 1) if item.endswith(MARK))
    return text.replace(MARK, ""), line


BAD = [
    pytest.param(
        HEAD + OK + 'pth = "x"' + MARK + "\n", f"{READ_1} key 'pth': unknown key", id="unknown-key"
    ),
    pytest.param(
        HEAD + ONE.rstrip() + MARK + "\n" + ROUTE + PATH,
        f"{READ_1} key 'required': expected true or false (there is no default",
        id="missing-required",
    ),
    pytest.param(
        HEAD + OK.replace("true", '"yes"').rstrip() + MARK + "\n",
        f"{READ_1} key 'required': expected true or false",
        id="required-text",
    ),
    pytest.param(
        HEAD + OK + 'types = ["str"]' + MARK + "\n",
        f"{READ_1} key 'types': types must be among string, number",
        id="bad-type-name",
    ),
    pytest.param(
        HEAD + ONE + ROUTE + 'path = "tasks..x"' + MARK + "\nrequired = true\n",
        f"{READ_1} key 'path': 'tasks..x' is not a path",
        id="bad-path",
    ),
    pytest.param(
        HEAD + ONE + ROUTE + 'path = "tasks[].decision"\nrequired = true\n'
        'or = ["decision"]' + MARK + "\n",
        f"{READ_1} key 'or': 'decision' must read a key inside the same array",
        id="or-in-another-array",
    ),
    pytest.param(
        HEAD + OK + "when = [{ path = 'a', in = [1], not_in = [2] }]" + MARK + "\n",
        f"{READ_1} key 'when': entry #1: expected exactly one of 'in' and 'not_in'",
        id="when-both",
    ),
    pytest.param(
        HEAD + OK + "when = [{ path = 'a', in = [1] }, { path = 'b' }]" + MARK + "\n",
        f"{READ_1} key 'when': entry #2: expected exactly one",
        id="when-neither",
    ),
    pytest.param(
        HEAD + ONE + ROUTE + "path = 'tasks[].decision'\nrequired = true\n"
        "when = [{ path = 'status', in = ['completed'] }]" + MARK + "\n",
        f"{READ_1} key 'when': condition path 'status' must be in the same array",
        id="when-in-another-array",
    ),
    pytest.param(
        HEAD + OK + "when = [{ path = 'a', in = [] }]" + MARK + "\n",
        "key 'when': entry #1: 'in' lists no value",
        id="when-no-value",
    ),
    pytest.param(
        HEAD + OK + "\n[[consumers]]\nname = 'ops-console'" + MARK + "\n" + OK,
        "[[consumers]] #2 key 'name': 'ops-console' is already the name of [[consumers]] #1",
        id="duplicate-name",
    ),
    pytest.param(
        "[[consumers]]\nname = 'legacy-dashboard'" + MARK + "\n" + OK,
        "[[consumers]] #1 key 'name': 'legacy-dashboard' is a built-in consumer",
        id="built-in-name",
    ),
    pytest.param(
        "[[consumers]]\nname = 'Ops Console'" + MARK + "\n" + OK,
        "[[consumers]] #1 key 'name': 'Ops Console' is not a name like 'ops-console'",
        id="bad-name",
    ),
    pytest.param(
        "[[consumers]]" + MARK + "\n" + OK,
        "[[consumers]] #1 key 'name': expected a non-empty string, got nothing",
        id="no-name",
    ),
    pytest.param(
        HEAD + OK + "\n[[consumers]]" + MARK + "\nname = 'empty'\n",
        "[[consumers]] #2 (empty) key 'reads': a consumer needs at least one [[consumers.reads]]",
        id="no-reads",
    ),
    pytest.param(
        HEAD + "reads = ['x']" + MARK + "\n",
        "[[consumers]] #1 (ops-console) key 'reads': expected an array of tables",
        id="reads-not-tables",
    ),
    pytest.param(
        HEAD + OK + "enum = ['a', { b = 1 }]" + MARK + "\n",
        f"{READ_1} key 'enum': expected strings, numbers or booleans, got a table",
        id="enum-table-value",
    ),
    pytest.param(
        HEAD + OK + "enum = 'a'" + MARK + "\n",
        f"{READ_1} key 'enum': expected a list of values, got 'a'",
        id="enum-not-a-list",
    ),
    pytest.param(
        HEAD + OK + "enum = [nan]" + MARK + "\n",
        f"{READ_1} key 'enum': expected strings, numbers or booleans, got nan",
        id="enum-nan",
    ),
    pytest.param(
        HEAD + ONE + "route = 3" + MARK + "\n" + PATH + "required = true\n",
        f"{READ_1} key 'route': expected a non-empty string, got 3",
        id="route-not-a-string",
    ),
    pytest.param(
        HEAD + ONE + "route = 'api/x'" + MARK + "\n" + PATH + "required = true\n",
        f"{READ_1} key 'route': expected a route template like /v1/items/{{id}}, got 'api/x'",
        id="route-relative",
    ),
    pytest.param(
        HEAD + OK + "method = 'FETCH'" + MARK + "\n",
        f"{READ_1} key 'method': expected one of GET, HEAD",
        id="bad-method",
    ),
    pytest.param(
        HEAD + OK + "method = 'POST'\nmessage = 'progress'" + MARK + "\n",
        f"{READ_1} key 'message': a websocket message is read on a GET route only",
        id="message-not-get",
    ),
    pytest.param(
        HEAD + OK + "known = { a = 'why' }" + MARK + "\n",
        f"{READ_1} key 'known': known values are values outside an enum",
        id="known-without-enum",
    ),
    pytest.param(
        HEAD + OK + "enum = ['a']\nknown = { a = 'why' }" + MARK + "\n",
        f"{READ_1} key 'known': 'a' is in enum",
        id="known-in-enum",
    ),
    pytest.param(
        HEAD + OK + "enum = ['a']\nknown = { b = 1 }" + MARK + "\n",
        f"{READ_1} key 'known': expected a table of value",
        id="known-reason-not-text",
    ),
    pytest.param(
        HEAD + OK + "\n" + OK + "\n" + OK + "types = 'string'" + MARK + "\n",
        "[[consumers]] #1 (ops-console) [[consumers.reads]] #3 key 'types': expected a list",
        id="third-read",
    ),
    pytest.param(
        HEAD + OK + "\n[[consumers]]\nname = 'bot'\n\n" + OK + OK + "pth = 'x'" + MARK + "\n",
        "[[consumers]] #2 (bot) [[consumers.reads]] #2 key 'pth': unknown key",
        id="second-consumer-counts-its-own-reads",
    ),
    pytest.param(
        HEAD + "reads = [{ route = '/x', path = 'x' }]" + MARK + "\n",
        "[[consumers]] #1 (ops-console) [[consumers.reads]] #1 key 'required'",
        id="inline-reads-name-the-reads-line",
    ),
    pytest.param(
        "consumers = 3" + MARK + "\n",
        "top level key 'consumers': expected an array of tables [[consumers]]",
        id="consumers-not-tables",
    ),
    pytest.param(
        "[[routes]]\ntemplate = '/x'\n\n[[routes]]\ntemplate = '/y'\n"
        "methods = ['FETCH']" + MARK + "\n",
        "[[routes]] #2 key 'methods': expected HTTP methods",
        id="config-routes-name-the-line",
    ),
    pytest.param(
        "[[known_differences]]" + MARK + "\nfield = 'x'\nreason = 'y'\n",
        "[[known_differences]] #1 key 'route': expected a non-empty string",
        id="config-known-missing-key-names-the-header",
    ),
]


@pytest.mark.parametrize(("text", "problem"), BAD)
def test_bad_files_name_the_file_the_line_and_the_key(
    tmp_path: Path, text: str, problem: str
) -> None:
    source, line = marked(text)
    path = write(tmp_path, source)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:{line}: "), message
    assert message.endswith("."), message
    assert problem in message, message


# ---------------------------------------------------------------- toml_line

TEXT = '''top = 1
[diff]
note = """
[[consumers]]
name = "inside a string"
"""
[[ consumers ]]  # a comment
name = "a"
[[consumers.reads]]
"path" = "x"
known.cancelled = "why"
[[consumers.reads.when]]
path = "status"
[[consumers]]
name = "b"
reads = [{ path = "y" }]
'''


@pytest.mark.parametrize(
    ("tables", "key", "line"),
    [
        pytest.param((), "top", 1, id="top-level-key"),
        pytest.param((), "absent", None, id="top-level-absent"),
        pytest.param((("diff", 1),), None, 2, id="plain-table"),
        pytest.param((("diff", 1),), "note", 3, id="multi-line-string-key"),
        pytest.param((("consumers", 1),), None, 7, id="skips-headers-inside-strings"),
        pytest.param((("consumers", 1),), "name", 8, id="key"),
        pytest.param((("consumers", 1),), "description", 7, id="absent-key-is-the-header"),
        pytest.param((("consumers", 1), ("consumers.reads", 1)), "path", 10, id="quoted-key"),
        pytest.param((("consumers", 1), ("consumers.reads", 1)), "known", 11, id="dotted-key"),
        pytest.param((("consumers", 1), ("consumers.reads", 1)), "when", 12, id="sub-table"),
        pytest.param((("consumers", 2),), "name", 15, id="second"),
        pytest.param((("consumers", 2), ("consumers.reads", 1)), "path", 16, id="inline-table"),
        pytest.param((("consumers", 3),), "name", None, id="no-such-table"),
    ],
)
def test_toml_line(tables: tuple[tuple[str, int], ...], key: str | None, line: int | None) -> None:
    assert toml_line(TEXT, tables, key) == line


def test_a_long_message_type_is_refused(tmp_path: Path) -> None:
    text = HEAD + OK + f"message = '{'p' * 65}'\n"
    with pytest.raises(ConfigError, match=r":8: .* key 'message': a frame type is at most 64"):
        load_config(write(tmp_path, text))
