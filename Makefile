# Border Coordination Hub — the two set-up commands are `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
NPM ?= npm

.PHONY: help run test install install-dev frontend frontend-test lint typecheck pytest e2e \
        migrate seed serve clean soak

help:
	@echo "make run    install, build, migrate, seed demo data and serve at http://$(HOST):$(PORT)"
	@echo "make test   install dev dependencies, then lint, type-check and run every test"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip "setuptools>=78.1.1"

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# The frontend is optional for `make run` (a machine without Node still serves the
# hub, with a notice), required for `make test`.
frontend:
	@if command -v $(NPM) >/dev/null 2>&1; then \
		cd frontend && $(NPM) ci --no-audit --no-fund --loglevel=error && $(NPM) run build; \
	else \
		echo "warning: npm not found; serving without the web app build"; \
	fi

frontend-test:
	cd frontend && $(NPM) ci --no-audit --no-fund --loglevel=error
	cd frontend && $(NPM) run typecheck
	cd frontend && $(NPM) test
	cd frontend && $(NPM) run build
	cd frontend && $(NPM) run size

migrate: install
	$(BIN)/python manage.py migrate --noinput

seed: migrate
	$(BIN)/python manage.py seed_demo

# The background jobs loop (run_escalations) runs beside Daphne and stops with it.
serve:
	@echo "Serving the Border Coordination Hub at http://$(HOST):$(PORT)/ (admin: /admin/)"
	@$(BIN)/python manage.py run_escalations & ESCALATIONS=$$!; \
	trap 'kill $$ESCALATIONS 2>/dev/null' EXIT INT TERM; \
	$(BIN)/daphne --bind $(HOST) --port $(PORT) \
		--websocket-max-message-size 131072 --websocket-max-frame-size 131072 \
		hub.asgi:application

run: install frontend seed serve

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install-dev
	$(BIN)/mypy hub tests bench

# One pytest worker per core (pytest-xdist), each with its own test database; a
# module runs whole on one worker (its tests may share module state, such as the
# authorization matrices' "every cell was checked").
PYTEST_WORKERS ?= auto
pytest: install-dev
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile

# Playwright's sync API and the asyncio tests do not share one process.
e2e: install-dev
	$(BIN)/pytest tests/e2e

test: install-dev frontend-test lint typecheck pytest e2e

# The soak (not part of `make test`): about 10 minutes of 1,000 sockets over two workers
# with faults, on a Redis and a PostgreSQL of its own (bench/soak.py; the estimate is
# printed first; SOAK_ARGS="--minutes 2 --sockets 300 --repeat 2" for a shorter run),
# then the API fuzzing long run when bench/fuzz_api.py is there.
SOAK_ARGS ?=
FUZZ_EXAMPLES ?= 200
soak: install-dev
	$(BIN)/python -m bench.soak $(SOAK_ARGS)
	@if [ -f bench/fuzz_api.py ]; then \
		$(BIN)/python -m bench.fuzz_api --max-examples $(FUZZ_EXAMPLES); \
	else \
		echo "bench/fuzz_api.py is not there yet: no API fuzzing long run"; \
	fi

# Benchmarks, not part of `make test` (bench/run_all.py: each starts its own workers and
# databases on 127.0.0.1, prints an estimate first; a full run takes up to 30 minutes).
# Results: var/bench/RESULTS-latest.md. A shorter run: make bench BENCH_ARGS=--quick
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/postgres
BENCH_REDIS_URL ?= redis://127.0.0.1:6379/0
.PHONY: bench
bench: install-dev
	DATABASE_URL="$${DATABASE_URL:-$(BENCH_DATABASE_URL)}" \
	REDIS_URL="$${REDIS_URL:-$(BENCH_REDIS_URL)}" \
		$(BIN)/python -m bench.run_all $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var frontend/node_modules frontend/dist .pytest_cache .mypy_cache .ruff_cache
