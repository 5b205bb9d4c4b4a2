"""`sightgraph load --store neo4j` (sightgraph/graph/loader.py) against the real server:
the loaded graph answers like the embedded store, a second load changes nothing, a load killed
with SIGKILL half-way and run again ends with exact counts and no duplicate edges, Neo4j
stopped in the middle of a load gives one clear error and a rerun after the restart repairs
everything, and an unreachable server is one line naming the URI with exit code 2.

The lakes are written directly in the lake layout (sightgraph/lake.py): sightings partitioned by
UTC date, cameras, and the derived contacts and transitions tables."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import neo4j
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pandas.testing import assert_frame_equal

from sightgraph.graph.embedded import EmbeddedStore
from sightgraph.graph.loader import derived_path, load_lake
from sightgraph.graph.neo4j_store import Neo4jStore
from sightgraph.lake import write_table
from sightgraph.schema import SIGHTINGS_ARROW

ROOT = Path(__file__).resolve().parents[2]
NEO4J_SH = ROOT / "scripts" / "neo4j" / "neo4j.sh"
SIGHTGRAPH = Path(sys.executable).with_name("sightgraph")
URI = os.environ.get("NEO4J_URI")


def make_lake(path: Path, n: int, seed: int = 0, persons: int = 300, cameras: int = 40) -> dict:
    """A lake of ``n`` sightings over three days (Zipf-popular cameras, ids unique), all
    cameras but the last with coordinates, 200 contacts and 60 transitions. Returns the
    expected counts."""
    rng = np.random.default_rng(seed)
    pids = np.array([f"p{i:05d}" for i in range(persons)], dtype=object)
    cams = np.array([f"cam-{i:03d}" for i in range(cameras)], dtype=object)
    w = 1 / np.arange(1, cameras + 1)
    ts = pd.Timestamp("2024-03-01T00:00:00Z") + pd.to_timedelta(
        np.sort(rng.integers(0, 3 * 86400 * 10**6, n)), unit="us"
    )
    s = pd.DataFrame(
        {
            "sighting_id": rng.choice(2**62, size=n, replace=False).astype("int64"),
            "pid": pids[rng.integers(0, persons, n)],
            "camera_id": cams[rng.choice(cameras, size=n, p=w / w.sum())],
            "ts": pd.Series(ts).astype("datetime64[us, UTC]"),
            "confidence": np.where(rng.random(n) < 0.1, np.nan, rng.random(n)),
        }
    )
    for day, part in s.groupby(s["ts"].dt.strftime("%Y-%m-%d")):
        out = path / "sightings" / f"date={day}" / "part-0.parquet"
        out.parent.mkdir(parents=True, exist_ok=True)
        table = pa.Table.from_pandas(part.reset_index(drop=True), schema=SIGHTINGS_ARROW)
        pq.write_table(table, out, row_group_size=5_000)
    cam_frame = pd.DataFrame(
        {
            "camera_id": cams,
            "lat": [52.0 + i / 100 for i in range(cameras - 1)] + [np.nan],
            "lon": [5.0 + i / 100 for i in range(cameras - 1)] + [np.nan],
            "name": [f"camera {i}" for i in range(cameras)],
            "site": ["north"] * cameras,
        }
    )
    write_table(cam_frame, path / "cameras" / "cameras.parquet")
    pairs = set()
    while len(pairs) < 200:
        a, b = rng.choice(persons, 2, replace=False)
        pairs.add((pids[min(a, b)], pids[max(a, b)]))
    first = pd.Timestamp("2024-03-01T00:00:00Z") + pd.to_timedelta(
        rng.integers(0, 86400, 200), unit="s"
    )
    contacts = pd.DataFrame(
        {
            "pid_a": [a for a, _ in sorted(pairs)],
            "pid_b": [b for _, b in sorted(pairs)],
            "score": rng.random(200) * 5,
            "p_value": rng.random(200),
            "q_value": rng.random(200),
            "meetings": rng.integers(1, 9, 200),
            "days": rng.integers(1, 4, 200),
            "places": rng.integers(1, 5, 200),
            "first_ts": pd.Series(first).astype("datetime64[us, UTC]"),
            "last_ts": pd.Series(first + pd.Timedelta(hours=30)).astype("datetime64[us, UTC]"),
        }
    )
    write_table(contacts, derived_path(path, "contacts"), params={"window_s": 60})
    tpairs = {(cams[a], cams[b]) for a, b in rng.integers(0, cameras, (80, 2))}
    tpairs = set(sorted(tpairs)[:60])
    transitions = pd.DataFrame(
        {
            "camera_from": [a for a, _ in sorted(tpairs)],
            "camera_to": [b for _, b in sorted(tpairs)],
            "count": rng.integers(1, 50, len(tpairs)),
            "median_travel_s": rng.random(len(tpairs)) * 600,
        }
    )
    write_table(transitions, derived_path(path, "transitions"))
    people = set(s["pid"]) | set(contacts["pid_a"]) | set(contacts["pid_b"])
    return {
        "persons": len(people),
        "cameras": cameras,
        "sightings": n,
        "contacts": len(contacts),
        "transitions": len(transitions),
    }


def raw(store: Neo4jStore, query: str) -> list[Any]:
    records, _, _ = store.driver.execute_query(query, database_=store.database)
    return list(records[0].values())


def edge_check(store: Neo4jStore) -> tuple[int, int]:
    """(SEEN_AT edges, distinct sighting ids): equal when there is no duplicate."""
    n, distinct = raw(
        store, "MATCH ()-[r:SEEN_AT]->() RETURN count(r), count(DISTINCT r.sighting_id)"
    )
    return int(n), int(distinct)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def neo(request: pytest.FixtureRequest) -> Neo4jStore:
    store = request.getfixturevalue("neo4j_backend")
    store.clear()
    return store


def cli(*args: str, env: dict[str, str] | None = None, **kw: Any) -> subprocess.Popen:
    return subprocess.Popen(
        [str(SIGHTGRAPH), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "SIGHTGRAPH_ROLE": "admin", **(env or {})},  # load is the admin's
        **kw,
    )


# --- load, compare, reload --------------------------------------------------------------------


def answer_pids(step: int) -> list[str]:
    """Every ``step``-th subject of a :func:`make_lake` lake."""
    return [f"p{i:05d}" for i in range(0, 300, step)]


def answers(store: Any, pids: list[str]) -> list[pd.DataFrame]:
    """What a store answers about ``pids``, to compare two stores frame by frame: their
    trajectories, 2-hop ego networks of the first 10, pair events of 10 neighbouring pairs."""
    out = [store.trajectory(p) for p in pids]
    for p in pids[:10]:
        ego = store.ego_network(p, hops=2, min_score=1.0)
        out += [ego.nodes, ego.edges]
    out += [store.pair_events(pids[i], pids[i + 1], window_s=3600) for i in range(10)]
    return out


@pytest.mark.neo4j
@pytest.mark.skipif(not URI, reason="needs NEO4J_URI")
def test_load_matches_the_embedded_store_and_reload_changes_nothing(
    neo: Neo4jStore, tmp_path: Path
) -> None:
    """Both backends loaded from one lake (3,000 sightings) hold the expected counts and give
    identical trajectories, ego networks and pair events; loading again into Neo4j returns
    the same counts and leaves every answer as it was."""
    expected = make_lake(tmp_path / "lake", 3_000, seed=3)
    emb = EmbeddedStore(tmp_path / "graph.duckdb")
    try:
        assert load_lake(tmp_path / "lake", emb, batch_size=700, progress=False) == expected
        assert load_lake(tmp_path / "lake", neo, batch_size=700, progress=False) == expected
        pids = answer_pids(7)
        want = answers(emb, pids)
        got = answers(neo, pids)
        for a, b in zip(got, want, strict=True):
            assert_frame_equal(a, b)
        assert sum(len(f) for f in want[: len(pids)]) > 300  # trajectory rows
        assert sum(len(f) for f in want[len(pids) + 1 : len(pids) + 20 : 2]) > 0  # ego edges
        assert load_lake(tmp_path / "lake", neo, batch_size=1_000, progress=False) == expected
        for a, b in zip(answers(neo, pids), want, strict=True):
            assert_frame_equal(a, b)
        assert edge_check(neo) == (expected["sightings"],) * 2
    finally:
        emb.close()


# --- resumability -------------------------------------------------------------------------------


@pytest.mark.neo4j
@pytest.mark.slow
@pytest.mark.skipif(not URI, reason="needs NEO4J_URI")
def test_load_killed_half_way_then_rerun_gives_exact_counts(
    neo: Neo4jStore, tmp_path: Path
) -> None:
    """`sightgraph load` is SIGKILLed once some (not all) sightings are in; the graph then
    holds whole batches only, and a second run ends with exactly the lake's counts and one
    SEEN_AT edge per sighting id."""
    n = 40_000
    expected = make_lake(tmp_path / "lake", n, seed=5)
    proc = cli(
        "load", "--lake", str(tmp_path / "lake"), "--store", "neo4j", "--batch-size", "1000",
        "--max-q", "1",
    )  # fmt: skip
    deadline = time.monotonic() + 240
    seen = 0
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            seen = neo.counts()["sightings"]
            if seen >= 3_000:
                break
            time.sleep(0.05)
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    partial = neo.counts()["sightings"]
    assert 3_000 <= partial < n
    assert edge_check(neo) == (partial, partial)
    rerun = cli(
        "load",
        "--lake",
        str(tmp_path / "lake"),
        "--store",
        "neo4j",
        "--batch-size",
        "5000",
        "--max-q",
        "1",
    )
    out, err = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, err
    assert neo.counts() == expected
    assert edge_check(neo) == (n, n)
    assert f"sightings {n:,}" in out


# --- faults -------------------------------------------------------------------------------------


def test_unreachable_server_is_one_line_naming_the_uri(tmp_path: Path) -> None:
    """No server on the port: exit code 2 and one line on stderr naming the URI (no traceback);
    the check happens before any reading of the lake, within seconds."""
    make_lake(tmp_path / "lake", 50)
    uri = f"bolt://127.0.0.1:{free_port()}"
    t0 = time.monotonic()
    proc = cli(
        "load", "--lake", str(tmp_path / "lake"), "--store", "neo4j", "--max-q", "1",
        env={"NEO4J_URI": uri},
    )  # fmt: skip
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, (out, err)
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert uri in lines[0] and lines[0].startswith("error:")
    assert time.monotonic() - t0 < 60


def _neo4j_sh(env: dict[str, str], *args: str, timeout: float = 400) -> str:
    done = subprocess.run(
        ["bash", str(NEO4J_SH), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip()


LOAD_SCRIPT = """
import sys
from sightgraph.errors import StoreUnavailableError
from sightgraph.graph.loader import load_lake
from sightgraph.graph.neo4j_store import Neo4jStore
store = Neo4jStore.connect(sys.argv[1], "neo4j", "x", retry_s=6.0, batch_size=2000)
try:
    print(load_lake(sys.argv[2], store, batch_size=2000, progress=False))
