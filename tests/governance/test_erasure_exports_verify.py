"""Issue 10 findings 8 and the erasure requests: `--out` copies are exports that `forget` erases
from (or lists, with --keep-exports); `forget --raw ID` finds the pseudonym with the lake's key;
`forget --verify` scans every lake file, the exports and graph.duckdb; forget compacts the
embedded store so that no bytes of the id remain in it."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest

from sightgraph.governance.erasure import exports_holding, forget_subject
from sightgraph.governance.verify import verify_erasure
from sightgraph.graph.embedded import EmbeddedStore
from sightgraph.ingest.pseudonymize import pseudonym_of
from sightgraph.lake import EXPORTS_NAME, read_exports
from tests.governance.conftest import KEY, _env, _main


@pytest.fixture
def run(demo_run: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A copy of the demo run's lake and workdir (graph.duckdb), with the CLI's env set."""
    shutil.copytree(demo_run["lake"], tmp_path / "lake")
    shutil.copytree(demo_run["work"], tmp_path / "work")
    _env(monkeypatch, tmp_path / "work")
    return {**demo_run, "lake": tmp_path / "lake", "work": tmp_path / "work", "tmp": tmp_path}


def _pids(path: Path) -> set[str]:
    files = [path] if path.is_file() else sorted(path.rglob("*.parquet"))
    out: set[str] = set()
    for f in files:
        t = pq.read_table(f)
        for name in t.column_names:
            if name.startswith("pid"):
                out |= {str(v) for v in t.column(name).to_pylist()}
    return out


def _exports(run: dict[str, Any]) -> dict[str, Path]:
    """colocate (pairs and events), contacts and trajectories with --out outside the lake."""
    lake, out = run["lake"], run["tmp"] / "exports"
    paths = {
        "colocations": out / "pairs.parquet",
        "colocation_events": out / "events",
        "contacts": out / "contacts.parquet",
        "visits": out / "traj" / "visits.parquet",
    }
    assert (
        _main(
            [
                "colocate",
                "--lake",
                lake,
                "--out",
                paths["colocations"],
                "--events-out",
                paths["colocation_events"],
            ]
        )
        == 0
    )
    assert _main(["contacts", "--lake", lake, "--out", paths["contacts"]]) == 0
    assert _main(["trajectories", "--lake", lake, "--out", out / "traj"]) == 0
    return paths


def _a_subject(run: dict[str, Any]) -> tuple[str, str]:
    """(raw id, pid) of a subject with contacts."""
    by_pid = {pseudonym_of(r, KEY): r for r in run["raw_ids"]}
    contacts = pd.read_parquet(run["lake"] / "contacts" / "contacts.parquet")
    pid = next(p for p in contacts["pid_a"] if p in by_pid)
    return by_pid[pid], pid


# ---------------------------------------------------------------------------------------------
def test_out_outside_the_lake_is_recorded_in_the_export_log_without_ids(run: Any) -> None:
    before = read_exports(run["lake"])  # the demo run's trajectories --out
    paths = _exports(run)
    records = read_exports(run["lake"])[len(before) :]
    assert {(Path(r["path"]), r["table"]) for r in records} == {
        (p.resolve(), name) for name, p in paths.items()
    }
    assert {r["command"] for r in records} == {"colocate", "contacts", "trajectories"}
    assert all(set(r) == {"path", "table", "command", "time"} for r in records)
    log = (run["lake"] / EXPORTS_NAME).read_text()
    pids = _pids(run["lake"] / "sightings")
    assert not any(p in log for p in pids)  # no subject id in the log
    # an --out inside the lake is the lake's own table, not an export
    inside = run["lake"] / "contacts" / "contacts.parquet"
    assert _main(["contacts", "--lake", run["lake"], "--out", inside]) == 0
    assert len(read_exports(run["lake"])) == len(before) + len(records)


def test_an_out_inside_the_lake_must_be_its_tables_place(run: Any) -> None:
    """`colocate --out LAKE/pairs.parquet` would leave a file of no registered table (which
    forget refuses): refused before the job runs, nothing written."""
    before = sorted(p for p in run["lake"].rglob("*") if p.name != ".sightgraph.lock")
    assert _main(["colocate", "--lake", run["lake"], "--out", run["lake"] / "pairs.parquet"]) == 2
    assert _main(["trajectories", "--lake", run["lake"], "--out", run["lake"] / "traj"]) == 2
    assert sorted(p for p in run["lake"].rglob("*") if p.name != ".sightgraph.lock") == before


