# The README's commands. Each target is a thin wrapper; see scripts/ and the README.
# uv comes from PyPI when it is not on the machine yet.
UV = $(shell command -v uv 2>/dev/null || echo python3 -m uv)
SERVICES_ENV ?= $(HOME)/.cache/asset-tag/services.env

.PHONY: install services services-down demo test test-unit lint dagster api consume simulate landing

install:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	$(UV) sync --frozen

## Run the whole platform in one process on embedded backends (no services needed; no Kafka, so no native
## landing sink either: `make landing` builds it for a deployment).
demo: install
	$(UV) run assettag demo

## Start PostgreSQL, Redis, Kafka and MinIO natively (installs them on first run).
services:
	scripts/services.sh up

services-down:
	scripts/services.sh down

## Everything CI runs: install, start the services, run unit, integration and e2e tests.
test: install services landing
	scripts/services.sh tools
	$(UV) run pytest

## The native landing sink (Go): Kafka -> Parquet at several times the Python path's rate. Rebuilt only
## when its sources change; Go fetches the modules from the module proxy on the first build.
LANDING_DIR = lakehouse/native/landing
LANDING_BIN = $(LANDING_DIR)/bin/asset-tag-landing
landing: $(LANDING_BIN)
$(LANDING_BIN): $(wildcard $(LANDING_DIR)/*.go) $(LANDING_DIR)/go.mod $(LANDING_DIR)/go.sum
	@if command -v go >/dev/null 2>&1; then \
		echo "building $(LANDING_BIN)"; cd $(LANDING_DIR) && go build -trimpath -o bin/asset-tag-landing .; \
	else echo "Go not found: landing falls back to the slower Python path (install Go >= 1.26, then make landing)"; fi

test-unit: install
	$(UV) run pytest -m unit

lint: install
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run mypy

## Dagster UI + daemon against the running services, with run/event storage in their PostgreSQL.
DAGSTER_HOME ?= $(HOME)/.cache/asset-tag/dagster
dagster: install services
	mkdir -p $(DAGSTER_HOME) && cp orchestration/dagster.yaml $(DAGSTER_HOME)/dagster.yaml
	. $(SERVICES_ENV) && DAGSTER_HOME=$(DAGSTER_HOME) $(UV) run dagster dev -m orchestration.definitions -h 127.0.0.1 -p 3000
