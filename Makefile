# seqbench — set-up and checks.  `make demo` and `make test` do all set-up on a fresh machine.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
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
	$(PY) -m pytest -q -m "not slow" --durations=25

test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

lint: $(STAMP)
	$(VENV)/bin/ruff check seqbench tests benchmarks

clean:
	rm -rf $(VENV) seqbench-jobs .pytest_cache
