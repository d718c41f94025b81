# Lingo: `make help` lists the targets.
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
RESULTS ?= outputs
OUT ?= outputs

export HF_HUB_OFFLINE ?= 1
export WANDB_MODE ?= offline

.DEFAULT_GOAL := help
.PHONY: help install demo test test-fast lint tables clean

help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH_SPEC)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP) ## Create .venv and install Lingo (TORCH_SPEC="..." picks the torch build)

demo: $(STAMP) ## Offline demo: tiny OPT on a synthetic TATA-box task (about 30 s on 2 cores)
	$(BIN)/python train.py experiment=demo

test: $(STAMP) ## Run the tests (all but those marked gpu)
	$(BIN)/python -m pytest -m "not gpu" $(PYTEST_ARGS)

test-fast: $(STAMP) ## Run the tests that train nothing
	$(BIN)/python -m pytest -m "not gpu and not slow" $(PYTEST_ARGS)

tables: $(STAMP) ## Tables S2/S3/1 and figures from the runs under RESULTS (default outputs) into OUT
	$(BIN)/python -m lingo.report --results $(RESULTS) --out $(OUT) $(if $(SOURCE),--source $(SOURCE))

lint: $(STAMP) ## Check style (ruff)
	$(BIN)/ruff check lingo tests scripts train.py

clean: ## Remove outputs, caches and the environment
	rm -rf outputs multirun .pytest_cache .ruff_cache $(VENV) *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
