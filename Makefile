# Two commands on a fresh machine with python3 and make:
#   make book   - set up .venv, run every notebook with papermill (executed copies in _build/executed/), build the
#                 book into _build/html
#   make test   - set up .venv, run the unit tests, the notebooks, the book build, the browser and JupyterLab checks
# Knobs: make book SCALE=demo CHAPTER=msfef DATA_ROOT=/data PARAMS="max_steps=2 batch_size=4" (extra notebook parameters)
#        JOBS=2 THREADS=1 (chapters side by side, CPU threads per notebook; defaults at ci scale: cores up to 4, 1)
#        SMOKE=1 (a dry run before a paper-scale run: every notebook once, a few steps, then the bill; no book)
# Also:  make lab (JupyterLab on this checkout), make demo PAPER=msfef (train and publish a demo model), make unit (tests without the notebooks), make clean

PY       ?= python3
VENV     ?= .venv
BIN      := $(VENV)/bin
SCALE    ?= ci
CHAPTER  ?=
DATA_ROOT ?=
PARAMS   ?=
JOBS     ?=
THREADS  ?=
SMOKE    ?=
STAMP    := $(VENV)/.installed

.PHONY: book test unit lab demo chromium clean

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
	$(BIN)/python -m inpaintlib.reproduce --scale $(SCALE) $(if $(CHAPTER),--chapter $(CHAPTER)) $(if $(DATA_ROOT),--data-root $(DATA_ROOT)) $(if $(JOBS),--jobs $(JOBS)) $(if $(THREADS),--threads $(THREADS)) $(if $(SMOKE),--smoke) $(foreach p,$(PARAMS),--param '$(p)')

# glibc's allocator keeps freed memory instead of unmapping and re-faulting it for every paper-size tensor (on a
# DeepGIN paper-configuration forward and backward at 256 px this halved the system time, about 5% of the wall time).
TEST_MALLOC = MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=17179869184 MALLOC_TOP_PAD_=536870912

test: $(STAMP) chromium
	$(TEST_MALLOC) $(BIN)/python -m pytest

# Unit tests only (no notebooks, no book): a quick loop while developing.
unit: $(STAMP)
	$(BIN)/python -m pytest -m "not book"

# Train one chapter's demo model on this CPU (about 30 minutes, one thread) and publish it to weights/:
#   make demo PAPER=msfef   (msanet, deepgin, pmrfn, ctxattn)
demo: $(STAMP)
	$(BIN)/python -m inpaintlib.reproduce.demo $(PAPER)

# JupyterLab on this checkout (open notebooks/<chapter>/NN_name.py with "Open With > Jupytext Notebook").
lab: $(STAMP)
	$(BIN)/jupyter lab

clean:
	rm -rf _build
