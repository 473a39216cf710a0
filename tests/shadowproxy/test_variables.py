"""The registry of environment variables (shadowproxy/settings.py) cannot drift from what is read.

Every `SHADOWPROXY_*` and `TA_*` name in the source of the proxy, the kernel and the backends (and
the benchmarks that set them), every one the tests read from the environment, and every one in
deploy/ and in README's settings table must be known, so the startup warning never calls a real
variable unknown; and every name the registry restates for others is one their source reads.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from pathlib import Path

import pytest

from shadowproxy.variables import (
    BACKEND_VARIABLES,
    KNOWN_VARIABLES,
    TOOLING_VARIABLES,
    unknown_variables,
    variable,
)

ROOT = Path(__file__).resolve().parents[2]
NAME = re.compile(r"\b(?:SHADOWPROXY|TA)_[A-Z0-9_]*[A-Z0-9]\b")
BACKENDS = ("orchestrator", "legacy_backend", "app_service", "backend_common")
SOURCES = ("shadowproxy", *BACKENDS, "benchmarks", "conformance")


def names_in_python(folders: Iterable[str]) -> dict[str, str]:
    """name -> the first file whose string literals (f-string parts included) mention it."""
    found: dict[str, str] = {}
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    for name in NAME.findall(node.value):
                        found.setdefault(name, str(path.relative_to(ROOT)))
    return found


def test_every_variable_the_code_mentions_is_known() -> None:
    found = names_in_python(SOURCES)
    assert len(found) > 50
    unknown = {name: where for name, where in found.items() if name not in KNOWN_VARIABLES}
    assert unknown == {}


def names_tests_read() -> set[str]:
    """`environ.get("NAME", ...)` and `environ["NAME"]` in tests/ (they set made-up ones too)."""
    found = set()
    for path in (ROOT / "tests").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            key = None
            if (
                isinstance(node, ast.Call)
                and node.args
                and ast.unparse(node.func).endswith("environ.get")
            ):
                key = node.args[0]
            elif isinstance(node, ast.Subscript) and ast.unparse(node.value).endswith("environ"):
                key = node.slice
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                found.add(key.value)
    return {name for name in found if NAME.fullmatch(name)}


def test_every_variable_the_tests_read_is_known() -> None:
    assert names_tests_read() - KNOWN_VARIABLES == set()


def test_every_variable_deploy_sets_is_known() -> None:
    files = [path for path in (ROOT / "deploy").rglob("*") if path.is_file()]
    text = "".join(path.read_text(encoding="utf-8", errors="replace") for path in files)
    assert set(NAME.findall(text)) - KNOWN_VARIABLES == set()


def readme_table_names() -> set[str]:
    """The variables in README's settings table; `A_B_C / _D` is shorthand for A_B_C and A_B_D."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Settings", 1)[1].split("\n## ", 1)[0]
    names = set()
    for row in table.splitlines():
        cells = row.split("|")
        if len(cells) < 3:
            continue
        found = re.findall(r"`([A-Z0-9_<>]+)`", cells[1])
        if not found:  # the header row
            continue
        first, *short = found
        names.add(first)
        prefix = "_".join(first.split("_")[:2])  # e.g. SHADOWPROXY_DRIFT
        names |= {prefix + part if part.startswith("_") else part for part in short}
    return names


def test_every_variable_in_readme_is_known() -> None:
    names = readme_table_names()
    assert "SHADOWPROXY_WS_BUFFER_BYTES" in names  # the shorthand was read
    assert "SHADOWPROXY_DRIFT_LEARN_EVERY" in names
    templates = {name for name in names if "<" in name}
    # the groups: from RouteGroup
    assert templates == {"TA_AUTHORITATIVE_<GROUP>", "SHADOWPROXY_SAMPLE_RATE_<GROUP>"}
    assert names - templates - KNOWN_VARIABLES == set()


def test_every_variable_restated_for_others_is_theirs() -> None:
    assert BACKEND_VARIABLES - set(names_in_python(BACKENDS)) == set()
    assert TOOLING_VARIABLES - names_tests_read() - set(names_in_python(["benchmarks"])) == set()


def test_only_a_registered_variable_can_be_read() -> None:
    assert variable({"SHADOWPROXY_SHADOW": " off "}, "SHADOWPROXY_SHADOW") == "off"
    assert variable({}, "SHADOWPROXY_SHADOW") == ""
    with pytest.raises(KeyError, match="SHADOWPROXY_NEW"):
        variable({"SHADOWPROXY_NEW": "1"}, "SHADOWPROXY_NEW")


def test_unknown_variables_come_with_the_closest_known_name() -> None:
    environ = {
        "SHADOWPROXY_SAMPEL_RATE": "1",
        "TA_AUTHORITATIVE_ANALYSYS": "app",
        "TA_FAULT_LLM": "fail",  # the kernel's
        "SHADOWPROXY_XYZZY": "1",
        "PATH": "/bin",
    }
    assert unknown_variables(environ) == [
        ("SHADOWPROXY_SAMPEL_RATE", "SHADOWPROXY_SAMPLE_RATE"),
        ("SHADOWPROXY_XYZZY", None),
        ("TA_AUTHORITATIVE_ANALYSYS", "TA_AUTHORITATIVE_ANALYSIS"),
    ]