def test_forget_erases_the_subject_from_every_export_still_on_disk(run: Any) -> None:
    paths = _exports(run)
    _, pid = _a_subject(run)
    for name in ("colocations", "colocation_events", "contacts", "visits"):
        assert pid in _pids(paths[name]), name
    other = run["tmp"] / "moved.parquet"  # a deleted export is skipped, not an error
    paths["contacts"].replace(other)
    report = forget_subject(run["lake"], pid)
    assert report["exports"] > 0
    for name in ("colocations", "colocation_events", "visits"):
        assert pid not in _pids(paths[name]), name
        assert _pids(paths[name]), name  # the others stay
    assert pid in _pids(other)  # not recorded at that path: untouched
    assert forget_subject(run["lake"], pid)["exports"] == 0


def test_contacts_out_and_the_lake_copy_are_one_read_only_file_until_one_is_rewritten(
    run: Any,
) -> None:
    """`contacts --out` outside the lake hard-links its table into the lake (no second write of
    the table) and makes the file read-only; erasure rewrites each name atomically, so the
    export and the lake copy then differ exactly as a copy would (see also --keep-exports)."""
    paths = _exports(run)
    lake_copy = run["lake"] / "contacts" / "contacts.parquet"
    assert os.path.samefile(paths["contacts"], lake_copy)
    assert stat.S_IMODE(os.stat(lake_copy).st_mode) == 0o444
    _, pid = _a_subject(run)
    assert _main(["forget", pid, "--lake", run["lake"], "--keep-exports"]) == 0
    assert not os.path.samefile(paths["contacts"], lake_copy)
    assert pid in _pids(paths["contacts"])
    assert pid not in _pids(lake_copy)
    assert _pids(lake_copy)
    # run again: a new table in both places, the same file again
    assert _main(["contacts", "--lake", run["lake"], "--out", paths["contacts"]]) == 0
    assert os.path.samefile(paths["contacts"], lake_copy)
    assert pid not in _pids(paths["contacts"])


