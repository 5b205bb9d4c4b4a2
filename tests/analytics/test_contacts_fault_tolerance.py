"""contacts is fault tolerant: a worker lost in any phase gives the clean run's exact table or a
non-zero exit, never a partial table with exit 0 (issue 10).

As for colocate (tests/analytics/test_fault_tolerance.py, whose cluster and lake this reuses):
the kills run `sightgraph contacts --scheduler` against REAL `dask scheduler` + `dask worker`
processes, a worker SIGKILLing itself at the end of a chosen task (after its files are written,
before its result reaches the scheduler), through the test-only ``$SIGHTGRAPH_TEST_KILL_FILE``
hook (``read``; ``contacts-sweep``: a camera partition's meetings; ``contacts-reduce:Q``: the
scoring of bucket Q). Dask then re-runs the task, whose second attempt writes its files again:
only the attempt whose result the driver received may be read.

The other tests run in-process on the threaded scheduler: a stray attempt's files change
nothing; a lost, damaged or short piece of scratch data fails the job (the CLI exits 1) and
writes no table.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sightgraph.analytics.contacts import compute_contacts
from sightgraph.analytics.contacts import job as cj
from sightgraph.errors import SightgraphError
from sightgraph.lake import read_params

from . import test_fault_tolerance as ft
from .test_fault_tolerance import SIGHTGRAPH, WINDOW, _cli_env, _wait_for_workers

# colocate's fault-tolerance fixtures: the 3,000-sighting town lake and a cluster of 2 worker
# processes that read the kill hook (started again for this module)
town_lake = ft.town_lake
killer_cluster = ft.killer_cluster


@pytest.fixture(scope="module")
def clean(town_lake, tmp_path_factory) -> tuple[pd.DataFrame, dict]:
    """The clean run's table and metadata (threaded scheduler)."""
    out = tmp_path_factory.mktemp("clean-contacts") / "contacts.parquet"
    res = compute_contacts(town_lake, out, window_s=90, progress=False)
    assert res.pairs > 1000 and res.meetings > res.pairs
    return pd.read_parquet(out), read_params(out)


def _same(out: Path, clean: tuple[pd.DataFrame, dict]) -> None:
    pd.testing.assert_frame_equal(pd.read_parquet(out), clean[0])
    got, want = read_params(out), clean[1]
    for k in ("events", "meetings", "pairs", "pairs_met", "significant"):
        assert got[k] == want[k], k


# ---------------------------------------------------------------------------------------------
# real processes: kill a worker in each phase


def _kill_run(cluster: tuple[str, Path], lake: Path, tmp_path: Path, kill: str):
    """Run ``sightgraph contacts`` on the cluster with the kill hook set to ``kill``."""
    address, spec = cluster
    _wait_for_workers(address)  # the nanny replaced the previous test's victim
    fired = spec.with_name(spec.name + ".fired")
    fired.unlink(missing_ok=True)
    spec.write_text(kill)
    out = tmp_path / "contacts.parquet"
    cmd = [str(SIGHTGRAPH), "contacts", "--lake", str(lake), "--out", str(out)]
    cmd += ["--window", WINDOW, "--scheduler", address]
    try:
        run = subprocess.run(
            cmd, capture_output=True, text=True, timeout=120, env=_cli_env(tmp_path / "work")
        )
    finally:
        spec.unlink(missing_ok=True)
    assert fired.exists(), f"the kill hook {kill!r} never fired"
    return run, out


@pytest.mark.cluster
@pytest.mark.parametrize(
    "kill",
    [
        "read",  # a reading task (its fragment is persisted on the dying worker)
        # a camera partition, after its meetings are written to every bucket: the re-run
        # writes them again, under another tag (the bug: both were read, meetings doubled)
        "contacts-sweep",
        # bucket 1, after it is scored (the bug: its inputs were deleted as they were read,
        # so the re-run scored nothing)
        "contacts-reduce:1",
    ],
)
def test_worker_killed_gives_exact_table_or_failure(
    killer_cluster, town_lake, clean, tmp_path, kill
):
    run, out = _kill_run(killer_cluster, town_lake, tmp_path, kill)
    if run.returncode != 0:  # never a partial table; and one lost worker should not fail it
        assert not out.exists() and "error" in run.stderr
        pytest.fail(f"exit {run.returncode} (no table, but Dask should recover): {run.stderr}")
    _same(out, clean)
    assert not list(tmp_path.glob(".contacts-*")), "scratch directory left behind"


@pytest.mark.cluster
def test_worker_killed_while_scoring_a_large_job(
    killer_cluster, town_lake, clean, tmp_path, monkeypatch
):
    """Scored pairs waiting on disk (a large job): a re-run's folder is not the one read."""
    address, spec = killer_cluster
    monkeypatch.setattr(cj, "KEEP_IN_MEMORY_MEETINGS", 0)  # the driver decides; workers obey
    _wait_for_workers(address)
    fired = spec.with_name(spec.name + ".fired")
    fired.unlink(missing_ok=True)
    spec.write_text("contacts-reduce:2")
    out = tmp_path / "contacts.parquet"
    try:
        compute_contacts(town_lake, out, window_s=90, scheduler=address, progress=False)
    finally:
        spec.unlink(missing_ok=True)
    assert fired.exists()
    _same(out, clean)


# ---------------------------------------------------------------------------------------------
# in process: stray attempts are ignored; lost or damaged scratch data fails loudly


