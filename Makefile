# runlab: `make demo` runs the real example, `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
DEMO_STORE ?= experiments/demo

.PHONY: demo test lint venv clean

venv: $(BIN)/python

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

demo: venv
	$(PIP) install -q -e ".[examples]"
	PATH="$(abspath $(BIN)):$$PATH" DEMO_STORE="$(DEMO_STORE)" bash examples/demo.sh

test: venv
	$(PIP) install -q -e ".[test,dev,torch]"
	$(BIN)/python -m pytest

lint: venv
	$(PIP) install -q -e ".[dev]"
	$(BIN)/ruff check src tests examples
	$(BIN)/ruff format --check src tests examples
	$(BIN)/mypy

clean:
	rm -rf $(VENV) $(DEMO_STORE) .pytest_cache .mypy_cache .ruff_cache
