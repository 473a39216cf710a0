"""The shared quant+LLM merge kernel both backends run; the migration must not change it.

Primitives: `contracts` (Signal, FinalSignal, ReasonCode, CombinedSignalFailure), `signals`
(SignalMerger, rating_from_direction, map_llm_rating), `config` (OrchestratorConfig), `calendar`
(MarketCalendar, is_trading_day), `market_data` (MarketDataProvider, SyntheticMarketData,
CsvMarketData, latest_close), `quant_runner` (QuantRunner), `llm_runner` (LLMRunner) with the
`llm` providers, `research` (node guard and provenance), `orchestrator` (TradingOrchestrator),
`pipeline` (AnalysisPipeline), `live` (LiveMode), `faults` (fault switches), `validation`.
"""
