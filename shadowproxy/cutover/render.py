"""The cutover readiness report (`Readiness.report()`) as `shadowproxy cutover` reads it: the text
it prints, and its gate (`ready`)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from shadowproxy.cutover.readiness import READY

MAX_ROWS = 8  # breaks and drift rows per group; `--json` has them all


def ready(report: Mapping[str, Any], groups: Collection[str] = ()) -> bool:
    """Whether every consumer verdict of `groups` (default: every group that has one) is ready.

    No verdict is no evidence: a chosen group without one, or a report without any, is not ready.
    """
    found: Mapping[str, Any] = report.get("groups", {})
    chosen = groups or [name for name, group in found.items() if group.get("consumers")]
    verdicts = [
        [row.get("verdict") for row in found.get(name, {}).get("consumers", {}).values()]
        for name in chosen
    ]
    return bool(verdicts) and all(v and all(word == READY for word in v) for v in verdicts)


def render(report: Mapping[str, Any]) -> str:
    window = float(report.get("window_s", 0)) / 60
    lines = [
        f"cutover readiness: the app's answers over the last {window:g} min,"
        f" at least {report.get('min_comparisons')} checked comparisons per verdict",
    ]
    groups: Mapping[str, Any] = report.get("groups", {})
    if not groups:
        lines.append("no route group has a configured consumer or any evidence yet")
    for name, group in groups.items():
        lines += ["", name]
        consumers: Mapping[str, Any] = group.get("consumers", {})
        if consumers:
            lines.append(f"  {'consumer':<22}{'checked':>8}  verdict")
            for consumer, row in consumers.items():
                lines.append(f"  {consumer:<22}{row['checked']:>8}  {row['summary']}")
            breaks = [
                (consumer, found)
                for consumer, row in consumers.items()
                for found in row.get("breaks", [])
            ]
            if breaks:
                lines.append("  breaks (app side)")
                for consumer, found in breaks[:MAX_ROWS]:
                    lines.append(
                        f"    {consumer:<20} {found['field']:<28} {found['kind']:<14}"
                        f"{found['count']:>6}  e.g. {found['example']}  ({found['detail']})"
                    )
                if len(breaks) > MAX_ROWS:
                    lines.append(f"    … {len(breaks) - MAX_ROWS} more (--json)")
        checkpoints = group.get("checkpoints", [])
        evidence = [c for c in checkpoints if c["checked"]]
        if evidence:
            heading = "checkpoint (docs/migration.md §5)"
            lines.append(f"  {heading:<74}{'checked':>8}{'violations':>12}  example")
        for checkpoint in evidence:
            example = checkpoint.get("example") or "-"
            lines.append(
                f"  {checkpoint['condition']:<74}{checkpoint['checked']:>8}"
                f"{checkpoint['violations']:>12}  {example}"
            )
        silent = [c["name"] for c in checkpoints if not c["checked"]]
        if silent:
            lines.append(f"  no evidence yet for checkpoints: {', '.join(silent)}")
        drift = group.get("drift", [])
        if drift:
            lines.append(f"  drift (paths legacy always sends, the app not): {len(drift)}")
            for row in drift[:MAX_ROWS]:
                lines.append(
                    f"    {row['route']:<34} {row['field']:<28} {row['kind']:<14}"
                    f"{row['count']:>6}  e.g. {row['example']}"
                )
            if len(drift) > MAX_ROWS:
                lines.append(f"    … {len(drift) - MAX_ROWS} more (--json)")
    return "\n".join(lines)
