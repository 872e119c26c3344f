# runlab: `make demo` runs the real example, `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
DEMO_STORE ?= experiments/demo

.PHONY: demo test lint venv clean frontend

venv: $(BIN)/python

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

# The web page: rebuilt when a source file of frontend/ changes.
STATIC := src/runlab/server/static/index.html
FRONTEND_SRC := $(shell find frontend -type f -not -path '*/node_modules/*' 2>/dev/null)

frontend: $(STATIC)

$(STATIC): $(FRONTEND_SRC)
	cd frontend && npm ci --no-audit --no-fund && npm run build
	touch $@

demo: venv frontend
	$(PIP) install -q -e ".[examples,report]"
	PATH="$(abspath $(BIN)):$$PATH" DEMO_STORE="$(DEMO_STORE)" bash examples/demo.sh

test: venv frontend
	$(PIP) install -q -e ".[test,dev,torch,ray]"
	$(BIN)/python -m pytest

lint: venv
	$(PIP) install -q -e ".[dev]"
	$(BIN)/ruff check src tests examples
	$(BIN)/ruff format --check src tests examples
	$(BIN)/mypy

clean:
	rm -rf $(VENV) $(DEMO_STORE) .pytest_cache .mypy_cache .ruff_cache
	rm -rf frontend/node_modules src/runlab/server/static

# Side-by-side benchmark against the peers, in its own environment (bench/.venv).
.PHONY: bench bench-smoke
bench:
	test -x bench/.venv/bin/python || $(PYTHON) -m venv bench/.venv
	bench/.venv/bin/python -m pip install -q --upgrade pip
	bench/.venv/bin/python -m pip install -q -e . -r bench/requirements.txt
	test -x bench/.venv-runs/bin/python || $(PYTHON) -m venv bench/.venv-runs
	bench/.venv-runs/bin/python -m pip install -q -e .
	bench/.venv/bin/python bench/run.py --scale full

bench-smoke:
	test -x bench/.venv/bin/python || $(PYTHON) -m venv bench/.venv
	bench/.venv/bin/python -m pip install -q --upgrade pip
	bench/.venv/bin/python -m pip install -q -e . -r bench/requirements.txt
	bench/.venv/bin/python bench/run.py --scale tiny

# The web page's benchmark: stores made once into bench/.ui-stores/ (about 4 minutes), then kept.
.PHONY: bench-ui
bench-ui: venv frontend
	$(PIP) install -q -e ".[test]"
	test -x bench/.venv-runs/bin/python || $(PYTHON) -m venv bench/.venv-runs
	bench/.venv-runs/bin/python -m pip install -q -e .
	$(BIN)/python bench/ui.py

# What `runlab sweep` adds to each trial (about 20 s): its section of docs/benchmarks.md.
.PHONY: bench-sweep
bench-sweep: venv
	$(PIP) install -q -e .
	$(BIN)/python bench/sweep.py
