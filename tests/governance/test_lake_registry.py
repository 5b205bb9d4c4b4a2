"""The lake's table registry (issue 10, "one owner for the lake"): every file a demo-sized run
puts into a lake belongs to a registered table, and forget/retention walk the registry and refuse
a lake holding a file of no registered table (nothing changed)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest

from sightgraph.errors import UsageError
from sightgraph.governance.erasure import forget_subject, retention_apply
from sightgraph.lake import (
    DERIVED,
    KINDS,
    PRIMARY,
    QUARANTINE,
    SCRATCH,
    TABLES,
    lake_files,
    owner,
    table,
    unregistered_files,
)
from tests.governance.conftest import KEY, _main  # noqa: F401


def _copy(demo_run: dict[str, Any], tmp_path: Path) -> Path:
    lake = tmp_path / "lake"
    shutil.copytree(demo_run["lake"], lake)
    return lake


# ---------------------------------------------------------------------------------------------
def test_registry_is_well_formed() -> None:
    names = [t.name for t in TABLES]
    assert len(names) == len(set(names))
    assert all(t.kind in KINDS for t in TABLES)
    assert {t.name for t in TABLES if t.kind == PRIMARY} == {"sightings", "cameras"}
    for t in TABLES:
        if t.kind in (DERIVED, QUARANTINE) and t.name != "transitions":
            assert t.pid_columns, t.name  # every per-subject table names its pid columns
            assert set(t.pid_columns) <= set(t.key) or t.kind == QUARANTINE, t.name


@pytest.mark.parametrize(
    ("rel", "name"),
    [
        ("sightings/date=2024-01-01/part-x-00000.parquet", "sightings"),
        ("sightings/date=2024-01-01/.part-x-00000.parquet.tmp", "scratch"),
        ("contacts.parquet", "contacts"),
        ("contacts/contacts.parquet", "contacts"),
        ("contacts/.contacts.parquet.staging-0a1b2c3d.parquet", "scratch"),
        ("colocation_events/part-00000-00000.parquet", "colocation_events"),
        ("colocation_events.tmp-0a1b2c3d/part-0.parquet", "scratch"),
        ("colocations/.colocate-host-12-abc/b1.npy", "scratch"),
        ("visits/pid=p1/a.parquet", "visits"),
        ("quarantine/in-20240101T000000Z-abcdef.parquet", "quarantine"),
        ("cameras/cameras.parquet", "cameras"),
        ("_ingest_log.jsonl", "ingest_log"),
        ("_exports.jsonl", "exports"),
        ("_erasures.parquet", "erasures"),
        ("_lake.json", "key_record"),
        (".sightgraph.lock", "lock"),
        ("pairs.parquet", None),
        ("trajectories/pid=p1/a.parquet", None),
        ("cameras/extra.parquet", None),
        ("notes.txt", None),
    ],
)
def test_owner_of_a_lake_path(rel: str, name: str | None) -> None:
    entry = owner(rel)
    assert (entry.name if entry is not None else None) == name


def test_every_file_of_a_demo_sized_run_belongs_to_a_registered_table(
    demo_run: dict[str, Any],
) -> None:
    lake = demo_run["lake"]
    files = lake_files(lake)
    assert unregistered_files(lake) == [], "a job wrote a table that is not in lake.TABLES"
    assert "?" not in files
    assert SCRATCH not in files  # a finished run leaves no scratch behind
    for name in (
        "sightings",
        "cameras",
        "quarantine",
        "colocations",
        "colocation_events",
        "contacts",
        "visits",
        "transitions",
        "predictions",
        "ingest_log",
        "erasures",
        "key_record",
    ):
        assert files.get(name), f"the demo run wrote no {name}"
    # registered pid columns are where the tables really keep their subjects, and tables with
    # a fixed schema have it
    for entry in TABLES:
        for f in files.get(entry.name, []):
            if f.suffix == ".parquet" and entry.pid_columns:
                assert set(entry.pid_columns) <= set(pq.read_schema(f).names), f
            if entry.schema is not None:
                assert pq.read_schema(f).remove_metadata().equals(entry.schema), f


def test_forget_walks_the_registry_and_erases_from_every_subject_table(
    demo_run: dict[str, Any], tmp_path: Path
) -> None:
    lake = _copy(demo_run, tmp_path)
    pid = pd.read_parquet(lake / "contacts" / "contacts.parquet")["pid_a"].iloc[0]
    report = forget_subject(lake, pid)
    for name in ("sightings", "colocations", "colocation_events", "contacts", "visits"):
        assert report[name] > 0, name
    assert "predictions" in report and "cameras" not in report and "transitions" not in report
    for entry in TABLES:
        for f in lake_files(lake).get(entry.name, []):
            if f.suffix == ".parquet" and entry.pid_columns:
                t = pq.read_table(f, columns=list(entry.pid_columns)).to_pandas()
                assert not (t == pid).any().any(), f


def test_a_file_of_no_registered_table_stops_forget_and_retention(
    demo_run: dict[str, Any], tmp_path: Path
) -> None:
    lake = _copy(demo_run, tmp_path)
    stray = lake / "pairs.parquet"  # e.g. `colocate --out LAKE/pairs.parquet`
    shutil.copyfile(lake / "contacts" / "contacts.parquet", stray)
    before = {p: p.read_bytes() for p in lake.rglob("*") if p.is_file()}
    pid = pd.read_parquet(stray)["pid_a"].iloc[0]
    with pytest.raises(UsageError, match=r"files of no registered table \(pairs.parquet\)"):
        forget_subject(lake, pid)
    with pytest.raises(UsageError, match="no registered table.*nothing was changed"):
        retention_apply(lake, 0)
    assert {p: p.read_bytes() for p in lake.rglob("*") if p.is_file()} == before


def test_forget_removes_the_temporary_files_of_a_killed_ingest(
    demo_run: dict[str, Any], tmp_path: Path
) -> None:
    lake = _copy(demo_run, tmp_path)
    part = next((lake / "sightings").glob("date=*/*.parquet"))
    stale = part.parent / ".part-20240101T000000Z-abcdef-00000.parquet.tmp"
    shutil.copyfile(part, stale)
    assert owner(stale.relative_to(lake).as_posix()) == table("scratch")
    forget_subject(lake, "no-such-pid")
    assert not stale.exists()
