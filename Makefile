# The README's commands. Each target creates .venv when it is missing and installs what the
# project needs (torch 2.13.0 CPU build first, then the package with its dev extras, then
# BoTorch's fused qLogEHVI kernel, compiled into the project's cache; a failed build only
# warns: the search then uses BoTorch's pure-Python path); with everything installed already it
# goes straight to the work.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo experiment test test-all bench clean

setup: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BIN)/python -m cimnet_bo.search.fused_kernel --timeout 900
	touch $(STAMP)

# The main job: a joint qNEHVI search of subnet and CiM hardware on vit-fmnist with the shipped
# supernet (accuracy on the Fashion-MNIST validation split, latency/area/power from the roofline,
# area and peak power <= the baseline chip's; each subnet on its best chip), 160 evaluations, the
# baseline point (largest subnet on the baseline chip), then the report with the iso-accuracy
# speedup over the baseline. A few minutes on 2 CPU cores, plus the one-time set-up of .venv;
# resumable (run it again to continue an interrupted demo; a larger DEMO_BUDGET continues a
# finished one).
DEMO_RUN ?= runs/demo
DEMO_BUDGET ?= 160
demo: $(STAMP)
	$(BIN)/cimnet-bo search --space vit-fmnist --strategy qnehvi --budget $(DEMO_BUDGET) --batch-size 8 --seed 0 --run $(DEMO_RUN)
	$(BIN)/cimnet-bo baseline --space vit-fmnist --run $(DEMO_RUN)-baseline
	$(BIN)/cimnet-bo report --run $(DEMO_RUN) --run $(DEMO_RUN)-baseline --out $(DEMO_RUN)/report

# Baseline vs model-only, hardware-only and joint search under the baseline chip's area and power, 3 seeds, for each space in SPACES
# (resumable), then the hardware-only answer for ViT-B itself on cim-server. Results (RESULTS.md, figures, tables) in
# experiments/<space>, runs in runs/experiment/<space>.
SPACES ?= vit-fmnist cnn-fmnist
EXPERIMENT_ARGS ?=
experiment: $(STAMP)
	for s in $(SPACES); do \
		$(BIN)/cimnet-bo experiment --space $$s --seeds 3 --out experiments/$$s --runs runs/experiment/$$s $(EXPERIMENT_ARGS) || exit 1; \
	done
	$(BIN)/cimnet-bo experiment --space vit-b-imagenet --hardware-only --out experiments/vit-b-imagenet

# Lint and format checks first (ruff, settings in pyproject.toml), then the tests.
LINT_PATHS := cimnet_bo tests benchmarks
test: $(STAMP)
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	mkdir -p benchmarks/results
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b --out benchmarks/results/$$(basename $$b .py).json || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
