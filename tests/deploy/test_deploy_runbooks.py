"""Every alert links where an on-call engineer goes next: `runbook_url`, the section of
docs/operations.md named after the alert (GitHub's heading anchors), which says what the alert
means, what to look at first, what to do and when to escalate; and `dashboard_url`, the Grafana
panel that draws what the alert measures, filtered to the alert's instance and route group. The
`shadowproxy` commands the runbooks give parse with the real CLI."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from shadowproxy.ops.arguments import build_parser

from .test_deploy_grafana import DASHBOARD, all_panels
from .test_deploy_prometheus import alert_blocks

ROOT = Path(__file__).resolve().parents[2]
OPERATIONS = ROOT / "docs" / "operations.md"
RULES_DIR = ROOT / "deploy" / "prometheus" / "rules"
RUNBOOK_PARTS = ("**What it means.**", "**Look first.**", "**Do.**", "**Escalate**")
PromqlNames = Callable[[str], set[str]]


def headings(markdown: str) -> Iterator[tuple[int, str, int]]:
    """(level, text, line index) of every ATX heading outside fenced code blocks."""
    fenced = False
    for index, line in enumerate(markdown.splitlines()):
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
            continue
        match = re.match(r"(#{1,6})\s+(.*?)\s*#*\s*$", line)
        if match and not fenced:
            yield len(match[1]), match[2], index


def github_anchor(heading: str) -> str:
    """The id GitHub gives a heading: its rendered text in lower case, punctuation dropped
    (letters, digits, `_` and `-` stay), spaces turned into hyphens."""
    text = re.sub(r"`([^`]*)`", r"\1", heading)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def sections(markdown: str) -> dict[str, tuple[str, str]]:
    """anchor → (heading, text up to the next heading), with GitHub's -1, -2 for repeats."""
    lines = markdown.splitlines()
    found = list(headings(markdown))
    result: dict[str, tuple[str, str]] = {}
    for position, (_, heading, index) in enumerate(found):
        end = found[position + 1][2] if position + 1 < len(found) else len(lines)
        anchor, repeat = github_anchor(heading), 0
        while (anchor if not repeat else f"{anchor}-{repeat}") in result:
            repeat += 1
        result[anchor if not repeat else f"{anchor}-{repeat}"] = (
            heading,
            "\n".join(lines[index + 1 : end]),
        )
    return result


@pytest.fixture
def runbooks() -> dict[str, tuple[str, str]]:
    return sections(OPERATIONS.read_text())


@pytest.fixture
def alerts() -> dict[str, str]:
    return alert_blocks((RULES_DIR / "alerts.yml").read_text())


@pytest.fixture
def dashboard() -> dict[str, Any]:
    value = json.loads(DASHBOARD.read_text())
    assert isinstance(value, dict)
    return value


def annotation(block: str, name: str) -> str:
    (value,) = re.findall(rf"\n\s+{name}: (.+)\n", block)
    return str(value).strip().strip('"')


def runbook_section(block: str, runbooks: dict[str, tuple[str, str]]) -> str:
    path, _, anchor = annotation(block, "runbook_url").partition("#")
    assert path == "docs/operations.md"
    assert anchor in runbooks, f"docs/operations.md has no heading with the anchor #{anchor}"
    return runbooks[anchor][1]


def linked_panel(block: str, dashboard: dict[str, Any]) -> dict[str, Any]:
    url = urlsplit(annotation(block, "dashboard_url"))
    assert url.path == f"/d/{dashboard['uid']}"
    (panel_id,) = parse_qs(url.query)["viewPanel"]
    (panel,) = [p for p in all_panels(dashboard["panels"]) if str(p["id"]) == panel_id]
    assert panel["type"] != "row"
    return panel


def test_the_anchor_rules_are_githubs() -> None:
    assert github_anchor("ShadowproxyParityLow") == "shadowproxyparitylow"
    assert github_anchor("`flags` — which side answers") == "flags--which-side-answers"
    assert github_anchor("Rules, alerts and dashboards in `deploy/`") == (
        "rules-alerts-and-dashboards-in-deploy"
    )
    markdown = "# A\n```sh\n# not a heading\n```\n## A\n"
    assert list(sections(markdown)) == ["a", "a-1"]


