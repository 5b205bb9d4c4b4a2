"""colocate is fault tolerant: a worker lost in any phase gives the clean run's exact table or a
non-zero exit, never a partial table with exit 0 (issue 10).

The kills run `sightgraph colocate --scheduler` against REAL `dask scheduler` + `dask worker`
processes (2 single-threaded worker processes under a nanny, which starts a fresh process for a
killed one). A worker kills itself with SIGKILL at the end of a chosen task, after the task's
side effects and before its result reaches the scheduler (the worst moment: Dask re-runs the
task, and every finished task whose result lived in that process). The hook is the test-only
``$SIGHTGRAPH_TEST_KILL_FILE`` (see ``colocation._test_kill``): the workers get the path of a
file that each test fills with ``read``, ``sweep:K`` or ``reduce:Q`` (`` hold``: task 0 of the
phase is made slow); it fires once.

The other tests run in-process on the threaded scheduler and damage or drop one piece of
scratch data between tasks: the job must raise (the CLI exits 1) and write no table.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sightgraph.analytics import colocation as colo
from sightgraph.analytics.colocation import colocate_lake
from sightgraph.analytics.compute import resolve_scheduler
from sightgraph.errors import SightgraphError
from sightgraph.lake import read_params

from .colocation_oracle import write_lake
from .test_cluster import _free_port, _spawn, _stop, _wait_for_port

SIGHTGRAPH = Path(sys.executable).with_name("sightgraph")
WINDOW = "90s"


def _cli_env(workdir: Path) -> dict[str, str]:
    """The CLI as an analyst with a purpose, auditing into ``workdir``."""
    env = {k: v for k, v in os.environ.items() if k != "SIGHTGRAPH_ROLE"}
    env.update(SIGHTGRAPH_WORKDIR=str(workdir), SIGHTGRAPH_PURPOSE="fault tolerance test")
    return env


def _town(n: int = 3000, seed: int = 7) -> pd.DataFrame:
    """3 hours of 200 subjects at 12 Zipf-popular cameras: ~16 non-empty pair buckets."""
    rng = np.random.default_rng(seed)
    p = 1 / np.arange(1, 13)
    off = rng.integers(0, 3 * 3600 * 10**6, n)
    return pd.DataFrame(
        {
            "sighting_id": np.arange(n, dtype=np.int64) + 1,
            "pid": pd.Series([f"p{x:03d}" for x in rng.integers(0, 200, n)], dtype="str"),
            "camera_id": pd.Series(
                rng.choice([f"cam{i:02d}" for i in range(12)], n, p=p / p.sum()), dtype="str"
            ),
            "ts": pd.Series(
                pd.Timestamp("2026-03-02 22:30", tz="UTC") + pd.to_timedelta(off, unit="us")
            ).astype("datetime64[us, UTC]"),
            "confidence": np.round(rng.uniform(0.2, 1.0, n), 3),
        }
    )


@pytest.fixture(scope="module")
def town_lake(tmp_path_factory) -> Path:
    return write_lake(tmp_path_factory.mktemp("town"), _town(), split=2)


@pytest.fixture(scope="module")
def clean(town_lake, tmp_path_factory) -> tuple[pd.DataFrame, dict, int]:
    """The clean run's table, metadata and event count (threaded scheduler)."""
    out = tmp_path_factory.mktemp("clean") / "pairs.parquet"
    res = colocate_lake(town_lake, out, window_s=90, events_out=out.with_name("ev"), progress=False)
    assert res.pairs > 1000 and res.events > res.pairs
    return pd.read_parquet(out), read_params(out), res.events


# ---------------------------------------------------------------------------------------------
# real processes: kill a worker in each phase


@pytest.fixture(scope="module")
def killer_cluster(tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """(address, kill-spec file) of a scheduler with 2 single-threaded worker processes."""
    logs = tmp_path_factory.mktemp("dask-kill-logs")
    spec = logs / "kill-spec"
    port, dash, wdash = _free_port(), _free_port(), _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DASK_DISTRIBUTED__WORKER__DAEMON": "False",
        colo._KILL_ENV: str(spec),
    }
    procs: list[subprocess.Popen] = []
    try:
        scheduler = ["scheduler", "--host", "127.0.0.1", "--port", str(port)]
        scheduler += ["--dashboard-address", f"127.0.0.1:{dash}"]
        procs.append(_spawn(scheduler, logs / "scheduler.log", env))
        _wait_for_port(port, procs[0])
        worker = ["worker", address, "--nworkers", "2", "--nthreads", "1", "--host", "127.0.0.1"]
        worker += ["--dashboard-address", f"127.0.0.1:{wdash}", "--memory-limit", "1GiB"]
        worker += ["--local-directory", str(logs)]
        procs.append(_spawn(worker, logs / "worker.log", env))
        _wait_for_workers(address)
        yield address, spec
    finally:
        for proc in reversed(procs):
            _stop(proc)


