"""Graph stores: the contract (:class:`Store`) and its backends, embedded DuckDB and Neo4j."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sightgraph.graph.base import (
    EGO_EDGE_COLUMNS,
    EGO_NODE_COLUMNS,
    PAIR_EVENT_COLUMNS,
    TRAJECTORY_COLUMNS,
    EgoNetwork,
    Store,
)

if TYPE_CHECKING:
    from sightgraph.config import Settings

__all__ = [
    "EGO_EDGE_COLUMNS",
    "EGO_NODE_COLUMNS",
    "PAIR_EVENT_COLUMNS",
    "STORE_KINDS",
    "TRAJECTORY_COLUMNS",
    "EgoNetwork",
    "Store",
    "open_store",
]

STORE_KINDS = ("embedded", "neo4j")


def open_store(
    kind: str, settings: Settings, path: Path | None = None, read_only: bool = False
) -> Store:
    """Open the store named ``kind`` ('embedded' or 'neo4j') from settings.

    The Neo4j driver is created here, once, and owned by the returned store. ``read_only`` opens
    the embedded store so that several reading processes (dashboards) can share its file.
    """
    from sightgraph.errors import UsageError

    if kind == "embedded":
        from sightgraph.graph.embedded import EmbeddedStore

        target = path if path is not None else settings.embedded_path()
        target.parent.mkdir(parents=True, exist_ok=True)
        return EmbeddedStore(target, read_only=read_only)
    if kind == "neo4j":
        from sightgraph.graph.neo4j_store import Neo4jStore

        if not settings.neo4j_uri:
            raise UsageError(
                "--store neo4j needs NEO4J_URI (e.g. bolt://127.0.0.1:7687; `make neo4j` starts one)"
            )
        return Neo4jStore.connect(
            settings.neo4j_uri,
            settings.neo4j_user,
            settings.neo4j_password,
            database=settings.neo4j_database,
        )
    raise UsageError(f"unknown store {kind!r}: choose one of {', '.join(STORE_KINDS)}")