def test_every_alert_links_the_runbook_section_named_after_it(
    alerts: dict[str, str], runbooks: dict[str, tuple[str, str]]
) -> None:
    assert len(alerts) > 15
    for name, block in alerts.items():
        assert annotation(block, "runbook_url") == f"docs/operations.md#{name.lower()}", name
        runbook_section(block, runbooks)
        assert runbooks[name.lower()][0] == name, f"the section for {name} is not named after it"


def test_every_runbook_says_what_it_means_what_to_look_at_and_what_to_do(
    alerts: dict[str, str], runbooks: dict[str, tuple[str, str]], dashboard: dict[str, Any]
) -> None:
    for name, block in alerts.items():
        text = runbook_section(block, runbooks)
        missing = [part for part in RUNBOOK_PARTS if part not in text]
        assert missing == [], f"{name}'s runbook lacks {missing}"
        (severity,) = re.findall(r"\n\s+severity: (\w+)\n", block)
        assert text.lstrip().startswith(f"`{severity}`"), f"{name}: say its severity first"
        title = linked_panel(block, dashboard)["title"]
        assert title in " ".join(text.split()), f"{name}'s runbook does not name {title!r}"


def test_every_alert_opens_the_panel_that_draws_what_it_measures(
    alerts: dict[str, str],
    dashboard: dict[str, Any],
    rules_in: Callable[[Path], list[tuple[str, str, str]]],
    promql_names: PromqlNames,
) -> None:
    """The panel's series and the alert's share a metric, through the recordings on either side."""
    recordings = {n: promql_names(e) for _, n, e in rules_in(RULES_DIR / "recording.yml")}

    def reached(names: set[str]) -> set[str]:
        seen: set[str] = set()
        while names:
            name = names.pop()
            if name not in seen:
                seen.add(name)
                names |= recordings.get(name, set())
        return seen

    exprs = {n: expr for kind, n, expr in rules_in(RULES_DIR / "alerts.yml") if kind == "alert"}
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    for name, block in alerts.items():
        panel = linked_panel(block, dashboard)
        drawn = {n for target in panel["targets"] for n in promql_names(target["expr"])}
        assert reached(drawn) & reached(promql_names(exprs[name])), (
            f"{name} opens panel {panel['id']} {panel['title']!r}, which draws {sorted(drawn)}"
        )
        query = parse_qs(urlsplit(annotation(block, "dashboard_url")).query)
        for key, (value,) in query.items():
            if key.startswith("var-"):
                label = key.removeprefix("var-")
                assert label in variables, f"{name}: the dashboard has no variable {label}"
                assert value == f"{{{{ $labels.{label} | urlquery }}}}", f"{name}: {key}={value}"


def test_in_page_links_of_the_runbooks_resolve(runbooks: dict[str, tuple[str, str]]) -> None:
    targets = re.findall(r"\]\(#([^)]+)\)", OPERATIONS.read_text())
    assert len(targets) > 15
    assert sorted(set(targets) - set(runbooks)) == []


def runbook_commands(alerts: dict[str, str], runbooks: dict[str, tuple[str, str]]) -> set[str]:
    """Every `shadowproxy ...` code span of the alerts' sections and of the sections they share."""
    texts = [runbook_section(block, runbooks) for block in alerts.values()]
    texts += [runbooks[anchor][1] for anchor in ("before-you-start", "rolling-back-one-group")]
    spans = re.findall(r"`([^`]+)`", "\n".join(texts))
    return {" ".join(span.split()) for span in spans if span.startswith("shadowproxy ")}


def test_runbook_commands_parse_with_the_real_cli(
    alerts: dict[str, str], runbooks: dict[str, tuple[str, str]]
) -> None:
    """Placeholders (`<group>`, `<instance>`, ...) become a word; the parser checks the rest:
    subcommands, option names and choices."""
    commands = runbook_commands(alerts, runbooks)
    assert len(commands) >= 8
    parser = build_parser({})
    for command in sorted(commands):
        argv = shlex.split(re.sub(r"<[^<>]+>", "x", command))[1:]
        try:
            parser.parse_args(argv)
        except SystemExit:
            pytest.fail(f"the runbooks give a command the CLI refuses: {command}")
