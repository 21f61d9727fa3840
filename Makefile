# The README's commands. Each target creates .venv when it is missing and installs what the
# project needs (torch 2.13.0 CPU build first, then the package with its dev extras); with
# everything installed already it goes straight to the work.
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
	touch $(STAMP)

# The main job: a joint qNEHVI search of subnet and CiM hardware on vit-fmnist with the shipped
# supernet (accuracy on the Fashion-MNIST validation split, latency/area/power from the roofline,
# area and peak power <= the baseline chip's), 160 evaluations, then its report. About 4 minutes on 2 CPU cores, plus
# the one-time set-up of .venv; resumable (run it again to continue an interrupted demo; a larger
# DEMO_BUDGET continues a finished one).
DEMO_RUN ?= runs/demo
DEMO_BUDGET ?= 160
demo: $(STAMP)
	$(BIN)/cimnet-bo search --space vit-fmnist --strategy qnehvi --budget $(DEMO_BUDGET) --batch-size 8 --seed 0 --run $(DEMO_RUN)
	$(BIN)/cimnet-bo report --run $(DEMO_RUN) --out $(DEMO_RUN)/report

# Baseline vs model-only, hardware-only and joint search under the baseline chip's area and power, 3 seeds, for each space in SPACES
# (resumable). Results (RESULTS.md, figures, tables) in experiments/<space>, runs in runs/experiment/<space>.
SPACES ?= vit-fmnist cnn-fmnist
EXPERIMENT_ARGS ?=
experiment: $(STAMP)
	for s in $(SPACES); do \
		$(BIN)/cimnet-bo experiment --space $$s --seeds 3 --out experiments/$$s --runs runs/experiment/$$s $(EXPERIMENT_ARGS) || exit 1; \
	done

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	mkdir -p benchmarks/results
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b --out benchmarks/results/$$(basename $$b .py).json || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