except StoreUnavailableError as exc:
    print("UNAVAILABLE", exc, flush=True)
    sys.exit(2)
"""


@pytest.mark.neo4j
@pytest.mark.slow
@pytest.mark.skipif(not URI, reason="needs NEO4J_URI")
@pytest.mark.skipif(shutil.which("java") is None, reason="needs Java for a private Neo4j")
def test_neo4j_stopped_mid_load_then_rerun_after_restart(tmp_path: Path) -> None:
    """On a private server (its own folder and port, so nothing else is disturbed): a load of
    60,000 sightings is running when the server is stopped; the load ends within its bounded
    retries with one clear StoreUnavailableError naming the URI and how far it got; after one
    restart, the same load ends with exactly the lake's counts and no duplicate edges."""
    expected = make_lake(tmp_path / "lake", 60_000, seed=7)
    env = {
        "SIGHTGRAPH_NEO4J_HOME": str(tmp_path / "neo4j"),
        "NEO4J_PORT": str(free_port()),
        "NEO4J_HEAP": "512m",
        "NEO4J_PAGECACHE_MB": "64",
    }
    uri = _neo4j_sh(env, "start")
    try:
        store = Neo4jStore.connect(uri, "neo4j", "x", retry_s=0)
        store.ensure_schema()
        proc = subprocess.Popen(
            [sys.executable, "-c", LOAD_SCRIPT, uri, str(tmp_path / "lake")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            if store.counts()["sightings"] >= 4_000:
                break
            time.sleep(0.1)
        assert proc.poll() is None, proc.communicate()
        store.close()
        _neo4j_sh(env, "stop")
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 2, (out, err)
        line = out.strip().splitlines()[-1]
        assert line.startswith("UNAVAILABLE") and uri in line, out
        assert "of 60,000 sightings" in line and "the same load run again finishes it" in line
        assert _neo4j_sh(env, "start") == uri
        store = Neo4jStore.connect(uri, "neo4j", "x")
        partial = store.counts()["sightings"]
        assert 4_000 <= partial < 60_000
        assert edge_check(store) == (partial, partial)
        assert load_lake(tmp_path / "lake", store, batch_size=5_000, progress=False) == expected
        assert edge_check(store) == (60_000, 60_000)
        store.close()
    finally:
        _neo4j_sh(env, "stop")


def test_stopped_server_read_is_a_clear_error_after_bounded_retries() -> None:
    """A store whose server went away (here: never was) gives up after ``retry_s``."""
    driver = neo4j.GraphDatabase.driver(
        f"bolt://127.0.0.1:{free_port()}", auth=("neo4j", "x"), connection_timeout=2
    )
    store = Neo4jStore(driver, retry_s=1.5, uri="bolt://gone:1")
    t0 = time.monotonic()
    with pytest.raises(Exception) as info:
        store.counts()
    took = time.monotonic() - t0
    driver.close()
    assert type(info.value).__name__ == "StoreUnavailableError"
    assert "bolt://gone:1" in str(info.value) and "retried" in str(info.value)
    assert 1.4 <= took < 15
