# The pipeline's entry points. Everything runs in the project's own virtual environment.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DEFAULT_MODEL := configs/example.yaml
MODEL ?= $(DEFAULT_MODEL)
EXAMPLE_PB := build/example/lstm_block_fused.pb

.PHONY: install example convert convert-all test lint bench

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

example: $(EXAMPLE_PB)

$(EXAMPLE_PB): pipeline/sources/example.py | install
	$(PY) -m pipeline.sources.example $@

## make convert [MODEL=config.yaml|model.pb] [ARGS="--outputs ..."]
convert: install $(if $(filter $(DEFAULT_MODEL),$(MODEL)),$(EXAMPLE_PB))
	$(PY) -m pipeline convert $(MODEL) $(ARGS)

## make convert-all [CONFIGS="configs other/"] [ARGS="--jobs 2 --force"]: every model of
## every config found, several at a time; models already converted are skipped.
CONFIGS ?= configs
convert-all: install $(EXAMPLE_PB)
	$(PY) -m pipeline batch $(CONFIGS) $(ARGS)

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(PY) -m ruff check pipeline tests
	$(PY) -m ruff format --check pipeline tests

## make bench [ARGS="--quick"]: latency, conversion cost and memory of three model sizes;
## prints the tables and writes BENCHMARKS.md. onnx2pytorch (a peer importer) is added
## without its dependencies, so torch and onnx stay as installed.
bench: install $(VENV)/.bench-installed
	$(PY) -m pipeline.bench $(ARGS)

$(VENV)/.bench-installed: | install
	$(PY) -m pip install --quiet --no-deps onnx2pytorch==0.6.0
	touch $@
