"""Analyst providers for the LLM lane: `OfflineAnalyst` (rule-based, the default — not an LLM),
`OpenAICompatibleProvider` (any chat-completions endpoint), `build_provider`, the provider/base-URL
matrix (`check_provider_matrix`) and the error classification (`classify_llm_error`)."""
