# catscope set-up: `make serve` runs the app, `make test` runs the whole test suite.
# Both create .venv on first use. TORCH_SPEC picks the PyTorch build: the default is the CPU
# build used on our machines and in CI; GPU users run e.g.
#   make serve TORCH_SPEC="torch --index-url https://download.pytorch.org/whl/cu128"
PYTHON ?= python3.11
TORCH_SPEC ?= torch==2.13.0
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5006

.PHONY: setup serve test test-fast screenshots benchmark app-latency app-load sample-catalog

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet $(TORCH_SPEC)
	$(BIN)/pip install --quiet -e ".[test,baselines,scale]"
	touch $@

serve: setup
	$(BIN)/catscope serve --port $(PORT)

# Browser tests drive Debian's chromium (never `playwright install`).
chromium:
	@command -v chromium >/dev/null || (apt-get update -q && apt-get install -y -q chromium)

# Lint, format and layering checks first (seconds; the import contracts are in pyproject.toml),
# then the suite.
test: setup chromium
	$(BIN)/ruff check . && $(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache --no-logo
	$(BIN)/python -m pytest -n 2 --dist loadgroup

test-fast: setup
	$(BIN)/python -m pytest -n 2 -m "not slow and not browser"

screenshots: setup chromium
	$(BIN)/python -m app.screenshots --out screenshots

benchmark: setup
	$(BIN)/python benchmarks/inference.py

app-latency: setup
	$(BIN)/python benchmarks/app_latency.py

# 20 concurrent browser sessions on the served app (benchmarks/APP_LOAD.md)
app-load: setup chromium
	$(BIN)/python benchmarks/app_load.py --sessions 20

# The shipped catalogue of the sample, indexed with every shipped model (after retraining one).
sample-catalog: setup
	$(BIN)/catscope index sample_data/plasticc_fold0_sample.parquet --out sample_data/catalog --overwrite
