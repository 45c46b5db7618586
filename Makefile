# depinkit: every target bootstraps what it needs (virtualenv, pinned npm tools) first.
# `make devnet` runs a complete local network; `make test` runs the whole test suite.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: bootstrap devnet test lint contracts examples bench clean

bootstrap: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip>=24"
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	# npm ci refuses this lock: the registry here serves only the linux-x64 anvil binary, so the
	# lock lacks the other platforms' optional packages. npm install still installs the locked versions.
	npm install --no-audit --no-fund --loglevel=error
	touch $@

devnet: bootstrap
	$(BIN)/depinkit devnet

test: bootstrap
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

lint: bootstrap
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/mypy

contracts: node_modules/.installed
	node scripts/build_contracts.mjs

# The compute network's example jobs (C to wasm32-wasi). Needs Debian's
# clang lld wasi-libc libclang-rt-14-dev-wasm32; the built modules are committed.
examples:
	examples/compute/build.sh

bench: bootstrap
	$(BIN)/python bench/gas.py
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/rewards.py

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache
