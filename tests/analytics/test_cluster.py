"""colocate_lake on a REAL dask.distributed cluster: a `dask scheduler` and a `dask worker`
process (2 worker processes of 1 thread) on loopback ports; results must equal the threaded
scheduler's. The processes are torn down whatever happens."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from sightgraph.analytics.colocation import colocate_lake, map_event_partitions
from sightgraph.lake import read_params

from .colocation_oracle import normalise_events, write_lake
from .test_colocation_lake import _city

pytestmark = pytest.mark.cluster

DASK = Path(sys.executable).with_name("dask")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"dask scheduler exited early with code {proc.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"dask scheduler did not listen on port {port} within {timeout} s")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def _spawn(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
    with open(log, "wb") as fh:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [str(DASK), *args], stdout=fh, stderr=subprocess.STDOUT, start_new_session=True, env=env
        )


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[str]:
    """Address of a scheduler with 2 single-threaded worker processes (started here)."""
    if not DASK.exists():
        pytest.fail(f"{DASK} not found: the dask CLI is part of dask[distributed]")
    logs = tmp_path_factory.mktemp("dask-logs")
    port, dash, wdash = _free_port(), _free_port(), _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
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
        from distributed import Client

        with Client(address, timeout=20) as client:
            client.wait_for_workers(2, timeout=30)
        yield address
    finally:
        for proc in reversed(procs):
            _stop(proc)


def test_cluster_equals_threaded(cluster, tmp_path):
    s, cams = _city(n=600, seed=11)
    lake = write_lake(tmp_path / "lake", s, cams, split=2)
    local = colocate_lake(lake, tmp_path / "local.parquet", window_s=90, progress=False)
    remote = colocate_lake(
        lake,
        tmp_path / "remote.parquet",
        window_s=90,
        scheduler=cluster,
        npartitions=5,
        events_out=tmp_path / "events",
        progress=False,
    )
    assert local.pairs == remote.pairs > 0 and local.events == remote.events
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "remote.parquet"), pd.read_parquet(tmp_path / "local.parquet")
    )
    assert read_params(tmp_path / "remote.parquet")["events"] == local.events
    assert len(pd.read_parquet(tmp_path / "events")) == local.events
    # the environment variable selects the cluster too; events reach a function on the workers
    os.environ["DASK_SCHEDULER_ADDRESS"] = cluster
    try:
        parts = map_event_partitions(lake, lambda df: df, window_s=90, radius_m=200, progress=False)
    finally:
        del os.environ["DASK_SCHEDULER_ADDRESS"]
    threaded = map_event_partitions(
        lake, lambda df: df, window_s=90, radius_m=200, scheduler="threads", progress=False
    )
    pd.testing.assert_frame_equal(
        normalise_events(pd.concat(parts, ignore_index=True)),
        normalise_events(pd.concat(threaded, ignore_index=True)),
    )


def test_prediction_on_the_cluster_equals_local(cluster):
    """The prediction evaluation's chunks run in the worker processes; the report is the local
    one to the last bit (ranks are gathered in pid order)."""
    from sightgraph.analytics.prediction import evaluate_predictions

    from .test_prediction import routine_city

    visits = routine_city(weeks=3, seed=5)
    local = evaluate_predictions(visits)
    remote = evaluate_predictions(visits, scheduler=cluster, chunks=4)
    assert remote == local and local["test_visits"] > 0
