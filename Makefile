# The two commands of the README: `make demo` and `make test`.
# Each creates the virtual environment and installs the project on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint docs bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[all,test,docs]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/agea-xr demo

test: $(STAMP)
	$(BIN)/ruff check agea_xr tests benchmarks scripts examples
	$(BIN)/ruff format --check agea_xr tests benchmarks scripts examples
	$(BIN)/lint-imports
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check --fix agea_xr tests benchmarks scripts examples
	$(BIN)/ruff format agea_xr tests benchmarks scripts examples

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

docs: $(STAMP)
	$(BIN)/sphinx-build -W -b html docs docs/_build/html

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache docs/_build docs/generated
