"""Where a contacts run's time goes, and what it would cost with no null at all.

    .venv/bin/python benchmarks/contacts/phases.py benchmarks/out/contacts-speed/lake-10000000
    .venv/bin/python benchmarks/contacts/phases.py LAKE --stub-null   # a bound, not a table

Runs :func:`sightgraph.analytics.contacts.compute_contacts` in this process on ``LAKE`` (made by
``bench_speed.py``) with the job's main functions wrapped by a timer, and prints per function
the calls, the thread-seconds (the scoring runs on two threads, so they exceed wall time) and
the span of wall time they covered. ``--stub-null`` replaces the day-swap kernel by one that
returns constants: the table it writes is wrong on purpose, and the run's time is what
everything but the null costs (the bound under which no faster null can bring the job).
The output goes to ``--out`` (default: a scratch file under ``benchmarks/out``).
"""

from __future__ import annotations

import argparse
import collections
import functools
import os
import sys
import threading
import time
from pathlib import Path

from bench_speed import KEY, ROOT  # (this script's folder is on sys.path when run)

T0 = time.perf_counter()
JOB_FUNCTIONS = (
    "_read_lake_sightings",
    "_make_context",
    "_partition_to_buckets",
    "_merge_events",
    "_reduce_bucket",
    "_load_bucket",
    "_score_meetings",
    "_ranked_columns",
    "_write_contacts",
)
SCORE_FUNCTIONS = ("_day_swap_null", "_pair_totals")


def _timed(mod, name: str, totals, lock) -> None:
    f = getattr(mod, name)

    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        t = time.perf_counter()
        try:
            return f(*args, **kwargs)
        finally:
            e = time.perf_counter()
            with lock:
                tot = totals[name]
                tot[0] += 1
                tot[1] += e - t
                tot[2] = min(tot[2], t - T0)
                tot[3] = max(tot[3], e - T0)

    setattr(mod, name, wrapper)


def _stub_day_swap_null(pair_a, pair_b, m_lo, m_hi, m_place, *args, **kwargs):
    import numpy as np

    n, m = len(pair_a), len(m_place)
    one = np.ones(n, np.int64)
    return (
        np.full(n, 0.5),  # expected
        one,  # days_a
        one,  # days_b
        one,  # days_both
        np.zeros(m),  # rho
        np.ones(m, np.int64),  # r
        np.zeros(m),  # slot_expected
        np.full(n, 0.5),  # floor
    )


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("lake")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "out" / "phases-contacts.parquet"))
    p.add_argument("--stub-null", action="store_true", help="day-swap kernel -> constants")
    args = p.parse_args(argv)
    # the key and scratch folder of bench_speed.py's runs, which made the lake
    os.environ.setdefault("SIGHTGRAPH_PSEUDONYM_KEY", KEY)
    os.environ.setdefault("SIGHTGRAPH_PURPOSE", "benchmark on synthetic data")
    os.environ.setdefault("SIGHTGRAPH_ROLE", "admin")
    work = ROOT / "benchmarks" / "out" / "contacts-speed" / "work"
    os.environ.setdefault("SIGHTGRAPH_WORKDIR", str(work))
    sys.path.insert(0, str(ROOT))
    from sightgraph.analytics.contacts import job, score
    from sightgraph.errors import SightgraphError

    totals: dict[str, list[float]] = collections.defaultdict(
        lambda: [0, 0.0, float("inf"), float("-inf")]
    )
    lock = threading.Lock()
    if args.stub_null:
        score._day_swap_null = _stub_day_swap_null
    for name in JOB_FUNCTIONS:
        _timed(job, name, totals, lock)
    for name in SCORE_FUNCTIONS:
        _timed(score, name, totals, lock)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    os.sync()  # as bench_speed.py: earlier runs' writeback would slow this one
    try:
        result = job.compute_contacts(args.lake, args.out, progress=False)
    except SightgraphError as exc:
        raise SystemExit(f"phases.py: {exc}") from None
    for name, (calls, seconds, lo, hi) in sorted(totals.items(), key=lambda kv: kv[1][2]):
        print(
            f"{name:22s} calls {calls:5d}  thread-s {seconds:8.2f}  span {lo:7.2f} -> {hi:7.2f} s"
        )
    print(result.summary())
    note = " (day-swap kernel stubbed: the table is wrong on purpose)" if args.stub_null else ""
    print(f"whole process so far {time.perf_counter() - T0:.1f} s{note}")


if __name__ == "__main__":
    main()
