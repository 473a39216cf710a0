"""AnalysisService: the analysis use cases (start, status, cancel, list, portfolio batch).

It owns task ids, the lifecycle and the stage algorithm; the kernel owns the signals; the
executor owns the subprocess. Two improvements over upstream that the migration plan calls
for (docs/migration.md §6) live here: a task is persisted at creation and at every stage (so a
restart can tell what was in flight), and a cancelled task stays readable as `cancelled` instead of
being deleted.
"""

from __future__ import annotations

import asyncio
import copy
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import structlog

from app_service import contracts
from app_service.contracts import AnalysisOutcome, TaskError, TaskState
from app_service.errors import NotFoundError, RejectedError
from app_service.executor import AnalysisExecutor, AnalysisExecutorError
from app_service.jobs import JobService
from app_service.ports import PortfolioGateway
from app_service.recommendations import build_record
from app_service.tasks import TaskSet
from orchestrator.validation import validate_date, validate_ticker

log = structlog.get_logger(__name__)

PORTFOLIO_ATTEMPTS = 3


def _hex6() -> str:
    return uuid.uuid4().hex[:6]


class AnalysisService:
    def __init__(
        self,
        *,
        jobs: JobService,
        executor: AnalysisExecutor,
        portfolio: PortfolioGateway,
        tasks: TaskSet,
        retry_delay_s: float,
        now: Callable[[], datetime] = datetime.now,
    ) -> None:
        self._jobs = jobs
        self._executor = executor
        self._portfolio = portfolio
        self._tasks = tasks
        self._retry_delay_s = retry_delay_s
        self._now = now
        self._live: dict[str, TaskState] = {}

    # ------------------------------------------------------------------ single analysis
    async def start_analysis(
        self, ticker: str, date: str | None, *, request_id: str | None = None
    ) -> dict[str, Any]:
        """Accept the job and return at once; the missing-key case fails later, by design."""
        now = self._now()
        ticker = validate_ticker(ticker)
        date = validate_date(date, now.date()) if date else now.strftime("%Y-%m-%d")
        task_id = f"{ticker}_{now:%Y%m%d_%H%M%S}_{_hex6()}"
        state = contracts.create_analysis_state(
            task_id=task_id,
            ticker=ticker,
            date=date,
            created_at=now.isoformat(),
            request_id=request_id or uuid.uuid4().hex,
        )
        self._live[task_id] = state
        await self._jobs.persist(state)
        self._tasks.spawn(self._run_analysis(state), name=task_id)
        return {
            "contract_version": contracts.CONTRACT_VERSION,
            "task_id": task_id,
            "ticker": ticker,
            "date": date,
            "status": "running",
        }

    async def _run_analysis(self, state: TaskState) -> None:
        started = time.monotonic()

        def elapsed() -> int:
            return int(time.monotonic() - started)

        async def on_stage(name: str) -> None:
            clock = self._now().strftime("%H:%M:%S")
            if contracts.apply_stage(state, name, clock=clock, elapsed_seconds=elapsed()):
                await self._jobs.persist(state)

        try:
            outcome = await self._executor.run(
                run_id=state["task_id"],
                ticker=state["ticker"],
                date=state["date"],
                on_stage=on_stage,
            )
            contract = contracts.build_result_contract(state, outcome, elapsed_seconds=elapsed())
            ref = await self._jobs.save_contract(state["task_id"], contract)
            contracts.complete_analysis(state, contract, result_ref=ref)
        except AnalysisExecutorError as exc:
            contracts.fail_task(state, exc.error, elapsed_seconds=elapsed())
        except Exception as exc:
            log.exception("analysis_crashed", task_id=state["task_id"])
            error = TaskError(code="analysis_failed", message=str(exc), retryable=False)
            contracts.fail_task(state, error, elapsed_seconds=elapsed())
        finally:
            self._live.pop(state["task_id"], None)
        await self._jobs.persist(state)

    # ------------------------------------------------------------------ reads
    async def get_analysis_status(self, task_id: str) -> dict[str, Any]:
        state = await self._jobs.load(task_id)
        if state is None:
            raise NotFoundError("Task not found")
        return await self._jobs.public_payload(state)

    async def list_analysis_tasks(self) -> dict[str, Any]:
        tasks = await self._jobs.summaries()
        return {"contract_version": contracts.CONTRACT_VERSION, "tasks": tasks, "total": len(tasks)}

    # ------------------------------------------------------------------ cancel
    async def cancel_analysis(self, task_id: str) -> dict[str, Any]:
        state = self._live.get(task_id) or await self._jobs.load(task_id)
        if state is None:
            raise NotFoundError("Task not found")
        await self._executor.kill(task_id)
        job = self._tasks.get(task_id)
        if job is not None:
            job.cancel()
            await asyncio.gather(job, return_exceptions=True)
        self._live.pop(task_id, None)
        state = copy.deepcopy(state)
        contracts.cancel_task(state)
        await self._jobs.persist(state)
        return {
            "contract_version": contracts.CONTRACT_VERSION,
            "task_id": task_id,
            "status": "cancelled",
        }

    # ------------------------------------------------------------------ portfolio batch
    async def start_portfolio_analysis(self, *, request_id: str | None = None) -> dict[str, Any]:
        watchlist = await asyncio.to_thread(self._portfolio.watchlist)
        if not watchlist:
            raise RejectedError("自选股为空，请先添加股票")
        now = self._now()
        task_id = f"port_{now:%Y-%m-%d}_{_hex6()}"
        state = contracts.create_portfolio_state(
            task_id=task_id,
            total=len(watchlist),
            created_at=now.isoformat(),
            request_id=request_id or uuid.uuid4().hex,
        )
        self._live[task_id] = state
        await self._jobs.persist(state)
        self._tasks.spawn(self._run_portfolio(state, watchlist), name=task_id)
        return {
            "contract_version": contracts.CONTRACT_VERSION,
            "task_id": task_id,
            "total": len(watchlist),
            "status": "running",
        }

    async def _run_portfolio(self, state: TaskState, watchlist: list[dict[str, Any]]) -> None:
        date = self._now().strftime("%Y-%m-%d")
        try:
            for index, entry in enumerate(watchlist):
                ticker = str(entry.get("ticker"))
                state.update(current_ticker=ticker, status="running", completed=index)
                await self._jobs.persist(state)
                outcome = await self._portfolio_ticker(f"{state['task_id']}_{index}", ticker, date)
                if outcome is None:
                    state["failed"] += 1
                else:
                    record = build_record(
                        ticker=ticker,
                        name=str(entry.get("name") or ticker),
                        date=date,
                        created_at=self._now().isoformat(),
                        outcome=outcome,
                    )
                    await asyncio.to_thread(
                        self._portfolio.save_recommendation, date, ticker, record
                    )
                    state["results"].append(record)
                    state["completed"] += 1
                await self._jobs.persist(state)
            state.update(status="completed", current_ticker=None)
        except Exception as exc:
            log.exception("portfolio_batch_crashed", task_id=state["task_id"])
            state.update(status="failed", error=str(exc))
        finally:
            self._live.pop(state["task_id"], None)
        await self._jobs.persist(state)

    async def _portfolio_ticker(
        self, run_id: str, ticker: str, date: str
    ) -> AnalysisOutcome | None:
        async def ignore_stage(_: str) -> None:
            return None

        for attempt in range(PORTFOLIO_ATTEMPTS):
            try:
                return await self._executor.run(
                    run_id=run_id, ticker=ticker, date=date, on_stage=ignore_stage
                )
            except AnalysisExecutorError as exc:
                log.warning(
                    "portfolio_ticker_failed", ticker=ticker, attempt=attempt, error=str(exc)
                )
            if attempt + 1 < PORTFOLIO_ATTEMPTS:
                await asyncio.sleep(self._retry_delay_s)
        return None

    async def shutdown(self) -> None:
        await self._tasks.cancel_all()
        await self._executor.kill_all()
