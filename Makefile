# The two commands of the README:
#   make serve   set up .venv and serve the demo apps with Voila
#   make test    set up .venv with the test extra and run the whole suite (lint, unit,
#                doctests, notebooks under nbval, browser tests against a real Voila)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8866
# Two workers on the two cores; a whole file runs in one worker (nbval needs a notebook's
# cells together, browser tests share one Voila server per worker).
PYTEST_ARGS ?= -n 2 --dist loadfile

.PHONY: serve test

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "kpiwidgets needs Python 3.10 or newer, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The Voila template ships as installed data: reinstall when it changes.
DATA := $(wildcard share/jupyter/voila/templates/kpiwidgets/* share/jupyter/voila/templates/kpiwidgets/static/*)

$(VENV)/.installed: pyproject.toml $(DATA) | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(DATA) | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@ $(VENV)/.installed

serve: $(VENV)/.installed
	$(BIN)/kpiwidgets serve --port $(PORT)

test: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest $(PYTEST_ARGS) --nbval-lax --nbval-current-env kpiwidgets tests notebooks
