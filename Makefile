# Deep Learning for Audio Signals: build the course, run the tests.
#   make course               set up .venv, get the data, run every notebook, write build/results.md
#   make course DATASET=ravdess   the real RAVDESS only (download or RAVDESS_DIR); never falls back
#   make course QUICK=1       the small, fast run
#   make test                 set up .venv, then the whole test suite (three workers; TEST_WORKERS=1: one)
#   make bench                time features and models (course vs study): build/bench.json and a table
#   make site                 the course website from build/executed into build/site (tools in .venv-site)
SHELL := /bin/bash
PYTHON_BOOT ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
DATASET ?= auto
QUICK ?= 0
PYTEST_ARGS ?=
# pytest-xdist workers of make test. Three on 2 cores: measured, three quick chapter runs side by side took
# as long as two (a run waits on its kernel's start, its files and its worker processes), so a third
# worker fills the cores; each test process computes on one thread (tests/conftest.py). A worker that
# crashes ends the run (--max-worker-restart=0): with --dist loadfile, pytest-xdist 3.8 replaced a
# crashed worker and then waited for ever (a rehearsal hung until it was killed).
TEST_WORKERS ?= 3
SITE_VENV := .venv-site

.PHONY: course test venv data notebooks results bench strip hooks clean clean-data site site-venv

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt constraints.txt pyproject.toml
	@$(PYTHON_BOOT) -c 'import sys; sys.exit(0 if sys.version_info[:2] >= (3, 11) else "error: Python 3.11 is needed, found " + sys.version)'
	test -x $(PY) || $(PYTHON_BOOT) -m venv $(VENV) || { rm -rf $(VENV); echo "error: cannot create a virtual environment. Fix (Debian/Ubuntu): sudo apt install python3.11-venv"; exit 1; }
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --no-compile -r requirements.txt -c constraints.txt  # .pyc files: written on first import, for the modules used
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (course)" > /dev/null
	$(PY) -c 'from course_utils.tools import lab; lab.install_lab_settings()'  # JupyterLab: no news toast
	$(PY) -c 'from course_utils.tools import warmup; warmup.compile_librosa()'  # numba's cache, written by one process
	touch $@

data: venv
	$(PY) -m course_utils get-data --dataset $(DATASET) --dest data --record build/dataset.txt

notebooks: data
	rm -rf build/results build/executed
	$(PY) -m course_utils run-notebooks --dataset "$$(cat build/dataset.txt)" --quick $(QUICK) --output build/executed

results: venv
	$(PY) -m course_utils results --output build/results.md

bench: data
	$(PY) -m course_utils bench --dataset "$$(cat build/dataset.txt)" --quick $(QUICK) --output build/bench.json

# The website's tools (Jupyter Book) have an environment of their own: see requirements-site.txt.
site-venv: $(SITE_VENV)/.installed

$(SITE_VENV)/.installed: requirements-site.txt constraints-site.txt
	test -x $(SITE_VENV)/bin/python || $(PYTHON_BOOT) -m venv $(SITE_VENV) || { rm -rf $(SITE_VENV); echo "error: cannot create a virtual environment. Fix (Debian/Ubuntu): sudo apt install python3.11-venv"; exit 1; }
	$(SITE_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SITE_VENV)/bin/python -m pip install --quiet --no-compile -r requirements-site.txt -c constraints-site.txt
	touch $@

site: venv site-venv
	$(PY) -m course_utils site

course: notebooks results
	@echo "Course built: executed notebooks in build/executed/, metrics in build/results.md"

test: venv
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --max-worker-restart=0 --cov=course_utils --cov-report=term-missing --cov-fail-under=90 $(PYTEST_ARGS)

strip: venv
	$(VENV)/bin/nbstripout --keep-id notebooks/*.ipynb

hooks: venv
	$(VENV)/bin/nbstripout --install --attributes .gitattributes

clean:
	rm -rf build .pytest_cache .coverage

clean-data:
	rm -rf data/synthetic data/cache data/downloads
