"""The shared quant+LLM merge kernel both backends run; the migration must not change it."""
