#!/usr/bin/env bash
# make test: lint, start a real Neo4j unless NEO4J_URI points at one, run the whole suite, stop Neo4j.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
export NUMBA_CACHE_DIR="${NUMBA_CACHE_DIR:-$PWD/.numba_cache}"
export SIGHTGRAPH_PSEUDONYM_KEY="${SIGHTGRAPH_PSEUDONYM_KEY:-test-only-key}"
export HYPOTHESIS_PROFILE="${HYPOTHESIS_PROFILE:-ci}"

echo "== ruff"
$BIN/ruff check sightgraph tests benchmarks
echo "== mypy"
$BIN/mypy

started=0
if [ -z "${NEO4J_URI:-}" ]; then
  echo "== starting Neo4j (scripts/neo4j/neo4j.sh start)"
  NEO4J_URI="$(scripts/neo4j/neo4j.sh start --fresh)"
  export NEO4J_URI
  started=1
fi
stop_neo4j() { if [ "$started" = 1 ]; then scripts/neo4j/neo4j.sh stop || true; fi; }
trap stop_neo4j EXIT
# CI must fail, not skip, when the Neo4j tests cannot run.
export SIGHTGRAPH_REQUIRE_NEO4J=1
echo "== pytest against $NEO4J_URI"
$BIN/pytest -q "$@"
