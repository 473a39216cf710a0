"""The comparison of the two runs: a table per case group, the cases that differ, markdown."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from conformance.wstest import AgentRun, CaseResult

VERDICTS = ("OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED")
PASSING = frozenset({"OK", "NON-STRICT", "INFORMATIONAL"})  # what wstest's report calls a pass
NOT_RUN = "NOT RUN"  # in one run's index and not in the other's
_SHORT = {"NON-STRICT": "NS", "INFORMATIONAL": "INFO", "UNIMPLEMENTED": "UNIMPL", NOT_RUN: "NR"}
GROUPS = {
    1: "Framing",
    2: "Pings/Pongs",
    3: "Reserved Bits",
    4: "Opcodes",
    5: "Fragmentation",
    6: "UTF-8 Handling",
    7: "Close Handling",
    9: "Limits/Performance",
    10: "Miscellaneous",
    12: "Compression (payloads)",
    13: "Compression (parameters)",
}  # Autobahn has no group 8 or 11


@dataclass(frozen=True, slots=True)
class Difference:
    case: str
    direct: CaseResult | None
    proxy: CaseResult | None

    @property
    def regression(self) -> bool:
        """Passes direct, not through the proxy."""
        return _passes(self.direct) and not _passes(self.proxy)


@dataclass(frozen=True, slots=True)
class Meta:
    """What the report says about the run besides the results."""

    date: str
    revision: str
    cases: Sequence[str]
    exclude: Sequence[str]
    echo_path: str
    wstest: str
    comparisons: Mapping[str, int] | None  # None: the proxy's /metrics did not answer
    total_s: float


def differences(direct: AgentRun, proxy: AgentRun) -> list[Difference]:
    """Every case whose verdict or closing verdict is not the same in both runs, in case order."""
    found = []
    for case in sorted(direct.cases.keys() | proxy.cases.keys(), key=_case_key):
        a, b = direct.cases.get(case), proxy.cases.get(case)
        if a is None or b is None or a.verdicts != b.verdicts:
            found.append(Difference(case, a, b))
    return found


def regressions(found: Sequence[Difference]) -> list[str]:
    """The cases that pass direct and not through the proxy."""
    return [item.case for item in found if item.regression]


def group_table(direct: AgentRun, proxy: AgentRun) -> str:
    runs = (direct, proxy)
    all_cases = direct.cases.keys() | proxy.cases.keys()
    missing = any(all_cases - run.cases.keys() for run in runs)
    names = [*VERDICTS, NOT_RUN] if missing else list(VERDICTS)
    groups = sorted({_case_key(case)[0] for case in all_cases})
    head = ["group", "cases"] + [f"{run.agent} {_SHORT.get(v, v)}" for run in runs for v in names]
    lines = [_row(head), _row(["---"] * len(head))]
    totals = [0] * (1 + len(runs) * len(names))
    for group in groups:
        in_group = [case for case in all_cases if _case_key(case)[0] == group]
        counts = [len(in_group)]
        for run in runs:
            tally = dict.fromkeys(names, 0)
            for case in in_group:
                tally[_verdict(run.cases.get(case))] += 1
            counts.extend(tally[name] for name in names)
        totals = [t + c for t, c in zip(totals, counts, strict=True)]
        label = f"{group} {GROUPS.get(group, '')}".strip()
        lines.append(_row([label, *map(str, counts)]))
    lines.append(_row(["**all**", *(f"**{t}**" for t in totals)]))
    return "\n".join(lines)


def differences_table(found: Sequence[Difference]) -> str:
    if not found:
        return "No case differs."
    head = ["case", "direct", "proxy", "proxy: wstest result", "proxy: closing result"]
    lines = [_row(head), _row(["---"] * len(head))]
    for item in found:
        proxy = item.proxy
        lines.append(
            _row(
                [
                    f"**{item.case}**" if item.regression else item.case,
                    _describe(item.direct),
                    _describe(proxy),
                    "" if proxy is None else proxy.result,
                    "" if proxy is None else proxy.result_close,
                ]
            )
        )
    return "\n".join(lines)


def markdown(direct: AgentRun, proxy: AgentRun, meta: Meta) -> str:
    found = differences(direct, proxy)
    failing = regressions(found)
    if meta.comparisons is None:
        comparisons = "unknown (the admin port's /metrics did not answer)"
    else:
        comparisons = ", ".join(f"{k} {v}" for k, v in meta.comparisons.items()) or "none"
    index = {direct.agent: direct.index, proxy.agent: proxy.index}
    return "\n".join(
        [
            f"# Autobahn|Testsuite conformance, {meta.date}",
            "",
            f"- tree: {meta.revision}",
            f"- wstest: {meta.wstest}, `fuzzingclient`",
            f"- cases: `{','.join(meta.cases)}`"
            + (f", excluded `{','.join(meta.exclude)}`" if meta.exclude else ""),
            f"- {direct.agent}: the aiohttp echo backend at `{direct.url}` "
            f"({direct.elapsed_s:.0f} s)",
            f"- {proxy.agent}: `python -m shadowproxy run` on its defaults at `{proxy.url}`, "
            "legacy (authoritative) and app (shadow) both echo backends "
            f"({proxy.elapsed_s:.0f} s); "
            f"`{meta.echo_path}` matches no route, so it is relayed generically "
            "(route group `system`, generic stream)",
            f"- the proxy's websocket comparisons: {comparisons}",
            f"- total run time: {meta.total_s:.0f} s (building the Python 2.7 venv not counted)",
            "",
            "## Verdicts per case group",
            "",
            "Counts of wstest's case verdict (`behavior`): NS non-strict, INFO informational, "
            "UNIMPL unimplemented (NR: not run in that target).",
            "",
            group_table(direct, proxy),
            "",
            "## Passes direct, not through the proxy",
            "",
            ", ".join(failing) if failing else "None.",
            "",
            "## Every case whose verdict differs",
            "",
            "Verdict (closing verdict, close code the server sent); a case in bold passes direct "
            "and not through the proxy.",
            "",
            differences_table(found),
            "",
            "## wstest's index.json",
            "",
            "```json",
            json.dumps(index, indent=1, sort_keys=True),
            "```",
            "",
        ]
    )


def _case_key(case: str) -> tuple[int, ...]:
    return tuple(int(part) for part in case.split("."))


def _passes(result: CaseResult | None) -> bool:
    return result is not None and result.behavior in PASSING


def _verdict(result: CaseResult | None) -> str:
    if result is None:
        return NOT_RUN
    return result.behavior if result.behavior in VERDICTS else "FAILED"


def _describe(result: CaseResult | None) -> str:
    if result is None:
        return NOT_RUN
    return f"{result.behavior} ({result.behavior_close}, {result.remote_close_code})"


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"
