# The pipeline's entry points. Everything runs in the project's own virtual environment.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DEFAULT_MODEL := configs/example.yaml
MODEL ?= $(DEFAULT_MODEL)
EXAMPLE_PB := build/example/lstm_block_fused.pb

.PHONY: install example convert test lint

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

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(PY) -m ruff check pipeline tests
	$(PY) -m ruff format --check pipeline tests
