"""What a second worker buys: colocate and contacts under three ways of running Dask, measured.

    python benchmarks/scale/bench_scale.py --sightings 1000000
    python benchmarks/scale/bench_scale.py --sightings 10000000 --jobs colocate

For each job and each setup, in a fresh cluster (so every peak is this run's):

- ``threads``: the threaded scheduler in this process (what `sightgraph colocate` does by
  default), one thread per core;
- ``local-1`` / ``local-2``: a ``dask.distributed.LocalCluster`` of 1 and 2 worker processes
  (one thread each), the job given its address as ``--scheduler`` would;
- ``cli-2``: a real ``dask scheduler`` and two ``dask worker`` processes started from the
  command line on 127.0.0.1 (what a deployment runs), the job given its address.

Printed per run: wall time of the job call, the peak RSS of each worker process (of this
process for ``threads``; sampled every 50 ms during the job), the bytes the workers wrote to disk (``/proc/PID/io`` write_bytes:
the jobs exchange their partitions through scratch files, so this is the shuffle) and the
number of results workers fetched from each other. The lake is the city of the contacts speed
benchmark (``benchmarks/out/contacts-speed/lake-N``, built by ``bench_speed.py``) or is built
here the same way. Strong scaling = time(local-1) / time(local-2).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def _lake(n: int) -> Path:
    lake = ROOT / "benchmarks" / "out" / "contacts-speed" / f"lake-{n}"
    if not (lake / "sightings").exists():
        subprocess.run(
            [sys.executable, str(ROOT / "benchmarks" / "contacts" / "bench_speed.py"),
             "--sightings", str(n), "--repeat", "0"],
            check=True,
        )  # fmt: skip
    return lake


def _io_written(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/io").read_text().splitlines():
            if line.startswith("write_bytes:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class _PeakRss:
    """Samples the RSS of some processes every 50 ms while a job runs (a worker's own high-water
    mark would include what it inherited when it was forked)."""

    def __init__(self, pids: list[int]) -> None:
        self.pids, self.peaks = pids, dict.fromkeys(pids, 0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for p in self.pids:
                self.peaks[p] = max(self.peaks[p], _rss(p))
            self._stop.wait(0.05)

    def __enter__(self) -> _PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def gib(self) -> list[float]:
        return [self.peaks[p] / 2**30 for p in self.pids]


def _worker_stats(client) -> list[dict]:
    def stats(dask_worker) -> dict:  # runs on each worker
        import os as _os

        return {"pid": _os.getpid(), "fetched": dask_worker.state.transfer_incoming_count_total}

    return list(client.run(stats).values())


def _run_job(job: str, lake: Path, out: Path, scheduler: str | None) -> float:
    t = time.perf_counter()
    if job == "colocate":
        from sightgraph.analytics.colocation import colocate_lake

        colocate_lake(lake, out, window_s=60, progress=False, scheduler=scheduler)
    else:
        from sightgraph.analytics.contacts import compute_contacts

        compute_contacts(lake, out, window_s=60, progress=False, scheduler=scheduler)
    return time.perf_counter() - t


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def measure(job: str, setup: str, lake: Path, work: Path) -> dict:
    out = work / f"{job}-{setup}.parquet"
    if setup == "threads":
        before = _io_written(os.getpid())
        with _PeakRss([os.getpid()]) as peak:
            secs = _run_job(job, lake, out, "threads")
        return {
            "seconds": secs,
            "peaks": peak.gib(),
            "written_gib": (_io_written(os.getpid()) - before) / 2**30,
            "fetched": 0,
        }
    from distributed import Client, LocalCluster

    procs: list[subprocess.Popen] = []
    cluster = None
    try:
        if setup.startswith("local-"):
            n = int(setup.split("-")[1])
            cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                   dashboard_address=None, memory_limit=0)  # fmt: skip
            address = cluster.scheduler_address
        else:
            port = _free_port()
            address = f"tcp://127.0.0.1:{port}"
            bindir = Path(sys.executable).parent
            procs.append(subprocess.Popen(
                [str(bindir / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                 "--dashboard-address", ":0"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            ))  # fmt: skip
            time.sleep(2)
            for _ in range(2):
                procs.append(subprocess.Popen(
                    [str(bindir / "dask"), "worker", address, "--nthreads", "1",
                     "--memory-limit", "0", "--no-dashboard"],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                ))  # fmt: skip
        with Client(address) as client:
            client.wait_for_workers(int(setup.split("-")[1]), timeout=60)
            pids = [s["pid"] for s in _worker_stats(client)]
            before = sum(_io_written(p) for p in pids)
            with _PeakRss(pids) as peak:
                secs = _run_job(job, lake, out, address)
            stats = _worker_stats(client)
            written = sum(_io_written(p) for p in pids) - before
        return {
            "seconds": secs,
            "peaks": peak.gib(),
            "written_gib": written / 2**30,
            "fetched": sum(s["fetched"] for s in stats),
        }
    finally:
        if cluster is not None:
            cluster.close()
        for p in procs[::-1]:
            p.terminate()
            p.wait(timeout=30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sightings", type=int, default=1_000_000)
    ap.add_argument("--jobs", default="colocate,contacts")
    ap.add_argument("--setups", default="threads,local-1,local-2,cli-2")
    args = ap.parse_args()
    os.environ.setdefault("SIGHTGRAPH_PSEUDONYM_KEY", "bench-only-key")
    lake = _lake(args.sightings)
    work = Path(tempfile.mkdtemp(prefix="sg-scale-"))
    rows = []
    try:
        for job in args.jobs.split(","):
            for setup in args.setups.split(","):
                r = measure(job, setup, lake, work)
                rows.append((job, setup, r))
                print(
                    f"{job:9s} {setup:8s} {r['seconds']:7.1f} s  peak/worker "
                    f"{', '.join(f'{p:.2f}' for p in r['peaks'])} GiB  written "
                    f"{r['written_gib']:.2f} GiB  fetched {r['fetched']}  load {os.getloadavg()[0]:.1f}",
                    flush=True,
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\n{args.sightings:,} sightings; 2 cores\n")
    print(
        "| job | setup | wall s | peak RSS per worker (GiB) | written to scratch (GiB) | results fetched |"
    )
    print("|---|---|---:|---|---:|---:|")
    for job, setup, r in rows:
        print(f"| {job} | {setup} | {r['seconds']:.1f} | {', '.join(f'{p:.2f}' for p in r['peaks'])} "
              f"| {r['written_gib']:.2f} | {r['fetched']} |")  # fmt: skip
    by = {(j, s): r["seconds"] for j, s, r in rows}
    for job in args.jobs.split(","):
        if (job, "local-1") in by and (job, "local-2") in by:
            print(
                f"\nstrong scaling {job}: 1 -> 2 workers {by[(job, 'local-1')] / by[(job, 'local-2')]:.2f}x"
            )


if __name__ == "__main__":
    main()
