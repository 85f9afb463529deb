# Two entry points on a fresh machine (Python 3.10+ with pip):
#   make book   set up .venv if missing, execute every notebook with papermill, build the HTML book
#   make test   set up .venv if missing, run ruff and the whole test suite (unit, real-data,
#               glued numbers, nbval, rendered site)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: setup book notebooks html lint test test-fast clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[book,test]"
	@touch $(STAMP)

setup: $(STAMP)

book: notebooks html

notebooks: $(STAMP)
	$(BIN)/python scripts/run_notebooks.py

html: $(STAMP)
	$(BIN)/jupyter-book build . -n -W --keep-going
	@echo "The book is in _build/html/index.html"

NBVAL := notebooks --nbval-lax --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout 3600

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/python -m pytest tests $(NBVAL)

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

clean:
	rm -rf _build .pytest_cache
