# Two commands on a fresh machine with python3 and make:
#   make book   - set up .venv, prepare the CI data, run every notebook with papermill, build the book
#   make test   - set up .venv, run the unit tests, the notebooks, the book build and the browser check
# Knobs: make book SCALE=demo CHAPTER=msfef DATA_ROOT=/data

PY       ?= python3
VENV     ?= .venv
BIN      := $(VENV)/bin
SCALE    ?= ci
CHAPTER  ?=
DATA_ROOT ?=
STAMP    := $(VENV)/.installed

.PHONY: book test unit chromium clean

$(STAMP): pyproject.toml constraints.txt
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[book,dev]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (inpaintlib)" >/dev/null
	touch $@

# Debian's Chromium, for the browser check of the built book.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is missing: install Debian's 'chromium' package (sudo apt-get install chromium)"; exit 1; fi; }

book: $(STAMP)
	$(BIN)/python -m inpaintlib.reproduce --scale $(SCALE) $(if $(CHAPTER),--chapter $(CHAPTER)) $(if $(DATA_ROOT),--data-root $(DATA_ROOT))

test: $(STAMP) chromium
	$(BIN)/python -m pytest

# Unit tests only (no notebooks, no book): a quick loop while developing.
unit: $(STAMP)
	$(BIN)/python -m pytest -m "not book"

clean:
	rm -rf _build
