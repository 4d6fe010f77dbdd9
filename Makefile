# The two commands that matter: `make demo` and `make test`. Both set everything up first.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: setup demo test lint typecheck unit bench clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/fracturelab synth spine --out demo/phantom --fractures T12:2:wedge,L1:3:crush,L3:1:biconcave
	$(BIN)/fracturelab spine analyze --ct demo/phantom/ct.nii.gz --vertebrae demo/phantom/vertebrae.nii.gz --out demo/results
	@echo "Open demo/results/overview.png; numbers in demo/results/vertebrae.json and .csv"

lint: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: setup
	$(BIN)/mypy

unit: setup
	$(BIN)/pytest -q

test: lint typecheck unit

bench: setup
	$(BIN)/python benchmarks/spine_morphometry.py

clean:
	rm -rf $(VENV) demo test-artifacts
