"""A run's report as text: the console's fixed-width tables, or markdown (results/, README.md)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

Cell = str


def table(headers: Sequence[str], rows: Sequence[Sequence[Cell]], *, markdown: bool) -> str:
    if markdown:
        lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines) + "\n"
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]
    out = []
    for row in (headers, *rows):
        first, *rest = row
        out.append(
            f"  {first:<{widths[0]}}"
            + "".join(f"  {c:>{w}}" for c, w in zip(rest, widths[1:], strict=True))
        )
    return "\n".join(out) + "\n"


def _num(value: float | None, digits: int = 0) -> Cell:
    return "-" if value is None else f"{value:.{digits}f}"


def _counts(counts: dict[str, float] | None) -> str:
    if not counts:
        return "none"
    return ", ".join(f"{name} {value:.0f}" for name, value in sorted(counts.items()))


def render(report: dict[str, Any], *, markdown: bool) -> str:
    parts = [_heading(report, markdown)]

    def title(text: str) -> str:
        return f"\n### {text}\n\n" if markdown else f"\n{text}\n"

    parts += [title(report["closed_loop"]), _scenarios(report, markdown)]
    parts += [title(report["paced_loop"]), _paced(report, markdown)]
    parts += [title("curves (one run per point)"), _curves(report, markdown)]
    if report["websocket_scenarios"]:
        parts += [title(report["websocket_loop"]), _websocket(report, markdown)]
    parts += [title("targets (issue 15), ratios measured side by side in this run")]
    parts.append(_targets(report, markdown))
    parts += [title("ratios (same run, same machine; latencies in ms)"), _ratios(report, markdown)]
    if "diff_engine_us" in report:
        parts += [title("diff engine alone, µs per status document (target 4: diff.py's)")]
        parts.append(_diff(report["diff_engine_us"], markdown))
    return "".join(parts)


def _heading(report: dict[str, Any], markdown: bool) -> str:
    machine, tools = report["machine"], report["tools"]
    lines = [
        f"run of {report['started_utc']} UTC, {report['elapsed_s']:.0f} s"
        f"{' (--quick)' if report['quick'] else ''}",
        f"machine: {machine['cpu_model']}{_mhz(machine)}, {machine['nproc']} cores (nproc; "
        f"{machine['processors']} in /proc/cpuinfo"
        f"{', a virtual machine' if machine.get('virtual_machine') else ''}), "
        f"{machine['memory_gib']} GiB, "
        f"{machine['os']}, Linux {machine['kernel']}, Python {machine['python']}; 1-minute load "
        f"average {report['load_average']['start']:.2f} at start, "
        f"{report['load_average']['end']:.2f} at end",
        f"closed-loop generator: {tools['closed_loop_generator']}; paced: built-in; "
        f"nginx: {_nginx(tools)}",
    ]
    bullet, sub = ("- ", "  - ") if markdown else ("", "  ")
    text = "".join(f"{bullet}{line}\n" for line in lines)
    text += "".join(f"{sub}{note}\n" for note in tools["notes"])
    if report["failed_sections"]:
        text += f"{bullet}FAILED sections: {report['failed_sections']}\n"
    return text


def _mhz(machine: dict[str, Any]) -> str:
    return f" at {machine['cpu_mhz']} MHz" if machine.get("cpu_mhz") else ""


def _nginx(tools: dict[str, Any]) -> str:
    if not tools.get("nginx"):
        return "not available"
    return f"{tools['nginx']}, {tools.get('nginx_workers', '?')} worker(s)"


def _latency_cells(row: dict[str, Any]) -> list[Cell]:
    return [
        _num(row["requests_per_s"]),
        _num(row["p50_ms"], 2),
        _num(row["p99_ms"], 2),
        _num(row["p999_ms"], 2),
        _num(row["cpu_us_per_request"]),
    ]


LATENCY_HEADERS = ["req/s", "p50 ms", "p99 ms", "p99.9 ms", "CPU µs/req"]


def _scenarios(report: dict[str, Any], markdown: bool) -> str:
    rows, notes = [], []
    for row in report["scenarios"]:
        if "skipped" in row:
            rows.append([row["scenario"], *["-"] * 7])
            notes.append(f"{row['scenario']}: skipped, {row['skipped']}")
            continue
        rss = _num(row["peak_rss_mib"], 1)
        rows.append([row["scenario"], *_latency_cells(row), rss, str(row["errors"])])
        if row["comparisons"] is not None:
            coverage = "-" if row["coverage"] is None else f"{row['coverage'] * 100:.1f}%"
            notes.append(
                f"{row['scenario']}: {row['requests_counted']:.0f} requests, compared "
                f"{coverage}; outcomes: {_counts(row['comparisons'])}; "
                f"skipped: {_counts(row['shadow_skipped'])}"
            )
    text = table(["scenario", *LATENCY_HEADERS, "RSS MiB", "errors"], rows, markdown=markdown)
    bullet = "- " if markdown else "  "
    return text + ("\n" if markdown else "") + "".join(f"{bullet}{note}\n" for note in notes)


def _paced(report: dict[str, Any], markdown: bool) -> str:
    rows = [[row["scenario"], *_latency_cells(row), str(row["errors"])] for row in report["paced"]]
    return table(["scenario", *LATENCY_HEADERS, "errors"], rows, markdown=markdown)


def _curves(report: dict[str, Any], markdown: bool) -> str:
    rows = []
    for row in report["curves"]:
        shape = (
            f"{row['concurrency']} clients"
            if row["curve"] == "concurrency"
            else f"{row['size_bytes'] // 1024} KB, {row['concurrency']} clients"
        )
        rows.append([f"{row['scenario']}, {shape}", *_latency_cells(row), str(row["errors"])])
    return table(["point", *LATENCY_HEADERS, "errors"], rows, markdown=markdown)


def _websocket(report: dict[str, Any], markdown: bool) -> str:
    rows = [
        [
            row["scenario"],
            _num(row["round_trip_p50_ms"], 3),
            _num(row["round_trip_p95_ms"], 3),
            _num(row["round_trip_p99_ms"], 3),
            _num(row["frames_per_s"]),
        ]
        for row in report["websocket_scenarios"]
    ]
    headers = ["scenario", "round trip p50 ms", "p95 ms", "p99 ms", "frames/s"]
    return table(headers, rows, markdown=markdown)


def _targets(report: dict[str, Any], markdown: bool) -> str:
    verdicts = {True: "met", False: "NOT MET", None: "not measured"}
    rows = [
        [
            check["target"],
            check["name"],
            _num(check["value"], 3),
            check["bound"],
            verdicts[check["met"]],
        ]
        for check in report["targets"]
    ]
    return table(["#", "target", "measured", "bound", "verdict"], rows, markdown=markdown)


def _ratios(report: dict[str, Any], markdown: bool) -> str:
    rows = [
        [name, "-" if value is None else f"{value:g}"] for name, value in report["ratios"].items()
    ]
    return table(["ratio", "value"], rows, markdown=markdown)


def _diff(cost: dict[str, Any], markdown: bool) -> str:
    rows = [[name, str(value)] for name, value in cost.items()]
    return table(["figure", "value"], rows, markdown=markdown)
