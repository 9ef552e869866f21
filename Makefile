# copier-mlops: the template's own tasks. `make help` lists them.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEST ?= ../my-mlops-project
# uv from PATH, else the module pip installed (see the `uv` target).
UV = $$(command -v uv || echo "$(PYTHON) -m uv")
# Extra pytest options for `make test`/`test-fast`, e.g. a CI shard: PYTEST_ARGS="--splits 5 --group 1".
PYTEST_ARGS ?=

.PHONY: help uv install tags release test test-fast durations lint format new lock lock-upgrade \
	lock-check bench docs docs-serve clean

help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_.\/-]+:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

uv: ## Install uv with pip when it is not available
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m uv --version >/dev/null 2>&1 \
		|| { echo "uv not found: installing it with pip"; \
		     $(PYTHON) -m pip install --quiet uv || $(PYTHON) -m pip install --quiet --user uv; }

$(VENV)/.synced: pyproject.toml uv.lock
	$(MAKE) --no-print-directory uv
	$(UV) sync --frozen --compile-bytecode
	@touch $@

install: $(VENV)/.synced ## Create .venv with the template's dev tools (uv sync)

tags: ## Recreate the release tags vX.Y.Z from CHANGELOG.md and history (idempotent)
	$(PYTHON) scripts/release.py tags

release: ## Cut a release from the [Unreleased] entries, commit and tag: make release VERSION=X.Y.Z
	@test -n "$(VERSION)" || { echo "make release: give the version, e.g. make release VERSION=0.3.0" >&2; exit 2; }
	$(PYTHON) scripts/release.py release "$(VERSION)"

test: $(VENV)/.synced tags ## Run the whole meta suite in parallel (release tags first)
	$(BIN)/pytest -n auto --dist worksteal $(PYTEST_ARGS)

test-fast: $(VENV)/.synced tags ## Run the fast tier: renders, static checks, validation, updates, releases
	$(BIN)/pytest -n auto --dist worksteal -m "not slow" $(PYTEST_ARGS)

durations: $(VENV)/.synced tags ## Run the whole meta suite and store its test durations in .test_durations (CI shards)
	$(BIN)/pytest -n auto --dist worksteal --store-durations --clean-durations $(PYTEST_ARGS)

lint: $(VENV)/.synced ## Lint and format-check the template's own Python
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.synced ## Fix lint findings and format the template's own Python
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# A non-empty DEST is refused before anything is written (the venv included): copier would stop at
# the first file it shares with the template, leaving a half-rendered tree among the user's files.
new: ## Render a project with default answers: make new DEST=path (FORCE=1 if it is not empty)
	@if [ "$(FORCE)" != 1 ] && [ -e "$(DEST)" ] && { [ ! -d "$(DEST)" ] || [ -n "$$(ls -A "$(DEST)")" ]; }; then \
		echo "make new: $(DEST) is not an empty folder: render into a new or empty one, or force it" \
			"with make new DEST=$(DEST) FORCE=1 (overwrites the files the template also has)" >&2; \
		exit 2; fi
	@$(MAKE) --no-print-directory $(VENV)/.synced
	$(BIN)/copier copy --defaults --vcs-ref HEAD $(if $(filter 1,$(FORCE)),--overwrite) . "$(DEST)"

lock: $(VENV)/.synced ## Re-lock the renders' locks (locks/) whose requirements changed, up to the cut-off
	$(BIN)/python scripts/lock.py

lock-upgrade: $(VENV)/.synced ## Newest releases into every render's lock: make lock-upgrade CUTOFF=YYYY-MM-DD
	$(BIN)/python scripts/lock.py --upgrade $(if $(CUTOFF),--cutoff "$(CUTOFF)")

lock-check: $(VENV)/.synced ## Check, offline, that every lock in locks/ matches its render
	$(BIN)/python scripts/lock.py --check

bench: $(VENV)/.synced ## Print render, meta-suite and generated-test timings (scripts/bench_meta.py)
	$(BIN)/python scripts/bench_meta.py

docs: $(VENV)/.synced ## Build the docs site strictly into site/ (mkdocs; questions from copier.yml)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

docs-serve: $(VENV)/.synced ## Serve the docs site with live reload on 127.0.0.1:8000
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve

clean: ## Remove caches, the built docs site and the runner venvs of the meta suite
	rm -rf .pytest_cache .ruff_cache .cache site
	find . -name __pycache__ -type d -prune -not -path "./$(VENV)/*" -exec rm -rf {} +