def test_contacts_out_on_another_file_system_is_copied_into_the_lake(
    run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where no hard link can be made (another file system: EXDEV), the lake gets a copy,
    writable as before."""
    import errno

    def no_link(src: Any, dst: Any) -> None:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", no_link)
    out = run["tmp"] / "exports" / "contacts.parquet"
    assert _main(["contacts", "--lake", run["lake"], "--out", out]) == 0
    lake_copy = run["lake"] / "contacts" / "contacts.parquet"
    assert not os.path.samefile(out, lake_copy)
    assert out.read_bytes() == lake_copy.read_bytes()
    assert stat.S_IMODE(os.stat(lake_copy).st_mode) & stat.S_IWUSR


def test_forget_keep_exports_only_lists_them(run: Any, capsys: pytest.CaptureFixture[str]) -> None:
    paths = _exports(run)
    _, pid = _a_subject(run)
    before = paths["contacts"].read_bytes()
    capsys.readouterr()
    assert _main(["forget", pid, "--lake", run["lake"], "--keep-exports"]) == 0
    out = capsys.readouterr().out
    assert paths["contacts"].read_bytes() == before
    for name in ("colocations", "contacts", "visits"):
        assert f"kept export (--keep-exports): {paths[name].resolve()}" in out, name
    assert "exports" not in out.splitlines()[0]  # the lake line: nothing removed from exports
    assert {p for p, _ in exports_holding(run["lake"], pid)} >= {
        paths["contacts"].resolve(),
        paths["colocations"].resolve(),
    }
    assert pid not in _pids(run["lake"] / "sightings")


def test_an_export_written_while_forget_ran_is_removed_and_the_job_fails(
    run: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from sightgraph.analytics import colocation

    _, pid = _a_subject(run)
    real = colocation.colocate_lake

    def job(*args: Any, **kwargs: Any) -> Any:
        res = real(*args, **kwargs)  # the export is written ...
        forget_subject(run["lake"], pid)  # ... and a forget runs before the command ends
        return res

    monkeypatch.setattr(colocation, "colocate_lake", job)
    out = run["tmp"] / "late.parquet"
    capsys.readouterr()
    assert _main(["colocate", "--lake", run["lake"], "--out", out]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "exports" in err and "run it again" in err, err
    assert not out.exists()


def test_forget_raw_id_finds_the_pseudonym_with_the_lakes_key(
    run: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    raw, pid = _a_subject(run)
    assert _main(["forget", "--raw", f" {raw} ", "--lake", run["lake"]]) == 0
    assert "removed from lake: sightings " in capsys.readouterr().out
    assert pid not in _pids(run["lake"] / "sightings")
    audit = (run["work"] / "audit.jsonl").read_text()
    assert pid in audit and raw not in audit  # the raw id is never stored
    # a wrong key is one line, not a pid that matches nothing; so is PID together with --raw
    monkeypatch.setenv("SIGHTGRAPH_PSEUDONYM_KEY", "another-key")
    assert _main(["forget", "--raw", raw, "--lake", run["lake"]]) == 2
    assert "not the key of lake" in capsys.readouterr().err
    assert _main(["forget", pid, "--raw", raw, "--lake", run["lake"]]) == 2
    assert _main(["forget", "--lake", run["lake"]]) == 2


def test_verify_lists_what_remains_and_passes_after_forget_with_a_compacted_store(
    run: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = _exports(run)
    raw, pid = _a_subject(run)
    db = run["work"] / "graph.duckdb"
    assert pid.encode() in db.read_bytes()
    capsys.readouterr()
    assert _main(["forget", "--verify", "--raw", raw, "--lake", run["lake"]]) == 2
    cap = capsys.readouterr()
    assert "still hold the subject" in cap.err and len(cap.err.strip().splitlines()) == 1
    listed = cap.out
    for where in ("sightings/date=", "contacts/contacts.parquet", str(paths["visits"]), str(db)):
        assert where in listed, where
    assert "table seen_at" in listed

    assert _main(["forget", "--raw", raw, "--lake", run["lake"]]) == 0
    assert pid.encode() not in db.read_bytes()  # compacted: no bytes of the id left
    assert not list(db.parent.glob(".graph.duckdb.compact-*"))
    capsys.readouterr()
    assert _main(["forget", "--verify", pid, "--lake", run["lake"]]) == 0
    assert "nothing of" in capsys.readouterr().out
    assert verify_erasure(run["lake"], pid, raw=raw, store=db) == []
    with EmbeddedStore(db) as store:  # the rewritten store works: keys, sequence, index
        counts = store.counts()
        assert counts["persons"] > 0 and counts["sightings"] > 0
        new = pd.DataFrame(
            {
                "sighting_id": [2**40],
                "pid": ["0000000000000new"],
                "camera_id": ["C0001"],
                "ts": [pd.Timestamp("2024-01-01", tz="UTC")],
                "confidence": [0.5],
            }
        )
        store.write_sightings(new)
        assert store.counts()["persons"] == counts["persons"] + 1
        keys = store.con.execute("SELECT count(*), count(DISTINCT pkey) FROM persons").fetchone()
        assert keys is not None and keys[0] == keys[1]
    # the audit log has the verify runs (with what they found) and the forget
    entries = [json.loads(line) for line in (run["work"] / "audit.jsonl").read_text().splitlines()]
    assert [e.get("query") for e in entries[-3:]] == [
        "forget --verify",
        "forget",
        "forget --verify",
    ]


def test_verify_finds_the_subject_in_scratch_and_stray_files(run: Any) -> None:
    _, pid = _a_subject(run)
    part = next(
        f for f in sorted((run["lake"] / "sightings").rglob("*.parquet")) if pid in _pids(f)
    )
    saved = part.read_bytes()
    forget_subject(run["lake"], pid)
    assert verify_erasure(run["lake"], pid) == []
    # a job's scratch file (not ingest's: forget leaves it to its job) and a stray text file
    scratch = part.parent / ".job.parquet.tmp-0a1b2c3d"
    scratch.write_bytes(saved)
    stray = run["lake"] / "notes.txt"
    stray.write_text(f"asked about {pid}\n")
    found = {(f.path, f.how) for f in verify_erasure(run["lake"], pid)}
    assert (scratch, "column pid") in found
    assert (stray, "bytes") in found
    # a short raw id is matched as a whole value only (as bytes it would match by chance)
    assert verify_erasure(run["lake"], "zz", raw="S1") == []
