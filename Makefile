# The two entry points: `make conformance` (the suite against a target, reports under reports/) and
# `make test` (the project's own tests). Each creates .venv and installs what it needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
REPORTS ?= reports
HOST ?= 127.0.0.1
PORT ?= 8080
WINDOW ?= 600
# Extra options for the suite, e.g. make conformance ARGS='--base-url https://api.example.net/v1 --profile staging'
ARGS ?=

.PHONY: conformance test reference bench bench-fleet report install clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(BIN)/.installed node_modules/.installed

conformance: install
	$(BIN)/calls-conformance --reports-dir $(REPORTS) $(ARGS)

test: install
	$(BIN)/python -m pytest

reference: $(BIN)/.installed
	$(BIN)/calls-conformance reference --host $(HOST) --port $(PORT) --window $(WINDOW)

report: install
	$(BIN)/python -c 'from pathlib import Path; from conformance.reports.allure_html import generate_html; generate_html(Path("$(REPORTS)"))'

bench: install
	$(BIN)/python bench/run.py

bench-fleet: install
	$(BIN)/python bench/fleet.py

clean:
	rm -rf $(VENV) node_modules build dist *.egg-info .pytest_cache