def _wait_for_workers(address: str, n: int = 2) -> None:
    from distributed import Client

    with Client(address, timeout=20) as client:
        client.wait_for_workers(n, timeout=30)


@pytest.mark.cluster
@pytest.mark.parametrize(
    "kill",
    [
        "read",  # a reading task (its fragment is persisted on the dying worker)
        # partition 3, after its bucket and event files are written (partition 0 waits)
        "sweep:3 hold",
        "reduce:0",  # bucket 0, after its result file is written
        # bucket 5, while the calling thread waits for a slow bucket 0 and the dying worker
        # holds finished buckets 1-4: the case of the issue, where Dask re-ran them after
        # their inputs were deleted and they wrote empty results over the real ones
        "reduce:5 hold",
        # bucket 12, while the calling thread writes the buckets before it to the table
        "reduce:12",
    ],
)
def test_worker_killed_gives_exact_table_or_failure(
    killer_cluster, town_lake, clean, tmp_path, kill
):
    address, spec = killer_cluster
    table, params, events = clean
    _wait_for_workers(address)  # the nanny replaced the previous test's victim
    fired = spec.with_name(spec.name + ".fired")
    fired.unlink(missing_ok=True)
    spec.write_text(kill)
    out, ev = tmp_path / "pairs.parquet", tmp_path / "events"
    cmd = [str(SIGHTGRAPH), "colocate", "--lake", str(town_lake), "--out", str(out)]
    cmd += ["--window", WINDOW, "--events-out", str(ev), "--scheduler", address]
    try:
        run = subprocess.run(
            cmd, capture_output=True, text=True, timeout=120, env=_cli_env(tmp_path / "work")
        )
    finally:
        spec.unlink(missing_ok=True)
    assert fired.exists(), f"the kill hook {kill!r} never fired"
    if run.returncode != 0:  # never a partial table; and one lost worker should not fail it
        assert not out.exists() and "error" in run.stderr
        pytest.fail(f"exit {run.returncode} (no table, but Dask should recover): {run.stderr}")
    pd.testing.assert_frame_equal(pd.read_parquet(out), table)
    got = read_params(out)
    assert got["events"] == params["events"] == events and got["pairs"] == params["pairs"]
    assert len(pd.read_parquet(ev)) == events
    assert all(re.fullmatch(r"part-\d{5}-\d{5}\.parquet", p.name) for p in ev.iterdir())
    assert not list(tmp_path.glob(".colocate-*")), "scratch directory left behind"


# ---------------------------------------------------------------------------------------------
# in process: a lost or damaged piece of scratch data fails the job loudly


def _fails(town_lake: Path, tmp_path: Path, match: str) -> None:
    out = tmp_path / "pairs.parquet"
    with pytest.raises(SightgraphError, match=match):
        colocate_lake(
            town_lake, out, window_s=90, events_out=tmp_path / "ev", npartitions=3, progress=False
        )
    assert not out.exists() and not (tmp_path / "ev").exists()
    assert not list(tmp_path.glob(".colocate-*")) and not list(tmp_path.glob("*.tmp-*"))


def test_missing_result_file_fails(town_lake, tmp_path, monkeypatch):
    reduce = colo._reduce_bucket

    def lose_result(spill, q, *args):
        res = reduce(spill, q, *args)
        if q == 3:
            (Path(spill) / "res" / res[2]).unlink()
        return res

    monkeypatch.setattr(colo, "_reduce_bucket", lose_result)
    _fails(town_lake, tmp_path, r"scratch file res/b00003-\w+\.npy is missing")


def test_short_result_fails(town_lake, tmp_path, monkeypatch):
    reduce = colo._reduce_bucket

    def overcount(spill, q, *args):
        q, pairs, name, read = reduce(spill, q, *args)
        return q, pairs + (q == 2), name, read

    monkeypatch.setattr(colo, "_reduce_bucket", overcount)
    _fails(town_lake, tmp_path, "pair bucket 2: .* holds .* pairs where its reducer counted")


def test_reducer_that_missed_rows_fails(town_lake, tmp_path, monkeypatch):
    reduce = colo._reduce_bucket

    def undercount(spill, q, *args):
        q, pairs, name, read = reduce(spill, q, *args)
        return q, pairs, name, read - (q == 1)

    monkeypatch.setattr(colo, "_reduce_bucket", undercount)
    _fails(town_lake, tmp_path, "pair bucket 1: its input files hold")


