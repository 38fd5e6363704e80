# oodrepro — two commands set everything up:
#   make test   create the virtual environment (if missing) and run the whole test-suite
#   make test-fast  the tests that need no notebook kernel, no browser and no otter (before every commit)
#   make book   create the environment, execute every notebook with papermill (profile quick),
#               build the HTML book into _build/html
#   make check-book  open every page of _build/html in headless Chromium (needs Debian's chromium)
#               and check it: console errors, images, typeset maths, glue, links, widths; screenshots
#               in _build/screens/
#   make assignments   otter assign: dist/<assignment>/student/ and dist/<assignment>/autograder/ (+ zip)
# Other targets: make notebooks | book-only | assignments | check-book | env | bench | clean | clean-cache | help
# PROFILE=paper (with OODREPRO_DATA_ROOT) builds the book on the paper profile; missing data reads "needs data".

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.oodrepro-installed
PROFILE ?= quick
# Notebooks executed at a time by 'make notebooks' / 'make book' (auto = the CPU count, at most 4; JOBS=1: one by one).
JOBS ?= auto
# The cache (trained models, embeddings, decoded data) is the package's own choice, the same for make,
# oodrepro, papermill and Python: $OODREPRO_CACHE_DIR if set, else .cache/oodrepro inside this project.
# '.venv/bin/oodrepro cache info' prints it.
export PYTHONUNBUFFERED = 1

.PHONY: help env test test-fast book book-only notebooks assignments bench clean clean-cache check-book

help:
	@sed -n '1,11p' Makefile

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

env: $(STAMP)

# One pytest worker per core (pytest-xdist; every test has its own cache folder); a file whose module-scoped
# fixture is expensive (the smoke book, the assignments, a Dask cluster) is kept on one worker (xdist_group).
test: env
	$(BIN)/python -m pytest -n auto --dist loadgroup

# The tests marked slow (pyproject.toml) need a notebook kernel, a browser, otter, a Dask cluster or fresh
# training processes; the others run here.
test-fast: env
	$(BIN)/python -m pytest -m "not slow" -n auto --dist loadgroup

# PROFILE=paper: every page with an archive reruns with its archived run's parameters, reading the stored networks
# (oodrepro run --as-archived); AS_ARCHIVED= runs the paper profile's own defaults instead.
AS_ARCHIVED ?= $(if $(filter paper,$(PROFILE)),--as-archived)
notebooks: env
	$(BIN)/oodrepro run --all --profile $(PROFILE) --jobs $(JOBS) $(AS_ARCHIVED)

# jupyter-book build --warningiserror --keep-going, staged (oodrepro.bookbuild): it writes into a hidden folder
# inside _build and replaces _build/html only on success; after a failed build the previous good book is intact.
book-only: env
	rm -rf book/api/_autosummary  # regenerated from the docstrings on every build
	$(BIN)/python -m oodrepro.bookbuild . _build

book: notebooks
	$(MAKE) --no-print-directory book-only

# The classroom assignments (assignments/<name>/<name>.ipynb, otter-grader's format). otter assign runs the
# instructor's solutions against every test before writing dist/ (a failing test stops the build). Each build
# goes to a hidden folder beside dist/<name> and replaces it only on success: after a failure the last good
# dist/<name> is intact (oodrepro.classroom.assign).
ASSIGNMENTS ?= $(notdir $(patsubst %/,%,$(dir $(wildcard assignments/*/*.ipynb))))
assignments: env
	@for a in $(ASSIGNMENTS); do \
	  $(BIN)/python -m oodrepro.classroom assign assignments/$$a/$$a.ipynb dist/$$a || exit 1; \
	done

check-book: env
	$(BIN)/python -m oodrepro.bookcheck _build/html --toc _toc.yml

bench: env
	$(BIN)/python benchmarks/bench_knn.py
	$(BIN)/python benchmarks/bench_kpca.py
	$(BIN)/python benchmarks/bench_train.py
	$(BIN)/python benchmarks/bench_sweep.py

clean:
	rm -rf _build book/generated results dist book/api/_autosummary

clean-cache: env
	$(BIN)/oodrepro cache clear
