"""CLI: `analyze TICKER DATE` (the backends' subprocess) and `live TICKER... [--date D]`.

`analyze` is the subprocess both backends start; its stdout is the marker protocol of
docs/upstream-contract.md §2.3 (NEW order), one flushed line at a time:

    STAGE:analysts / STAGE:research / STAGE:trading / (compute) / STAGE:risk / (reports) /
    STAGE:portfolio / SIGNAL_DETAIL:{...} / RESULT_META:{...} / ANALYSIS_COMPLETE:<RATING>

On failure stderr gets `RESULT_META:{...}` then `ANALYSIS_ERROR:<msg>` and the exit code is 1.
Bad input (ticker, date, subcommand, settings) is one line on stderr and exit code 2.

This is the only kernel module that reads `os.environ`. Variables: TRADINGAGENTS_RESULTS_DIR,
TA_CACHE_DIR, TA_STAGE_DELAY_MS, TA_MARKET_DATA_DIR, TRADINGAGENTS_MARKET_HOLIDAYS_PATH,
TRADINGAGENTS_LLM_PROVIDER, TRADINGAGENTS_BACKEND_URL, TRADINGAGENTS_DEEP_MODEL,
TRADINGAGENTS_QUICK_MODEL, TRADINGAGENTS_LLM_TIMEOUT, TRADINGAGENTS_LLM_MAX_RETRIES,
TRADINGAGENTS_SELECTED_ANALYSTS, OPENAI_API_KEY, TA_RESEARCH_NODE_TIMEOUT_S, TA_QUANT_ENABLED, and
the fault switches documented in `orchestrator/faults.py`.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any, NoReturn

import orjson

from orchestrator.config import OrchestratorConfig
from orchestrator.faults import InjectedFault
from orchestrator.live import LiveMode
from orchestrator.orchestrator import TradingOrchestrator
from orchestrator.pipeline import AnalysisPipeline
from orchestrator.validation import validate_date, validate_ticker


class UsageError(Exception):
    """Bad command-line input: reported as one line, exit code 2."""


class _RawCrash(Exception):
    """TA_FAULT_PIPELINE=raw_crash: die without any protocol marker."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m orchestrator", description="The shared analysis kernel.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    analyze = commands.add_parser("analyze", help="run one analysis and print protocol markers")
    analyze.add_argument("ticker")
    analyze.add_argument("date")
    live = commands.add_parser("live", help="print live signals for tickers as JSON")
    live.add_argument("tickers", nargs="+")
    live.add_argument("--date", default=None)
    return parser


def _emit(line: str, stream: Any = None) -> None:
    print(line, file=stream or sys.stdout, flush=True)


def _json(value: object) -> str:
    return orjson.dumps(value).decode()


def _today() -> date:
    """Local today or UTC today, whichever is later, so no caller's 'today' is rejected."""
    return max(date.today(), datetime.now(UTC).date())


def _analyze(config: OrchestratorConfig, ticker: str, day: str) -> int:
    faults = config.faults
    delay = config.stage_delay_ms / 1000

    def on_stage(stage: str) -> None:
        _emit(f"STAGE:{stage}")
        if stage == "analysts":
            if faults.pipeline == "stall":
                time.sleep(faults.stall_seconds)
            return  # research follows back-to-back
        if stage == "trading" and faults.pipeline == "crash":
            raise InjectedFault(
                "analysis crashed after the trading stage (TA_FAULT_PIPELINE=crash)"
            )
        if stage == "trading" and faults.pipeline == "raw_crash":
            raise _RawCrash
        if delay:
            time.sleep(delay)

    try:
        pipeline = AnalysisPipeline(TradingOrchestrator(config), config.results_dir, on_stage)
        outcome = pipeline.run(ticker, day)
    except _RawCrash:
        _emit("fatal: analysis process died after the trading stage (raw_crash)", sys.stderr)
        return 1
    except Exception as exc:
        meta = {
            "degrade_reason_codes": list(getattr(exc, "reason_codes", ()) or ()),
            "data_quality": getattr(exc, "data_quality", None),
            "source_diagnostics": getattr(exc, "source_diagnostics", None) or None,
        }
        _emit(f"RESULT_META:{_json(meta)}", sys.stderr)
        _emit(f"ANALYSIS_ERROR:{' '.join(str(exc).split()) or type(exc).__name__}", sys.stderr)
        return 1
    if faults.pipeline == "no_markers":
        return 0
    _emit(f"SIGNAL_DETAIL:{_json(outcome.signal_detail())}")
    _emit(f"RESULT_META:{_json(outcome.result_meta())}")
    _emit(f"ANALYSIS_COMPLETE:{outcome.ratings.decision}")
    return 0


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    logging.basicConfig(
        level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    try:
        args = _parser().parse_args(argv)
        config = OrchestratorConfig.from_environ(os.environ if environ is None else environ)
        if args.command == "analyze":
            ticker = validate_ticker(args.ticker)
            day = validate_date(args.date, _today())
        else:
            tickers = [validate_ticker(text) for text in args.tickers]
            live_day = validate_date(args.date, _today()) if args.date else None
    except (UsageError, ValueError) as exc:
        _emit(f"orchestrator: error: {exc}", sys.stderr)
        return 2
    if args.command == "analyze":
        return _analyze(config, ticker, day)
    documents = LiveMode(TradingOrchestrator(config)).run_once(tickers, live_day)
    _emit(orjson.dumps(documents, option=orjson.OPT_INDENT_2).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
