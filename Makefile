# Set-up, the main output and the tests, on a fresh Debian machine with Python 3.10+.
# `make pdf` and `make test` install what is missing first: the system packages (TeX Live,
# latexmk, poppler-utils, Graphviz) through apt-get, then a virtual environment in .venv.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
APT_PACKAGES := texlive-latex-base texlive-latex-recommended texlive-pictures lmodern latexmk \
                poppler-utils graphviz
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup system pdf test check bench clean

setup: system $(BIN)/.installed

# apt-get only when a tool is missing; python3-venv too where Debian's Python lacks venv.
system:
	@need=""; \
	for tool in pdflatex latexmk pdftotext dot; do command -v $$tool >/dev/null 2>&1 || need=1; done; \
	kpsewhich lmodern.sty >/dev/null 2>&1 || need=1; \
	extra=""; $(PYTHON) -c "import venv, ensurepip" 2>/dev/null || { need=1; extra=python3-venv; }; \
	if [ -n "$$need" ]; then \
	  echo "installing system packages: $(APT_PACKAGES) $$extra"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends \
	    $(APT_PACKAGES) $$extra; \
	fi

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

pdf: setup
	$(BIN)/derive report problem1 --pdf

# Everything (what CI runs), on every core (pytest-xdist; loadfile keeps a module on one worker,
# so a module-scoped fixture, such as the PDFs a module reads, is built once).  `make check` is the
# fast tier for the edit loop: the same less the tests marked slow in tests/conftest.py (TeX,
# subprocesses, long Hypothesis runs, large exact proofs).
test: setup
	$(BIN)/python -m pytest -n auto --dist loadfile

check: setup
	$(BIN)/python -m pytest -n auto --dist loadfile -m "not slow"

bench: setup
	$(BIN)/python bench/run.py
	$(BIN)/python bench/variants.py
	$(BIN)/python bench/grading.py
	$(BIN)/python bench/graph_layout.py

clean:
	rm -rf $(VENV) outputs/*.tex outputs/*.pdf outputs/*.log outputs/*.md outputs/*.json outputs/*.png
