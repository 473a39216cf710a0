"""The two dashboard generations as consumer contracts: `legacy-dashboard`, `v1alpha1-dashboard`.

Restated from what the upstream frontends read (docs/consumers.md has the tables and sources):
a path whose absence or wrong type crashes the page or makes a value disappear is `required`;
one whose absence renders like the legacy empty value is optional (its type is still checked
where the frontend would crash on a wrong one). Both generations call the same routes; the
v1alpha1 one reads the result through `result.*`, falling back to `compat.*`.

Left out on purpose, because they fail against both backends (frontend bugs, not a difference
the migration makes): the reports page expects `/api/reports/list` to be a bare array, and the
portfolio progress socket waits for `type: "progress"` frames that both send as `"portfolio"`.
"""

from __future__ import annotations

from collections.abc import Mapping

from shadowproxy.contracts.model import Contract, Read, Surface, read
from shadowproxy.types import JSONValue

LEGACY_DASHBOARD = "legacy-dashboard"
V1ALPHA1_DASHBOARD = "v1alpha1-dashboard"

_STATUS = "/api/analysis/status/{task_id}"
_SOCKET = "/ws/analysis/{task_id}"
_TASKS = "/api/analysis/tasks"
_FINISHED = ("completed", "degraded_success")  # a result exists, in either backend's words
_RUNS = ("pending", "running", "completed", "failed")
# the Monitor compares status only with its "completed" words; cancelled shows as failed does
_MONITOR_STATUS = (*_RUNS, "cancelled")
_CANCELLED_UNKNOWN = (
    "cancelled is unknown to both dashboard generations (shown as waiting, no retry): a frontend"
    " defect of the v1alpha1 generation, reported and never acted on"
)


def _finished(prefix: str = "") -> tuple[tuple[str, tuple[JSONValue, ...], bool], ...]:
    """Only rows with a result, and never portfolio batch rows (they carry no decision in either
    backend): the app marks them `type: "portfolio"`, legacy's task list drops `type` and has a
    null ticker for them."""
    return (
        (f"{prefix}status", _FINISHED, False),
        (f"{prefix}type", ("portfolio",), True),
        (f"{prefix}ticker", (None,), True),
    )


def _shared() -> dict[Surface, tuple[Read, ...]]:
    """Routes both generations read in the same way."""
    numbers = ("revenue_growth", "profit_growth", "roe", "current_price", "vol_ratio")
    money = ("cost_price", "current_price", "unrealized_pnl", "unrealized_pnl_pct")
    return {
        Surface("GET", "/api/config/check"): (
            read("configured", required=True, types=("boolean",), enum=(True,)),
        ),
        Surface("GET", "/api/stocks/screen"): (
            read("results", required=True, types=("array",)),
            read("total_stocks", required=True, types=("number",)),
            read("passed", required=True, types=("number",)),
            read("results[].ticker", required=True, types=("string",)),
            read("results[].name", required=False, types=("string", "null")),
            *(read(f"results[].{n}", required=False, types=("number", "null")) for n in numbers),
        ),
        Surface("POST", "/api/analysis/start"): (
            read("task_id", required=True, types=("string",)),
        ),
        Surface("GET", "/api/reports/{ticker}/{date}"): (
            read("report", required=False, types=("string", "null")),
        ),
        Surface("GET", "/api/portfolio/watchlist"): (
            read("watchlist", required=True, types=("array",)),
            read("watchlist[].ticker", required=True, types=("string",)),
            read("watchlist[].name", required=False, types=("string", "null")),
            read("watchlist[].added_at", required=False, types=("string", "null")),
        ),
        Surface("GET", "/api/portfolio/accounts"): (
            read("accounts", required=True, types=("array",)),
            read("accounts[]", required=True, types=("string",)),
        ),
        Surface("GET", "/api/portfolio/positions"): (
            read("positions", required=True, types=("array",)),
            read("positions[].position_id", required=True, types=("string", "number")),
            read("positions[].ticker", required=False, types=("string", "null")),
            *(read(f"positions[].{n}", required=False, types=("number", "null")) for n in money),
        ),
        Surface("POST", "/api/portfolio/analyze"): (
            read("task_id", required=True, types=("string",)),
            read("total", required=False, types=("number", "null")),
        ),
    }


