"""The engine sections of a run: the diff engine alone, consumer contracts and drift, reading
the diff log back. As report data (`sections`) and on the console (`print_sections`)."""

from __future__ import annotations

import sys
from typing import Any

from benchmarks import contracts, diff, difflog


def sections(
    cost: diff.DiffCost | None,
    checks: contracts.ContractCost | None,
    reading: dict[str, Any] | None,
) -> dict[str, Any]:
    sections: dict[str, Any] = {}
    if cost is not None:
        sections["diff_engine_us"] = _diff(cost)
    if checks is not None:
        sections["consumer_contracts_us"] = _contracts(checks)
    if cost is not None and checks is not None:
        sections["diff_ratios"] = _diff_ratios(cost, checks)
    if reading is not None:
        sections["diff_log_reading"] = reading
    return sections


def _diff(cost: diff.DiffCost) -> dict[str, Any]:
    return {
        "parse_both": round(cost.parse_us, 2),
        "key_fields": round(cost.key_fields_us, 2),
        "with_secondary": round(cost.with_secondary_us, 2),
        "outcome": cost.outcome,
    }


def _contracts(checks: contracts.ContractCost) -> dict[str, Any]:
    return {
        "legacy_document": round(checks.legacy_document_us, 2),
        "app_document": round(checks.app_document_us, 2),
        "both_documents": round(checks.both_documents_us, 2),
        "repeated_comparison": round(checks.repeated_comparison_us, 2),
        "target_per_document": checks.target_us,
        "breaks": checks.breaks,
        "drift_per_comparison": round(checks.drift_us, 2),
        "drift_repeated_bodies": round(checks.drift_repeated_us, 2),
        "drift_check": round(checks.drift_check_us, 2),
        "drift_learn": round(checks.drift_learn_us, 2),
        "drift_findings": checks.drift_findings,
    }


def _diff_ratios(cost: diff.DiffCost, checks: contracts.ContractCost) -> dict[str, float]:
    return {
        "diff: key fields / parsing both bodies": round(cost.key_fields_us / cost.parse_us, 1),
        "diff: with secondary / key fields": round(cost.with_secondary_us / cost.key_fields_us, 1),
        "contracts: both documents / parsing bodies": round(
            checks.both_documents_us / cost.parse_us, 1
        ),
        "drift: per comparison / parsing bodies": round(checks.drift_us / cost.parse_us, 1),
    }


def _print_contracts(checks: dict[str, Any]) -> None:
    out = sys.stdout
    target = f"(target <= {checks['target_per_document']:.0f} us per document, one core)"
    out.write(
        "\nconsumer contracts, microseconds, the status route, both built-in contracts, no drift\n"
    )
    out.write(f"  {'check: legacy document':<44} {checks['legacy_document']:>9.1f}  {target}\n")
    out.write(
        f"  {'check: app (v1alpha1) document':<44} {checks['app_document']:>9.1f}  {target}\n"
    )
    out.write(
        f"  {'findings of one comparison (both documents)':<44} {checks['both_documents']:>9.1f}"
        f"  ({checks['breaks']} breaks built)\n"
    )
    out.write(
        f"  {'the same two bodies again (remembered)':<44} {checks['repeated_comparison']:>9.1f}\n"
    )
    out.write("drift learner, microseconds per comparison, default settings, after warm-up\n")
    out.write(
        f"  {'check app + learn legacy (amortized)':<44} {checks['drift_per_comparison']:>9.1f}"
        f"  ({checks['drift_findings']} drift findings)\n"
    )
    out.write(
        f"  {'the same, bodies remembered (no flatten)':<44}"
        f" {checks['drift_repeated_bodies']:>9.1f}\n"
    )
    out.write(f"  {'check app':<44} {checks['drift_check']:>9.1f}\n")
    out.write(f"  {'learn legacy (sampled)':<44} {checks['drift_learn']:>9.1f}\n")


def print_sections(report: dict[str, Any]) -> None:
    """The engine sections of a report on the console, after its tables."""
    out = sys.stdout
    for name, value in report.get("diff_ratios", {}).items():
        out.write(f"  {name:<44} {value}\n")
    if "consumer_contracts_us" in report:
        _print_contracts(report["consumer_contracts_us"])
    if "diff_log_reading" in report:
        difflog.print_report(report["diff_log_reading"])
