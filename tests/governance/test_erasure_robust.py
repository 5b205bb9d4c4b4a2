"""forget and retention that cannot get stuck half-way, and retention that leaves nothing behind.

* forget keeps working on a lake whose quarantine (or any table) a previous forget emptied;
* forget and retention read every file they will change before changing any, so a file they
  cannot read stops them with the lake as it was, and a run interrupted while writing is
  finished by the next run;
* retention drops quarantine rows (by their timestamp, else by when they were ingested) and
  contacts whose newest time is before the cutoff, in the lake and in the graph.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from sightgraph.cli import app
from sightgraph.errors import SightgraphError
from sightgraph.governance import erasure
from sightgraph.governance.erasure import forget_subject, retention_apply
from sightgraph.graph.embedded import EmbeddedStore
from sightgraph.ingest.pipeline import ingest
from sightgraph.lake import write_table
from tests.governance.test_erasure import _files, _write_sightings, forget_lake  # noqa: F401
from tests.ingest.test_ingest import HEADER, KEY, read_quarantine, write_lines

T = pd.Timestamp


def _snapshot(lake: Path) -> dict[str, bytes]:
    return {f: (lake / f).read_bytes() for f in _files(lake)}


def _tables(lake: Path) -> dict[str, pd.DataFrame]:
    """Every data file's rows (for comparing two lakes regardless of Parquet bytes)."""
    return {f: pq.read_table(lake / f).to_pandas() for f in _files(lake)}


def _assert_same_lake(a: Path, b: Path) -> None:
    ta, tb = _tables(a), _tables(b)
    assert sorted(ta) == sorted(tb)
    for name in ta:
        pd.testing.assert_frame_equal(ta[name], tb[name], obj=name)


# ---------------------------------------------------------------------------------- forget
def _two_subject_lake(tmp_path: Path) -> Path:
    """p1 and p2 seen once each, one quarantine row of p1, a derived table of both."""
    lake = tmp_path / "lake"
    _write_sightings(
        lake, [("p1", "c1", "2024-03-01T08:00:00Z"), ("p2", "c1", "2024-03-01T09:00Z")]
    )
    write_table(
        pd.DataFrame(
            {
                "source": ["in.csv"],
                "line": [2],
                "reason": ["bad ts"],
                "field": ["ts"],
                "raw": ["p1,c1,x"],
            }
        ),
        lake / "quarantine" / "in.parquet",
    )
    write_table(pd.DataFrame({"pid": ["p1", "p2"], "n": [1, 2]}), lake / "visits.parquet")
    return lake


def test_forget_works_again_after_a_forget_emptied_the_quarantine(tmp_path: Path) -> None:
    """The first forget leaves an empty quarantine file; the second must still erase p2
    everywhere (it used to fail on the empty file after erasing some tables)."""
    lake = _two_subject_lake(tmp_path)
    assert forget_subject(lake, "p1") == {"sightings": 1, "quarantine": 1, "visits": 1}
    assert pq.read_table(lake / "quarantine" / "in.parquet").num_rows == 0
    assert forget_subject(lake, "p2") == {"sightings": 1, "quarantine": 0, "visits": 1}
    assert forget_subject(lake, "p2") == {"sightings": 0, "quarantine": 0, "visits": 0}


