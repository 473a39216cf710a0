"""Shared fixtures for the deploy/ checks: the real monitoring tools, the fixed metric vocabulary,
a PromQL name extractor, a rules-file reader and a YAML-subset reader (PyYAML is not a
dependency of this project). Test modules cannot import a conftest under --import-mode=importlib,
so every helper is handed out as a fixture.

The tools (promtool, amtool, prometheus) come from the Debian packages `prometheus` and
`prometheus-alertmanager`. A developer machine without them skips those tests; CI (CI=true)
installs them, so there a missing tool is a failure, never a silent skip.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

DEPLOY_DIR = Path(__file__).resolve().parents[2] / "deploy"

# The metric names the proxy exports (shadowproxy/metrics.py, shadowproxy/ws/metrics.py) — fixed
# by the project; the dashboard and the rules may use nothing else besides their own recordings.
FIXED_METRICS = frozenset(
    {
        "shadowproxy_requests_total",
        "shadowproxy_comparisons_total",
        "shadowproxy_field_mismatches_total",
        "shadowproxy_upstream_duration_seconds",
        "shadowproxy_shadow_skipped_total",
        "shadowproxy_shadow_inflight",
        "shadowproxy_authoritative_side",
        "shadowproxy_shadow_failures_total",
        "shadowproxy_ws_connections_total",
        "shadowproxy_ws_frames_total",
        "shadowproxy_ws_comparisons_total",
        "shadowproxy_ws_shadow_overflow_total",
        "shadowproxy_rollback_triggers_total",
        "shadowproxy_difflog_records_total",
        "shadowproxy_consumer_breaks_total",
        "shadowproxy_consumer_checks_total",
        "shadowproxy_drift_findings_total",
        "shadowproxy_cutover_verdict",
        "shadowproxy_flags_version",
        "shadowproxy_rollbacks_total",
        "shadowproxy_known_differences",
        "shadowproxy_admin_denied_total",
        "shadowproxy_noise_ratio",
        "shadowproxy_noise_samples_total",
    }
)
HISTOGRAMS = frozenset({"shadowproxy_upstream_duration_seconds"})
# Series Prometheus itself synthesizes: scrape health and the firing-alerts view.
BUILTIN_SERIES = frozenset({"up", "ALERTS"})

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_OFFSET = re.compile(r"\boffset\s+-?[0-9][0-9a-z]*")
_NUMBER = re.compile(r"(?<![A-Za-z0-9_:])[0-9][0-9.eE+\-]*")
_VARIABLE = re.compile(r"\$\{?\w+\}?")
_LABEL_VALUES = re.compile(r"\blabel_values\(\s*([^,()]+?)\s*,[^)]*\)")
_IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_OPERATORS = frozenset({"and", "or", "unless", "bool", "inf", "nan", "Inf", "NaN"})


def metric_names(expr: str) -> set[str]:
    """The series names a PromQL expression selects (functions, labels, keywords removed)."""
    text = _LABEL_VALUES.sub(r"\1", _STRING.sub(" ", expr))
    for pattern in (_MATCHERS, _RANGE, _GROUPING, _OFFSET, _VARIABLE, _NUMBER):
        text = pattern.sub(" ", text)
    names = set()
    for match in _IDENT.finditer(text):
        following = text[match.end() :].lstrip()
        if following.startswith("(") or match.group() in _OPERATORS:
            continue  # a function or aggregation call, or a set/comparison keyword
        names.add(match.group())
    return names


def rule_entries(text: str) -> list[tuple[str, str, str]]:
    """(kind, name, expr) for every `- record:`/`- alert:` of a rules file, read line by line.

    Handles the two expr forms the files use: inline scalars and `|` block scalars.
    """
    entries: list[tuple[str, str, str]] = []
    lines = text.splitlines()
    kind = name = ""
    for index, line in enumerate(lines):
        head = re.match(r"\s*- (record|alert): (\S+)", line)
        if head:
            kind, name = head.groups()
            continue
        expr = re.match(r"(\s*)expr: ?(.*)$", line)
        if not expr or not name:
            continue
        indent, rest = len(expr.group(1)), expr.group(2).strip()
        if rest not in ("|", "|-", ">", ">-"):
            entries.append((kind, name, rest))
            continue
        block = []
        for follow in lines[index + 1 :]:
            if follow.strip() and len(follow) - len(follow.lstrip()) <= indent:
                break
            block.append(follow.strip())
        entries.append((kind, name, " ".join(part for part in block if part)))
    return entries


def recording_names() -> frozenset[str]:
    text = (DEPLOY_DIR / "prometheus" / "rules" / "recording.yml").read_text()
    return frozenset(name for kind, name, _ in rule_entries(text) if kind == "record")


def allowed_series() -> frozenset[str]:
    suffixed = {f"{h}{s}" for h in HISTOGRAMS for s in ("_bucket", "_sum", "_count")}
    return FIXED_METRICS - HISTOGRAMS | suffixed | BUILTIN_SERIES | recording_names()


@pytest.fixture
def tool() -> Callable[[str], str]:
    """Resolve a monitoring binary: skip without it locally, fail without it in CI."""

    def resolve(name: str) -> str:
        path = shutil.which(name)
        if path is not None:
            return path
        message = f"{name} is not installed (Debian packages: prometheus, prometheus-alertmanager)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}; CI must install it")
        pytest.skip(message)

    return resolve


# ---------------------------------------------------------------- YAML subset
# Enough YAML for the compose file, the Kubernetes manifests and the Grafana provisioning files as
# written here: block mappings and sequences, `---` documents, comments, quoted and plain scalars,
# flow sequences of scalars, `{}`. Anything else (anchors, tags, flow mappings, block scalars) is
# a ValueError naming the line, so the check can never silently read less than the file says.


class _Line:
    __slots__ = ("indent", "number", "text")

    def __init__(self, indent: int, text: str, number: int) -> None:
        self.indent, self.text, self.number = indent, text, number


_FLOW_ITEM = re.compile(r'\s*("(?:[^"\\]|\\.)*"|\'(?:[^\']|\'\')*\'|[^,\[\]]+?)\s*(?:,|$)')


def _strip_comment(text: str) -> str:
    quote = ""
    for index, char in enumerate(text):
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char == "#" and (index == 0 or text[index - 1] in " \t"):
            return text[:index].rstrip()
    return text.rstrip()


def _split_key(text: str) -> tuple[str, str] | None:
    """`key: rest` or `key:` → (key, rest); None when the text is not a mapping entry."""
    quote = ""
    for index, char in enumerate(text):
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'" and index == 0:
            quote = char
        elif char == ":" and (index + 1 == len(text) or text[index + 1] == " "):
            return str(_scalar(text[:index], 0)), text[index + 1 :].strip()
    return None


def _scalar(text: str, number: int) -> object:
    if text[:1] in "&*!|>{" and text != "{}":
        raise ValueError(f"line {number}: unsupported YAML construct {text!r}")
    if text == "{}":
        return {}
    if text.startswith('"'):
        return json.loads(text)
    if text.startswith("'"):
        return text[1:-1].replace("''", "'")
    if text.startswith("["):
        inner = text[1:-1].strip()
        return [_scalar(m.group(1), number) for m in _FLOW_ITEM.finditer(inner) if m.group(1)]
    if text in ("true", "false"):
        return text == "true"
    if text in ("null", "~"):
        return None
    if re.fullmatch(r"-?[0-9]+", text):
        return int(text)
    return text


def _block(lines: list[_Line], i: int, indent: int) -> tuple[object, int]:
    if lines[i].text == "-" or lines[i].text.startswith("- "):
        return _sequence(lines, i, indent)
    return _mapping(lines, i, indent)


def _value_after_key(lines: list[_Line], i: int, indent: int) -> tuple[object, int]:
    """The nested block after `key:` (k8s style allows a sequence at the key's own indent)."""
    if i < len(lines) and lines[i].indent > indent:
        return _block(lines, i, lines[i].indent)
    if i < len(lines) and lines[i].indent == indent and lines[i].text.startswith("- "):
        return _sequence(lines, i, indent)
    return None, i


def _mapping(lines: list[_Line], i: int, indent: int) -> tuple[dict[str, object], int]:
    result: dict[str, object] = {}
    while i < len(lines) and lines[i].indent == indent and not lines[i].text.startswith("- "):
        line = lines[i]
        entry = _split_key(line.text)
        if entry is None:
            raise ValueError(f"line {line.number}: expected `key: value`, got {line.text!r}")
        key, rest = entry
        if key in result:
            raise ValueError(f"line {line.number}: duplicate key {key!r}")
        if rest:
            result[key], i = _scalar(rest, line.number), i + 1
        else:
            result[key], i = _value_after_key(lines, i + 1, indent)
    if i < len(lines) and lines[i].indent > indent:
        raise ValueError(f"line {lines[i].number}: unexpected indentation")
    return result, i


def _sequence(lines: list[_Line], i: int, indent: int) -> tuple[list[object], int]:
    items: list[object] = []
    while i < len(lines) and lines[i].indent == indent and lines[i].text[:2] in ("- ", "-"):
        line = lines[i]
        rest = line.text[1:].strip()
        if not rest:
            value, i = _value_after_key(lines, i + 1, indent)
            items.append(value)
        elif _split_key(rest) is not None and not rest.startswith(("[", '"', "'")):
            # `- key: value` opens a mapping whose keys sit two columns further in
            lines[i] = _Line(indent + 2, rest, line.number)
            value, i = _mapping(lines, i, indent + 2)
            items.append(value)
        else:
            items.append(_scalar(rest, line.number))
            i += 1
    return items, i


def _documents(text: str) -> list[object]:
    docs: list[object] = []
    current: list[_Line] = []
    for number, raw in enumerate([*text.splitlines(), "---"], start=1):
        if raw.rstrip() == "---":
            if current:
                value, end = _block(current, 0, current[0].indent)
                if end != len(current):
                    raise ValueError(f"line {current[end].number}: unexpected indentation")
                docs.append(value)
            current = []
            continue
        stripped = _strip_comment(raw)
        if stripped.strip():
            if "\t" in raw[: len(raw) - len(raw.lstrip())]:
                raise ValueError(f"line {number}: tab in indentation")
            current.append(_Line(len(stripped) - len(stripped.lstrip()), stripped.strip(), number))
    return docs


@pytest.fixture
def load_yaml() -> Callable[[Path], list[object]]:
    """Read a YAML file (the subset above) into its documents."""

    def load(path: Path) -> list[object]:
        return _documents(path.read_text())

    return load


@pytest.fixture
def deploy_dir() -> Path:
    return DEPLOY_DIR


@pytest.fixture
def promql_names() -> Callable[[str], set[str]]:
    return metric_names


@pytest.fixture
def rules_in() -> Callable[[Path], list[tuple[str, str, str]]]:
    """(kind, name, expr) of every rule in a rules file."""

    def read(path: Path) -> list[tuple[str, str, str]]:
        return rule_entries(path.read_text())

    return read


@pytest.fixture
def fixed_metrics() -> frozenset[str]:
    return FIXED_METRICS


@pytest.fixture
def allowed_names() -> frozenset[str]:
    """Series names a query may select: the fixed metrics, our recordings, Prometheus' own."""
    return allowed_series()
