# OrderHub — two commands: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export XDG_RUNTIME_DIR ?= /tmp/orderhub-runtime

.PHONY: demo test check lint typecheck contracts bench clean serve

PORT ?= 8000

$(STAMP): pyproject.toml
	@echo "make: creating $(VENV) and installing OrderHub with its dependencies (a couple of minutes) …"
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install --progress-bar off -e ".[dev]"
	touch $(STAMP)
	@echo "make: installed"

demo: $(STAMP)  ## set up, migrate, load the demo world into SQLite and serve on :$(PORT) (PORT=8080 make demo)
	$(BIN)/orderhub demo --host 127.0.0.1 --port $(PORT)

serve: $(STAMP)
	$(BIN)/orderhub serve

test: $(STAMP) check  ## set up and run the whole suite (SQLite, PostgreSQL, Chromium)
	@mkdir -p $(XDG_RUNTIME_DIR)
	$(BIN)/python -m pytest -n 2 --dist loadgroup

check: lint typecheck contracts

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy src/orderhub

contracts: $(STAMP)
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python -m bench.capture
	$(BIN)/python -m bench.inventory
	$(BIN)/python -m bench.sourcing
	$(BIN)/python -m bench.carbon
	$(BIN)/python -m bench.bus
	$(BIN)/python -m bench.edge

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