def test_forget_that_cannot_read_a_file_changes_nothing(
    forget_lake: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A failure while looking at the visits table (read after sightings, colocations and
    contacts) stops forget before any file changed; once it is gone, a rerun does it all."""
    lake = forget_lake
    before = _snapshot(lake)
    real = erasure._pid_mask

    def failing(pid: str, *args: Any) -> Any:
        mask = real(pid, *args)

        def check(table: pa.Table) -> Any:
            if table.column_names == ["pid"]:  # only visits.parquet has a lone pid column
                raise OSError("simulated read error")
            return mask(table)

        return check

    monkeypatch.setattr(erasure, "_pid_mask", failing)
    with pytest.raises(SightgraphError, match="simulated read error.*nothing was changed"):
        forget_subject(lake, "p1")
    assert _snapshot(lake) == before
    monkeypatch.setattr(erasure, "_pid_mask", real)
    assert forget_subject(lake, "p1") == {
        "sightings": 3,
        "quarantine": 2,
        "colocations": 1,
        "contacts": 2,
        "visits": 2,
    }


def test_forget_interrupted_while_writing_is_finished_by_a_rerun(
    forget_lake: Path,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A crash after some files were rewritten: the rerun removes the rest, and the lake ends
    exactly as after one clean forget."""
    clean = tmp_path / "clean"
    shutil.copytree(forget_lake, clean)
    forget_subject(clean, "p1")

    real = erasure._write_atomic
    calls = {"n": 0}

    def crash_on_second(table: pa.Table, path: Path) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk full")
        real(table, path)

    monkeypatch.setattr(erasure, "_write_atomic", crash_on_second)
    with pytest.raises(SightgraphError, match="disk full.*run the same command again"):
        forget_subject(forget_lake, "p1")
    monkeypatch.setattr(erasure, "_write_atomic", real)
    rerun = forget_subject(forget_lake, "p1")
    assert sum(rerun.values()) > 0
    _assert_same_lake(forget_lake, clean)
    assert sum(forget_subject(forget_lake, "p1").values()) == 0


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An admin working folder (audit log and embedded graph in it)."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.setenv("SIGHTGRAPH_WORKDIR", str(work))
    monkeypatch.setenv("SIGHTGRAPH_ROLE", "admin")
    monkeypatch.setenv("SIGHTGRAPH_STORE", "embedded")
    monkeypatch.delenv("SIGHTGRAPH_AUDIT_LOG", raising=False)
    return work


def _audit_queries(work: Path) -> list[str]:
    log = work / "audit.jsonl"
    if not log.exists():
        return []
    return [json.loads(line)["query"] for line in log.read_text().splitlines() if line.strip()]


def test_cli_forget_after_an_emptied_quarantine_finishes_and_audits_each(
    tmp_path: Path, cli_env: Path
) -> None:
    """`forget p1` empties the quarantine; `forget p2` then erases p2 from every table and the
    graph (it used to exit 1 half-way), and each completed forget is audited."""
    lake = _two_subject_lake(tmp_path)
    store = EmbeddedStore(cli_env / "graph.duckdb")
    store.write_sightings(_recent_sightings(T.now(tz="UTC")).assign(pid=["p1", "p2", "p3", "p4"]))
    store.close()
    runner = CliRunner()
    for pid in ("p1", "p2"):
        r = runner.invoke(app, ["forget", pid, "--lake", str(lake)])
        assert r.exit_code == 0, (r.output, r.exception)
        assert "removed from graph: persons 1" in r.output
    assert pq.read_table(lake / "visits.parquet").num_rows == 0
    assert _audit_queries(cli_env) == ["forget", "forget"]


# ---------------------------------------------------------------------------------- retention
def test_retention_drops_old_quarantine_rows(tmp_path: Path) -> None:
    """Rows go by their own time when it could be read (2020: old; 2099: kept), else by the
    time they were ingested (kept while recent, dropped once the cutoff passes it). A
    quarantine file from before these columns goes by the run time in its name."""
    lake = tmp_path / "lake"
    src = write_lines(
        tmp_path / "s.csv",
        [
            HEADER,
            "a,c1,2024-03-01T08:00:00Z,0.5",  # 2 ok
            "b,c1,2020-01-01T00:00:00Z,high",  # 3 bad confidence, old ts
            "c,c1,2099-01-01T00:00:00Z,high",  # 4 bad confidence, future ts
            "d,c1,whenever,0.5",  # 5 no ts: ingest time
            '"e,c1,2020-01-01T00:00:00Z,0.5',  # 6 unparsable: ingest time
        ],
    )
    started = T.now(tz="UTC")
    r = ingest(src, lake, key=KEY, progress=False)
    assert r.quarantined == 4
    q = read_quarantine(lake)
    assert q["ts"].tolist()[:2] == [T("2020-01-01T00:00:00Z"), T("2099-01-01T00:00:00Z")]
    assert q["ts"].iloc[2:].isna().all()
    assert (q["ingested_at"] >= started.floor("s")).all()

    write_table(  # written before quarantine rows had times: the run id says when
        pd.DataFrame(
            {"source": ["x.csv"], "line": [2], "reason": ["r"], "field": [None], "raw": ["?"]}
        ),
        lake / "quarantine" / "x-20200101T000000Z-abcdef.parquet",
    )
    write_table(  # no time anywhere: kept
        pd.DataFrame(
            {"source": ["y.csv"], "line": [2], "reason": ["r"], "field": [None], "raw": ["?"]}
        ),
        lake / "quarantine" / "y.parquet",
    )

    now = T.now(tz="UTC")
    report = retention_apply(lake, 7, now=now)
    assert report["quarantine"] == 2
    assert read_quarantine(lake)["line"].tolist() == [2, 4, 5, 6]
    assert retention_apply(lake, 7, now=now)["quarantine"] == 0

    later = retention_apply(lake, 7, now=now + pd.Timedelta(days=30))
    assert later["quarantine"] == 2  # lines 5 and 6: ingested more than 7 days before
    left = read_quarantine(lake)
    assert sorted(zip(left["source"], left["line"], strict=True)) == [(str(src), 4), ("y.csv", 2)]


def _stores() -> list[Any]:
    kinds: list[Any] = ["embedded"]
    if os.environ.get("NEO4J_URI"):
        kinds.append(pytest.param("neo4j", marks=pytest.mark.neo4j))
    return kinds


@pytest.fixture(params=_stores())
def graph_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    if request.param == "embedded":
        store: Any = EmbeddedStore(tmp_path / "graph.duckdb")
        yield store
        store.close()
        return
    import neo4j

    from sightgraph.graph.neo4j_store import Neo4jStore

    driver = neo4j.GraphDatabase.driver(
        os.environ["NEO4J_URI"],
        auth=(os.environ.get("NEO4J_USER", "neo4j"), os.environ.get("NEO4J_PASSWORD", "neo4j")),
    )
    store = Neo4jStore(driver, database=os.environ.get("NEO4J_DATABASE") or None, batch_size=1)
    store.ensure_schema()
    store.clear()
    yield store
    store.clear()
    store.close()
    driver.close()


def _contacts(now: pd.Timestamp) -> pd.DataFrame:
    """a-b last met 30 days ago (old), a-c 1 day ago, b-c has no times, c-d only a first_ts
    20 days ago (its newest known time: old)."""

    def ts(*days: float | None) -> pd.Series:
        return pd.Series(
            [pd.NaT if d is None else now - pd.Timedelta(days=d) for d in days], dtype=object
        ).pipe(pd.to_datetime, utc=True)

    return pd.DataFrame(
        {
            "pid_a": ["a", "a", "b", "c"],
            "pid_b": ["b", "c", "c", "d"],
            "score": [1.0, 2.0, 3.0, 4.0],
            "p_value": [0.01] * 4,
            "q_value": [0.05] * 4,
            "meetings": [1, 2, 3, 4],
            "days": [1, 1, 1, 1],
            "places": [1, 1, 1, 1],
            "first_ts": ts(40, 10, None, 20),
            "last_ts": ts(30, 1, None, None),
        }
    ).astype({"first_ts": "datetime64[us, UTC]", "last_ts": "datetime64[us, UTC]"})


def _recent_sightings(now: pd.Timestamp) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sighting_id": [1, 2, 3, 4],
            "pid": ["a", "b", "c", "d"],
            "camera_id": ["c1"] * 4,
            "ts": pd.Series([now - pd.Timedelta(hours=1)] * 4).astype("datetime64[us, UTC]"),
            "confidence": [1.0] * 4,
        }
    )


