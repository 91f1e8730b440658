# seqbench — set-up and checks.  `make demo` and `make test` do all set-up on a fresh machine.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# test processes for the default suite (pytest-xdist; 0 runs it in this process). Two keep both cores
# busy on a 2-core machine: about half the serial suite waits on one core (imports, pandas, process
# starts). Each worker has its own session: its own cache of built models and its own local Ray;
# --dist loadfile keeps a module on one worker, so that its module-scoped job runs once.
PYTEST_WORKERS ?= 2
export RAY_USAGE_STATS_ENABLED := 0
export RAY_USAGE_STATS_PROMPT_ENABLED := 0
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: install demo test test-slow bench lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/seqbench-ray submit multiplicativity

test: $(STAMP)
	$(PY) -m pytest -q -m "not slow" -n $(PYTEST_WORKERS) --dist loadfile --durations=25

test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

lint: $(STAMP)
	$(VENV)/bin/ruff check seqbench tests benchmarks

clean:
	rm -rf $(VENV) seqbench-jobs .pytest_cache
