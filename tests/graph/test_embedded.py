"""What only the embedded (DuckDB) store does: files, read-only mode, locking, closing, bulk
writes, concurrency. The contract itself is tested in test_store_contract.py."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from sightgraph.errors import StoreUnavailableError, UsageError
from sightgraph.graph.base import Store
from sightgraph.graph.embedded import TABLES, EmbeddedStore

T0 = pd.Timestamp("2024-03-01T08:00:00Z")


def make_sightings(n: int, seed: int = 0, n_pids: int = 50, n_cams: int = 10) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    us = rng.integers(0, 86_400_000_000, n)
    return pd.DataFrame(
        {
            "sighting_id": np.arange(n, dtype="int64") * 7 - n,
            "pid": pd.Series([f"p{i}" for i in rng.integers(0, n_pids, n)], dtype="str"),
            "camera_id": pd.Series([f"c{i}" for i in rng.integers(0, n_cams, n)], dtype="str"),
            "ts": (T0 + pd.to_timedelta(us, unit="us")).astype("datetime64[us, UTC]"),
            "confidence": rng.random(n),
        }
    )


def small_world(store: EmbeddedStore) -> None:
    store.write_cameras(pd.DataFrame({"camera_id": ["c1"], "lat": [1.0], "lon": [2.0]}))
    store.write_sightings(make_sightings(200))
    store.write_contacts(
        pd.DataFrame(
            {
                "pid_a": ["p1", "p2"],
                "pid_b": ["p2", "p3"],
                "score": [1.0, 2.0],
                "meetings": [1, 2],
                "days": [1, 1],
                "places": [1, 2],
            }
        )
    )


def test_file_store_persists_and_reopens_read_only(tmp_path: Path) -> None:
    """A store written, closed and reopened read-only (in a folder it created) answers the
    same; every write then raises UsageError and changes nothing."""
    path = tmp_path / "deep" / "er" / "graph.duckdb"
    with EmbeddedStore(path) as store:
        small_world(store)
        counts = store.counts()
        traj = store.trajectory("p1")
        ego = store.ego_network("p1", hops=2)
    assert path.is_file()
    ro = EmbeddedStore(path, read_only=True)
    assert isinstance(ro, Store)
    assert ro.counts() == counts
    assert_frame_equal(ro.trajectory("p1"), traj)
    assert_frame_equal(ro.ego_network("p1", hops=2).edges, ego.edges)
    writes = [
        lambda: ro.write_sightings(make_sightings(3)),
        lambda: ro.write_cameras(pd.DataFrame({"camera_id": ["x"], "lat": [0.0], "lon": [0.0]})),
        lambda: ro.forget("p1"),
        lambda: ro.delete_before(T0),
        ro.clear,
        ro.ensure_schema,
    ]
    for write in writes:
        with pytest.raises(UsageError, match="read-only"):
            write()
    assert ro.counts() == counts
    ro.close()


def test_two_read_only_stores_share_a_file(tmp_path: Path) -> None:
    path = tmp_path / "graph.duckdb"
    with EmbeddedStore(path) as store:
        small_world(store)
    with EmbeddedStore(path, read_only=True) as a, EmbeddedStore(path, read_only=True) as b:
        assert a.counts() == b.counts()


def test_open_errors_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no embedded store"):
        EmbeddedStore(tmp_path / "missing.duckdb", read_only=True)
    with pytest.raises(UsageError, match="read-only"):
        EmbeddedStore(":memory:", read_only=True)
    other = tmp_path / "other.duckdb"
    con = duckdb.connect(str(other))
    con.execute("CREATE TABLE unrelated (x INTEGER)")
    con.close()
    with pytest.raises(UsageError, match="not a sightgraph store"):
        EmbeddedStore(other, read_only=True)
    # a file from a version whose tables lack columns this one reads
    old = tmp_path / "old.duckdb"
    con = duckdb.connect(str(old))
    con.execute("CREATE TABLE persons (pid VARCHAR PRIMARY KEY)")
    con.close()
    with pytest.raises(UsageError, match="persons.pkey"):
        EmbeddedStore(old)


def test_second_writer_process_gets_store_unavailable(tmp_path: Path) -> None:
    """DuckDB lets one process write a file: a second one gets StoreUnavailableError naming it."""
    path = tmp_path / "graph.duckdb"
    EmbeddedStore(path).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
            "print('ready', flush=True); time.sleep(60)",
            str(path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        with pytest.raises(StoreUnavailableError, match="graph.duckdb"):
            EmbeddedStore(path)
    finally:
        holder.kill()
        holder.wait(timeout=30)


def test_closed_store_raises_usage_error() -> None:
    store = EmbeddedStore(":memory:")
    store.close()
    store.close()  # idempotent
    with pytest.raises(UsageError, match="closed"):
        store.counts()
    with pytest.raises(UsageError, match="closed"):
        store.trajectory("p1")


def test_schema_is_idempotent_and_indexed(tmp_path: Path) -> None:
    """ensure_schema twice keeps the data; the tables of DESIGN §5 and the pid index exist."""
    with EmbeddedStore(tmp_path / "g.duckdb") as store:
        small_world(store)
        before = store.counts()
        store.ensure_schema()
        assert store.counts() == before
        tables = {
            r[0] for r in store.con.execute("SELECT table_name FROM duckdb_tables()").fetchall()
        }
        assert tables == set(TABLES)
        indexes = store.con.execute(
            "SELECT table_name, expressions FROM duckdb_indexes()"
        ).fetchall()
        assert ("seen_at", "[pid]") in [(t, str(e).replace("'", "")) for t, e in indexes]


def test_bulk_sightings_write_is_idempotent_and_updates_changed_rows() -> None:
    """20k sightings: written twice the table holds 20k rows; rewriting with every 10th row's
    confidence and every 7th row's pid changed updates exactly those rows."""
    store = EmbeddedStore(":memory:")
    df = make_sightings(20_000, seed=3)
    assert store.write_sightings(df) == 20_000
    assert store.write_sightings(df) == 20_000
    assert store.counts()["sightings"] == 20_000
    changed = df.copy()
    changed.loc[::10, "confidence"] = 0.5
    changed.loc[::7, "pid"] = "moved"
    store.write_sightings(changed)
    assert store.counts()["sightings"] == 20_000
    moved = store.trajectory("moved")
    assert sorted(moved["sighting_id"]) == sorted(changed.loc[::7, "sighting_id"])
    con = store.con
    got = con.execute("SELECT pid, count(*) FROM seen_at GROUP BY pid").fetchall()
    assert dict(got) == changed["pid"].value_counts().to_dict()
    total = con.execute("SELECT sum(confidence) FROM seen_at").fetchall()[0][0]
    assert total == pytest.approx(changed["confidence"].sum())
    store.close()


