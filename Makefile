# The two commands: `make demo` (the main job, offline) and `make test` (the whole suite).
# Both set up a virtual environment in .venv on first use; only Python 3.11+ is needed.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: compile demo test test-fast bench lint clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is needed, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

# The package's bytecode, as pip writes an installed package's: an editable install has none, and
# with PYTHONDONTWRITEBYTECODE set every process (a batch's runner and each of its kernels) would
# compile the same modules again (~0.1 s of each start). Only modules changed since are rewritten.
compile: $(STAMP)
	@$(BIN)/python -m compileall -q workbench

demo: compile
	$(BIN)/workbench demo

test: compile
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: compile
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: compile
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) outputs/images outputs/ledger.sqlite* outputs/batches