def _progress() -> tuple[Read, ...]:
    """What both Monitors read of a status document or a progress frame, besides the result."""
    return (
        read("ticker", required=False, types=("string", "null")),
        read("progress", required=False, types=("number", "null")),
        read("stages", required=False, types=("array", "null")),
        read("stages[].status", required=False, types=("string", "null")),
        read("logs", required=False, types=("array", "null")),
    )


def _legacy_monitor() -> tuple[Read, ...]:
    return (
        read("status", required=True, types=("string",), enum=_MONITOR_STATUS),
        *(
            read(name, required=True, types=("string",), when=_finished())
            for name in ("decision", "llm_signal", "quant_signal")
        ),
        read("confidence", required=True, types=("number", "string"), when=_finished()),
        *_progress(),
    )


def _v1alpha1_monitor() -> tuple[Read, ...]:
    return (
        read(
            "status", required=True, types=("string",), enum=(*_MONITOR_STATUS, "degraded_success")
        ),
        read(
            "result.decision",
            fallbacks=("compat.decision",),
            required=True,
            types=("string",),
            when=_finished(),
        ),
        *(
            read(
                f"result.signals.{lane}.rating",
                fallbacks=(f"compat.{lane}_signal",),
                required=True,
                types=("string",),
                when=_finished(),
            )
            for lane in ("llm", "quant")
        ),
        read(
            "result.confidence",
            fallbacks=("compat.confidence",),
            required=True,
            types=("number", "string"),
            when=_finished(),
        ),
        read("date", fallbacks=("compat.analysis_date",), required=False, types=("string", "null")),
        read(
            "degradation_summary",
            fallbacks=("degradation",),
            required=False,
            types=("object", "null"),
        ),
        read(
            "data_quality_summary",
            fallbacks=("data_quality",),
            required=False,
            types=("object", "null"),
        ),
        *_progress(),
    )


def _legacy() -> Contract:
    monitor = _legacy_monitor()
    reads = _shared() | {
        Surface("GET", _STATUS): monitor,
        Surface("GET", _SOCKET, "progress"): monitor,
        Surface("GET", _TASKS): (
            read("tasks", required=True, types=("array",)),
            read("tasks[].task_id", required=True, types=("string",)),
            read("tasks[].status", required=True, types=("string",), enum=_RUNS),
            read("tasks[].error", required=True, types=("string", "null")),
            read("tasks[].decision", required=True, types=("string",), when=_finished("tasks[].")),
            read("tasks[].progress", required=False, types=("number", "null")),
        ),
        Surface("GET", "/api/portfolio/recommendations"): (
            read("recommendations", required=True, types=("array",)),
            read("recommendations[].ticker", required=True, types=("string",)),
            read("recommendations[].decision", required=True, types=("string",)),
            read("recommendations[].analysis_date", required=True, types=("string",)),
        ),
    }
    return Contract(
        LEGACY_DASHBOARD,
        "the dashboard built against the legacy shape: top-level decision, signals, confidence",
        reads,
    )


def _v1alpha1() -> Contract:
    monitor = _v1alpha1_monitor()
    reads = _shared() | {
        Surface("GET", _STATUS): monitor,
        Surface("GET", _SOCKET, "progress"): monitor,
        Surface("GET", _TASKS): (
            read("tasks", required=True, types=("array",)),
            read("tasks[].task_id", required=True, types=("string",)),
            read(
                "tasks[].status",
                required=True,
                types=("string",),
                enum=(*_RUNS, "degraded_success"),
                known={"cancelled": _CANCELLED_UNKNOWN},
            ),
            read(
                "tasks[].result.decision",
                fallbacks=("tasks[].compat.decision",),
                required=True,
                types=("string",),
                when=_finished("tasks[]."),
            ),
            read("tasks[].progress", required=False, types=("number", "null")),
        ),
        Surface("GET", "/api/portfolio/recommendations"): (
            read("recommendations", required=True, types=("array",)),
            read("recommendations[].ticker", required=True, types=("string",)),
            read(
                "recommendations[].result.decision",
                fallbacks=("recommendations[].compat.decision",),
                required=True,
                types=("string",),
            ),
            read(
                "recommendations[].date",
                fallbacks=("recommendations[].compat.analysis_date",),
                required=True,
                types=("string",),
            ),
        ),
    }
    return Contract(
        V1ALPHA1_DASHBOARD,
        "the dashboard built against v1alpha1: result.* first, compat.* as the fallback",
        reads,
    )


BUILTIN_CONTRACTS: Mapping[str, Contract] = {
    contract.name: contract for contract in (_legacy(), _v1alpha1())
}
