"""Store fixtures: every test that asks for ``store`` runs once per backend, on an emptied store.

Backends: ``embedded`` always; ``neo4j`` when ``NEO4J_URI`` is set (with ``NEO4J_USER``,
``NEO4J_PASSWORD``, optional ``NEO4J_DATABASE``). With ``SIGHTGRAPH_REQUIRE_NEO4J=1`` and no
``NEO4J_URI`` the session fails before running anything: CI must not pass by skipping Neo4j.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from sightgraph.graph.embedded import EmbeddedStore


def _backends() -> list[Any]:
    names: list[Any] = ["embedded"]
    if os.environ.get("NEO4J_URI"):
        names.append(pytest.param("neo4j", marks=pytest.mark.neo4j))
    return names


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Fail the whole session when Neo4j is required but not configured (never skip)."""
    if os.environ.get("SIGHTGRAPH_REQUIRE_NEO4J") == "1" and not os.environ.get("NEO4J_URI"):
        pytest.exit(
            "SIGHTGRAPH_REQUIRE_NEO4J=1 but NEO4J_URI is not set: the Neo4j store contract "
            "tests would be skipped; start the server (see .ci/run) and export NEO4J_URI",
            returncode=1,
        )


@pytest.fixture(scope="session")
def embedded_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedStore]:
    """One file-backed embedded store for the session (tests clear it)."""
    store = EmbeddedStore(tmp_path_factory.mktemp("embedded") / "graph.duckdb")
    yield store
    store.close()


@pytest.fixture(scope="session")
def neo4j_backend() -> Iterator[Any]:
    """One Neo4jStore on the server at NEO4J_URI for the session (tests clear it)."""
    import neo4j

    from sightgraph.graph.neo4j_store import Neo4jStore  # type: ignore[import-not-found]

    driver = neo4j.GraphDatabase.driver(
        os.environ["NEO4J_URI"],
        auth=(os.environ.get("NEO4J_USER", "neo4j"), os.environ.get("NEO4J_PASSWORD", "neo4j")),
    )
    store = Neo4jStore(driver, database=os.environ.get("NEO4J_DATABASE") or None)
    store.ensure_schema()
    yield store
    store.close()
    driver.close()


@pytest.fixture(params=_backends())
def store(request: pytest.FixtureRequest) -> Any:
    """The store under test, emptied with ``clear()``."""
    backend = request.getfixturevalue(f"{request.param}_backend")
    backend.clear()
    return backend