def test_concurrent_reads_from_threads_are_consistent() -> None:
    """The dashboard shares one store between threads: answers stay the same as serial ones."""
    store = EmbeddedStore(":memory:")
    small_world(store)
    pids = [f"p{i}" for i in range(20)]
    serial = {p: store.trajectory(p) for p in pids}
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(store.trajectory, pids * 3))
    for pid, got in zip(pids * 3, results, strict=True):
        assert_frame_equal(got, serial[pid])
    store.close()


def test_failed_write_rolls_back() -> None:
    """A write that fails inside the database leaves nothing behind (one transaction)."""
    store = EmbeddedStore(":memory:")
    # persons and cameras are inserted before seen_at, whose (test-only) CHECK then fails
    store.con.execute("DROP TABLE seen_at")
    store.con.execute(
        "CREATE TABLE seen_at (sighting_id BIGINT PRIMARY KEY, pid VARCHAR, camera_id VARCHAR, "
        "ts TIMESTAMPTZ, confidence DOUBLE, CHECK (camera_id <> 'x'))"
    )
    bad = make_sightings(10)
    bad.loc[5, "camera_id"] = "x"
    with pytest.raises(duckdb.Error):
        store.write_sightings(bad)
    assert store.counts() == dict.fromkeys(
        ("persons", "cameras", "sightings", "contacts", "transitions"), 0
    )
    store.close()
