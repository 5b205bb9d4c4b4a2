"""Erasure racing analytics writers (issue 10, finding 4): a job that read the lake before a
`forget` (or `retention apply`) finished must not write the forgotten subject back.

Jobs read without the lake's writer lock and commit under it (``sightgraph.lake.commit_lock``),
checking that the lake's erasure generation did not change since they started reading.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sightgraph import cli
from sightgraph.analytics.colocation import colocate_lake
from sightgraph.analytics.prediction import compute_predictions
from sightgraph.analytics.trajectories import compute_trajectories
from sightgraph.errors import UsageError
from sightgraph.governance.erasure import forget_subject, retention_apply
from sightgraph.graph.loader import derived_path
from sightgraph.lake import (
    COMMIT_WAIT_ENV,
    ERASURES_NAME,
    LOCK_NAME,
    bump_erasure_generation,
    commit_lock,
    erasure_generation,
    lake_lock,
    read_sightings,
)
from tests.governance.test_erasure import _write_sightings

ROOT = Path(__file__).resolve().parents[2]
CHANGED = "the lake changed under this job (forget/retention ran); run it again"


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    """Five days of p1, p2, p3 meeting at three cameras (and p4 meeting p5): the contacts
    table holds (p1, p2), (p1, p3), (p2, p3) and (p4, p5)."""
    lake = tmp_path / "lake"
    rows = []
    for d in range(1, 6):
        for h, cam in ((8, "c1"), (12, "c2"), (18, "c3")):
            for who, s in (("p1", 0), ("p2", 20), ("p3", 40)):
                rows.append((who, cam, f"2024-03-0{d}T{h:02d}:00:{s:02d}Z"))
        rows += [("p4", "c1", f"2024-03-0{d}T10:00:00Z"), ("p5", "c1", f"2024-03-0{d}T10:00:30Z")]
    _write_sightings(lake, rows)
    return lake


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = {
        "SIGHTGRAPH_PSEUDONYM_KEY": "test-only-key",
        "SIGHTGRAPH_PURPOSE": "test",
        "SIGHTGRAPH_ROLE": "admin",
        "SIGHTGRAPH_WORKDIR": str(tmp_path / "work"),
        COMMIT_WAIT_ENV: "5",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return env


def _main(args: list[str | Path]) -> int:
    """Run the CLI in this process; its exit code."""
    with pytest.raises(SystemExit) as exc:
        cli.main([str(a) for a in args])
    return int(exc.value.code or 0)


def _pids_of(data: bytes) -> set[str]:
    table = pq.read_table(pa.BufferReader(data)).to_pandas()
    return {str(p) for col in table.columns if col.startswith("pid") for p in table[col]}


def _pids(path: Path) -> set[str]:
    table = pq.read_table(path).to_pandas()
    return {str(p) for col in table.columns if col.startswith("pid") for p in table[col]}


def _forget_while_computing(
    monkeypatch: pytest.MonkeyPatch, module: Any, name: str, forget: Callable[[], None]
) -> dict[str, int]:
    """Wrap ``module.name`` (a job's compute function) so that ``forget`` runs after the job read
    and computed everything, before the CLI commits its table."""
    real = getattr(module, name)
    calls = {"n": 0}

    def job(*args: Any, **kwargs: Any) -> Any:
        res = real(*args, **kwargs)
        calls["n"] += 1
        forget()
        return res

    monkeypatch.setattr(module, name, job)
    return calls


def _cli_forget(pid: str, lake: Path, env: dict[str, str]) -> None:
    """The real `sightgraph forget` in another process (its own lock, its own open files)."""
    r = subprocess.run(
        [sys.executable, "-m", "sightgraph.cli", "forget", pid, "--lake", str(lake)],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=ROOT,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert "removed from lake: sightings 15" in r.stdout


# ---------------------------------------------------------------------------------------------
# (a) the scenario, deterministic
def test_contacts_running_while_forget_runs_does_not_write_the_subject_back(
    lake: Path,
    tmp_path: Path,
    cli_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import sightgraph.analytics.contacts as contacts_pkg

    out = tmp_path / "c.parquet"
    kept = derived_path(lake, "contacts")
    assert _main(["contacts", "--lake", lake, "--out", out]) == 0
    assert "p1" in _pids(kept) and "p1" in _pids(out)  # the lake's copy, before any forget
    before = out.read_bytes()
    capsys.readouterr()

    calls = _forget_while_computing(
        monkeypatch, contacts_pkg, "compute_contacts", lambda: _cli_forget("p1", lake, cli_env)
    )
    assert _main(["contacts", "--lake", lake, "--out", out]) == 2
    assert calls["n"] == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and CHANGED in err, err
    assert "p1" not in _pids(kept)  # forget erased it; the refused job did not write it back
    # --out is an export (recorded in the lake's export log): forget erased p1 from it too,
    # and the refused job did not replace it
    assert _pids(out) == _pids_of(before) - {"p1"}
    assert pq.read_table(out).num_rows == pq.read_table(pa.BufferReader(before)).num_rows - 2
    assert [p.name for p in out.parent.iterdir() if ".staging-" in p.name] == []
    assert erasure_generation(lake) == 1  # written by the other process, read here

    monkeypatch.undo()  # the real job, in the same environment
    for k, v in cli_env.items():
        monkeypatch.setenv(k, v)
    assert _main(["contacts", "--lake", lake, "--out", out]) == 0
    after = _pids(kept)
    assert "p1" not in after and {"p2", "p3", "p4", "p5"} <= after
    assert _pids(out) == after
    assert "c.parquet in" in capsys.readouterr().out  # the summary names --out, not a staged file


def test_contacts_with_out_inside_the_lake_is_committed_there_under_the_check(
    lake: Path, cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """--out LAKE/contacts/contacts.parquet: the job writes a hidden staged file (which erasure
    and readers skip), and only the commit puts it in place."""
    import sightgraph.analytics.contacts as contacts_pkg

    out = derived_path(lake, "contacts")
    _forget_while_computing(
        monkeypatch, contacts_pkg, "compute_contacts", lambda: forget_subject(lake, "p1")
    )
    assert _main(["contacts", "--lake", lake, "--out", out]) == 2
    assert not out.exists() and not any(out.parent.iterdir())


def test_colocate_into_the_lake_refuses_after_a_forget(
    lake: Path, cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import sightgraph.analytics.colocation as colocation

    out = derived_path(lake, "colocations")
    _forget_while_computing(monkeypatch, colocation, "_prepare", lambda: forget_subject(lake, "p1"))
    assert _main(["colocate", "--lake", lake, "--out", out]) == 2
    assert not out.exists()
    monkeypatch.undo()
    # a direct call with a stale generation is refused too; a fresh one is written without p1
    with pytest.raises(UsageError, match="changed under this job"):
        colocate_lake(lake, out, generation=0, progress=False)
    assert not out.exists()
    colocate_lake(lake, out, progress=False)
    assert "p1" not in _pids(out) and "p2" in _pids(out)
    # outside the lake nothing is committed into it, so there is nothing to check
    colocate_lake(lake, lake.parent / "elsewhere.parquet", generation=0, progress=False)


def test_trajectories_and_predict_refuse_a_stale_generation(lake: Path, tmp_path: Path) -> None:
    gen = erasure_generation(lake)
    forget_subject(lake, "p1")
    out = tmp_path / "traj"
    with pytest.raises(UsageError, match="changed under this job"):
        compute_trajectories(lake, out, generation=gen)
    assert not (lake / "visits").exists() and not (lake / "transitions").exists()
    assert not out.exists()  # --out is written only after the lake commit
    with pytest.raises(UsageError, match="changed under this job"):
        compute_predictions(lake, generation=gen, progress=False)
    assert not (lake / "predictions").exists()
    compute_predictions(lake, evaluate=True, generation=gen, progress=False)  # writes nothing

    res = compute_trajectories(lake, out)  # default: the generation read at the start
    assert res["visits"] > 0 and "p1" not in _pids(lake / "visits" / "visits.parquet")
    assert (out / "visits.parquet").exists()
    compute_predictions(lake, progress=False)
    assert "p1" not in _pids(lake / "predictions" / "predictions.parquet")


def test_cli_trajectories_and_predict_take_the_generation_before_the_job(
    lake: Path, tmp_path: Path, cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import sightgraph.analytics.trajectories as trajectories

    real = trajectories.build_visits
    _forget_while_computing(
        monkeypatch, trajectories, "build_visits", lambda: forget_subject(lake, "p1")
    )
    assert _main(["trajectories", "--lake", lake, "--out", tmp_path / "traj"]) == 2
    assert not (lake / "visits").exists() and not (tmp_path / "traj").exists()

    monkeypatch.setattr(trajectories, "build_visits", real)
    _forget_while_computing(
        monkeypatch, trajectories, "build_visits", lambda: forget_subject(lake, "p2")
    )
    assert _main(["predict", "--lake", lake]) == 2
    assert not (lake / "predictions").exists()

    monkeypatch.setattr(trajectories, "build_visits", real)
    assert _main(["predict", "--lake", lake]) == 0
    assert _pids(lake / "predictions" / "predictions.parquet") == {"p3", "p4", "p5"}


# ---------------------------------------------------------------------------------------------
# (b) forget while a writer holds the commit lock: fails cleanly or waits
HOLDER = """
import sys, time
from sightgraph.lake import bump_erasure_generation, lake_lock
with lake_lock(sys.argv[1], "forget"):
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
    if sys.argv[3] == "bump":
        bump_erasure_generation(sys.argv[1], "forget")
"""


def _holder(lake: Path, seconds: float, bump: bool) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(lake), str(seconds), "bump" if bump else "-"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


def _snapshot(lake: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(lake)): p.read_bytes()
        for p in sorted(lake.rglob("*"))
        if p.is_file() and p.name != LOCK_NAME
    }


def test_forget_during_a_commit_fails_cleanly_then_succeeds(lake: Path) -> None:
    before = _snapshot(lake)
    with commit_lock(lake, erasure_generation(lake), "contacts"):
        with pytest.raises(UsageError, match=r"busy: pid \d+ \(committing contacts\)"):
            forget_subject(lake, "p1")
        with pytest.raises(UsageError, match="busy"):
            retention_apply(lake, 1, now=pd.Timestamp("2024-03-05T12:00Z"))
        assert _snapshot(lake) == before  # no half state: nothing erased, no generation
    assert erasure_generation(lake) == 0
    assert forget_subject(lake, "p1")["sightings"] == 15
    assert "p1" not in set(read_sightings(lake)["pid"]) and erasure_generation(lake) == 1


def test_a_commit_waits_for_a_short_forget_then_refuses_or_commits(lake: Path) -> None:
    gen = erasure_generation(lake)
    proc = _holder(lake, 1.0, bump=True)  # a forget: holds the lock, then raises the generation
    try:
        t0 = time.monotonic()
        with (
            pytest.raises(UsageError, match="changed under this job"),
            commit_lock(lake, gen, "contacts", wait=20),
        ):
            pytest.fail("committed after a forget")  # pragma: no cover
        assert time.monotonic() - t0 >= 0.5  # it waited for the lock rather than failing
    finally:
        proc.wait(timeout=30)

    gen = erasure_generation(lake)
    proc = _holder(lake, 1.0, bump=False)  # an ingest, say: no erasure, so the commit goes on
    try:
        with commit_lock(lake, gen, "contacts", wait=20):
            assert "committing contacts" in (lake / LOCK_NAME).read_text()
    finally:
        proc.wait(timeout=30)


def test_a_commit_gives_up_after_its_wait(lake: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    proc = _holder(lake, 30.0, bump=False)
    try:
        monkeypatch.setenv(COMMIT_WAIT_ENV, "0.3")
        t0 = time.monotonic()
        with (
            pytest.raises(UsageError, match=r"busy \(waited 0.3 s\): pid \d+ \(forget\)"),
            commit_lock(lake, 0, "contacts"),
        ):
            pytest.fail("committed into a busy lake")  # pragma: no cover
        assert 0.25 <= time.monotonic() - t0 < 5
        monkeypatch.setenv(COMMIT_WAIT_ENV, "soon")
        with pytest.raises(UsageError, match=COMMIT_WAIT_ENV), commit_lock(lake, 0, "contacts"):
            pass  # pragma: no cover
    finally:
        proc.kill()
        proc.wait()


# ---------------------------------------------------------------------------------------------
# (c) the generation: kept in the lake, raised by erasures that change something
def test_the_generation_survives_and_counts_erasures(lake: Path) -> None:
    assert erasure_generation(lake) == 0 and not (lake / ERASURES_NAME).exists()
    forget_subject(lake, "p1")
    assert erasure_generation(lake) == 1
    forget_subject(lake, "p1")  # removes nothing: the lake did not change
    forget_subject(lake, "nobody")
    assert erasure_generation(lake) == 1
    retention_apply(lake, 1, now=pd.Timestamp("2024-03-05T12:00Z"))  # drops 03-01 .. 03-03
    assert erasure_generation(lake) == 2
    retention_apply(lake, 1, now=pd.Timestamp("2024-03-05T12:00Z"))
    assert erasure_generation(lake) == 2
    # another process reads the same value; the record names no subject
    r = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from sightgraph.lake import erasure_generation as g; "
            "print(g(sys.argv[1]))",
            str(lake),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert r.stdout.strip() == "2", r.stderr
    assert b"p1" not in (lake / ERASURES_NAME).read_bytes()
    assert pq.read_table(lake / ERASURES_NAME).to_pylist() == [
        {"generation": 2, "last": "retention apply"}
    ]


def test_a_damaged_generation_record_is_refused_and_replaced_by_the_next_erasure(
    lake: Path,
) -> None:
    (lake / ERASURES_NAME).write_text("not parquet")
    with pytest.raises(UsageError, match="erasure record .* is damaged"):
        erasure_generation(lake)
    with pytest.raises(UsageError, match="damaged"):
        compute_trajectories(lake)
    with lake_lock(lake, "forget"):
        new = bump_erasure_generation(lake, "forget")
    assert erasure_generation(lake) == new > 10**15  # no job can hold this one
