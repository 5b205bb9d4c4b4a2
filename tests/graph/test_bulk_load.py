"""`sightgraph load --store neo4j --bulk` (sightgraph/graph/bulk.py, `neo4j.sh import`).

On a private project-managed server (its own state dir and port): a bulk load of a small lake
gives the graph an online load gives (every node and edge with the same properties and value
types, compared against an online load on the suite's server), the store answers like the
embedded store, the schema is there, and an online load afterwards changes nothing (same
counts, no edge re-created). Refusals: a graph with nodes, a server the project does not run,
another database, another store, each one line with exit code 2 and the server untouched."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pandas.testing import assert_frame_equal

from sightgraph.errors import UsageError
from sightgraph.graph.bulk import bulk_load
from sightgraph.graph.embedded import EmbeddedStore
from sightgraph.graph.loader import derived_path, load_lake
from sightgraph.graph.neo4j_store import Neo4jStore
from sightgraph.lake import write_table
from sightgraph.schema import SIGHTINGS_ARROW
from tests.graph.test_neo4j_load import (
    SIGHTGRAPH,
    URI,
    _neo4j_sh,
    answer_pids,
    answers,
    free_port,
    make_lake,
)

pytestmark = [
    pytest.mark.neo4j,
    pytest.mark.skipif(not URI, reason="needs NEO4J_URI"),
    pytest.mark.skipif(shutil.which("java") is None, reason="needs Java for a private Neo4j"),
]

# Every property of every node and edge with its Cypher value type, in a canonical order.
DUMP = {
    "persons": "MATCH (n:Person) RETURN n.pid AS k, properties(n) AS p, "
    "[x IN keys(n) | x + ':' + valueType(n[x])] AS t ORDER BY k",
    "cameras": "MATCH (n:Camera) RETURN n.camera_id AS k, properties(n) AS p, "
    "[x IN keys(n) | x + ':' + valueType(n[x])] AS t ORDER BY k",
    "seen_at": "MATCH (a)-[r:SEEN_AT]->(b) RETURN [a.pid, b.camera_id, r.sighting_id] AS k, "
    "properties(r) AS p, [x IN keys(r) | x + ':' + valueType(r[x])] AS t, labels(a) + labels(b) "
    "AS l ORDER BY r.sighting_id",
    "contacts": "MATCH (a)-[r:CONTACT]->(b) RETURN [a.pid, b.pid] AS k, properties(r) AS p, "
    "[x IN keys(r) | x + ':' + valueType(r[x])] AS t ORDER BY k",
    "transitions": "MATCH (a)-[r:TRANSITION]->(b) RETURN [a.camera_id, b.camera_id] AS k, "
    "properties(r) AS p, [x IN keys(r) | x + ':' + valueType(r[x])] AS t ORDER BY k",
}


def dump(store: Neo4jStore) -> dict[str, list[Any]]:
    out = {}
    for name, query in DUMP.items():
        records, _, _ = store.driver.execute_query(query, database_=store.database)
        out[name] = [(r["k"], r["p"], sorted(r["t"]), r.get("l")) for r in records]
    return out


def seen_at_element_ids(store: Neo4jStore) -> dict[int, str]:
    records, _, _ = store.driver.execute_query(
        "MATCH ()-[r:SEEN_AT]->() RETURN r.sighting_id AS s, elementId(r) AS e"
    )
    return {r["s"]: r["e"] for r in records}


def tricky_lake(path: Path) -> tuple[dict[str, int], int]:
    """make_lake plus what the CSV route must get right: a sighting id given twice (a later
    partition changes camera and confidence: the last row wins), camera names with a comma,
    quotes and a line break, an empty name, a subject known only from a contact and a camera
    known only from a transition. Returns the expected counts and the twice-given id."""
    expected = make_lake(path, 2_000, seed=11)
    first = pq.read_table(next(iter(sorted((path / "sightings").glob("date=*/*.parquet")))))
    again = first.slice(0, 1).to_pandas()
    again["camera_id"] = "cam-007"
    again["confidence"] = 0.123456789
    again["ts"] = again["ts"] + pd.Timedelta(microseconds=1)
    out = path / "sightings" / "date=2024-03-09" / "part-0.parquet"
    out.parent.mkdir(parents=True)
    pq.write_table(pa.Table.from_pandas(again, schema=SIGHTINGS_ARROW), out)
    cams = pq.read_table(path / "cameras" / "cameras.parquet").to_pandas()
    cams.loc[0, "name"] = 'gate "A", west\nexit'
    cams.loc[1, "name"] = ""
    cams.loc[2, "site"] = None
    write_table(cams, path / "cameras" / "cameras.parquet")
    contacts = pq.read_table(derived_path(path, "contacts")).to_pandas()
    extra = contacts.iloc[[0]].copy()
    extra["pid_a"], extra["pid_b"], extra["last_ts"] = "p00000", "zz-only-in-contacts", pd.NaT
    write_table(pd.concat([contacts, extra]), derived_path(path, "contacts"))
    trans = pq.read_table(derived_path(path, "transitions")).to_pandas()
    extra = trans.iloc[[0]].copy()
    extra["camera_to"], extra["median_travel_s"] = "cam-only-in-transitions", float("nan")
    write_table(pd.concat([trans, extra]), derived_path(path, "transitions"))
    counts = {
        **expected,
        "persons": expected["persons"] + 1,
        "cameras": expected["cameras"] + 1,
        "contacts": expected["contacts"] + 1,
        "transitions": expected["transitions"] + 1,
    }
    return counts, int(again["sighting_id"].iloc[0])


@pytest.fixture(scope="module")
def managed(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A private server run by neo4j.sh (own state dir and port), stopped at the end."""
    env = {
        "SIGHTGRAPH_NEO4J_HOME": str(tmp_path_factory.mktemp("neo4j-bulk")),
        "NEO4J_PORT": str(free_port()),
        "NEO4J_HEAP": "512m",
        "NEO4J_PAGECACHE_MB": "64",
    }
    uri = _neo4j_sh(env, "start", "--fresh")
    yield SimpleNamespace(uri=uri, env=env)
    _neo4j_sh(env, "stop")


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SIGHTGRAPH), *args],
        env={**os.environ, "SIGHTGRAPH_ROLE": "admin", **env},  # load is the admin's
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_bulk_load_is_the_online_graph_and_online_reload_changes_nothing(
    managed: Any, neo4j_backend: Neo4jStore, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    expected, twice = tricky_lake(lake)
    # a NEO4J_PORT of our own: the restart must use the port the server was started on
    env = {
        **managed.env,
        "NEO4J_URI": managed.uri,
        "NEO4J_PORT": str(free_port()),
        "NEO4J_DATABASE": "",
    }
    done = run_cli(
        "load", "--lake", str(lake), "--store", "neo4j", "--bulk", "--max-q", "1", env=env
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "loaded: " + ", ".join(f"{k} {v:,}" for k, v in expected.items())
    bulk = Neo4jStore.connect(managed.uri, "neo4j", "x")
    emb = EmbeddedStore(tmp_path / "graph.duckdb")
    try:
        assert bulk.counts() == expected
        # the same graph as an online load of the lake (on the suite's server)
        neo4j_backend.clear()
        assert load_lake(lake, neo4j_backend, batch_size=1_000, progress=False) == expected
        got, want = dump(bulk), dump(neo4j_backend)
        for name in DUMP:
            assert got[name] == want[name], name
        assert len(got["seen_at"]) == expected["sightings"]
        assert any("\n" in (p.get("name") or "") for _, p, _, _ in got["cameras"])
        # ... which answers like the embedded store
        assert load_lake(lake, emb, batch_size=1_000, progress=False) == expected
        reference = answers(emb, answer_pids(13))
        for a, b in zip(answers(bulk, answer_pids(13)), reference, strict=True):
            assert_frame_equal(a, b)
        assert sum(len(f) for f in reference) > 100
        # constraints and indexes are there (the online path's plans need them)
        records, _, _ = bulk.driver.execute_query(
            "SHOW INDEXES YIELD name, state WHERE name STARTS WITH 'sightgraph_' "
            "RETURN collect([name, state]) AS names"
        )
        assert sorted(records[0]["names"]) == [
            ["sightgraph_camera_id", "ONLINE"],
            ["sightgraph_person_pid", "ONLINE"],
            ["sightgraph_seen_at_sighting_id", "ONLINE"],
            ["sightgraph_seen_at_ts", "ONLINE"],
        ]
        # an online load afterwards finds everything and re-creates nothing (but the sighting
        # given twice: the online path writes each version in turn, whatever the store held)
        before = seen_at_element_ids(bulk)
        assert load_lake(lake, bulk, batch_size=1_000, progress=False) == expected
        after = seen_at_element_ids(bulk)
        assert after.keys() == before.keys()
        assert [s for s in before if before[s] != after[s]] == [twice]
        assert dump(bulk) == got
    finally:
        bulk.close()
        emb.close()
        neo4j_backend.clear()


def test_bulk_refuses_a_graph_with_nodes(managed: Any, tmp_path: Path) -> None:
    """A graph with any node: one line, exit 2, the server not restarted, nothing changed."""
    make_lake(tmp_path / "lake", 50, seed=1)
    store = Neo4jStore.connect(managed.uri, "neo4j", "x")
    try:
        if store.is_empty():
            store.write_cameras(pd.DataFrame({"camera_id": ["c1"], "lat": [1.0], "lon": [2.0]}))
        counts = store.counts()
        status = _neo4j_sh(managed.env, "status")
        env = {**managed.env, "NEO4J_URI": managed.uri}
        done = run_cli(
            "load",
            "--lake",
            str(tmp_path / "lake"),
            "--store",
            "neo4j",
            "--bulk",
            "--max-q",
            "1",
            env=env,
        )
        assert done.returncode == 2, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: --bulk loads only into an empty")
        assert "drop --bulk for the normal online load" in lines[0]
        assert _neo4j_sh(managed.env, "status") == status  # same pid: not restarted
        assert store.counts() == counts
    finally:
        store.close()


def test_bulk_refuses_servers_it_does_not_run(
    managed: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The suite's own server, a cloud URI, no managed server at all, another database, and
    the embedded store: each refused before anything is written or stopped."""
    make_lake(tmp_path / "lake", 50, seed=2)
    monkeypatch.setenv("SIGHTGRAPH_NEO4J_HOME", managed.env["SIGHTGRAPH_NEO4J_HOME"])

    def refused(uri: str | None, database: str | None = None) -> str:
        settings = SimpleNamespace(
            neo4j_uri=uri, neo4j_user="neo4j", neo4j_password="x", neo4j_database=database
        )
        with pytest.raises(UsageError) as info:
            bulk_load(tmp_path / "lake", settings)
        msg = str(info.value)
        assert "\n" not in msg
        return msg

    other = URI if managed.uri != URI else "bolt://127.0.0.1:1"
    msg = refused(other)
    assert f"not on NEO4J_URI {other}" in msg and managed.uri in msg
    assert "drop --bulk" in refused("neo4j+s://abcd1234.databases.neo4j.io")
    assert "NEO4J_DATABASE='other'" in refused(managed.uri, "other")
    monkeypatch.setenv("SIGHTGRAPH_NEO4J_HOME", str(tmp_path / "no-server"))
    assert "none is running" in refused(managed.uri)
    assert not (tmp_path / "no-server").exists()  # `status` creates nothing
    done = run_cli(
        "load", "--lake", str(tmp_path / "lake"), "--store", "embedded", "--bulk", env={}
    )
    assert done.returncode == 2
    assert (
        done.stderr.strip() == "error: --bulk is for --store neo4j only; drop --bulk for this store"
    )
