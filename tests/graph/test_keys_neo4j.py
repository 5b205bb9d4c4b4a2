"""`sightgraph keys rotate --store neo4j` against the real server: the graph is cleared and the
rotated lake loaded again, so Neo4j holds the rotated pids only, with the same counts."""

from __future__ import annotations

import os
from pathlib import Path

import neo4j
import pytest

from sightgraph import cli
from sightgraph.graph.loader import load_lake
from sightgraph.graph.neo4j_store import Neo4jStore
from sightgraph.ingest.pipeline import ingest
from sightgraph.ingest.pseudonymize import rewrap
from sightgraph.synthetic.city import generate_city, write_city
from tests.governance.conftest import KEY, _env

URI = os.environ.get("NEO4J_URI")


def _persons(driver: neo4j.Driver) -> set[str]:
    records, _, _ = driver.execute_query(
        "MATCH (p:Person) RETURN p.pid AS pid", database_=os.environ.get("NEO4J_DATABASE")
    )
    return {r["pid"] for r in records}


@pytest.mark.neo4j
@pytest.mark.skipif(not URI, reason="needs NEO4J_URI")
def test_rotation_reloads_neo4j_with_the_rotated_pids(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert URI is not None
    paths = write_city(generate_city(persons=40, days=2, seed=3), tmp_path / "city")
    lake = tmp_path / "lake"
    ingest(paths["sightings"], lake, cameras=paths["cameras"], key=KEY, progress=False)
    auth = (os.environ.get("NEO4J_USER", "neo4j"), os.environ.get("NEO4J_PASSWORD", "neo4j"))
    driver = neo4j.GraphDatabase.driver(URI, auth=auth)
    store = Neo4jStore(driver, database=os.environ.get("NEO4J_DATABASE") or None)
    try:
        store.clear()
        load_lake(lake, store, progress=False)
        before, old = store.counts(), _persons(driver)
        assert len(old) > 10
        _env(monkeypatch, tmp_path / "work")
        monkeypatch.setenv("NEW_KEY", "neo4j-rotated")
        monkeypatch.delenv("SIGHTGRAPH_PSEUDONYM_KEY_ROTATIONS", raising=False)
        with pytest.raises(SystemExit) as done:
            cli.main(["keys", "rotate", "--lake", str(lake), "--store", "neo4j", "--new-key-env",
                      "NEW_KEY"])  # fmt: skip
        assert not done.value.code
        assert _persons(driver) == {rewrap(b"neo4j-rotated", p) for p in old}
        assert store.counts() == before
        pid = next(iter(old))
        assert store.trajectory(pid).empty
        assert not store.trajectory(rewrap(b"neo4j-rotated", pid)).empty
    finally:
        store.clear()
        store.close()
        driver.close()
