# The two commands a newcomer runs: `make run` and `make test`.
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run test lint ui serve gpu-check gpu-suite bench

# The installer is uv (pip-compatible, the same versions resolved): a fresh install took 64 s on the
# 2-core EPYC where pip took 139-152 s (README, Speed). pip stays the fallback wherever uv cannot be
# had or cannot install. uv does not read pip's configuration, so pip's find-links (where a machine
# keeps local wheels, such as this one's torch CPU wheel) are handed on to it. --compile-bytecode as
# pip does: where PYTHONDONTWRITEBYTECODE is set (here it is) every stage process and every DVC call
# would otherwise compile its imports from source again (DVC's stage check 1.7 s instead of 1.0 s).
FIND_LINKS = $(foreach d,$(sort $(PIP_FIND_LINKS) $(shell $(PY) -m pip config get global.find-links 2>/dev/null)),--find-links $(d))
UV_INSTALL = $(BIN)/uv pip install -q --compile-bytecode --python $(BIN)/python $(FIND_LINKS)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q uv || echo "uv not available: installing with pip"
	# torch first, exactly pinned: it resolves to the local CPU wheel.
	$(UV_INSTALL) torch==2.13.0 || $(BIN)/pip install -q torch==2.13.0
	$(UV_INSTALL) -e '.[dev]' || $(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

# The whole pipeline on the defaults in params.yaml (git + dvc repos are initialised if missing):
# `dvc repro`, JOBS independent stages at a time (`ganops repro`; plain `dvc repro` runs one at a time).
JOBS ?= 2

run: $(STAMP)
	test -d .git || git init -q
	test -d .dvc || $(BIN)/dvc init -q
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/ganops repro --jobs $(JOBS)
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/dvc metrics show

# Two pytest-xdist workers (tests/conftest.py keeps the tests of one shared fixture on one worker).
TEST_WORKERS ?= 2

test: $(STAMP)
	$(BIN)/ruff check src tests pipeline benchmarks
	$(BIN)/lint-imports --no-cache
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder --durations=15

lint: $(STAMP)
	$(BIN)/ruff check src tests pipeline benchmarks
	$(BIN)/ruff format --check src tests pipeline benchmarks
	$(BIN)/lint-imports --no-cache

# MLflow UI on the repo's store; prints (OPEN=1: opens) the experiment's model-training view.
ui: $(STAMP)
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/ganops ui --port $${PORT:-5000} $(if $(OPEN),--open,)

PREFECT_PORT ?= 4200
PREFECT_ENV := PREFECT_HOME=$(CURDIR)/.prefect PREFECT_API_URL=http://127.0.0.1:$(PREFECT_PORT)/api PREFECT_SERVER_ANALYTICS_ENABLED=false

# A Prefect server on 127.0.0.1 and the `retrain` flow served on the cron in params.yaml (Ctrl-C stops both).
serve: $(STAMP)
	mkdir -p .prefect
	export $(PREFECT_ENV) PATH=$(CURDIR)/$(BIN):$$PATH; \
	setsid $(BIN)/prefect server start --host 127.0.0.1 --port $(PREFECT_PORT) > .prefect/server.log 2>&1 & server=$$!; \
	trap 'kill $$server 2>/dev/null' EXIT; \
	$(BIN)/python -m pipeline.serve --repo $(CURDIR) --wait-for-server 120

gpu-check:
	PYTHONPATH=src python3 benchmarks/gpu_check.py

gpu-suite:  # the README's GPU figures: gpu-check + CUDA throughput in every speed mode (about 5 min)
	OUT=gpu_suite_out bash benchmarks/gpu_suite.sh

bench: $(STAMP)
	PYTHONPATH=src $(BIN)/python benchmarks/train_throughput.py
	PYTHONPATH=src $(BIN)/python benchmarks/cpu_layout.py
	PYTHONPATH=src $(BIN)/python benchmarks/frechet_vs_scipy.py
	PYTHONPATH=src $(BIN)/python benchmarks/eval_speed.py
	PATH=$(CURDIR)/$(BIN):$$PATH PYTHONPATH=src $(BIN)/python benchmarks/warm_start.py
