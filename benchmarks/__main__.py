"""`python -m benchmarks [--quick] [--json FILE]`: run every benchmark once and print ratios."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from benchmarks import contracts, diff, difflog, http, ws


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--requests", type=int, default=3000, help="per scenario")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--quick", action="store_true", help="a small run that checks the suite")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the results here")
    args = parser.parse_args(argv)
    if args.requests < 20 or args.concurrency < 1:
        parser.error("--requests must be at least 20 and --concurrency at least 1")
    requests = 200 if args.quick else args.requests
    iterations = 200 if args.quick else 5000
    records = 20_000 if args.quick else 1_000_000

    rows = asyncio.run(http.measure(requests=requests, concurrency=args.concurrency))
    ws_rows = asyncio.run(ws.measure(round_trips=requests))
    cost = diff.measure(iterations=iterations)
    checks = contracts.measure(iterations=iterations)
    report = _report(rows, ws_rows, cost, checks, requests=requests, concurrency=args.concurrency)
    report["diff_log_reading"] = difflog.report(difflog.measure(count=records))
    _print(report)
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


def _report(
    rows: list[http.Measured],
    ws_rows: list[ws.WsMeasured],
    cost: diff.DiffCost,
    checks: contracts.ContractCost,
    *,
    requests: int,
    concurrency: int,
) -> dict[str, Any]:
    by_name = {row.scenario.name: row for row in rows}
    direct, off, on, slow = (by_name[s.name] for s in http.SCENARIOS)
    ws_off, ws_hung, ws_deaf = ({r.scenario: r for r in ws_rows}[name] for name in ws.SCENARIOS)

    def ratio(a: float | None, b: float | None) -> float | None:
        return None if a is None or b is None or b == 0 else round(a / b, 3)

    return {
        "requests_per_scenario": requests,
        "concurrency": concurrency,
        "scenarios": [
            {
                "scenario": row.scenario.name,
                "sequential_p50_ms": round(row.latency.p50_ms, 3),
                "sequential_p95_ms": round(row.latency.p95_ms, 3),
                "loaded_p50_ms": round(row.load.p50_ms, 3),
                "loaded_p95_ms": round(row.load.p95_ms, 3),
                "loaded_requests_per_s": round(row.load.throughput, 1),
                "errors": row.latency.errors + row.load.errors,
                "proxy_cpu_us_per_request": None
                if row.cpu_us_per_request is None
                else round(row.cpu_us_per_request, 1),
                "proxy_peak_rss_mib": None
                if row.peak_rss_kib is None
                else round(row.peak_rss_kib / 1024, 1),
                "comparisons": row.outcomes,
                "shadow_skipped": row.skipped,
            }
            for row in rows
        ],
        "websocket_scenarios": [
            {
                "scenario": row.scenario,
                "round_trip_p50_ms": round(row.p50_ms, 3),
                "round_trip_p95_ms": round(row.p95_ms, 3),
            }
            for row in ws_rows
        ],
        "ratios": {
            "sequential p50: proxy, shadow off / direct": ratio(
                off.latency.p50_ms, direct.latency.p50_ms
            ),
            "sequential p50: shadow on / off": ratio(on.latency.p50_ms, off.latency.p50_ms),
            "sequential p50: 1 s shadow / off": ratio(slow.latency.p50_ms, off.latency.p50_ms),
            "sequential p95: 1 s shadow / off": ratio(slow.latency.p95_ms, off.latency.p95_ms),
            "loaded p50: shadow on / off": ratio(on.load.p50_ms, off.load.p50_ms),
            "loaded p50: 1 s shadow / off": ratio(slow.load.p50_ms, off.load.p50_ms),
            "throughput: shadow on / off": ratio(on.load.throughput, off.load.throughput),
            "proxy CPU per request: shadow on / off": ratio(
                on.cpu_us_per_request, off.cpu_us_per_request
            ),
            "peak RSS: shadow on / off": ratio(on.peak_rss_kib, off.peak_rss_kib),
            "peak RSS: 1 s shadow / off": ratio(slow.peak_rss_kib, off.peak_rss_kib),
            "ws round trip p50: hung shadow upgrade / off": ratio(ws_hung.p50_ms, ws_off.p50_ms),
            "ws round trip p50: deaf shadow / off": ratio(ws_deaf.p50_ms, ws_off.p50_ms),
            "ws round trip p95: deaf shadow / off": ratio(ws_deaf.p95_ms, ws_off.p95_ms),
            "diff: key fields / parsing both bodies": round(cost.key_fields_us / cost.parse_us, 1),
            "diff: with secondary / key fields": round(
                cost.with_secondary_us / cost.key_fields_us, 1
            ),
            "contracts: both documents / parsing bodies": round(
                checks.both_documents_us / cost.parse_us, 1
            ),
            "drift: per comparison / parsing bodies": round(checks.drift_us / cost.parse_us, 1),
        },
        "diff_engine_us": {
            "parse_both": round(cost.parse_us, 2),
            "key_fields": round(cost.key_fields_us, 2),
            "with_secondary": round(cost.with_secondary_us, 2),
            "outcome": cost.outcome,
        },
        "consumer_contracts_us": {
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
        },
    }


def _print(report: dict[str, Any]) -> None:
    out = sys.stdout
    out.write(
        f"{report['requests_per_scenario']} GET status requests per scenario at "
        f"{report['concurrency']} concurrent clients, half as many one at a time\n\n"
    )
    header = ("seq p50", "seq p95", "load p50", "load p95", "req/s", "CPU us/r", "RSS MiB")
    out.write(f"{'scenario':<30}" + "".join(f"{h:>10}" for h in header) + "\n")
    for row in report["scenarios"]:
        rss = "-" if row["proxy_peak_rss_mib"] is None else f"{row['proxy_peak_rss_mib']:.1f}"
        cpu = (
            "-"
            if row["proxy_cpu_us_per_request"] is None
            else f"{row['proxy_cpu_us_per_request']:.0f}"
        )
        cells = (
            f"{row['sequential_p50_ms']:.2f}",
            f"{row['sequential_p95_ms']:.2f}",
            f"{row['loaded_p50_ms']:.2f}",
            f"{row['loaded_p95_ms']:.2f}",
            f"{row['loaded_requests_per_s']:.0f}",
            cpu,
            rss,
        )
        out.write(f"{row['scenario']:<30}" + "".join(f"{c:>10}" for c in cells) + "\n")
        if row["comparisons"] is not None:
            out.write(f"{'':<4}comparisons {row['comparisons']}  skipped {row['shadow_skipped']}\n")
    out.write(
        f"\n{len(report['websocket_scenarios'])} websocket scenarios, one round trip each in turn\n"
    )
    for row in report["websocket_scenarios"]:
        out.write(
            f"{row['scenario']:<32}{row['round_trip_p50_ms']:>10.2f}"
            f"{row['round_trip_p95_ms']:>10.2f}  (p50, p95 ms)\n"
        )
    out.write("\nratios (same run, same machine; latencies in ms)\n")
    for name, value in report["ratios"].items():
        out.write(f"  {name:<44} {value}\n")
    out.write(f"\ndiff engine, microseconds per status document: {report['diff_engine_us']}\n")
    _print_contracts(report["consumer_contracts_us"])
    difflog.print_report(report["diff_log_reading"])
    out.flush()


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


if __name__ == "__main__":
    raise SystemExit(main())
