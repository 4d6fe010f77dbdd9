# The two commands that matter: `make demo` and `make test`. Both set everything up first.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: setup demo demo-femur demo-spine-model demo-workstation test lint typecheck unit bench clean

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

# Femur radiographs: a small synthetic set, a CNN-only experiment (about 2 minutes on 2 cores),
# then prediction with the model the experiment chose on two held-out test images (the first
# AFF and the first NFF image of the test split in demo/femur-run/splits.csv), which no model
# trained on.
FEMUR_TEST_IMAGES = import csv; rows = [r for r in csv.DictReader(open('demo/femur-run/splits.csv')) if r['split'] == 'test']; print(*('demo/femur-data/' + next(r['image'] for r in rows if r['label'] == k) for k in ('AFF', 'NFF')))
demo-femur: setup
	$(BIN)/fracturelab synth femur --out demo/femur-data --n 120 --min-size 600 --max-size 1200 --seed 1
	$(BIN)/fracturelab femur experiment --manifest demo/femur-data/manifest.csv --out demo/femur-run --folds 2 --backbones cnn --epochs 25 --localizer-epochs 40
	$(BIN)/fracturelab femur predict $$($(BIN)/python -c "$(FEMUR_TEST_IMAGES)") --model demo/femur-run/models/best --out demo/femur-predictions
	@echo "Open demo/femur-run/report.html; predictions in demo/femur-predictions/"

# The learned spine classifier: a small phantom dataset, training on CPU (a few minutes on 2
# cores), then the analysis of a held-out test scan (the first test case of
# demo/spine-run/splits.csv) with the model beside morphometry.
SPINE_TEST_SCAN = import csv; test = {r['case_id'] for r in csv.DictReader(open('demo/spine-run/splits.csv')) if r['split'] == 'test'}; row = next(r for r in csv.DictReader(open('demo/spine-set/scans.csv')) if r['case_id'] in test); print('--ct demo/spine-set/' + row['ct'], '--vertebrae demo/spine-set/' + row['vertebrae'])
demo-spine-model: setup
	$(BIN)/fracturelab synth spine-set --out demo/spine-set --n 40 --seed 1 --graded-share 1 --unlabelled-share 0 --fracture-share 0.7
	$(BIN)/fracturelab spine train --dataset demo/spine-set/scans.csv --out demo/spine-run --folds 2 --size small --epochs 10 --patch-spacing 2 --jobs 2 --bootstrap 500
	$(BIN)/fracturelab spine analyze $$($(BIN)/python -c "$(SPINE_TEST_SCAN)") --model demo/spine-run/models/best --out demo/spine-model-results
	@echo "Open demo/spine-run/report.html and demo/spine-model-results/overview.png"

# Labelling workstation: synthetic cases, an admin and two readers (passwords printed), then
# the server on http://127.0.0.1:8000/ until Ctrl+C.
demo-workstation: setup
	rm -rf demo/workstation
	$(BIN)/fracturelab workstation demo --out demo/workstation --serve

# The workstation's JavaScript, type-checked by TypeScript from npm (installed on first use).
.PHONY: js-check
js-check:
	ci/js-check.sh

lint: setup js-check
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: setup
	$(BIN)/mypy

unit: setup
	$(BIN)/pytest -q

test: lint typecheck unit

bench: setup
	$(BIN)/python benchmarks/spine_morphometry.py
	$(BIN)/python benchmarks/femur_predict.py
	$(BIN)/python benchmarks/workstation_load.py

clean:
	rm -rf $(VENV) demo test-artifacts