def _pairs(frame: pd.DataFrame) -> list[tuple[str, str]]:
    return sorted(zip(frame["pid_a"], frame["pid_b"], strict=True))


def test_graph_retention_drops_contacts_last_seen_before_the_cutoff(graph_store: Any) -> None:
    now = T.now(tz="UTC")
    graph_store.write_sightings(_recent_sightings(now))
    graph_store.write_contacts(_contacts(now))
    cutoff = now - pd.Timedelta(days=7)
    assert graph_store.delete_before(cutoff)["sightings"] == 0
    assert graph_store.delete_contacts_before(cutoff) == {"contacts": 2}
    assert graph_store.counts()["contacts"] == 2
    edges = graph_store.ego_network("c", hops=1).edges
    assert _pairs(edges) == [("a", "c"), ("b", "c")]
    assert graph_store.delete_contacts_before(cutoff) == {"contacts": 0}


def test_cli_retention_drops_old_contacts_and_quarantine_everywhere(
    tmp_path: Path, cli_env: Path
) -> None:
    now = T.now(tz="UTC")
    lake = tmp_path / "lake"
    sightings = _recent_sightings(now)
    _write_sightings(
        lake,
        [
            (p, c, t.isoformat())
            for p, c, t in zip(
                sightings["pid"], sightings["camera_id"], sightings["ts"], strict=True
            )
        ],
    )
    write_table(_contacts(now), lake / "contacts" / "contacts.parquet")
    write_table(
        pd.DataFrame(
            {
                "source": ["s.csv"],
                "line": [2],
                "reason": ["confidence not a number"],
                "field": ["confidence"],
                "pid": ["a"],
                "raw": ["a,c1,2020-01-01T00:00:00Z,high"],
                "ts": pd.Series([T("2020-01-01T00:00:00Z")]).astype("datetime64[us, UTC]"),
                "ingested_at": pd.Series([now]).astype("datetime64[us, UTC]"),
            }
        ),
        lake / "quarantine" / "s.parquet",
    )
    store = EmbeddedStore(cli_env / "graph.duckdb")
    store.write_sightings(sightings)
    store.write_contacts(_contacts(now))
    store.close()
    inode = (cli_env / "graph.duckdb").stat().st_ino

    r = CliRunner().invoke(app, ["retention", "apply", "--days", "7", "--lake", str(lake)])
    assert r.exit_code == 0, (r.output, r.exception)
    # the store file was rewritten (compacted): deleted rows leave no bytes behind
    assert (cli_env / "graph.duckdb").stat().st_ino != inode
    assert "quarantine 1" in r.output
    assert pq.read_table(lake / "quarantine" / "s.parquet").num_rows == 0
    assert _pairs(pq.read_table(lake / "contacts" / "contacts.parquet").to_pandas()) == [
        ("a", "c"),
        ("b", "c"),
    ]
    store = EmbeddedStore(cli_env / "graph.duckdb", read_only=True)
    try:
        assert store.counts()["contacts"] == 2
    finally:
        store.close()
    assert _audit_queries(cli_env) == ["retention apply"]
