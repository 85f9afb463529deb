# Two entry points on a fresh machine (Python 3.10+ with pip):
#   make book   set up .venv if missing, execute every notebook with papermill, build the HTML book
#   make test   set up .venv if missing, run ruff and the whole test suite (unit, real-data,
#               glued numbers, nbval, rendered site)
# and, for the book as one file:
#   make pdf    the HTML book as one PDF, _build/pdf/book.pdf (its pages in the order of
#               _toc.yml, printed by headless Chromium; nothing is re-executed)
#
# RECSYS_REPO_URL: the repository's public address (none yet). Set it to turn on the book's
# repository, bug-tracker and launch (Binder; Colab for GitHub) buttons, e.g.
#   make html RECSYS_REPO_URL=https://github.com/<owner>/<repository>
# It is the one place the address is given: scripts/book_config.py writes _config.yml with it
# to $(BOOK_CONFIG), which the build then reads. Unset, no button points anywhere.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
RECSYS_REPO_URL ?=
BOOK_CONFIG := _build/config/_config.yml

.PHONY: setup book notebooks html pdf lint test test-fast clean

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
	$(if $(RECSYS_REPO_URL),$(BIN)/python scripts/book_config.py "$(RECSYS_REPO_URL)" $(BOOK_CONFIG))
	$(BIN)/jupyter-book build . -n -W --keep-going $(if $(RECSYS_REPO_URL),--config $(BOOK_CONFIG))
	@echo "The book is in _build/html/index.html"

# Not part of `make book`: it needs Chromium, which a fresh machine may not have.
pdf: html
	$(BIN)/python scripts/build_pdf.py --html _build/html --out _build/pdf/book.pdf

NBVAL := notebooks --nbval-lax --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout 3600

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/python -m pytest tests $(NBVAL) --durations=25

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

clean:
	rm -rf _build .pytest_cache
