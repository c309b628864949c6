# The two commands the README opens with, `make run` and `make test`, and the others below.
# Each builds .venv on first use (and when the lockfile changes): the exact versions of
# requirements-dev.lock, installed by uv, and this project itself, editable (its three commands:
# prompt-rollback, prompt-gate, prompt-rollback-exporter).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
UV_VERSION := 0.13.8
export PYTHONPATH := lambdas:.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: run test lint typecheck unit synth bench lock clean

$(VENV)/.installed: requirements-dev.lock pyproject.toml clients/python/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(UV) pip sync --quiet --python $(PY) requirements-dev.lock
	$(UV) pip install --quiet --python $(PY) --no-deps --editable .
	$(UV) pip install --quiet --python $(PY) --no-deps --editable clients/python
	touch $@

# After changing a requirements*.txt: pin everything again (same versions on every machine).
lock: $(VENV)/.installed
	$(UV) pip compile --quiet --universal --python-version 3.11 requirements-dev.txt -o requirements-dev.lock

run: $(VENV)/.installed  ## the service on http://127.0.0.1:8080 with embedded moto, Langfuse and Slack
	$(PY) -m local_mode $(ARGS)

lint: $(VENV)/.installed
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	cd lambdas && ../$(VENV)/bin/lint-imports --config ../pyproject.toml

typecheck: $(VENV)/.installed
	$(PY) -m mypy lambdas local_mode regression_gate prompt_rollback_exporter infra app.py clients/python/src

test: lint typecheck  ## lint, types, then every test suite (unit, integration, CDK + cdk-nag, promtool, e2e)
	$(PY) -m pytest

unit: $(VENV)/.installed
	$(PY) -m pytest tests/unit -q

synth: $(VENV)/.installed
	CDK_OUTDIR=cdk.out $(PY) app.py

bench: $(VENV)/.installed
	$(PY) -m bench

clean:
	rm -rf $(VENV) cdk.out .mypy_cache .ruff_cache .pytest_cache