@pytest.mark.parametrize("damage", ["delete", "truncate", "drop_block"])
def test_lost_or_damaged_sweep_file_fails(town_lake, tmp_path, monkeypatch, damage):
    """Partition 0's file of bucket 0 vanishes, or is cut short, between sweep and reduce."""
    sweep = colo._sweep_to_buckets

    def damage_input(pieces, part, *args):
        res = sweep(pieces, part, *args)
        spill = args[6]
        if part == 0:
            path = Path(spill) / colo._bucket_file(int(np.flatnonzero(res.rows)[0]), 0, res.attempt)
            if damage == "delete":
                path.unlink()
            elif damage == "truncate":
                path.write_bytes(path.read_bytes()[:-7])
            else:  # a whole valid block fewer: only the row count can tell
                blocks = list(colo._iter_blocks(path))
                assert len(blocks) == 1
                colo._save_block(path, [x[1:] for x in blocks[0]], append=False)
        return res

    monkeypatch.setattr(colo, "_sweep_to_buckets", damage_input)
    match = "its input files hold" if damage == "drop_block" else "missing or damaged"
    _fails(town_lake, tmp_path, match)


def test_partition_that_missed_sightings_fails(town_lake, tmp_path, monkeypatch):
    sweep = colo._sweep_to_buckets

    def lose_sighting(pieces, part, *args):
        res = sweep(pieces, part, *args)
        return colo._Swept(res.events, res.rows, res.attempt, res.event_parts, res.sightings - 1)

    monkeypatch.setattr(colo, "_sweep_to_buckets", lose_sighting)
    _fails(town_lake, tmp_path, "swept .* sightings of the 3,000 read")


def test_lost_event_file_fails(town_lake, tmp_path, monkeypatch):
    sweep = colo._sweep_to_buckets

    def lose_events(pieces, part, *args):
        res = sweep(pieces, part, *args)
        if part == 1 and res.event_parts:
            (Path(args[7]) / res.event_parts[0]).unlink()
        return res

    monkeypatch.setattr(colo, "_sweep_to_buckets", lose_events)
    _fails(town_lake, tmp_path, "event file .* is missing")


def test_retried_attempts_files_are_ignored(town_lake, clean, tmp_path, monkeypatch):
    """Stray files of other attempts (as a killed or re-run task leaves them) change nothing."""
    sweep, reduce = colo._sweep_to_buckets, colo._reduce_bucket

    def sweep_twice(pieces, part, *args):
        sweep(pieces, part, *args)  # a first attempt whose result was lost
        return sweep(pieces, part, *args)

    def reduce_twice(spill, q, *args):
        reduce(spill, q, *args)
        return reduce(spill, q, *args)

    monkeypatch.setattr(colo, "_sweep_to_buckets", sweep_twice)
    monkeypatch.setattr(colo, "_reduce_bucket", reduce_twice)
    out = tmp_path / "pairs.parquet"
    res = colocate_lake(
        town_lake, out, window_s=90, events_out=tmp_path / "ev", npartitions=3, progress=False
    )
    pd.testing.assert_frame_equal(pd.read_parquet(out), clean[0])
    assert res.events == clean[2] == len(pd.read_parquet(tmp_path / "ev"))
    assert all(p.name.count("-") == 2 for p in (tmp_path / "ev").iterdir())


def test_cli_exits_1_on_a_lost_result(town_lake, tmp_path, monkeypatch, capsys):
    from sightgraph import cli

    reduce = colo._reduce_bucket

    def lose_result(spill, q, *args):
        res = reduce(spill, q, *args)
        (Path(spill) / "res" / res[2]).unlink()
        return res

    monkeypatch.setattr(colo, "_reduce_bucket", lose_result)
    monkeypatch.setenv("SIGHTGRAPH_WORKDIR", str(tmp_path / "work"))
    monkeypatch.setenv("SIGHTGRAPH_PURPOSE", "fault tolerance test")
    monkeypatch.delenv("SIGHTGRAPH_ROLE", raising=False)
    out = tmp_path / "pairs.parquet"
    with pytest.raises(SystemExit) as exc:
        cli.main(["colocate", "--lake", str(town_lake), "--out", str(out), "--window", WINDOW])
    assert exc.value.code == 1 and not out.exists()
    assert "missing or damaged" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["threads", "sync"])
def test_completed_yields_each_task_once_and_raises_errors(kind):
    from dask import delayed

    def boom(x):
        raise ValueError(f"boom {x}")

    with resolve_scheduler(kind) as sched:
        tasks = [delayed(lambda x: x * x, pure=False)(i) for i in range(20)]
        got = dict(sched.completed(tasks, "squares", progress=False))
        assert got == {i: i * i for i in range(20)}
        bad = [delayed(lambda x: x, pure=False)(0), delayed(boom, pure=False)(1)]
        with pytest.raises(ValueError, match="boom 1"):
            list(sched.completed(bad, "boom", progress=False))
        it = sched.completed(tasks, "early exit", progress=False)
        next(it)
        it.close()  # stops the background run without hanging