def _run(lake: Path, tmp_path: Path, spill: bool, monkeypatch) -> Path:
    if spill:
        monkeypatch.setattr(cj, "KEEP_IN_MEMORY_MEETINGS", 0)
    out = tmp_path / "contacts.parquet"
    compute_contacts(lake, out, window_s=90, npartitions=3, scheduler="threads", progress=False)
    return out


def _fails(lake: Path, tmp_path: Path, match: str, monkeypatch, spill: bool = False) -> None:
    out = tmp_path / "contacts.parquet"
    with pytest.raises(SightgraphError, match=match):
        _run(lake, tmp_path, spill, monkeypatch)
    assert not out.exists()
    assert not list(tmp_path.glob(".contacts-*")) and not list(tmp_path.glob("*.tmp-*"))


@pytest.mark.parametrize("used", ["first", "second"])
@pytest.mark.parametrize("spill", [False, True])
def test_retried_attempts_files_are_ignored(town_lake, clean, tmp_path, monkeypatch, used, spill):
    """Every partition and bucket task runs twice (as Dask re-runs a task whose worker was lost),
    and the driver gets the first or the second attempt's result: the table is the clean one."""
    sweep, reduce = cj._partition_to_buckets, cj._reduce_bucket

    def twice(func):
        def run(*args, **kw):
            first = func(*args, **kw)
            second = func(*args, **kw)
            return first if used == "first" else second

        return run

    monkeypatch.setattr(cj, "_partition_to_buckets", twice(sweep))
    monkeypatch.setattr(cj, "_reduce_bucket", twice(reduce))
    _same(_run(town_lake, tmp_path, spill, monkeypatch), clean)


def _damage_sweep(monkeypatch, damage) -> None:
    """Apply ``damage(path, result)`` to partition 0's file of bucket 1 once it is written."""
    sweep = cj._partition_to_buckets
    done: list[bool] = []

    def run(*args, **kw):
        res = sweep(*args, **kw)
        if res.per_bucket[1] and not done:
            done.append(True)
            return damage(Path(kw["spill"]) / cj._bucket_file(1, res.tag), res)
        return res

    monkeypatch.setattr(cj, "_partition_to_buckets", run)


def _drop_meeting(path: Path, res):
    with open(path, "rb") as fh:
        cols = [np.load(fh) for _ in cj._MEETING_FIELDS]
    with open(path, "wb") as fh:  # a whole valid block, one meeting short
        for col in cols:
            np.save(fh, col[1:])
    return res


def _repeat_meeting(path: Path, res):
    with open(path, "rb") as fh:
        cols = [np.load(fh) for _ in cj._MEETING_FIELDS]
    with open(path, "wb") as fh:  # a whole valid block, one meeting too many
        for col in cols:
            np.save(fh, np.concatenate([col, col[:1]]))
    return res


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        (lambda p, r: p.unlink() or r, r"bucket 1: scratch file b00001/\w+\.npy is missing"),
        (lambda p, r: p.write_bytes(p.read_bytes()[:-5]) and r, "missing or damaged"),
        (_drop_meeting, "meeting bucket 1: its input files hold"),
        (_repeat_meeting, r"meeting bucket 1: its input files hold (\d|,)+ meetings where the"),
        # a partition result that does not add up
        (
            lambda p, r: cj._Swept(r.events, r.meetings + 1, r.tag, r.per_bucket),
            "wrote .* meetings to the buckets of its",
        ),
    ],
    ids=["lost", "truncated", "short", "long", "miscounted"],
)
def test_lost_or_damaged_meetings_fail(town_lake, tmp_path, monkeypatch, damage, match):
    _damage_sweep(monkeypatch, damage)
    _fails(town_lake, tmp_path, match, monkeypatch)


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        ("lose", r"bucket 2: scratch file s00002-\w+/\w+\.npy is missing or damaged"),
        ("shorten", r"bucket 2: s00002-\w+/\w+\.npy holds .* pairs where its scoring returned"),
        ("misread", "meeting bucket 2: its input files hold"),
    ],
    ids=["lost", "short", "misread"],
)
def test_lost_or_damaged_scored_pairs_fail(town_lake, tmp_path, monkeypatch, damage, match):
    reduce = cj._reduce_bucket

    def run(spill, q, *args):
        res = reduce(spill, q, *args)
        if q != 2:
            return res
        folder = Path(spill) / res.folder
        if damage == "lose":
            next(folder.glob("*.npy")).unlink()
        elif damage == "shorten":
            np.save(folder / "meetings.npy", np.load(folder / "meetings.npy")[1:])
        else:
            return cj._Scored(res.q, res.cols, res.met, res.read - 1, res.folder)
        return res

    monkeypatch.setattr(cj, "_reduce_bucket", run)
    _fails(town_lake, tmp_path, match, monkeypatch, spill=True)


def test_cli_exits_1_on_lost_meetings(town_lake, tmp_path, monkeypatch, capsys):
    from sightgraph import cli

    _damage_sweep(monkeypatch, lambda p, r: p.unlink() or r)
    monkeypatch.setenv("SIGHTGRAPH_WORKDIR", str(tmp_path / "work"))
    monkeypatch.setenv("SIGHTGRAPH_PURPOSE", "fault tolerance test")
    monkeypatch.delenv("SIGHTGRAPH_ROLE", raising=False)
    out = tmp_path / "contacts.parquet"
    with pytest.raises(SystemExit) as exc:
        cli.main(["contacts", "--lake", str(town_lake), "--out", str(out), "--window", WINDOW])
    assert exc.value.code == 1 and not out.exists()
    assert "missing or damaged" in capsys.readouterr().err
