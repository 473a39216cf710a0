"""The application-service backend with v1alpha1 contracts, dual-read and dual-write.

Primitives, by layer (transport → application services → kernel / persistence):

- transport (`transport/`): aiohttp routes and the two websockets; parse, authenticate,
  serialize, map `errors.NotFoundError`/`RejectedError`/`ValueError` to HTTP. Nothing else.
- application services: `AnalysisService` (start/status/cancel/list, portfolio batch),
  `JobService` (persistence coordination, dual-read/dual-write, `DualStats`, `TaskEvents`),
  `PortfolioService`, `ReportService`, `LiveSignalService`; the contract mappers
  (`contracts`, `projections`, `recommendations`) map results exactly once.
- kernel driver: `AnalysisExecutor` / `SubprocessAnalysisExecutor` (`python -m orchestrator
  analyze`, NEW marker rules, stdout-silence kill).
- persistence seams (`ports`): `TaskStore` (SQLite, authoritative), `LegacyTaskJson`
  (compatibility JSON), `ResultStore` (result contracts), `PortfolioGateway` (portfolio files).
- `Settings` / `MigrationFlags`: one frozen object built from an injected environ in `__main__`.

Environment (read once): `DASHBOARD_API_KEY`, `CORS_ORIGINS`, `TRADINGAGENTS_LLM_PROVIDER` (and
the provider settings the kernel reads), `TA_RESULT_CONTRACT_VERSION`, `TA_TASKSTORE_DUAL_READ`,
`TA_TASKSTORE_DUAL_WRITE`, `TA_WS_V1ALPHA1_ENABLED`, `TA_LEGACY_COMPAT_FIELDS`, plus two knobs
of ours: `TA_ANALYSIS_STDOUT_TIMEOUT_S` (silence before the kernel is killed, default 300) and
`TA_PORTFOLIO_RETRY_DELAY_S` (pause between batch attempts, default 1).
"""
