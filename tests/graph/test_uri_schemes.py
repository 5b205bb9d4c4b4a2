"""NEO4J_URI: every scheme of the Neo4j driver is accepted and handed to it as it is (a unit test
of the settings: the driver is replaced by a recorder, no server is needed)."""

from __future__ import annotations

import pytest

from sightgraph.config import Settings
from sightgraph.errors import UsageError
from sightgraph.graph import neo4j_store


class _Recorder:
    def __init__(self) -> None:
        self.uris: list[str] = []

    def driver(self, uri: str, **kwargs):  # the GraphDatabase.driver signature
        self.uris.append(uri)
        raise _Stop


class _Stop(Exception):
    pass


@pytest.mark.parametrize(
    "uri",
    [
        "bolt://127.0.0.1:7687",
        "neo4j://cluster.example:7687",
        "neo4j+s://abcd1234.databases.neo4j.io",
        "bolt+s://db.example:7687",
        "neo4j+ssc://db.example",
        "bolt+ssc://db.example:7687",
    ],
)
def test_scheme_reaches_the_driver_unchanged(uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEO4J_URI", uri)
    assert Settings().neo4j_uri == uri
    rec = _Recorder()
    monkeypatch.setattr(neo4j_store, "GraphDatabase", rec)
    with pytest.raises(_Stop):
        neo4j_store.Neo4jStore.connect(Settings().neo4j_uri, "neo4j", "pw")
    assert rec.uris == [uri]


@pytest.mark.parametrize("uri", ["http://localhost:7474", "localhost:7687", "bolt://", ""])
def test_other_addresses_are_refused_before_the_driver(
    uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rec = _Recorder()
    monkeypatch.setattr(neo4j_store, "GraphDatabase", rec)
    with pytest.raises(UsageError, match="not a Neo4j address"):
        neo4j_store.Neo4jStore.connect(uri, "neo4j", "pw")
    assert rec.uris == []
