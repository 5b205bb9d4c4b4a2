# The two set-up commands of README.md: `make demo` and `make test`. Everything else is a helper.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install demo test lint neo4j neo4j-stop neo4j-status browser bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/sightgraph demo $(DEMO_ARGS)

test: $(STAMP) browser
	scripts/run-tests.sh

lint: $(STAMP)
	$(BIN)/ruff check sightgraph tests benchmarks
	$(BIN)/ruff format --check sightgraph tests benchmarks
	$(BIN)/mypy

# Real Neo4j Community 5.26 from Maven Central (scripts/neo4j); prints the Bolt URI. Settings
# for real work (each can be overridden from the environment): C2 JIT, 2 GiB heap, 1 GiB page
# cache. The test suite starts its server with neo4j.sh's own defaults instead (C1-only JIT,
# 1 GiB heap, 256 MiB page cache: half the start-up CPU; 2-hop ego reads ~2x slower).
neo4j: export NEO4J_HEAP ?= 2g
neo4j: export NEO4J_PAGECACHE_MB ?= 1024
neo4j: export NEO4J_JAVA_OPTS ?= -XX:TieredStopAtLevel=4
neo4j:
	scripts/neo4j/neo4j.sh start

neo4j-stop:
	scripts/neo4j/neo4j.sh stop

neo4j-status:
	scripts/neo4j/neo4j.sh status

# Debian's Chromium for the dashboard browser tests (Playwright drives it; no browser download).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian chromium for the browser tests"; \
	  (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || \
	  { echo "could not install chromium (need root and Debian's package registry)"; exit 1; }; }

bench: $(STAMP)
	$(BIN)/python benchmarks/colocation/bench_colocation.py --sightings 1000000

clean:
	rm -rf sightgraph-work .pytest_cache .mypy_cache .ruff_cache
