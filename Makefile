# Two commands on a fresh machine: `make run` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint fmt typecheck imports pytest bench clean soak conformance

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/shadowproxy up

test: lint typecheck imports pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: $(STAMP)
	$(BIN)/mypy

imports: $(STAMP)
	$(BIN)/lint-imports

pytest: $(STAMP)
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python -m benchmarks

# 10 minutes of dashboard traffic and shadow faults, loopback only (SOAK_SECONDS=60 for a check)
soak: $(STAMP)
	$(BIN)/python -m benchmarks.soak

# Autobahn|Testsuite against an echo backend, direct and through the proxy, loopback only
# (CASES='1.*,9.*' for some cases; EXCLUDE_CASES=none to add the large-message deflate cases)
conformance: $(STAMP)
	$(BIN)/python -m conformance

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
