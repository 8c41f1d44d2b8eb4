# uedflow: every set-up step lives here, so a fresh machine needs only `make`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
OUT ?= demo-out

.PHONY: demo test lint bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

## demo: set up and run the main job (the paper's virtual experiment -> report in $(OUT)/)
demo: $(VENV)/.installed
	$(BIN)/uedflow demo -o $(OUT)

## test: set up and run the whole test suite (what CI runs)
test: $(VENV)/.installed
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest src tests

lint: $(VENV)/.installed
	$(BIN)/ruff check src tests benchmarks

## bench: peer-comparison benchmarks (pyFAI, debyecalculator); prints ratios
bench: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache
