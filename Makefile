# uedflow: every set-up step lives here, so a fresh machine needs only `make`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
OUT ?= demo-out

.PHONY: demo test lint bench clean browser

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test]"
	# atomap ships a real ADF-STEM micrograph used by the TEM test (GPL: read at test time, never copied)
	$(BIN)/python -m pip install --quiet --no-deps "atomap==0.4.2"
	touch $@

## demo: set up and run the main job (the paper's virtual experiment -> report in $(OUT)/)
demo: $(VENV)/.installed
	$(BIN)/uedflow demo -o $(OUT)

# Headless Chromium for the report's browser test (Debian package; root on CI and dev machines).
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >/dev/null 2>&1; } || echo "note: chromium could not be installed; the browser test will be skipped"

## test: set up and run the whole test suite (what CI runs)
test: $(VENV)/.installed browser
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest src tests

lint: $(VENV)/.installed
	$(BIN)/ruff check src tests benchmarks

## bench: peer-comparison benchmarks (pyFAI, debyecalculator); prints ratios
bench: $(VENV)/.installed
	# CPU torch for debyecalculator (a plain `torch` would pull a multi-GB CUDA build)
	$(BIN)/python -m pip install --quiet "torch==2.13.0"
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache
